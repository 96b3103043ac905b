"""The router's evidence in verdicts: it explains failures and never makes a port reachable."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from tests.json_reports import assert_valid_report

from natprobe.findings.router_findings import describe_mapping, explain_router
from natprobe.reports.router_report import ProtocolAnswer, RouterReport
from natprobe.contract.terms import TransportProtocol as Protocol
from natprobe.verdicts.reachability import PortStatus, PortVerdict
from natprobe.verdicts.router_verdicts import ExternalMeaning, MappingOutcome, MappingProtocol, RouterMapping, external_meaning
from natprobe.findings.router_reasons import with_gateway_topology, with_router_evidence
from natprobe.verdicts.nat_layers import NatLayers

UNREACHED = PortVerdict(Protocol.UDP, 22124, False, PortStatus.NOT_FORWARDED, "the probe never arrived", ("fwd",))
REACHED = PortVerdict(Protocol.UDP, 22124, True, PortStatus.REACHABLE, "the probe arrived", ())


@pytest.mark.parametrize(("address", "meaning"), [
    ("100.64.3.4", ExternalMeaning.CGNAT), ("192.168.0.2", ExternalMeaning.ANOTHER_NAT),
    ("10.1.1.1", ExternalMeaning.ANOTHER_NAT), ("0.0.0.0", ExternalMeaning.NONE),
    ("203.0.113.2", ExternalMeaning.PUBLIC), (None, ExternalMeaning.UNKNOWN),
])
def test_external_meaning(address: str | None, meaning: ExternalMeaning) -> None:
    assert external_meaning(None if address is None else IPv4Address(address)) is meaning


def _made(external: str) -> MappingOutcome:
    return MappingOutcome("udp", 22124, MappingProtocol.PCP, True, 22124, 600, IPv4Address(external))


def test_accepted_mapping_behind_cgnat_is_not_reachable_and_names_the_address() -> None:
    verdict = with_router_evidence(UNREACHED, _made("100.64.7.8"))
    assert verdict.reachable is False and verdict.status is PortStatus.CGNAT
    assert "100.64.7.8" in verdict.reason and "accepted" in verdict.reason and "ISP" in verdict.reason


def test_accepted_mapping_behind_a_private_address_names_double_nat() -> None:
    verdict = with_router_evidence(UNREACHED, _made("192.168.1.2"))
    assert verdict.reachable is False and "another router or modem" in verdict.reason


def test_the_gateways_word_never_makes_a_port_reachable() -> None:
    assert with_router_evidence(UNREACHED, _made("203.0.113.2")).reachable is False
    reached = with_router_evidence(REACHED, _made("203.0.113.2"))
    assert reached.reachable is True and "PCP mapping" in reached.reason


def test_conflict_names_the_rule_and_the_other_host() -> None:
    rule = RouterMapping("UDP", 22124, "192.168.1.7", 22124, "Jamulus on the old PC", 0, False)
    verdict = with_router_evidence(UNREACHED, MappingOutcome("udp", 22124, None, False, conflict=rule))
    assert verdict.status is PortStatus.WRONG_HOST
    assert "192.168.1.7:22124" in verdict.reason and "Jamulus on the old PC" in verdict.reason
    assert "already forwards it to 192.168.1.7" in describe_mapping(MappingOutcome("udp", 22124, None, False,
                                                                                   conflict=rule))


def test_refusal_with_cgnat_seen_is_a_cgnat_verdict() -> None:
    refused = MappingOutcome("udp", 22124, None, False, refused="the router refused the NAT-PMP mapping")
    assert with_router_evidence(UNREACHED, refused, cgnat_seen=True).status is PortStatus.CGNAT
    plain = with_router_evidence(UNREACHED, refused)
    assert plain.status is PortStatus.NOT_FORWARDED and "refused" in plain.reason


def test_kept_and_failed_removals_are_said() -> None:
    import dataclasses

    kept = dataclasses.replace(_made("203.0.113.2"), kept=True)
    assert "kept as asked" in describe_mapping(kept) and "600 s" in describe_mapping(kept)
    failed = dataclasses.replace(_made("203.0.113.2"), removed=False)
    assert "REMOVING IT FAILED" in describe_mapping(failed)


def _report(*answers: ProtocolAnswer, external: str | None = None, mismatch: bool = False) -> RouterReport:
    address = None if external is None else IPv4Address(external)
    return RouterReport(IPv4Address("192.168.1.1"), IPv4Address("192.168.1.2"), answers, address,
                        external_meaning(address), mismatch, (), 0.1)


def test_router_findings() -> None:
    none = explain_router(_report(ProtocolAnswer(MappingProtocol.PCP, False)))
    assert "answers none" in none[0].title
    cgnat = explain_router(_report(ProtocolAnswer(MappingProtocol.NATPMP, True, IPv4Address("100.64.0.2")),
                                   external="100.64.0.2"))
    assert any("carrier-grade NAT" in f.title for f in cgnat)
    mismatch = explain_router(_report(ProtocolAnswer(MappingProtocol.PCP, True, result="ADDRESS_MISMATCH"),
                                      mismatch=True))
    assert any("ADDRESS_MISMATCH" in f.title for f in mismatch)
    data = _report(ProtocolAnswer(MappingProtocol.UPNP, True, IPv4Address("203.0.113.2")),
                   external="203.0.113.2").to_dict()
    assert assert_valid_report(data)["schema"] == "natprobe/router" and data["external_meaning"] == "public"


def test_a_gateway_in_cgnat_space_turns_not_forwarded_into_cgnat() -> None:
    gateway = IPv4Address("100.64.0.2")
    verdict = with_gateway_topology(UNREACHED, NatLayers.ONE_NAT, NatLayers.CGNAT, gateway)
    assert verdict.status is PortStatus.CGNAT and "100.64.0.2" in verdict.reason
    double = with_gateway_topology(UNREACHED, NatLayers.ONE_NAT, NatLayers.DOUBLE_NAT, IPv4Address("10.0.0.2"))
    assert double.status is PortStatus.NOT_FORWARDED and "every NAT layer" in double.reason
    assert with_gateway_topology(REACHED, NatLayers.ONE_NAT, NatLayers.CGNAT, gateway) is REACHED
    assert with_gateway_topology(UNREACHED, NatLayers.CGNAT, NatLayers.CGNAT, gateway) is UNREACHED


def test_the_router_evidence_speaks_french_with_the_same_codes() -> None:
    import dataclasses

    from natprobe.i18n import use_language

    rule = RouterMapping("UDP", 22124, "192.168.1.7", 22124, "", 0, False)
    cgnat = _report(ProtocolAnswer(MappingProtocol.NATPMP, True, IPv4Address("100.64.0.2")), external="100.64.0.2")
    english = explain_router(cgnat)
    use_language("fr")
    try:
        french = explain_router(cgnat)
        conflict = with_router_evidence(UNREACHED, MappingOutcome("udp", 22124, None, False, conflict=rule))
        kept = describe_mapping(dataclasses.replace(_made("203.0.113.2"), kept=True))
        behind = with_gateway_topology(UNREACHED, NatLayers.ONE_NAT, NatLayers.CGNAT, IPv4Address("100.64.0.2"))
    finally:
        use_language("en")
    assert [f.code for f in french] == [f.code for f in english]
    assert [f.severity for f in french] == [f.severity for f in english]
    assert any("NAT de l'opérateur (CGNAT" in f.title for f in french), french
    assert conflict.status is PortStatus.WRONG_HOST
    assert "la box a déjà une redirection du port UDP 22124" in conflict.reason and "192.168.1.7:22124" in conflict.reason
    assert "bail de 600 s" in kept and "conservée comme demandé" in kept, kept
    assert behind.status is PortStatus.CGNAT and "la box annonce 100.64.0.2" in behind.reason, behind.reason
