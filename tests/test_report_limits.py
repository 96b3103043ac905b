"""Every report a missing facility can limit lists its limits the way the check report does
(issue #20: "Every report says which conclusions were limited by a missing facility").

The same :class:`~natprobe.reports.doctor_report.Limit` record and sentence
(:mod:`natprobe.findings.facility_words`) in the JSON of ``nat``, ``dns``, ``exposure``,
``router`` and ``explain jamulus``, validated against each published schema, and the same
``limited:`` line in each command's text. The measurements themselves run with an injected
capability set in the labs (tests/lab/test_capabilities_lab.py, test_ipv6_lab.py); here the
pure parts and the renderings.
"""

from __future__ import annotations

import dataclasses
from ipaddress import IPv4Address, IPv6Address

import pytest

from natprobe.addressing import IpFamily, TransportAddress
from natprobe.contract.exposure_route import PortState, ScannedPort, ScanProtocol
from natprobe.findings.facility_words import limit_sentence, word_limits
from natprobe.findings.router_findings import explain_router
from natprobe.i18n import use_language
from natprobe.observations import Availability, CapabilitySet, Facility, Missing
from natprobe.reports.dns_report import DnsReport
from natprobe.reports.doctor_report import Limit
from natprobe.reports.exposure_report import ExposureFamily, ExposureReport
from natprobe.reports.nat_report import NatReport
from natprobe.reports.router_report import RouterReport
from natprobe.verdicts.behavior import ClassicNatType, FilteringBehavior, MappingBehavior
from natprobe.verdicts.classify import Verdict
from natprobe.verdicts.dns_verdicts import DnsVerdict, FamilyDnsVerdict
from natprobe.verdicts.limits import leaned_on
from natprobe.verdicts.router_verdicts import ExternalMeaning
from natprobe_cli.render_nat import render_nat_report
from tests.json_reports import assert_valid_report

ALL = CapabilitySet("linux", tuple(Availability(f, True, "x") for f in Facility), privileged=False)
NO_FLAGS = ALL.without(Facility.IPV6_TEMPORARY)
NO_INTERFACES = ALL.without(Facility.INTERFACES)
FLAGS_LIMIT = word_limits(leaned_on(NO_FLAGS, (Facility.IPV6_TEMPORARY,)))
FLAGS_TEXT = "natprobe did not tell a stable IPv6 address from a temporary privacy address: the facility was switched off."


@pytest.fixture
def _english_afterwards() -> object:
    yield None
    use_language("en")


def test_a_report_leans_only_on_the_facilities_its_conclusions_used() -> None:
    assert leaned_on(ALL, tuple(Facility)) == ()
    assert leaned_on(NO_FLAGS, ()) == ()  # a report that did not look at IPv6 is not limited by its flags
    assert leaned_on(NO_FLAGS, (Facility.IPV6_TEMPORARY, Facility.HOP_TRACE, Facility.IPV6_TEMPORARY)) == (
        NO_FLAGS[Facility.IPV6_TEMPORARY],)
    assert [limit.text for limit in FLAGS_LIMIT] == [FLAGS_TEXT]
    assert FLAGS_TEXT == limit_sentence(NO_FLAGS[Facility.IPV6_TEMPORARY])  # the check's own sentence


def _nat(limits: tuple[Limit, ...] = ()) -> NatReport:
    report = NatReport(
        server=TransportAddress(IPv4Address("198.51.100.10"), 3478), server_alternate=None,
        local=TransportAddress(IPv4Address("192.168.1.20"), 40000), mapped=TransportAddress(IPv4Address("203.0.113.7"), 61000),
        mapping=Verdict(MappingBehavior.ENDPOINT_INDEPENDENT, 0.9, "m"),
        filtering=Verdict(FilteringBehavior.ADDRESS_AND_PORT_DEPENDENT, 0.9, "f"),
        nat_type=Verdict(ClassicNatType.PORT_RESTRICTED_CONE, 0.9, "t"), hairpinning=Verdict(True, 0.9, "h"),
        port_preservation=True, mapping_varies_by_destination=False, rtt_s=0.01, round_trip_loss=0.0, duration_s=0.5,
        observations=(), ipv6_address=IPv6Address("2001:db8:77::10"), has_global_ipv6=True,
    )
    return dataclasses.replace(report, limits=limits)


@pytest.mark.usefixtures("_english_afterwards")
def test_the_nat_report_lists_its_limits_in_json_and_text() -> None:
    data = assert_valid_report(_nat(FLAGS_LIMIT).to_dict())
    assert data["schema_version"] == 5
    assert data["limits"] == [{"facility": "ipv6-temporary", "missing": "disabled", "remedy": None, "text": FLAGS_TEXT}]
    assert assert_valid_report(_nat().to_dict())["limits"] == []
    text = render_nat_report(_nat(FLAGS_LIMIT))
    assert "limited: natprobe did not tell a stable IPv6 address from a temporary" in text
    assert "limited:" not in render_nat_report(_nat())
    use_language("fr")
    french = render_nat_report(_nat(word_limits(leaned_on(NO_FLAGS, (Facility.IPV6_TEMPORARY,)))))
    assert "limite : " in french and "limited:" not in french


def test_the_dns_report_lists_its_limits_but_not_inside_a_check() -> None:
    verdicts = tuple(FamilyDnsVerdict(f, DnsVerdict.MATCHES, "r") for f in IpFamily)
    report = DnsReport("www.example.test", True, None, None, None, {f: None for f in IpFamily}, verdicts,
                       limits=FLAGS_LIMIT)
    data = assert_valid_report(report.to_dict())
    assert data["schema_version"] == 3 and [e["facility"] for e in data["limits"]] == ["ipv6-temporary"]
    assert "limits" not in report.body()  # the check's own limits speak for its run


def test_the_exposure_report_lists_its_limits() -> None:
    scanned = (ScannedPort(22, ScanProtocol.TCP, PortState.CLOSED, "ssh", error="refused"),)
    v6 = ExposureFamily(IpFamily.IPV6, True, IPv6Address("2001:db8:77::99"), IPv6Address("2001:db8:77::99"), False,
                        "tested from ?", scanned_from="2001:db8:1::2", scanned=scanned)
    report = ExposureReport("http://s", None, (), (v6,), 1.0, limits=FLAGS_LIMIT)
    data = assert_valid_report(report.to_dict())
    assert data["schema_version"] == 3 and data["limits"][0]["text"] == FLAGS_TEXT
    from natprobe_cli.commands.exposure import render

    text = render(report)
    assert "limited: natprobe did not tell a stable IPv6" in text
    assert text.index("Nothing graded bad.") < text.index("limited: ")


def test_a_router_report_without_the_interfaces_does_not_say_there_is_no_gateway() -> None:
    from natprobe_cli.commands.router import render_router

    limits = word_limits(leaned_on(NO_INTERFACES, (Facility.INTERFACES,)))
    unknown = RouterReport(None, None, (), None, ExternalMeaning.UNKNOWN, False, (), 0.0, limits=limits)
    findings = explain_router(unknown)
    assert [f.code for f in findings] == ["router-gateway-unknown"]
    assert "--gateway" in findings[0].advice[0]
    data = assert_valid_report(dataclasses.replace(unknown, findings=findings).to_dict())
    assert data["schema_version"] == 5 and data["limits"][0]["facility"] == "interfaces"
    text = render_router(unknown, findings)
    assert text.startswith("Gateway: not known") and "limited: natprobe did not list this host's interfaces" in text
    # Read, and none there: that is a finding of its own.
    absent = RouterReport(None, None, (), None, ExternalMeaning.UNKNOWN, False, (), 0.0)
    assert [f.code for f in explain_router(absent)] == ["router-no-gateway"]
    assert render_router(absent, ()).startswith("Gateway: none")


def test_a_permission_limit_carries_its_command() -> None:
    entry = Availability(Facility.ARRIVAL_WATCH, False, None, Missing.PERMISSION, "EPERM", "sudo natprobe …")
    (limit,) = word_limits((entry,))
    assert limit.remedy == "sudo natprobe …" and limit.text.endswith("To allow it: sudo natprobe …")


def _free_low_tcp_port() -> int:
    from natprobe.adapters.holder_lookup import port_in_use

    port = next((p for p in range(1000, 900, -1) if port_in_use("tcp", p) is False), None)
    if port is None:
        pytest.skip("no free TCP port between 901 and 1000 here")
    return port


async def test_a_check_without_the_low_ports_names_the_limit_and_tests_nothing_there() -> None:
    """On loopback: a free TCP port below 1024 with the facility switched off is ``not-tested``,
    its reason says why, and the report's limits name the facility (the echo server is not asked)."""
    import ipaddress

    from natprobe.adapters.capabilities import probe_capabilities
    from natprobe.contract import TransportProtocol
    from natprobe.measure.check import CheckOptions, check_ports
    from natprobe.verdicts.port_spec import PortSpec
    from natprobe.verdicts.reachability import PortStatus
    from natprobe_server.config.http import HttpApiConfig
    from tests.echo_server import loopback_api

    port = _free_low_tcp_port()
    caps = probe_capabilities().without(Facility.LOW_PORTS)
    config = HttpApiConfig(probe_source_ip=ipaddress.ip_address("127.0.0.1"))
    async with loopback_api(config) as running:
        report = await check_ports(running.url, [PortSpec(TransportProtocol.TCP, port)],
                                   CheckOptions(capabilities=caps, families=(IpFamily.IPV4,), trace=False,
                                                listen_ip=ipaddress.IPv4Address("127.0.0.1")))
    (verdict,) = report.ports
    assert (verdict.status, verdict.reachable) == (PortStatus.UNTESTED, None)
    assert f"did not listen on TCP port {port}" in verdict.reason and "switched off" in verdict.reason
    assert [(e.facility, e.missing) for e in report.limits] == [(Facility.LOW_PORTS, Missing.DISABLED)]
    data = assert_valid_report(report.to_dict())
    assert data["schema_version"] == 7 and data["limits"][0]["facility"] == "bind-below-1024"


def test_listening_below_1024_is_probed_per_platform() -> None:
    from natprobe.adapters.capabilities import probe_capabilities

    assert probe_capabilities("darwin").has(Facility.LOW_PORTS)  # any user, since macOS 10.14
    assert probe_capabilities("win32").has(Facility.LOW_PORTS)
    assert probe_capabilities("plan9")[Facility.LOW_PORTS].missing is Missing.UNSUPPORTED
    here = probe_capabilities()[Facility.LOW_PORTS]
    assert here.available or (here.missing is Missing.PERMISSION and "cap_net_bind_service" in (here.remedy or ""))
