"""The echo server on a "cloud" VPS behind a provider's 1:1 NAT, the client behind a home NAT.

With ``--primary-public``/``--alternate-public`` the server names its public addresses and
``natprobe nat`` gets the home NAT's real behaviour; without them it names its private ones
and the client says so (inconclusive, 1:1 NAT reason) instead of a wrong verdict. The client's
zero setup is proven here too: ``$NATPROBE_SERVER`` and the config file each make
``natprobe check --udp 22124`` work as typed; with no server it exits 3 and explains.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from natprobe.lab import Behavior, Lab, LabConfig, PortForward
from natprobe.lab.cloud import CLOUD_PUBLIC, CloudHost
from natprobe.lab.services import start_echo_server
from tests.json_reports import assert_valid_report

pytestmark = pytest.mark.lab

JAMULUS_PORT = 22124
HTTP_PORT = 8080
CLI_TIMEOUT_S = 60.0
CLOUD_PUBLIC_PRIMARY = str(CLOUD_PUBLIC[0])


def _serve(cloud: CloudHost, *, public: bool, http: bool = False) -> str:
    (private1, private2), (public1, public2) = cloud.private, cloud.public
    extra: tuple[str, ...] = ("--primary-public", str(public1), "--alternate-public", str(public2)) if public else ()
    echo = start_echo_server(cloud.vps, private1, private2, http_port=HTTP_PORT if http else None, extra=extra)
    return echo.ready_line


def _env(**changes: str | None) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _natprobe(lab: Lab, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return lab.client.exec([sys.executable, "-m", "natprobe_cli", *argv], check=False, timeout=CLI_TIMEOUT_S, env=env)


def _nat(lab: Lab, cloud: CloudHost) -> dict[str, Any]:
    done = _natprobe(lab, "nat", "--server", f"{cloud.public[0]}:3478", "--json", "--no-hairpin")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = assert_valid_report(json.loads(done.stdout))
    return report


@pytest.mark.parametrize(
    "behavior, mapping, filtering",
    [
        (Behavior.FULL_CONE, "endpoint-independent", "endpoint-independent"),
        (Behavior.SYMMETRIC, "address-and-port-dependent", "address-and-port-dependent"),
    ],
)
def test_public_flags_give_the_home_nats_real_behaviour(behavior: Behavior, mapping: str, filtering: str) -> None:
    with Lab(LabConfig(behavior=behavior)) as lab, CloudHost(lab) as cloud:
        line = _serve(cloud, public=True)
        assert "public=10.0.0.5->198.51.100.200,10.0.0.6->198.51.100.201" in line
        report = _nat(lab, cloud)
    assert (report["mapping"]["value"], report["filtering"]["value"]) == (mapping, filtering), report
    assert report["server_alternate"]["ip"] == str(cloud.public[1])
    assert report["mapped"]["ip"] == str(lab.public_ip)


def test_without_public_flags_the_alternate_tests_are_inconclusive_with_the_reason() -> None:
    with Lab(LabConfig(behavior=Behavior.FULL_CONE)) as lab, CloudHost(lab) as cloud:
        _serve(cloud, public=False)
        report = _nat(lab, cloud)
    assert report["server_alternate"]["ip"] == str(cloud.private[1])  # what the server wrongly advertised
    assert (report["mapping"]["value"], report["filtering"]["value"]) == ("inconclusive", "inconclusive")
    for verdict in (report["mapping"], report["filtering"]):
        assert "1:1 NAT" in verdict["reason"] and "--primary-public" in verdict["reason"], verdict


def test_check_as_typed_with_the_environment_or_the_config_file_and_without_a_server(tmp_path: Path) -> None:
    url = f"http://{CLOUD_PUBLIC_PRIMARY}:{HTTP_PORT}"
    config_home = tmp_path / "xdg"
    (config_home / "natprobe").mkdir(parents=True)
    (config_home / "natprobe" / "config.toml").write_text(f'server = "{url}"\n')
    empty_home = tmp_path / "empty"
    empty_home.mkdir()
    with Lab(LabConfig(forwards=(PortForward("udp", JAMULUS_PORT),))) as lab, CloudHost(lab) as cloud:
        _serve(cloud, public=True, http=True)
        by_env = _natprobe(lab, "check", "--udp", str(JAMULUS_PORT), "--no-trace", "--json",
                           env=_env(NATPROBE_SERVER=url, XDG_CONFIG_HOME=str(empty_home)))
        by_file = _natprobe(lab, "check", "--udp", str(JAMULUS_PORT), "--no-trace", "--json",
                            env=_env(NATPROBE_SERVER=None, XDG_CONFIG_HOME=str(config_home)))
        # No server anywhere; the lab's cloud server plays the "public STUN server".
        none = _natprobe(lab, "check", "--udp", str(JAMULUS_PORT),
                         env=_env(NATPROBE_SERVER=None, XDG_CONFIG_HOME=str(empty_home),
                                  NATPROBE_STUN_SERVERS=f"{CLOUD_PUBLIC_PRIMARY}:3478"))
    for done in (by_env, by_file):
        assert done.returncode == 0, done.stderr
        (port,) = assert_valid_report(json.loads(done.stdout))["ports"]
        assert (port["port"], port["reachable"]) == (JAMULUS_PORT, True), port
    assert none.returncode == 3, none.stderr
    assert "no echo server is configured" in none.stderr and "natprobe config set server" in none.stderr
    assert f"{lab.client.ip}" in none.stdout and "private address" in none.stdout
    assert f"Default gateway: {lab.plan.router_lan_ip}" in none.stdout
    assert f"public address as seen from outside: {lab.public_ip}" in none.stdout
    assert "classic type: port-restricted-cone" in none.stdout, none.stdout


@pytest.mark.parametrize("public", [True, False])
def test_explain_jamulus_through_the_cloud_directory(tmp_path: Path, public: bool) -> None:
    """The directory's hole punch names the peer by its public address: with the flags the
    punch reaches it; without them it names 10.0.0.6, and the punch never arrives."""
    url = f"http://{CLOUD_PUBLIC_PRIMARY}:{HTTP_PORT}"
    with Lab(LabConfig(behavior=Behavior.PORT_RESTRICTED_CONE)) as lab, CloudHost(lab) as cloud:
        _serve(cloud, public=public, http=True)
        done = _natprobe(lab, "explain", "jamulus", "--no-trace", "--json",
                         env=_env(NATPROBE_SERVER=url, XDG_CONFIG_HOME=str(tmp_path)))
    data = assert_valid_report(json.loads(done.stdout))
    assert data["published_address"] == {"ip": str(lab.public_ip), "port": JAMULUS_PORT}
    assert data["public_mode"]["works"] is public, data["public_mode"]
    assert data["private_mode"]["status"] == "needs-port-forward"
