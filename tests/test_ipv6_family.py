"""Per-family pieces of ``natprobe check``: temporary addresses, the stable source, IPv6 verdicts."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from natprobe.addressing import IpFamily
from natprobe.adapters.interfaces import Ipv6Address, choose_ipv6_source, parse_if_inet6
from natprobe.findings.jamulus_findings import explain_jamulus_port
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.contract import ConnectResult, ProbeError, ProbeMode
from natprobe.contract import TransportProtocol as Protocol
from natprobe.findings.port_words import assess_port
from natprobe.verdicts.reachability import Context, PortStatus
from natprobe.observations import PortObservation

STABLE = IPv6Address("2001:db8:77::10")
TEMPORARY = IPv6Address("2001:db8:77:0:3f2b:f305:512c:bb0d")
IF_INET6 = """\
20010db8007700000000000000000010 03 40 00 80       eth0
20010db8007700003f2bf305512cbb0d 03 40 00 01       eth0
fe80000000000000cc6798fffe316ff4 03 40 20 80       eth0
00000000000000000000000000000001 01 80 10 80       lo
20010db8009900000000000000000001 04 40 00 20      eth1
garbage line
zz010db8007700000000000000000010 03 40 00 80       eth0
"""


def test_if_inet6_flags_say_which_address_is_temporary() -> None:
    addresses = parse_if_inet6(IF_INET6)
    by_address = {a.address: a for a in addresses}
    assert len(addresses) == 5
    assert by_address[TEMPORARY].temporary and not by_address[STABLE].temporary
    assert by_address[STABLE].prefix_length == 64 and by_address[STABLE].interface == "eth0"
    assert by_address[STABLE].is_global and not by_address[IPv6Address("::1")].is_global
    assert not by_address[IPv6Address("2001:db8:99::1")].usable  # deprecated


def test_the_stable_address_is_chosen_over_the_kernels_temporary_choice() -> None:
    addresses = parse_if_inet6(IF_INET6)
    source = choose_ipv6_source(TEMPORARY, addresses)
    assert source.address == STABLE and not source.temporary and source.kernel_choice == TEMPORARY
    assert choose_ipv6_source(STABLE, addresses).address == STABLE


def test_only_a_temporary_address_is_used_and_flagged() -> None:
    only = (Ipv6Address(TEMPORARY, 64, "eth0", 0x01),)
    source = choose_ipv6_source(TEMPORARY, only)
    assert source.address == TEMPORARY and source.temporary


def test_no_global_route_means_no_ipv6() -> None:
    assert choose_ipv6_source(None, parse_if_inet6(IF_INET6)).address is None
    assert choose_ipv6_source(IPv6Address("fe80::1"), ()).address is None


def _v6(temporary: bool = False, local: IPv6Address = STABLE) -> Context:
    return Context(local, local, NatLayers.NO_NAT, IpFamily.IPV6, temporary)


def test_ipv6_probe_not_arriving_is_a_firewall_with_pinhole_advice_for_the_address() -> None:
    observation = PortObservation(Protocol.UDP, 22124, ProbeMode.NONCE, listening=True, nonce_received=False)
    verdict = assess_port(observation, _v6())
    assert verdict.family is IpFamily.IPV6 and verdict.status is PortStatus.IPV6_FIREWALL
    assert verdict.reachable is False and str(STABLE) in verdict.reason and "no NAT" in verdict.reason
    assert any("pinhole" in a and str(STABLE) in a for a in verdict.advice)
    assert not any("temporary privacy address that changes" in a for a in verdict.advice)
    temporary = assess_port(observation, _v6(temporary=True, local=TEMPORARY))
    assert "temporary privacy address" in temporary.reason
    assert any("use_tempaddr=0" in a for a in temporary.advice)


def test_ipv6_refused_tcp_is_a_firewall_not_a_forward_to_another_machine() -> None:
    observation = PortObservation(Protocol.TCP, 443, ProbeMode.NONCE, listening=True, nonce_received=False,
                                  server_result=ConnectResult(connected=False, error=ProbeError.REFUSED, connect_ms=None))
    verdict = assess_port(observation, _v6())
    assert verdict.status is PortStatus.IPV6_FIREWALL and "refused" in verdict.reason
    assert not any("forward" in a.lower() for a in verdict.advice)


def test_ipv6_reachable_names_the_address_and_ipv4_stays_as_it_was() -> None:
    arrived = PortObservation(Protocol.UDP, 22124, ProbeMode.NONCE, listening=True, nonce_received=True)
    verdict = assess_port(arrived, _v6())
    assert verdict.reachable and str(STABLE) in verdict.reason and "router forward" not in (verdict.proof or "")
    v4 = assess_port(arrived, Context(IPv4Address("192.168.1.2"), IPv4Address("203.0.113.2"), NatLayers.ONE_NAT))
    assert v4.family is IpFamily.IPV4 and "router forward" in (v4.proof or "")


def test_jamulus_over_ipv6_says_direct_connections_and_ipv4_directories() -> None:
    arrived = PortObservation(Protocol.UDP, 22124, ProbeMode.NONCE, listening=True, nonce_received=True)
    (finding,) = explain_jamulus_port(assess_port(arrived, _v6()), NatLayers.NO_NAT)
    assert "-6" in finding.detail and any("directories are IPv4" in a for a in finding.advice)
    lost = PortObservation(Protocol.UDP, 22124, ProbeMode.NONCE, listening=True, nonce_received=False)
    (blocked,) = explain_jamulus_port(assess_port(lost, _v6()), NatLayers.NO_NAT)
    assert "not reachable over IPv6" in blocked.detail
