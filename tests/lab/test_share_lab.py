"""``--share`` on every kind of lab network: no public address, host name or token of the run
leaks into the Markdown, and the LAN address and the verdicts are there.

One lab per behaviour the lab builds (no NAT, UDP blocked, the three cones, symmetric, CGNAT),
each running the real ``natprobe check`` (a forwarded and an unforwarded port, a host name, the
echo server's token) and ``natprobe nat`` with ``--share``; ``explain jamulus --share`` runs on
the symmetric NAT. Traffic stays inside the namespaces the test builds.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from natprobe.addressing import AddressScope, classify
from natprobe.lab import Behavior, Lab, LabConfig, PortForward
from natprobe.lab.services import start_echo_server

pytestmark = pytest.mark.lab

TOKEN = "share-test-token-5f1c9e"
SITE = "moodle.example.org"
SCENARIOS = [
    pytest.param(LabConfig(behavior=behavior, forwards=(PortForward("udp", 22124),)), id=behavior.value)
    for behavior in Behavior
] + [pytest.param(LabConfig(cgnat=True, forwards=(PortForward("udp", 22124),)), id="cgnat")]


def _secrets(lab: Lab) -> set[str]:
    """Every address of the lab that is not a LAN address: all must be masked."""
    found = {str(lab.client.ip)} if lab.config.behavior is Behavior.NO_NAT else set()
    for field in dataclasses.fields(lab.plan):
        value = getattr(lab.plan, field.name)
        if isinstance(value, IPv4Address) and classify(value) is not AddressScope.PRIVATE:
            found.add(str(value))
    return found | {TOKEN, SITE}


def _leaks(text: str, secrets: set[str]) -> list[str]:
    return [s for s in secrets if re.search(rf"(?<![\w.]){re.escape(s)}(?![\w]|\.\d)", text, re.IGNORECASE)]


def _run(lab: Lab, *argv: str) -> subprocess.CompletedProcess[str]:
    return lab.client.exec([sys.executable, "-m", "cli", *argv], check=False, timeout=60)


@pytest.mark.parametrize("config", SCENARIOS)
def test_share_never_leaks_public_addresses_names_or_tokens(config: LabConfig, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with Lab(config) as lab:
        echo = start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=8080,
                                 extra=("--http-token-file", str(token_file)))
        check = _run(lab, "check", "--udp", "22124", "--tcp", "9000", "--host", SITE, "--token", TOKEN,
                     "--timeout", "1", "--share", "--server", echo.http_url)
        nat = _run(lab, "nat", "--no-hairpin", "--share", "--server", f"{lab.server.primary_ip}:3478")
        jamulus = None
        if config.behavior is Behavior.SYMMETRIC:
            jamulus = _run(lab, "explain", "jamulus", "--port", "22125", "--token", TOKEN, "--share",
                           "--server", echo.http_url)
        secrets = _secrets(lab)
        client_ip = str(lab.client.ip)
    for done in (check, nat, jamulus):
        if done is None:
            continue
        assert done.returncode in (0, 1), (done.stdout, done.stderr)
        assert done.stdout.startswith("### natprobe"), done.stdout
        assert "\x1b[" not in done.stdout  # a pipe: never colour
        assert not _leaks(done.stdout, secrets), (_leaks(done.stdout, secrets), done.stdout)
        if config.behavior is not Behavior.NO_NAT:
            assert client_ip in done.stdout  # the LAN address helps and identifies nobody
    assert "| UDP 22124 |" in check.stdout and "| TCP 9000 |" in check.stdout
    expected = {
        Behavior.NO_NAT: "`no-nat`",
        Behavior.UDP_BLOCKED: "udp-blocked",
        Behavior.SYMMETRIC: "`symmetric`",
        Behavior.FULL_CONE: "`full-cone`",
    }
    if config.cgnat:
        assert "`cgnat`" in check.stdout and "Carrier NAT" in check.stdout
    elif config.behavior in expected:
        assert expected[config.behavior] in check.stdout + nat.stdout
