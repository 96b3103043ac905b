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
from tests.json_reports import assert_valid_report

pytestmark = pytest.mark.lab

OPEN_BOTH = 22124
"""Forwarded over IPv4 and pinholed over IPv6."""
OPEN_V4_ONLY = 22125
"""Forwarded over IPv4, no pinhole over IPv6."""
WEB_BOTH = 8081
"""TCP: forwarded over IPv4 and pinholed over IPv6 (for ``natprobe exposure``)."""
WEB_V4_ONLY = 8082
"""TCP: forwarded over IPv4, no pinhole over IPv6."""
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
    forwards = (PortForward("udp", OPEN_BOTH), PortForward("udp", OPEN_V4_ONLY),
                PortForward("tcp", WEB_BOTH), PortForward("tcp", WEB_V4_ONLY))
    with Lab(LabConfig(forwards=forwards)) as lab, LabDns(lab) as dns:
        v6 = enable_ipv6(lab, client_global=client_global, temporary=client_global)
        v6.add_pinhole("udp", OPEN_BOTH)
        v6.add_pinhole("tcp", WEB_BOTH)
        dns.serve({ECHO_NAME: [lab.server.primary_ip, v6.plan.primary_ip]})
        dns.use(lab.client)
        dns.use(lab.server)  # before the echo server starts: ip netns exec mounts it then
        # The module's checks run back to back against this one server, each done as soon as
        # its token arrives: more than the default burst of 10 probes per source within seconds.
        echo = start_echo_server(
            lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=8080,
            extra=("--primary", str(v6.plan.primary_ip), "--alternate", str(v6.plan.alternate_ip),
                   "--probe-burst", "60"),
        )
        yield DualStack(lab, v6, dns, echo)


@pytest.fixture(scope="module")
def dual() -> Iterator[DualStack]:
    yield from _start(client_global=True)


def _check(stack: DualStack, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = stack.lab.client.exec([sys.executable, "-m", "natprobe_cli", "check", *args, "--server", URL, "--json"],
                                 check=False, timeout=CLI_TIMEOUT_S)
    assert done.stdout, done.stderr
    return done, assert_valid_report(json.loads(done.stdout))


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


def _nat_ipv6(stack: DualStack) -> dict[str, Any]:
    done = stack.lab.client.exec([sys.executable, "-m", "natprobe_cli", "nat", "--server", str(stack.lab.server.primary_ip),
                                  "--no-hairpin", "--json"], check=False, timeout=CLI_TIMEOUT_S)
    ipv6: dict[str, Any] = assert_valid_report(json.loads(done.stdout))["ipv6"]
    return ipv6


def test_the_nat_report_says_the_host_has_global_ipv6(dual: DualStack) -> None:
    assert _nat_ipv6(dual) == {"global": True, "address": str(dual.v6.plan.client_ip)}


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
        dual.v6.add_pinhole("tcp", WEB_BOTH)
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
        text = stack.lab.client.exec([sys.executable, "-m", "natprobe_cli", "check", "--udp", str(OPEN_BOTH), "--server", URL],
                                     check=False, timeout=CLI_TIMEOUT_S)
        assert "no global IPv6 address" in text.stdout
        only6 = stack.lab.client.exec([sys.executable, "-m", "natprobe_cli", "check", "--udp", str(OPEN_BOTH), "--ipv6",
                                       "--server", URL], check=False, timeout=CLI_TIMEOUT_S)
        assert only6.returncode == 3 and "no global IPv6 address" in only6.stderr
        assert "Traceback" not in only6.stderr
        assert _nat_ipv6(stack) == {"global": False, "address": None}


# --------------------------------------------------------------------------- the name


SITE = "www.example.test"


def _records(stack: DualStack, a: list[Any], aaaa: list[Any]) -> None:
    stack.dns.serve({ECHO_NAME: [stack.lab.server.primary_ip, stack.v6.plan.primary_ip], SITE: [*a, *aaaa]})


def _name_check(stack: DualStack, port: int, a: list[Any], aaaa: list[Any]) -> dict[str, Any]:
    _records(stack, a, aaaa)
    _, data = _check(stack, "--udp", str(port), "--host", SITE)
    assert data["dns"]["name"] == SITE
    return data


def _verdicts(data: dict[str, Any]) -> dict[str, str]:
    return {family: v["verdict"] for family, v in data["dns"]["verdicts"].items()}


def test_name_matching_both_families(dual: DualStack) -> None:
    data = _name_check(dual, OPEN_BOTH, [dual.lab.public_ip], [dual.v6.plan.client_ip])
    assert _verdicts(data) == {"ipv4": "matches", "ipv6": "matches"}
    records = data["dns"]["records"]
    assert records["local"]["ipv4"]["addresses"] == [str(dual.lab.public_ip)]
    assert records["outside"]["ipv6"]["addresses"] == [str(dual.v6.plan.client_ip)]


def test_stale_lan_and_cgnat_a_records(dual: DualStack) -> None:
    stale = _name_check(dual, OPEN_BOTH, ["203.0.113.99"], [dual.v6.plan.client_ip])
    assert _verdicts(stale)["ipv4"] == "stale"
    assert str(dual.lab.public_ip) in stale["dns"]["verdicts"]["ipv4"]["reason"]
    lan = _name_check(dual, OPEN_BOTH, [dual.lab.client.ip], [dual.v6.plan.client_ip])
    assert _verdicts(lan)["ipv4"] == "private-address"
    cgnat = _name_check(dual, OPEN_BOTH, ["100.64.0.2"], [dual.v6.plan.client_ip])
    assert _verdicts(cgnat)["ipv4"] == "cgnat-address"
    assert all(v["advice"] for v in (stale, lan, cgnat) for v in [v["dns"]["verdicts"]["ipv4"]])


def test_aaaa_at_the_temporary_address_and_missing_aaaa(dual: DualStack) -> None:
    temporary = dual.v6.temporary_address()
    data = _name_check(dual, OPEN_BOTH, [dual.lab.public_ip], [temporary])
    assert _verdicts(data)["ipv6"] == "temporary-address"
    assert str(dual.v6.plan.client_ip) in " ".join(data["dns"]["verdicts"]["ipv6"]["advice"])
    missing = _name_check(dual, OPEN_BOTH, [dual.lab.public_ip], [])
    assert _verdicts(missing) == {"ipv4": "matches", "ipv6": "missing"}


def test_without_the_ipv6_flags_the_name_check_names_its_limit(dual: DualStack) -> None:
    import asyncio

    from natprobe.adapters.capabilities import probe_capabilities
    from natprobe.lab.dns_server import PRIMARY_NS
    from natprobe.measure.name_check import NameCheckOptions, check_name
    from natprobe.observations import Facility
    from natprobe.verdicts.dns_verdicts import DnsVerdict

    _records(dual, [dual.lab.public_ip], [dual.v6.temporary_address()])
    url = f"http://[{dual.v6.plan.primary_ip}]:8080"  # the library in-process has no lab resolv.conf

    def run(off: tuple[Facility, ...]) -> Any:
        caps = probe_capabilities().without(*off)
        options = NameCheckOptions(server=url, nameservers=(str(PRIMARY_NS),), capabilities=caps, lifetime=2.0)
        with dual.lab.client.entered():
            report = asyncio.run(check_name(SITE, options))
        assert_valid_report(report.to_dict())
        return report, {v.family.value: v for v in report.verdicts}

    full, verdicts = run(())
    assert full.limits == () and verdicts["ipv6"].verdict is DnsVerdict.TEMPORARY_ADDRESS
    blind, verdicts = run((Facility.IPV6_TEMPORARY,))
    # Without the flags the temporary address is not recognised: the verdict is what the
    # records and the address the server saw say, and the reason names what was not seen.
    assert [limit.facility for limit in blind.limits] == [Facility.IPV6_TEMPORARY]
    assert verdicts["ipv6"].verdict is not DnsVerdict.TEMPORARY_ADDRESS
    assert blind.limits[0].text in verdicts["ipv6"].reason
    assert blind.limits[0].text not in verdicts["ipv4"].reason


def test_aaaa_while_ipv6_is_blocked(dual: DualStack) -> None:
    data = _name_check(dual, OPEN_V4_ONLY, [dual.lab.public_ip], [dual.v6.plan.client_ip])
    assert _verdicts(data) == {"ipv4": "matches", "ipv6": "unreachable-family"}


def test_nxdomain_is_a_verdict_and_a_bad_name_a_usage_error(dual: DualStack) -> None:
    _records(dual, [dual.lab.public_ip], [])
    done, data = _check(dual, "--udp", str(OPEN_BOTH), "--host", "nope.example.test")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert _verdicts(data) == {"ipv4": "no-such-name", "ipv6": "no-such-name"}
    assert all(p["reachable"] for p in data["ports"])
    # A name that cannot be one is refused here, before anything is sent, as natprobe dns does
    # (issue #18: it used to go to the server and come back "not-tested").
    for command in (["check", "--udp", str(OPEN_BOTH), "--host", "bad..name", "--server", URL], ["dns", "bad..name"]):
        bad = dual.lab.client.exec([sys.executable, "-m", "natprobe_cli", *command], check=False)
        assert bad.returncode == 2 and "empty label" in bad.stderr and "Traceback" not in bad.stderr, bad


def test_split_horizon_and_natprobe_dns_alone(dual: DualStack) -> None:
    from natprobe.lab.dns_server import PRIMARY_NS, SECOND_NS

    _records(dual, [dual.lab.public_ip], [dual.v6.plan.client_ip])
    # The LAN's own resolver answers the LAN address for the site (and the same echo server).
    echo = [dual.lab.server.primary_ip, dual.v6.plan.primary_ip]
    dual.dns.serve({SITE: [dual.lab.client.ip, dual.v6.plan.client_ip], ECHO_NAME: echo}, address=SECOND_NS)
    dual.dns.use(dual.lab.client, SECOND_NS)
    try:
        done = dual.lab.client.exec([sys.executable, "-m", "natprobe_cli", "dns", SITE, "--server", URL, "--json"],
                                    check=False, timeout=CLI_TIMEOUT_S)
        data = assert_valid_report(json.loads(done.stdout))
        assert data["schema"] == "natprobe/dns"
        assert data["verdicts"]["ipv4"]["verdict"] == "split-horizon" and done.returncode == 0
        assert data["verdicts"]["ipv6"]["verdict"] == "matches"
        assert data["records"]["local"]["ipv4"]["addresses"] == [str(dual.lab.client.ip)]
        local_only = dual.lab.client.exec([sys.executable, "-m", "natprobe_cli", "dns", SITE], check=False,
                                          timeout=CLI_TIMEOUT_S)
        assert "local view" in local_only.stdout and "private-address" in local_only.stdout
    finally:
        dual.dns.use(dual.lab.client, PRIMARY_NS)


def test_a_resolver_that_never_answers_is_a_bounded_timeout_verdict(dual: DualStack) -> None:
    import time

    from natprobe.lab.dns_server import PRIMARY_NS

    dual.dns.use(dual.lab.client, dual.dns.silence())
    try:
        started = time.monotonic()
        done = dual.lab.client.exec([sys.executable, "-m", "natprobe_cli", "dns", SITE, "--timeout", "1", "--json"],
                                    check=False, timeout=CLI_TIMEOUT_S)
        elapsed = time.monotonic() - started
    finally:
        dual.dns.use(dual.lab.client, PRIMARY_NS)
    data = assert_valid_report(json.loads(done.stdout))
    assert done.returncode == 3 and "Traceback" not in done.stderr  # could not test: the resolver failed
    assert {v["verdict"] for v in data["verdicts"].values()} == {"resolver-timeout"}
    assert elapsed < 6.0, elapsed


def test_exposure_scans_each_family_pinholed_open_over_ipv6_the_other_filtered(dual: DualStack) -> None:
    # Dual-stack web servers on the client (http.server binds :: with IPv4 mapped too).
    for port in (WEB_BOTH, WEB_V4_ONLY):
        dual.lab.client.spawn([sys.executable, "-m", "http.server", "--bind", "::", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    for port in (WEB_BOTH, WEB_V4_ONLY):  # bounded wait until both listen
        dual.lab.client.exec([sys.executable, "-c", _WAIT_LISTEN, str(port)], timeout=10)
    done = dual.lab.client.exec([sys.executable, "-m", "natprobe_cli", "exposure", "--server", URL, "--json",
                                 "--expect", f"{WEB_BOTH},{WEB_V4_ONLY}"], check=False, timeout=CLI_TIMEOUT_S)
    assert done.stdout, done.stderr
    data = assert_valid_report(json.loads(done.stdout))
    assert done.returncode == 1, done.stderr  # the expected port is not reachable over IPv6
    families = {f["family"]: f for f in data["families"]}
    stable = str(dual.v6.plan.client_ip)
    assert families["ipv6"]["tested"] is True and families["ipv6"]["public_ip"] == stable
    assert data["limits"] == []  # root in the lab: the stable address was told from the temporary one
    assert families["ipv6"]["scanned_from"] == str(dual.v6.plan.alternate_ip)  # the probe source
    assert families["ipv4"]["public_ip"] == str(dual.lab.public_ip)
    ports = _ports(data)
    assert ports[("ipv4", WEB_BOTH)]["state"] == ports[("ipv6", WEB_BOTH)]["state"] == "open"
    assert ports[("ipv4", WEB_V4_ONLY)]["state"] == "open"
    blocked = ports[("ipv6", WEB_V4_ONLY)]
    assert blocked["state"] == "filtered" and blocked["expected"] is True
    assert any("pinhole" in a and stable in a for f in blocked["findings"] for a in f["advice"])


_WAIT_LISTEN = (
    "import socket, sys, time\n"
    "for _ in range(50):\n"
    "    try:\n"
    "        socket.create_connection(('::1', int(sys.argv[1])), 0.2).close(); break\n"
    "    except OSError: time.sleep(0.1)\n"
    "else: sys.exit('not listening')\n"
)
