"""``--share`` and the French output on every kind of lab network.

One lab per behaviour the lab builds (no NAT, UDP blocked, the three cones, symmetric, CGNAT),
each running the real ``natprobe check`` (a forwarded and an unforwarded port, a host name, the
echo server's token) and ``natprobe nat`` with ``--share``: no public address, host name or
token of the run leaks into the Markdown, and the LAN address and the verdicts are there
(``explain jamulus --share`` runs on the symmetric NAT). The same commands' human output in
French carries the verdict words and the drawn path (``tests/lab/test_demo.py`` reads the
English one). Traffic stays inside the
namespaces the test builds.
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
    return lab.client.exec([sys.executable, "-m", "natprobe_cli", *argv], check=False, timeout=60)


def _start(lab: Lab, *argv: str) -> subprocess.Popen[str]:
    """``natprobe ARGV`` in the client namespace, in the background (the lab kills it on teardown)."""
    return lab.client.spawn([sys.executable, "-m", "natprobe_cli", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("config", SCENARIOS)
def test_share_never_leaks_public_addresses_names_or_tokens(config: LabConfig, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with Lab(config) as lab:
        echo = start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=8080,
                                 extra=("--http-token-file", str(token_file)))
        # The NAT discoveries run beside the checks (other ports, other sockets): a lean test.
        stun = f"{lab.server.primary_ip}:3478"
        nats = [_start(lab, "nat", "--no-hairpin", "--share", "--server", stun),
                _start(lab, "nat", "--no-hairpin", "--lang", "fr", "--server", stun)]
        check = _run(lab, "check", "--udp", "22124", "--tcp", "9000", "--host", SITE, "--token", TOKEN,
                     "--timeout", "0.5", "--share", "--server", echo.http_url)
        check_fr = _run(lab, "--lang", "fr", "check", "--udp", "22124", "--timeout", "0.5",
                        "--server", echo.http_url, "--token", TOKEN)
        nat, nat_fr = (_finish(proc) for proc in nats)
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
    # Human output, both languages: the path first, then the verdicts in words.
    nat_type = re.search(r"NAT type `([a-z-]+)`", nat.stdout)
    assert nat_type, nat.stdout
    assert nat_fr.stdout.startswith("Le chemin de cette machine jusqu'au serveur d'écho\n┌─ Cette machine"), nat_fr.stdout
    assert re.search(rf"^Type de NAT +{nat_type.group(1)}$", nat_fr.stdout, re.MULTILINE), nat_fr.stdout
    assert check_fr.returncode in (0, 1), check_fr.stderr
    assert check_fr.stdout.startswith("Le chemin de cette machine jusqu'au serveur d'écho\n┌─ Cette machine")
    verdicts = re.findall(r"^(UDP 22124)\u00a0: (JOIGNABLE|INJOIGNABLE) \(([a-z-]+)\)$", check_fr.stdout, re.MULTILINE)
    assert len(verdicts) == 1, check_fr.stdout
    for port, words, status in verdicts:
        assert f"| {port} | {'✓' if words == 'JOIGNABLE' else '✗'} `{status}` |" in check.stdout
    assert "pourquoi\u00a0:" in check_fr.stdout and "why:" not in check_fr.stdout
    if config.cgnat:
        assert "`cgnat`" in check.stdout and "Carrier NAT" in check.stdout
        assert "NAT opérateur" in check_fr.stdout and "UDP 22124\u00a0: INJOIGNABLE (behind-cgnat)" in check_fr.stdout
    elif config.behavior in expected:
        assert expected[config.behavior] in check.stdout + nat.stdout
