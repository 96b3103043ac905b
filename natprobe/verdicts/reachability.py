"""Why a port is or is not reachable from outside: the pure decision for ``natprobe check``.

Inputs are what was observed — whether the echo server's probe-back arrived on the port,
whether it was at least seen on this host's interface (a packet capture, when allowed),
what the server saw when it connected or spoke the service's protocol — plus the local
context (this host's address, the public address the server saw, the NAT layers). The
output is one verdict per port with its reason and what to do, in plain language.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from natprobe.addressing import IPAddress
from natprobe.contract import (
    ConnectResult,
    HttpResult,
    HttpsResult,
    JamulusResult,
    ProbeError,
    ProbeMode,
    ProbeResult,
    SshResult,
    TransportProtocol,
)
from natprobe.verdicts.nat_layers import NatLayers


class PortStatus(enum.StrEnum):
    """The verdict for one port; the stable strings scripts rely on."""

    REACHABLE = "reachable"
    NOTHING_ANSWERING = "forwarded-but-nothing-answering"
    NOT_FORWARDED = "not-forwarded-or-filtered"
    WRONG_HOST = "forwarded-to-another-host"
    HOST_FIREWALL = "dropped-by-host-firewall"
    CGNAT = "behind-cgnat"
    UNTESTED = "not-tested"


SERVICE_BY_NAME = {
    "jamulus": (TransportProtocol.UDP, ProbeMode.JAMULUS),
    "http": (TransportProtocol.TCP, ProbeMode.HTTP),
    "https": (TransportProtocol.TCP, ProbeMode.HTTPS),
    "tls": (TransportProtocol.TCP, ProbeMode.HTTPS),
    "ssh": (TransportProtocol.TCP, ProbeMode.SSH),
    "tcp": (TransportProtocol.TCP, ProbeMode.CONNECT),
}
WELL_KNOWN_SERVICE = {
    (TransportProtocol.UDP, 22124): ProbeMode.JAMULUS,
    (TransportProtocol.TCP, 22): ProbeMode.SSH,
    (TransportProtocol.TCP, 80): ProbeMode.HTTP,
    (TransportProtocol.TCP, 8080): ProbeMode.HTTP,
    (TransportProtocol.TCP, 443): ProbeMode.HTTPS,
    (TransportProtocol.TCP, 8443): ProbeMode.HTTPS,
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
            raise ValueError(f"port out of range: {self.port}")
        if self.service is not None and self.service not in SERVICE_BY_NAME:
            raise ValueError(f"unknown service {self.service!r}; known: {', '.join(sorted(SERVICE_BY_NAME))}")
        if self.service is not None and SERVICE_BY_NAME[self.service][0] is not self.protocol:
            raise ValueError(f"service {self.service} runs over {SERVICE_BY_NAME[self.service][0].value}, not {self.protocol.value}")


@dataclass(frozen=True, slots=True)
class PortObservation:
    """Everything observed for one port."""

    protocol: TransportProtocol
    port: int
    mode: ProbeMode
    listening: bool
    """natprobe held the port itself and listened for the nonce."""
    nonce_received: bool | None = None
    """The nonce arrived on natprobe's own socket (None: natprobe was not listening)."""
    seen_on_interface: bool | None = None
    """The probe reached this host's network interface (None: no capture was possible)."""
    server_result: ProbeResult | None = None
    """The echo server's ``result`` record for this probe (None: it did not run)."""
    service: str | None = None
    """The service natprobe expected on the port, when it was held by one."""
    error: str | None = None
    """Why the probe could not run (e.g. the echo server refused it)."""


@dataclass(frozen=True, slots=True)
class Context:
    local_ip: IPAddress | None
    public_ip: IPAddress | None
    layers: NatLayers


@dataclass(frozen=True, slots=True)
class PortVerdict:
    protocol: TransportProtocol
    port: int
    reachable: bool | None
    status: PortStatus
    reason: str
    advice: tuple[str, ...]
    proof: str | None = None
    """How reachability was proven, when it was."""
    details: ProbeResult | None = None
    """What the echo server got back, when a service answered or refused."""


def held_udp_port_reason(port: int) -> str:
    """Why a UDP port held by an unknown program cannot be checked (the check's ``error``)."""
    return (
        f"a program already uses UDP port {port}, and natprobe can only prove a UDP port it can "
        "listen on itself, or a service it can speak to (--service jamulus). Stop the program and "
        "run the check again."
    )


def _lan_advice(observation: PortObservation, context: Context) -> tuple[str, ...]:
    proto = observation.protocol.value.upper()
    host = str(context.local_ip) if context.local_ip is not None else "this host's LAN address"
    return (
        f"On the router, forward {proto} port {observation.port} to {host} (this host), port {observation.port}.",
        f"Give this host a fixed LAN address ({host}) with a DHCP reservation, so the forward keeps pointing at it.",
        "If the router sits behind another router or modem that also does NAT, forward the port there too "
        "(or put the modem in bridge mode).",
    )


_CGNAT_ADVICE = (
    "Ask your ISP for a public IPv4 address (sometimes called 'disable CGNAT' or a static IP option).",
    "Or serve over IPv6, if your ISP provides it: there is no NAT there, only a firewall to open.",
    "Or run a tunnel to a VPS with a public address (reverse SSH tunnel or WireGuard) and a reverse proxy there.",
)


def _unreached(observation: PortObservation, context: Context, what: str) -> PortVerdict:
    """The probe did not get through: tell apart host firewall, CGNAT and a missing forward."""
    if observation.seen_on_interface:
        return PortVerdict(
            status=PortStatus.HOST_FIREWALL,
            reason=(
                f"{what}: the echo server's probe reached this host's network interface but never got to "
                f"port {observation.port}, so this host's own firewall dropped it"
            ),
            advice=(
                f"Allow inbound {observation.protocol.value.upper()} port {observation.port} in this host's "
                "firewall (nftables/iptables, ufw, firewalld).",
            ),
            protocol=observation.protocol,
            port=observation.port,
            reachable=False,
        )
    if context.layers is NatLayers.CGNAT:
        return PortVerdict(
            status=PortStatus.CGNAT,
            reason=(
                f"{what}: this network is behind carrier-grade NAT, so the public address {context.public_ip} "
                "belongs to your ISP's NAT and a port forward on your own router cannot make the port reachable"
            ),
            advice=_CGNAT_ADVICE,
            protocol=observation.protocol,
            port=observation.port,
            reachable=False,
        )
    if context.layers is NatLayers.NO_NAT:
        return PortVerdict(
            status=PortStatus.NOT_FORWARDED,
            reason=(
                f"{what}: this host has the public address {context.public_ip} itself, so a firewall in "
                "front of it (provider or network firewall) filtered the probe"
            ),
            advice=(f"Open {observation.protocol.value.upper()} port {observation.port} in the network firewall.",),
            protocol=observation.protocol,
            port=observation.port,
            reachable=False,
        )
    double = (
        " This network has more than one NAT layer; every one of them needs the forward."
        if context.layers is NatLayers.DOUBLE_NAT
        else ""
    )
    return PortVerdict(
        status=PortStatus.NOT_FORWARDED,
        reason=(
            f"{what}: nothing arrived at this host, so the router does not forward "
            f"{observation.protocol.value.upper()} port {observation.port} to this host "
            f"({context.local_ip}), or something on the way filters it.{double}"
        ),
        advice=_lan_advice(observation, context),
        protocol=observation.protocol,
        port=observation.port,
        reachable=False,
    )


def decide_port(observation: PortObservation, context: Context) -> PortVerdict:
    """The verdict for one port."""
    result = observation.server_result
    protocol, port = observation.protocol, observation.port
    if observation.error is not None:
        return PortVerdict(protocol, port, None, PortStatus.UNTESTED, observation.error, ())

    if observation.mode is ProbeMode.NONCE:
        if observation.nonce_received:
            return PortVerdict(
                reachable=True,
                status=PortStatus.REACHABLE,
                reason=f"the echo server's probe arrived on {observation.protocol.value.upper()} port {observation.port}",
                advice=(),
                proof="a one-time token sent by the echo server to the public address arrived on this host's port "
                "(router forward, firewalls and this host all let it through)",
                protocol=protocol,
                port=port,
            )
        if isinstance(result, ConnectResult):
            if result.connected:
                return PortVerdict(
                    reachable=False,
                    status=PortStatus.WRONG_HOST,
                    reason=(
                        f"the echo server connected to port {observation.port}, but not to this host: the router "
                        f"forwards it to another machine (this host is {context.local_ip})"
                    ),
                    advice=_lan_advice(observation, context)[:2],
                    protocol=protocol,
                port=port,
                )
            if result.error == ProbeError.REFUSED:
                return PortVerdict(
                    reachable=False,
                    status=PortStatus.WRONG_HOST if not observation.seen_on_interface else PortStatus.HOST_FIREWALL,
                    reason=(
                        "the connection was refused: "
                        + (
                            "this host's firewall rejects it"
                            if observation.seen_on_interface
                            else f"the port is forwarded, but to a machine other than this host ({context.local_ip}) "
                            "where nothing listens, or a firewall rejects it"
                        )
                    ),
                    advice=_lan_advice(observation, context)[:2],
                    protocol=protocol,
                port=port,
                )
        return _unreached(observation, context, "the echo server's probe never arrived")

    # A service holds the port: judge by what the echo server got back.
    answered = _service_answered(observation.mode, result)
    if answered:
        return PortVerdict(
            reachable=True,
            status=PortStatus.REACHABLE,
            reason=f"{answered} answered the echo server on {observation.protocol.value.upper()} port {observation.port}",
            advice=(),
            proof=f"the echo server spoke {observation.mode.value} to the public address and {answered} answered",
            details=result,
            protocol=protocol,
            port=port,
        )
    connected = isinstance(result, (ConnectResult, HttpResult, HttpsResult, SshResult)) and result.connected
    refused = isinstance(result, (ConnectResult, HttpResult, HttpsResult, SshResult)) and result.error == ProbeError.REFUSED
    if connected:
        return PortVerdict(
            reachable=True,
            status=PortStatus.REACHABLE,
            reason=(
                f"the echo server connected to TCP port {observation.port}, but what answered did not speak "
                f"{observation.mode.value}"
            ),
            advice=("Check that the service on this port is the one you expect.",),
            proof="a TCP connection from the echo server to the public address was accepted",
            details=result,
            protocol=protocol,
            port=port,
        )
    if refused:
        return PortVerdict(
            reachable=False,
            status=PortStatus.NOTHING_ANSWERING,
            reason=(
                f"the port is forwarded but the connection was refused: nothing accepted it at the far end "
                f"(the forward may point to another machine than {context.local_ip}, or a firewall rejects it)"
            ),
            advice=_lan_advice(observation, context)[:2],
            details=result,
            protocol=protocol,
            port=port,
        )
    service = observation.service or observation.mode.value
    if observation.seen_on_interface:
        return PortVerdict(
            reachable=False,
            status=PortStatus.HOST_FIREWALL
            if observation.protocol is TransportProtocol.TCP
            else PortStatus.NOTHING_ANSWERING,
            reason=(
                f"the echo server's {service} request reached this host's interface but {service} did not answer: "
                "this host's firewall drops it, or the service is not listening on the public interface"
            ),
            advice=(
                f"Allow inbound {observation.protocol.value.upper()} port {observation.port} in this host's firewall.",
                f"Check that {service} listens on all addresses (0.0.0.0), not only on 127.0.0.1.",
            ),
            details=result,
            protocol=protocol,
            port=port,
        )
    return _unreached(observation, context, f"the echo server's {service} request got no answer")


def _service_answered(mode: ProbeMode, result: ProbeResult | None) -> str | None:
    """A short name of what answered, or None."""
    if mode is ProbeMode.JAMULUS and isinstance(result, JamulusResult) and result.answered:
        return f"a Jamulus server{f' {result.version}' if result.version else ''}"
    if mode in (ProbeMode.HTTP, ProbeMode.HTTPS) and isinstance(result, (HttpResult, HttpsResult)) and result.status is not None:
        name = f" ({result.server_header})" if result.server_header else ""
        tls = result.tls if isinstance(result, HttpsResult) else None
        cert = f", certificate for {tls.subject_cn}" if tls is not None and tls.subject_cn else ""
        return f"a web server{name} with HTTP {result.status}{cert}"
    if mode is ProbeMode.SSH and isinstance(result, SshResult) and result.banner:
        return f"an SSH server ({result.banner})"
    if mode is ProbeMode.CONNECT and isinstance(result, ConnectResult) and result.connected:
        return "a TCP service"
    return None


@dataclass(frozen=True, slots=True)
class HairpinResult:
    """Whether this host reached its own public address and port (NAT loopback, RFC 4787 REQ-9)."""

    protocol: TransportProtocol
    port: int
    works: bool | None
    reason: str
    advice: tuple[str, ...] = ()


def decide_hairpin(protocol: TransportProtocol, port: int, public_ip: IPAddress, works: bool | None) -> HairpinResult:
    """The hairpin verdict from what the loop-back test saw (``None``: the port was in use here)."""
    if works is None:
        return HairpinResult(protocol, port, None, "the port is in use here; cannot listen for the loop-back")
    if works:
        return HairpinResult(
            protocol, port, True, f"this host reached its own public address {public_ip}:{port} (the router hairpins)"
        )
    return HairpinResult(
        protocol,
        port,
        False,
        f"this host could not reach its own public address {public_ip}:{port}: the router does not "
        "hairpin (NAT loopback), so LAN clients cannot use the public address",
        (
            "Devices inside your network should use the server's LAN address, or set up split DNS so "
            "the public name resolves to the LAN address locally.",
        ),
    )
