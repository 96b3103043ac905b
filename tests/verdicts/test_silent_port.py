"""A port held by a program natprobe cannot speak to: the pure verdicts, the holder parsers,
the capability set and the limits a missing facility puts on a verdict."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from natprobe.addressing import IpFamily
from natprobe.contract import ProbeMode, TransportProtocol
from natprobe.findings.facility_words import limit_sentence
from natprobe.observations import Availability, CapabilitySet, Facility, Missing
from natprobe.verdicts.limits import limits_of
from natprobe.findings.facility_words import limit_verdict
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.verdicts.port_holder import classify_program, parse_proc_net_udp, parse_ss_processes, parse_wg_listen_ports
from natprobe.observations import HolderKind, PortHolder
from natprobe.findings.port_words import assess_port
from natprobe.observations import PortObservation
from natprobe.verdicts.reachability import Context, PortStatus

LAN = IPv4Address("192.168.1.20")
PUBLIC = IPv4Address("203.0.113.7")
HOME = Context(LAN, PUBLIC, NatLayers.ONE_NAT)
V6 = Context(IPv6Address("2001:db8:77::10"), IPv6Address("2001:db8:77::10"), NatLayers.NO_NAT, IpFamily.IPV6)
WG = PortHolder(HolderKind.WIREGUARD, "wireguard-go", 812, "/proc")
ALL = CapabilitySet("linux", tuple(Availability(f, True, "x") for f in Facility), privileged=True)


def _held(seen: bool | None, holder: PortHolder | None = WG, missing: Availability | None = None) -> PortObservation:
    return PortObservation(TransportProtocol.UDP, 51820, ProbeMode.NONCE, listening=False, seen_on_interface=seen,
                           holder=holder, watch_missing=missing)


def test_a_token_seen_arriving_at_a_silent_wireguard_is_its_own_status_naming_wireguard() -> None:
    verdict = assess_port(_held(True), HOME)
    assert verdict.status is PortStatus.ARRIVED_SILENT and verdict.status.value == "arrived-service-silent"
    assert verdict.reachable is True
    assert "WireGuard (wireguard-go) holds UDP port 51820" in verdict.reason
    assert any(f"Endpoint = {PUBLIC}:51820" in a for a in verdict.advice)
    assert any("this host's firewall allows inbound UDP port 51820" in a for a in verdict.advice)
    assert verdict.proof is not None and "packet watch" in verdict.proof


@pytest.mark.parametrize(("holder", "words"), [
    (PortHolder(HolderKind.OPENVPN, "openvpn", 9), "tls-auth or tls-crypt"),
    (PortHolder(HolderKind.OTHER, "mydaemon", 9), "protocol of mydaemon"),
    (None, "protocol of a program"),
])
def test_the_advice_is_worded_for_the_program(holder: PortHolder | None, words: str) -> None:
    verdict = assess_port(_held(True, holder), HOME)
    assert verdict.status is PortStatus.ARRIVED_SILENT
    assert words in verdict.advice[0], verdict.advice


def test_a_token_that_never_arrived_is_a_missing_forward_over_ipv4_and_the_firewall_over_ipv6() -> None:
    v4 = assess_port(_held(False), HOME)
    assert (v4.status, v4.reachable) == (PortStatus.NOT_FORWARDED, False)
    assert "WireGuard (wireguard-go) holds the port" in v4.reason and str(LAN) in v4.reason
    v6 = assess_port(_held(False), V6)
    assert (v6.status, v6.reachable) == (PortStatus.IPV6_FIREWALL, False)
    # the IPv6 proof sentence of a listening check must not replace the arrival proof
    arrived = assess_port(_held(True), V6)
    assert arrived.status is PortStatus.ARRIVED_SILENT and "packet watch" in (arrived.proof or "")


def test_without_the_watch_it_is_untested_naming_the_facility_and_the_command() -> None:
    missing = Availability(Facility.ARRIVAL_WATCH, False, None, Missing.PERMISSION, "EPERM", "sudo natprobe check")
    verdict = assess_port(_held(None, missing=missing), HOME)
    assert (verdict.status, verdict.reachable) == (PortStatus.UNTESTED, None)
    assert "needs a privilege" in verdict.reason and "sudo natprobe check" in verdict.reason
    assert verdict.advice == ("Run the check with the packet watch allowed: sudo natprobe check",)
    unsupported = Availability(Facility.ARRIVAL_WATCH, False, None, Missing.UNSUPPORTED, "darwin")
    verdict = assess_port(_held(None, missing=unsupported), HOME)
    assert "on this platform (darwin)" in verdict.reason
    assert verdict.advice[0].startswith("Stop WireGuard (wireguard-go) for a moment")


# --- holders ----------------------------------------------------------------------------------

PROC_NET_UDP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  712: 00000000:CA6C 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 91234 2 0000000000000000 0
  713: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 555 2 0000000000000000 0
  garbage line
"""
PROC_NET_UDP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  10: 00000000000000000000000000000000:CA6C 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 91235 2 0000000000000000 0
  11: B80D0120000000000000000001000000:1F90 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 7 2 0000000000000000 0
"""


def test_proc_net_udp_is_parsed_with_its_host_order_words() -> None:
    v4 = parse_proc_net_udp(PROC_NET_UDP)
    assert [(str(s.local_ip), s.port, s.state, s.inode) for s in v4] == [
        ("0.0.0.0", 51820, 7, 91234), ("127.0.0.1", 53, 7, 555)]
    v6 = parse_proc_net_udp(PROC_NET_UDP6)
    assert [(str(s.local_ip), s.port, s.inode) for s in v6] == [("::", 51820, 91235), ("2001:db8::1", 8080, 7)]


def test_ss_and_wg_outputs_are_parsed() -> None:
    ss = ('UNCONN 0 0 0.0.0.0:51820 0.0.0.0:* users:(("wireguard-go",pid=812,fd=9))\n'
          'UNCONN 0 0 [::]:51820 [::]:* users:(("wireguard-go",pid=812,fd=8),("helper",pid=9,fd=3))\n'
          'UNCONN 0 0 127.0.0.53%lo:53 0.0.0.0:* users:(("systemd-resolve",pid=5,fd=12))\n'
          'UNCONN 0 0 0.0.0.0:51821 0.0.0.0:*\n')
    assert parse_ss_processes(ss, 51820) == (("wireguard-go", 812), ("wireguard-go", 812), ("helper", 9))
    assert parse_ss_processes(ss, 51821) == ()
    assert parse_wg_listen_ports("wg0\t51820\nwg1\t0\nnonsense\n") == {"wg0": 51820, "wg1": 0}


@pytest.mark.parametrize(("program", "wg_port", "kind"), [
    ("wireguard-go", False, HolderKind.WIREGUARD),
    ("boringtun-cli", False, HolderKind.WIREGUARD),
    (None, True, HolderKind.WIREGUARD),  # kernel WireGuard: no process, but wg show lists the port
    (None, False, HolderKind.OTHER),
    ("openvpn", False, HolderKind.OPENVPN),
    ("Jamulus", False, HolderKind.JAMULUS),
    ("python3", True, HolderKind.OTHER),  # a process holds it: wg show's port is another namespace's
])
def test_programs_are_classified(program: str | None, wg_port: bool, kind: HolderKind) -> None:
    assert classify_program(program, wireguard_port=wg_port) is kind


# --- capabilities and limits ------------------------------------------------------------------


def test_a_capability_set_lists_every_facility_once_and_switches_them_off() -> None:
    with pytest.raises(ValueError):
        CapabilitySet("linux", ALL.entries[:-1])
    off = ALL.without(Facility.HOP_TRACE, Facility.ARRIVAL_WATCH)
    assert [e.facility for e in off.missing] == [Facility.HOP_TRACE, Facility.ARRIVAL_WATCH]
    assert all(e.missing is Missing.DISABLED for e in off.missing) and off.has(Facility.INTERFACES)
    assert "switched off" in limit_sentence(off[Facility.HOP_TRACE])


def test_an_unreached_verdict_names_the_missing_facilities_and_a_reached_one_does_not() -> None:
    caps = ALL.without(Facility.HOP_TRACE, Facility.ARRIVAL_WATCH, Facility.IPV6_TEMPORARY)
    unreached = assess_port(PortObservation(TransportProtocol.UDP, 9, ProbeMode.NONCE, True, nonce_received=False), HOME)
    limits = limits_of(caps, IpFamily.IPV4, (unreached,), traced=False)
    assert [e.facility for e in limits] == [Facility.ARRIVAL_WATCH, Facility.HOP_TRACE]
    limited = limit_verdict(unreached, limits)
    assert limited.status is unreached.status and limited.reachable is False
    assert "carrier-grade NAT" in limited.reason and "this host's firewall" in limited.reason
    reached = assess_port(PortObservation(TransportProtocol.UDP, 9, ProbeMode.NONCE, True, nonce_received=True), HOME)
    assert limits_of(caps, IpFamily.IPV4, (reached,), traced=False) == ()
    assert [e.facility for e in limits_of(caps, IpFamily.IPV6, (reached,), traced=True)] == [Facility.IPV6_TEMPORARY]


def test_an_unanswered_jamulus_request_names_the_program_the_lookup_found() -> None:
    jamulus = PortHolder(HolderKind.JAMULUS, "Jamulus", 77, "/proc")
    observation = PortObservation(TransportProtocol.UDP, 22150, ProbeMode.JAMULUS, listening=False,
                                  seen_on_interface=False, holder=jamulus, service="jamulus")
    verdict = assess_port(observation, HOME)
    assert verdict.status is PortStatus.NOT_FORWARDED
    assert verdict.reason.startswith("the echo server's jamulus request to Jamulus, which holds the port, got no answer")
    unnamed = assess_port(PortObservation(TransportProtocol.UDP, 22124, ProbeMode.JAMULUS, listening=False,
                                          seen_on_interface=False, service="jamulus"), HOME)
    assert unnamed.reason.startswith("the echo server's jamulus request got no answer")
