"""The drawn path: which boxes exist and where each probe stopped, for the cases people meet
(a forward, no forward, carrier-grade NAT, a symmetric NAT), in Unicode and in ASCII."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from natprobe.addressing import AddressScope, TransportAddress
from natprobe.findings.path_picture import NodeKind, PathNode, check_path, draw_path, jamulus_path, nat_path
from natprobe.recverr import Hop, HopOutcome
from natprobe.reports.check_report import CheckReport
from natprobe.reports.nat_report import NatReport
from natprobe.verdicts.behavior import ClassicNatType, FilteringBehavior, MappingBehavior
from natprobe.verdicts.classify import Verdict
from natprobe.verdicts.nat_layers import Confidence, NatLayers, TopologyVerdict
from natprobe.contract import TransportProtocol
from natprobe.verdicts.reachability import PortStatus, PortVerdict
from tests.test_jamulus_explain import punch, report as jamulus_report

LAN = IPv4Address("192.168.77.10")
PUBLIC = IPv4Address("203.0.113.7")
SHARED_HOP = IPv4Address("100.64.0.1")


def check_report(layers: NatLayers, *verdicts: PortVerdict, hops: tuple[Hop, ...] = ()) -> CheckReport:
    return CheckReport(
        server="http://198.51.100.10:8080",
        public_ip=PUBLIC,
        local_ip=LAN,
        topology=TopologyVerdict(layers, (), Confidence.HIGH),
        hops=hops,
        ports=verdicts,
        hairpin=(),
        duration_s=1.0,
    )


def verdict(status: PortStatus, reachable: bool | None, protocol: TransportProtocol = TransportProtocol.UDP, port: int = 22124) -> PortVerdict:
    return PortVerdict(protocol, port, reachable, status, "why", ())


def marked(nodes: tuple[PathNode, ...]) -> dict[NodeKind, list[tuple[bool | None, str]]]:
    return {node.kind: [(m.passed, m.text) for m in node.marks] for node in nodes if node.marks}


def kinds(nodes: tuple[PathNode, ...]) -> list[NodeKind]:
    return [node.kind for node in nodes]


def test_forward_marks_the_arrival_on_this_host() -> None:
    nodes = check_path(check_report(NatLayers.ONE_NAT, verdict(PortStatus.REACHABLE, True)))
    assert kinds(nodes) == [NodeKind.HOST, NodeKind.ROUTER, NodeKind.INTERNET, NodeKind.SERVER]
    assert marked(nodes) == {NodeKind.HOST: [(True, "UDP 22124 arrived")]}
    text = draw_path(nodes)
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("┌─ This host") and "192.168.77.10 (LAN)" in lines[0] and "✓ UDP 22124 arrived" in lines[0]
    assert "WAN 203.0.113.7 (public)" in lines[1]
    assert lines[-1].startswith("└─ Echo server") and "198.51.100.10:8080" in lines[-1]


def test_no_forward_stops_at_the_router_and_names_each_port() -> None:
    nodes = check_path(
        check_report(
            NatLayers.ONE_NAT,
            verdict(PortStatus.NOT_FORWARDED, False),
            verdict(PortStatus.REACHABLE, True, TransportProtocol.TCP, 443),
        )
    )
    assert marked(nodes) == {
        NodeKind.HOST: [(True, "TCP 443 arrived")],
        NodeKind.ROUTER: [(False, "UDP 22124 stopped here: no forward")],
    }
    router = draw_path(nodes).splitlines()[1]
    assert router.startswith("├─ Router") and router.endswith("✗ UDP 22124 stopped here: no forward")


def test_cgnat_draws_the_carrier_nat_and_stops_there() -> None:
    hops = (
        Hop(1, IPv4Address("192.168.77.1"), AddressScope.PRIVATE, 0.3, HopOutcome.TIME_EXCEEDED),
        Hop(2, SHARED_HOP, AddressScope.SHARED, 0.5, HopOutcome.TIME_EXCEEDED),
    )
    nodes = check_path(check_report(NatLayers.CGNAT, verdict(PortStatus.CGNAT, False), hops=hops))
    assert kinds(nodes) == [NodeKind.HOST, NodeKind.ROUTER, NodeKind.CARRIER_NAT, NodeKind.INTERNET, NodeKind.SERVER]
    assert marked(nodes) == {NodeKind.CARRIER_NAT: [(False, "UDP 22124 stopped here: a forward at home cannot help")]}
    lines = draw_path(nodes).splitlines()
    assert "WAN 100.64.0.1 (carrier-grade NAT space)" in lines[1]
    assert lines[2].startswith("├─ Carrier NAT") and "203.0.113.7 (public)" in lines[2] and "✗" in lines[2]


def test_ports_with_the_same_verdict_share_one_mark() -> None:
    nodes = check_path(
        check_report(NatLayers.ONE_NAT, verdict(PortStatus.NOT_FORWARDED, False), verdict(PortStatus.NOT_FORWARDED, False, port=5000))
    )
    assert marked(nodes) == {NodeKind.ROUTER: [(False, "UDP 22124, UDP 5000 stopped here: no forward")]}


def test_host_firewall_and_untested_and_no_nat() -> None:
    nodes = check_path(
        check_report(NatLayers.NO_NAT, verdict(PortStatus.HOST_FIREWALL, False), verdict(PortStatus.UNTESTED, None, port=1))
    )
    assert kinds(nodes) == [NodeKind.HOST, NodeKind.INTERNET, NodeKind.SERVER]
    assert marked(nodes) == {
        NodeKind.HOST: [(False, "UDP 22124 dropped by this host's firewall")],
        NodeKind.SERVER: [(None, "UDP 1 not tested")],
    }


def nat_report(nat_type: ClassicNatType, mapping: MappingBehavior, filtering: FilteringBehavior, hairpin: bool | None) -> NatReport:
    return NatReport(
        server=TransportAddress(IPv4Address("198.51.100.10"), 3478),
        server_alternate=None,
        local=TransportAddress(LAN, 40000),
        mapped=TransportAddress(PUBLIC, 61000),
        mapping=Verdict(mapping, 0.9, "m"),
        filtering=Verdict(filtering, 0.9, "f"),
        nat_type=Verdict(nat_type, 0.9, "t"),
        hairpinning=Verdict(hairpin, 0.9, "h"),
        port_preservation=False,
        mapping_varies_by_destination=True,
        rtt_s=0.01,
        round_trip_loss=0.0,
        duration_s=0.5,
        observations=(),
    )


def test_symmetric_nat_behaviour_is_written_on_the_nat() -> None:
    nodes = nat_path(
        nat_report(ClassicNatType.SYMMETRIC, MappingBehavior.ADDRESS_AND_PORT_DEPENDENT, FilteringBehavior.ADDRESS_AND_PORT_DEPENDENT, False)
    )
    router = nodes[1]
    assert router.kind is NodeKind.ROUTER
    assert router.behaviour == "symmetric: a new public port for each destination"
    assert [(m.passed, m.text) for m in router.marks] == [
        (False, "replies from another address or port stopped here"),
        (False, "hairpin (own public address) stopped here"),
    ]
    line = draw_path(nodes).splitlines()[1]
    assert "NAT: symmetric" in line and "203.0.113.7 (public) seen from outside" in line


def test_symmetric_nat_in_the_jamulus_picture_stops_the_punched_ping() -> None:
    from natprobe.verdicts.jamulus_verdicts import ModeStatus

    observed = jamulus_report(hole_punch=punch(published=61000, source=61001, answered=False))
    assert observed.public_mode.status is ModeStatus.SYMMETRIC_NAT
    nodes = jamulus_path(observed)
    router = nodes[1]
    assert router.behaviour is not None and router.behaviour.startswith("symmetric")
    assert "port 22124 published as 61000" in router.behaviour
    assert (False, "punched client's ping stopped here") in [(m.passed, m.text) for m in router.marks]
    assert (False, "unsolicited probe to UDP 22124 stopped here: no forward") in [(m.passed, m.text) for m in router.marks]


@pytest.mark.parametrize("layers", list(NatLayers))
def test_ascii_drawing_has_no_other_characters(layers: NatLayers) -> None:
    nodes = check_path(check_report(layers, verdict(PortStatus.NOT_FORWARDED, False), verdict(PortStatus.REACHABLE, True)))
    text = draw_path(nodes, unicode=False)
    assert text.isascii()
    assert text.splitlines()[0].startswith("+- This host") and text.splitlines()[-1].startswith("`- Echo server")
    assert "[X] UDP 22124" in text or layers is NatLayers.NO_NAT and "[X] UDP 22124 filtered" in text
