"""A port held by a silent program (a real ``wireguard-go``), over IPv4 and IPv6, on real NATs.

One module-scoped dual-stack lab (home router with nftables NAT and an IPv6 firewall with
pinholes, natprobe's echo server on the "Internet", named by the lab's dnsmasq) runs a real
WireGuard endpoint on UDP 51820 in the client namespace. WireGuard answers nothing to a
stranger, so natprobe cannot listen on the port nor get an answer: only the one-time token's
arrival at the interface (the AF_PACKET watch) proves the forward. Without forward/pinhole
first, then with, then with the watch switched off (an injected capability set). A real
Jamulus server holds UDP 22150 beside it (not Jamulus's own port, so only the holder lookup
can tell natprobe to speak Jamulus to it). All traffic stays inside the namespaces made here.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from natprobe.adapters.capabilities import probe_capabilities
from natprobe.addressing import IpFamily
from natprobe.contract import TransportProtocol
from natprobe.lab import Lab, LabConfig, PortForward
from natprobe.lab.dns_server import LabDns
from natprobe.lab.ipv6_net import Ipv6Lab, enable_ipv6
from natprobe.lab.services import EchoServerProcess, start_echo_server
from natprobe.lab.wireguard import WireGuard, start_wireguard, wireguard_missing
from natprobe.measure.check import CheckOptions, check_ports
from natprobe.reports.check_report import CheckReport
from natprobe.observations import Facility
from natprobe.verdicts.reachability import PortStatus
from natprobe.verdicts.port_spec import PortSpec
from tests.json_reports import assert_valid_report

pytestmark = [pytest.mark.lab, pytest.mark.interop]

WG_PORT = 51820
JAMULUS_PORT = 22150
"""Not 22124: natprobe knows the program only from the holder lookup, not from the port."""
JAMULUS = "/usr/bin/Jamulus"
ECHO_NAME = "echo.example.test"
URL = f"http://{ECHO_NAME}:8080"
CLI_TIMEOUT_S = 40.0


@dataclass
class SilentLab:
    lab: Lab
    v6: Ipv6Lab
    echo: EchoServerProcess
    wg: WireGuard


@pytest.fixture(scope="module")
def silent() -> Iterator[SilentLab]:
    missing = wireguard_missing()
    if missing:
        pytest.skip(missing)
    with Lab(LabConfig()) as lab, LabDns(lab) as dns:
        v6 = enable_ipv6(lab, client_global=True)
        dns.serve({ECHO_NAME: [lab.server.primary_ip, v6.plan.primary_ip]})
        dns.use(lab.client)
        dns.use(lab.server)
        echo = start_echo_server(
            lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=8080,
            extra=("--primary", str(v6.plan.primary_ip), "--alternate", str(v6.plan.alternate_ip)),
        )
        wg = start_wireguard(lab.client, WG_PORT)
        if Path(JAMULUS).is_file():
            lab.client.spawn([JAMULUS, "-s", "-n", "-p", str(JAMULUS_PORT)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield SilentLab(lab, v6, echo, wg)


def _check(stack: SilentLab, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[tuple[str, int], dict[str, Any]],
                                                  dict[str, Any]]:
    done = stack.lab.client.exec([sys.executable, "-m", "natprobe_cli", "check", *(args or ("--udp", str(WG_PORT))),
                                  "--server", URL, "--json"], check=False, timeout=CLI_TIMEOUT_S)
    assert done.stdout, done.stderr
    data = assert_valid_report(json.loads(done.stdout))
    return done, {(p["family"], p["port"]): p for p in data["ports"]}, data


def _check_lib(stack: SilentLab, options: CheckOptions) -> CheckReport:
    url = f"http://{stack.lab.server.primary_ip}:8080"  # the library in-process has no lab resolv.conf
    with stack.lab.client.entered():
        return asyncio.run(check_ports(url, [PortSpec(TransportProtocol.UDP, WG_PORT)], options))


def test_wireguard_holds_the_port_on_both_families(silent: SilentLab) -> None:
    listing = silent.lab.client.exec(["ss", "-H", "-u", "-l", "-n", "-p"]).stdout
    holders = [line for line in listing.splitlines() if f":{WG_PORT} " in line]
    assert len(holders) == 2 and all("wireguard-go" in line for line in holders), listing


def test_without_forward_or_pinhole_the_token_never_arrives(silent: SilentLab) -> None:
    done, ports, data = _check(silent)
    assert done.returncode == 1, done.stderr
    v4, v6 = ports[("ipv4", WG_PORT)], ports[("ipv6", WG_PORT)]
    assert v4["status"] == "not-forwarded-or-filtered" and v4["reachable"] is False
    assert str(silent.lab.client.ip) in v4["reason"] and "WireGuard" in v4["reason"]
    assert any(f"forward UDP port {WG_PORT}" in a for a in v4["advice"])
    assert v6["status"] == "filtered-by-ipv6-firewall" and v6["reachable"] is False
    assert "pinhole" in v6["reason"]
    assert data["limits"] == []  # root in the lab: every facility was there


def test_with_forward_and_pinhole_the_token_arrives_and_wireguard_is_named(silent: SilentLab) -> None:
    silent.lab.add_forward(PortForward("udp", WG_PORT))
    silent.v6.add_pinhole("udp", WG_PORT)
    try:
        done, ports, data = _check(silent)
    finally:
        silent.lab.remove_forwards()
        silent.v6.remove_pinholes()
    assert done.returncode == 0, (done.stdout, done.stderr)
    for family in ("ipv4", "ipv6"):
        port = ports[(family, WG_PORT)]
        assert port["status"] == "arrived-service-silent", port
        assert port["reachable"] is True
        assert "WireGuard (wireguard-go)" in port["reason"]
        assert any("Endpoint = " in a for a in port["advice"])
        assert "arriving at this host's network interface" in port["proof"]
    v4_advice = " ".join(ports[("ipv4", WG_PORT)]["advice"])
    assert f"Endpoint = {silent.lab.public_ip}:{WG_PORT}" in v4_advice
    codes = [f["code"] for f in data["findings"]]
    assert codes.count("port-arrived-service-silent") == 2


def test_without_the_arrival_watch_the_held_port_is_untested_and_says_why(silent: SilentLab) -> None:
    silent.lab.add_forward(PortForward("udp", WG_PORT))
    try:
        caps = probe_capabilities().without(Facility.ARRIVAL_WATCH)
        report = _check_lib(silent, CheckOptions(capabilities=caps, families=(IpFamily.IPV4,), trace=False))
    finally:
        silent.lab.remove_forwards()
    verdict = report.ports[0]
    assert verdict.status is PortStatus.UNTESTED and verdict.reachable is None
    assert "WireGuard" in verdict.reason and "switched off" in verdict.reason
    assert any("Stop WireGuard" in a for a in verdict.advice)
    assert [entry.facility for entry in report.limits] == [Facility.ARRIVAL_WATCH]


def _jamulus_bound(stack: SilentLab) -> None:
    if not Path(JAMULUS).is_file():
        pytest.skip("Debian's jamulus is not installed (scripts/setup.sh installs it)")
    for _ in range(100):  # bounded: Jamulus binds within a second or two
        listing = stack.lab.client.exec(["ss", "-H", "-u", "-l", "-n", "-p"]).stdout
        if any(f":{JAMULUS_PORT} " in line and "Jamulus" in line for line in listing.splitlines()):
            return
        time.sleep(0.05)
    pytest.fail(f"Jamulus never bound UDP {JAMULUS_PORT}: {listing}")


def test_jamulus_holding_another_port_is_named_and_spoken_to(silent: SilentLab) -> None:
    _jamulus_bound(silent)
    done, ports, data = _check(silent, "--udp", str(JAMULUS_PORT), "--ipv4")
    assert done.returncode == 1, done.stderr
    port = ports[("ipv4", JAMULUS_PORT)]
    assert port["status"] == "not-forwarded-or-filtered" and port["reachable"] is False, port
    # The holder lookup named it, so the echo server spoke Jamulus to it, and the reason says who holds the port.
    assert "the echo server's jamulus request to Jamulus, which holds the port, got no answer" in port["reason"], port
    assert any(f"forward UDP port {JAMULUS_PORT}" in a for a in port["advice"])
    assert [f["code"] for f in data["findings"]][:1] == ["jamulus-port-needs-port-forward"], data["findings"]
    silent.lab.add_forward(PortForward("udp", JAMULUS_PORT))
    try:
        done, ports, data = _check(silent, "--udp", str(JAMULUS_PORT), "--ipv4")
    finally:
        silent.lab.remove_forwards()
    assert done.returncode == 0, (done.stdout, done.stderr)
    port = ports[("ipv4", JAMULUS_PORT)]
    assert port["status"] == "reachable" and port["details"]["answered"] is True, port
    assert "Jamulus server 3." in port["reason"] and "spoke jamulus" in port["proof"]
    assert "jamulus-port-private-works" in [f["code"] for f in data["findings"]], data["findings"]
