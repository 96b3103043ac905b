"""``natprobe check`` per address family on a real dual-stack lab.

The home router NATs IPv4 (with port forwards) and routes IPv6 (2001:db8:77::/64) behind a
stateful nftables firewall with pinholes; the echo server listens on 198.51.100.10/.11 and
2001:db8:100::10/::11 and is named ``echo.example.test`` (A and AAAA) by the lab's dnsmasq.
The client has privacy extensions on, so the kernel would send from a temporary address;
natprobe must test the stable one. All traffic stays inside the namespaces made here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from natprobe.lab import Lab, LabConfig, PortForward
from natprobe.lab.dns_server import LabDns, lookup
from natprobe.lab.ipv6_net import Ipv6Lab, enable_ipv6
from natprobe.lab.services import EchoServerProcess, start_echo_server

pytestmark = pytest.mark.lab

OPEN_BOTH = 22124
"""Forwarded over IPv4 and pinholed over IPv6."""
OPEN_V4_ONLY = 22125
"""Forwarded over IPv4, no pinhole over IPv6."""
ECHO_NAME = "echo.example.test"
URL = f"http://{ECHO_NAME}:8080"
CLI_TIMEOUT_S = 40.0


@dataclass
class DualStack:
    lab: Lab
    v6: Ipv6Lab
    dns: LabDns
    echo: EchoServerProcess


def _start(client_global: bool) -> Iterator[DualStack]:
    forwards = (PortForward("udp", OPEN_BOTH), PortForward("udp", OPEN_V4_ONLY))
    with Lab(LabConfig(forwards=forwards)) as lab, LabDns(lab) as dns:
        v6 = enable_ipv6(lab, client_global=client_global, temporary=client_global)
        v6.add_pinhole("udp", OPEN_BOTH)
        dns.serve({ECHO_NAME: [lab.server.primary_ip, v6.plan.primary_ip]})
        dns.use(lab.client)
        echo = start_echo_server(
            lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=8080,
            extra=("--primary", str(v6.plan.primary_ip), "--alternate", str(v6.plan.alternate_ip)),
        )
        yield DualStack(lab, v6, dns, echo)


@pytest.fixture(scope="module")
def dual() -> Iterator[DualStack]:
    yield from _start(client_global=True)


def _check(stack: DualStack, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = stack.lab.client.exec([sys.executable, "-m", "cli", "check", *args, "--server", URL, "--json"],
                                 check=False, timeout=CLI_TIMEOUT_S)
    assert done.stdout, done.stderr
    return done, json.loads(done.stdout)


def _ports(data: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(p["family"], p["port"]): p for p in data["ports"]}


def test_the_lab_is_dual_stack_with_a_temporary_address(dual: DualStack) -> None:
    assert lookup(dual.lab.client, ECHO_NAME, "AAAA") == [str(dual.v6.plan.primary_ip)]
    assert lookup(dual.lab.client, ECHO_NAME, "A") == [str(dual.lab.server.primary_ip)]
    temporary = dual.v6.temporary_address()
    assert temporary is not None and temporary in dual.v6.plan.lan and temporary != dual.v6.plan.client_ip
    # The kernel prefers the temporary address: what natprobe must not test.
    route = dual.lab.client.exec(["ip", "-6", "route", "get", str(dual.v6.plan.primary_ip)]).stdout
    assert f"src {temporary}" in route


def test_forwarded_and_pinholed_is_reachable_on_both_the_other_port_only_on_ipv4(dual: DualStack) -> None:
    done, data = _check(dual, "--udp", f"{OPEN_BOTH},{OPEN_V4_ONLY}")
    assert done.returncode == 1, done.stderr  # one port is not reachable over IPv6
    ports = _ports(data)
    assert set(ports) == {("ipv4", OPEN_BOTH), ("ipv4", OPEN_V4_ONLY), ("ipv6", OPEN_BOTH), ("ipv6", OPEN_V4_ONLY)}
    assert ports[("ipv4", OPEN_BOTH)]["reachable"] is True
    assert ports[("ipv6", OPEN_BOTH)]["reachable"] is True
    assert ports[("ipv4", OPEN_V4_ONLY)]["reachable"] is True
    blocked = ports[("ipv6", OPEN_V4_ONLY)]
    assert blocked["reachable"] is False and blocked["status"] == "filtered-by-ipv6-firewall"
    stable = str(dual.v6.plan.client_ip)
    assert stable in blocked["reason"] and "pinhole" in blocked["reason"]
    assert any("pinhole" in a and stable in a for a in blocked["advice"])
    assert any("this host's firewall" in a for a in blocked["advice"])
    assert not any("forward" in a.lower() for a in blocked["advice"])  # nothing is forwarded over IPv6
    families = {f["family"]: f for f in data["families"]}
    assert families["ipv6"]["tested"] is True and families["ipv6"]["temporary_address"] is False
    # The probes went to the stable address, not to the temporary one the kernel prefers.
    assert families["ipv6"]["local_ip"] == stable and families["ipv6"]["public_ip"] == stable
    assert families["ipv4"]["public_ip"] == str(dual.lab.public_ip)
    assert data["has_global_ipv6"] is True


def test_ipv4_and_ipv6_options_restrict_the_families(dual: DualStack) -> None:
    done, data = _check(dual, "--udp", str(OPEN_BOTH), "--ipv6")
    assert done.returncode == 0, done.stderr
    assert [p["family"] for p in data["ports"]] == ["ipv6"]
    done, data = _check(dual, "--udp", str(OPEN_V4_ONLY), "--ipv4")
    assert done.returncode == 0, done.stderr
    assert [p["family"] for p in data["ports"]] == ["ipv4"] and data["has_global_ipv6"] is None


def test_a_pinhole_for_the_temporary_address_does_not_open_the_stable_one(dual: DualStack) -> None:
    temporary = dual.v6.temporary_address()
    assert temporary is not None
    dual.v6.add_pinhole("udp", 22126, temporary)
    try:
        _, data = _check(dual, "--udp", "22126", "--ipv6")
    finally:
        dual.v6.remove_pinholes()
        dual.v6.add_pinhole("udp", OPEN_BOTH)
    (port,) = data["ports"]
    assert port["status"] == "filtered-by-ipv6-firewall" and str(dual.v6.plan.client_ip) in port["reason"]


def test_host_without_global_ipv6_checks_ipv4_only_and_says_so() -> None:
    for stack in _start(client_global=False):
        done, data = _check(stack, "--udp", str(OPEN_BOTH))
        assert done.returncode == 0, done.stderr
        assert [p["family"] for p in data["ports"]] == ["ipv4"]
        assert data["has_global_ipv6"] is False
        families = {f["family"]: f for f in data["families"]}
        assert families["ipv6"]["tested"] is False and "no global IPv6 address" in families["ipv6"]["note"]
        text = stack.lab.client.exec([sys.executable, "-m", "cli", "check", "--udp", str(OPEN_BOTH), "--server", URL],
                                     check=False, timeout=CLI_TIMEOUT_S)
        assert "no global IPv6 address" in text.stdout
        only6 = stack.lab.client.exec([sys.executable, "-m", "cli", "check", "--udp", str(OPEN_BOTH), "--ipv6",
                                       "--server", URL], check=False, timeout=CLI_TIMEOUT_S)
        assert only6.returncode == 3 and "no global IPv6 address" in only6.stderr
        assert "Traceback" not in only6.stderr
