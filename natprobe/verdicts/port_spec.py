"""The ports ``natprobe check`` is asked about, and what the echo server speaks to each.

A :class:`PortSpec` is the request side of a check (a transport, a port, an optional service
and host name); :func:`mode_for_held_port` picks the protocol spoken to a port a program
already holds. Apart from the decisions (:mod:`natprobe.verdicts.reachability`, which uses
these) so that ``natprobe check`` can read its command line without loading the result
records and the decision tables before its first packet.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from natprobe.contract.terms import ProbeMode, TransportProtocol

__all__ = (
    "SERVICE_BY_NAME",
    "UDP_SERVICE_MODES",
    "WELL_KNOWN_SERVICE",
    "PortSpec",
    "PortSpecError",
    "PortSpecProblem",
    "mode_for_held_port",
)

SERVICE_BY_NAME = {
    "jamulus": (TransportProtocol.UDP, ProbeMode.JAMULUS),
    "http": (TransportProtocol.TCP, ProbeMode.HTTP),
    "https": (TransportProtocol.TCP, ProbeMode.HTTPS),
    "tls": (TransportProtocol.TCP, ProbeMode.HTTPS),
    "ssh": (TransportProtocol.TCP, ProbeMode.SSH),
    "tcp": (TransportProtocol.TCP, ProbeMode.CONNECT),
    "openvpn": (TransportProtocol.UDP, ProbeMode.OPENVPN),
    "dns": (TransportProtocol.UDP, ProbeMode.DNS),
    "ntp": (TransportProtocol.UDP, ProbeMode.NTP),
    "quic": (TransportProtocol.UDP, ProbeMode.QUIC),
}
UDP_SERVICE_MODES = (ProbeMode.OPENVPN, ProbeMode.DNS, ProbeMode.NTP, ProbeMode.QUIC)
"""Services that answer a correct first packet but stay silent to anything else."""
WELL_KNOWN_SERVICE = {
    (TransportProtocol.UDP, 22124): ProbeMode.JAMULUS,
    (TransportProtocol.TCP, 22): ProbeMode.SSH,
    (TransportProtocol.TCP, 80): ProbeMode.HTTP,
    (TransportProtocol.TCP, 8080): ProbeMode.HTTP,
    (TransportProtocol.TCP, 443): ProbeMode.HTTPS,
    (TransportProtocol.TCP, 8443): ProbeMode.HTTPS,
    (TransportProtocol.UDP, 1194): ProbeMode.OPENVPN,
    (TransportProtocol.UDP, 53): ProbeMode.DNS,
    (TransportProtocol.UDP, 123): ProbeMode.NTP,
    (TransportProtocol.UDP, 443): ProbeMode.QUIC,
}


@dataclass(frozen=True, slots=True)
class PortSpec:
    """A port to check; ``service`` forces the protocol spoken when the port is taken."""

    protocol: TransportProtocol
    port: int
    service: str | None = None
    host: str | None = None
    """Host name for HTTP ``Host`` and TLS SNI (web servers serve per name)."""

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise PortSpecError(PortSpecProblem.PORT_OUT_OF_RANGE, self)
        if self.service is not None and self.service not in SERVICE_BY_NAME:
            raise PortSpecError(PortSpecProblem.UNKNOWN_SERVICE, self)
        if self.service is not None and SERVICE_BY_NAME[self.service][0] is not self.protocol:
            raise PortSpecError(PortSpecProblem.WRONG_TRANSPORT, self)


def mode_for_held_port(spec: PortSpec) -> ProbeMode | None:
    """What the echo server speaks to a port a program already holds here: the service the
    user named, else the port's well-known one, else a bare TCP connect (``None`` for UDP:
    only the arrival watch can prove a silent UDP port)."""
    if spec.service is not None:
        return SERVICE_BY_NAME[spec.service][1]
    mode = WELL_KNOWN_SERVICE.get((spec.protocol, spec.port))
    if mode is not None:
        return mode
    return ProbeMode.CONNECT if spec.protocol is TransportProtocol.TCP else None


class PortSpecProblem(enum.StrEnum):
    """What is wrong with a :class:`PortSpec` (a program words it; see :class:`PortSpecError`)."""

    PORT_OUT_OF_RANGE = "port-out-of-range"
    UNKNOWN_SERVICE = "unknown-service"
    WRONG_TRANSPORT = "wrong-transport"


class PortSpecError(ValueError):
    """A port spec that cannot be checked; ``problem`` and ``spec`` say why."""

    def __init__(self, problem: PortSpecProblem, spec: PortSpec) -> None:
        self.problem, self.spec = problem, spec
        if problem is PortSpecProblem.PORT_OUT_OF_RANGE:
            text = f"port out of range: {spec.port}"
        elif problem is PortSpecProblem.UNKNOWN_SERVICE:
            text = f"unknown service {spec.service!r}; known: {', '.join(sorted(SERVICE_BY_NAME))}"
        else:
            text = (f"service {spec.service} runs over {SERVICE_BY_NAME[spec.service or ''][0].value}, "
                    f"not {spec.protocol.value}")
        super().__init__(text)
