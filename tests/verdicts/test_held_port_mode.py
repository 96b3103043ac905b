"""What the echo server speaks to a port a program already holds (one decision, used by the
check and by the relay check)."""

from __future__ import annotations

from natprobe.contract import ProbeMode, TransportProtocol
from natprobe.verdicts.port_spec import PortSpec, mode_for_held_port

TCP, UDP = TransportProtocol.TCP, TransportProtocol.UDP


def test_the_named_service_wins_over_the_well_known_port() -> None:
    assert mode_for_held_port(PortSpec(TCP, 443, "ssh")) is ProbeMode.SSH


def test_a_well_known_port_speaks_its_protocol() -> None:
    assert mode_for_held_port(PortSpec(TCP, 443)) is ProbeMode.HTTPS
    assert mode_for_held_port(PortSpec(UDP, 22124)) is ProbeMode.JAMULUS


def test_any_other_held_port_gets_a_bare_connect_over_tcp_and_nothing_over_udp() -> None:
    assert mode_for_held_port(PortSpec(TCP, 9000)) is ProbeMode.CONNECT
    assert mode_for_held_port(PortSpec(UDP, 40125)) is None
