"""``natprobe check`` on real kernel NATs with Linux-only facilities switched off: each alone,
then all together (an injected capability set, what a Mac or a Windows machine has).

The truth is what the lab was built to be (and what the full-capability run finds). With a
facility off, every verdict stays the same, or is an honest ``not-tested``, or keeps the
same ``reachable`` answer with a reason that names the missing facility; never a wrong
answer. Three labs, one module-scoped fixture each: a home NAT (a forward natprobe listens
on, no forward, a forward this host's firewall drops, a real WireGuard behind a forward), a
carrier-grade NAT, and a dual-stack home whose client prefers a temporary IPv6 address.
The other reports a facility limits (``nat``, ``exposure``, ``router``) run there too, each
listing in ``limits`` the missing facility its conclusions leaned on. Traffic stays inside the
namespaces made here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from natprobe.adapters.capabilities import probe_capabilities
from natprobe.addressing import IpFamily
from natprobe.contract import TransportProtocol
from natprobe.lab import Lab, LabConfig, PortForward
from natprobe.lab.ipv6_net import Ipv6Lab, enable_ipv6
from natprobe.lab.services import start_echo_server
from natprobe.lab.wireguard import start_wireguard, wireguard_missing
from natprobe.measure.check import CheckOptions, check_ports
from natprobe.measure.discovery import DiscoveryOptions, discover_nat
from natprobe.measure.exposure import ExposureOptions, scan_exposure
from natprobe.measure.portmapping import ENV_GATEWAY, probe_router
from natprobe.reports.check_report import CheckReport
from natprobe.findings.facility_words import limit_sentence
from natprobe.observations import CapabilitySet, Facility
from natprobe.verdicts.reachability import PortSpec, PortStatus, PortVerdict
from tests.json_reports import assert_valid_report

pytestmark = [pytest.mark.lab, pytest.mark.interop]

LINUX_ONLY = (Facility.HOP_TRACE, Facility.ARRIVAL_WATCH, Facility.INTERFACES, Facility.IPV6_TEMPORARY)
OFF_SETS = [(f,) for f in LINUX_ONLY] + [LINUX_ONLY]
OFF_IDS = [f.value for f in LINUX_ONLY] + ["all-linux-only"]

OPEN, CLOSED, FIREWALLED, WIREGUARD = 22124, 22125, 22126, 51820


@dataclass
class Home:
    lab: Lab
    url: str


def _run(home: Home, caps: CapabilitySet, specs: list[PortSpec], families: tuple[IpFamily, ...]) -> CheckReport:
    options = CheckOptions(capabilities=caps, families=families, probe_timeout=1.0)
    with home.lab.client.entered():
        return asyncio.run(check_ports(home.url, specs, options))


def _right_or_honest(verdict: PortVerdict, truth: PortStatus, caps: CapabilitySet, off: tuple[Facility, ...]) -> None:
    """The verdict is the truth, or names a missing facility and does not contradict the truth."""
    if verdict.status is truth:
        return
    truth_reachable = {PortStatus.REACHABLE: True, PortStatus.ARRIVED_SILENT: True}.get(truth, False)
    named = [f for f in off if limit_sentence(caps[f]) in verdict.reason]
    assert named, f"{verdict.status} instead of {truth} without naming a missing facility: {verdict.reason}"
    assert verdict.reachable in (truth_reachable, None), verdict


@pytest.fixture(scope="module")
def home() -> Iterator[Home]:
    missing = wireguard_missing()
    if missing:
        pytest.skip(missing)
    forwards = tuple(PortForward("udp", p) for p in (OPEN, FIREWALLED, WIREGUARD))
    with Lab(LabConfig(forwards=forwards)) as lab:
        echo = start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=8080)
        lab.block_on_client("udp", FIREWALLED)
        start_wireguard(lab.client, WIREGUARD)
        yield Home(lab, echo.http_url)


HOME_TRUTH = {OPEN: PortStatus.REACHABLE, CLOSED: PortStatus.NOT_FORWARDED,
              FIREWALLED: PortStatus.HOST_FIREWALL, WIREGUARD: PortStatus.ARRIVED_SILENT}


def _home_specs() -> list[PortSpec]:
    return [PortSpec(TransportProtocol.UDP, port) for port in HOME_TRUTH]


def test_with_every_facility_the_home_lab_gives_the_truth(home: Home) -> None:
    report = _run(home, probe_capabilities(), _home_specs(), (IpFamily.IPV4,))
    assert {v.port: v.status for v in report.ports} == HOME_TRUTH
    assert report.limits == ()


@pytest.mark.parametrize("off", OFF_SETS, ids=OFF_IDS)
def test_home_lab_with_facilities_off(home: Home, off: tuple[Facility, ...]) -> None:
    caps = probe_capabilities().without(*off)
    report = _run(home, caps, _home_specs(), (IpFamily.IPV4,))
    for verdict in report.ports:
        _right_or_honest(verdict, HOME_TRUTH[verdict.port], caps, off)
    by_port = {v.port: v for v in report.ports}
    if Facility.ARRIVAL_WATCH in off:
        assert by_port[WIREGUARD].status is PortStatus.UNTESTED and by_port[WIREGUARD].reachable is None
        assert Facility.ARRIVAL_WATCH in {e.facility for e in report.limits}
    else:
        assert by_port[WIREGUARD].status is PortStatus.ARRIVED_SILENT
    assert by_port[OPEN].status is PortStatus.REACHABLE  # natprobe's own listener needs no facility
    if Facility.HOP_TRACE in off:
        assert report.hops == () and Facility.HOP_TRACE in {e.facility for e in report.limits}


def test_the_router_report_without_the_interfaces_knows_no_gateway(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    # Inside the client namespace the default gateway is the lab's router: let natprobe find it.
    monkeypatch.delenv(ENV_GATEWAY)
    with home.lab.client.entered():
        found = asyncio.run(probe_router(timeout=0.3, capabilities=probe_capabilities())).report
        blind = asyncio.run(probe_router(timeout=0.3, capabilities=probe_capabilities().without(Facility.INTERFACES)))
    assert found.gateway == home.lab.router.lan_ip and found.limits == ()
    report = blind.report
    assert report.gateway is None and [e.facility for e in report.limits] == [Facility.INTERFACES]
    assert [f.code for f in report.findings] == ["router-gateway-unknown"]  # not "no default gateway"
    assert_valid_report(report.to_dict())


@pytest.fixture(scope="module")
def carrier() -> Iterator[Home]:
    with Lab(LabConfig(cgnat=True)) as lab:
        echo = start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=8080)
        yield Home(lab, echo.http_url)


@pytest.mark.parametrize("off", [(), *OFF_SETS], ids=["none", *OFF_IDS])
def test_carrier_grade_nat_with_facilities_off(carrier: Home, off: tuple[Facility, ...]) -> None:
    caps = probe_capabilities().without(*off)
    report = _run(carrier, caps, [PortSpec(TransportProtocol.UDP, OPEN)], (IpFamily.IPV4,))
    verdict = report.ports[0]
    _right_or_honest(verdict, PortStatus.CGNAT, caps, off)
    assert verdict.reachable is False
    if Facility.HOP_TRACE not in off:
        assert verdict.status is PortStatus.CGNAT


@dataclass
class DualStack:
    home: Home
    v6: Ipv6Lab


@pytest.fixture(scope="module")
def dual() -> Iterator[DualStack]:
    with Lab(LabConfig(forwards=(PortForward("udp", OPEN),))) as lab:
        v6 = enable_ipv6(lab, client_global=True, temporary=True)
        v6.add_pinhole("udp", OPEN)  # to the stable address, as a user opens it
        url = f"http://[{v6.plan.primary_ip}]:8080"
        start_echo_server(lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=8080,
                          extra=("--primary", str(v6.plan.primary_ip), "--alternate", str(v6.plan.alternate_ip)))
        yield DualStack(Home(lab, url), v6)


@pytest.mark.parametrize("off", [(), *OFF_SETS], ids=["none", *OFF_IDS])
def test_ipv6_with_facilities_off(dual: DualStack, off: tuple[Facility, ...]) -> None:
    caps = probe_capabilities().without(*off)
    report = _run(dual.home, caps, [PortSpec(TransportProtocol.UDP, OPEN)], (IpFamily.IPV6,))
    verdict = report.ports[0]
    _right_or_honest(verdict, PortStatus.REACHABLE, caps, off)
    family = report.families[0]
    if Facility.IPV6_TEMPORARY in off:
        assert Facility.IPV6_TEMPORARY in {e.facility for e in report.limits}
        # the kernel's choice (the temporary address) was tested; the report does not pretend
        # it is stable: the limit says the flags were not read
        assert family.local_ip == dual.v6.temporary_address()
    else:
        assert verdict.status is PortStatus.REACHABLE and family.local_ip == dual.v6.plan.client_ip


def test_nat_names_the_stable_ipv6_address_or_its_limit(dual: DualStack) -> None:
    lab = dual.home.lab
    target = f"{lab.server.primary_ip}:3478"

    def nat(caps: CapabilitySet) -> tuple[object, ...]:
        with lab.client.entered():
            report = asyncio.run(discover_nat(target, DiscoveryOptions(hairpin=False, capabilities=caps)))
        assert_valid_report(report.to_dict())
        return report.ipv6_address, tuple(e.facility for e in report.limits), report.mapped

    assert nat(probe_capabilities())[:2] == (dual.v6.plan.client_ip, ())
    address, limits, mapped = nat(probe_capabilities().without(Facility.IPV6_TEMPORARY))
    # The kernel's choice (the temporary address) is named, and the limit says the flags were not read.
    assert address == dual.v6.temporary_address() and limits == (Facility.IPV6_TEMPORARY,)
    assert mapped is not None  # the NAT conclusions themselves did not need the flags


def test_exposure_over_ipv6_without_the_flags_names_the_limit(dual: DualStack) -> None:
    caps = probe_capabilities().without(*LINUX_ONLY)
    with dual.home.lab.client.entered():
        report = asyncio.run(scan_exposure(dual.home.url, ExposureOptions(families=(IpFamily.IPV6,), capabilities=caps)))
    data = assert_valid_report(report.to_dict())
    (family,) = report.families
    assert family.tested and family.local_ip == dual.v6.temporary_address()
    # Of the Linux-only facilities, only the address flags bore on the scan.
    assert [e["facility"] for e in data["limits"]] == ["ipv6-temporary"]
