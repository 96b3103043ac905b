"""Decisions for a path through a relay: ``NAME`` → relay (a VPS) → tunnel → this host.

When ``--host NAME`` resolves to an address that is not this network's public address, the
record may be stale, or NAME may point at a relay (a reverse SSH tunnel, nginx, WireGuard with
DNAT) that carries the traffic here. A one-time token sent to ``relay:port`` and received by
natprobe on this host proves the whole path. These functions turn what was observed into a
verdict (``status``) and what the service saw as the client's address (``client_address``),
with the evidence. Pure: no I/O; the sentences are in :mod:`natprobe.findings.relay_findings`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from natprobe.addressing import IPAddress, classify, is_globally_routable
from natprobe.contract.terms import TransportProtocol
from natprobe.observations import Availability
from natprobe.proxy_header import ProxyHeader

__all__ = (
    "ClientAddress",
    "ProxyProtocol",
    "RelayObservation",
    "RelayPortVerdict",
    "RelayStatus",
    "RelayVia",
    "ReplyRoute",
    "classify_client_address",
    "decide_relay_port",
)


class RelayStatus(enum.StrEnum):
    """The verdict for one port through one relay address."""

    REACHABLE_VIA_RELAY = "reachable-via-relay"
    """The token sent to relay:port reached natprobe on this host."""
    RELAY_UNVERIFIED = "relay-unverified"
    """The echo server may not probe the relay for you (no ``_natprobe.NAME`` permission)."""
    RELAY_REPLY_PATH_BROKEN = "relay-reply-path-broken"
    """The probe arrived through the relay, but this host's reply leaves by another path."""
    RELAY_TUNNEL_DOWN = "relay-tunnel-down"
    """The relay's address answers (or was declared a relay), but nothing reached this host."""
    STALE = "stale"
    """The record leads nowhere: nothing answered at the address and nothing arrived here."""
    NOT_TESTED = "not-tested"


class ClientAddress(enum.StrEnum):
    """What the service behind the relay sees as the client's address."""

    KEPT = "kept"
    """The real client's address (directly, or in a PROXY / X-Forwarded-For header)."""
    RELAY = "relay"
    """The relay's or the tunnel's address: every visitor looks the same."""
    LOOPBACK = "loopback"
    """127.0.0.1 or ::1 (``ssh -R``, a local proxy): every visitor looks like this host."""
    UNKNOWN = "unknown"


class ProxyProtocol(enum.StrEnum):
    """Whether a PROXY protocol header came first on a TCP connection natprobe accepted."""

    V1 = "v1"
    V2 = "v2"
    NONE = "none"


class RelayVia(enum.StrEnum):
    """Who sent the token toward the relay."""

    ECHO_SERVER = "echo-server"
    """Your echo server, from outside (allowed by the relay rule)."""
    THIS_HOST = "this-host"
    """This host, through the relay's public address: out through the home NAT, back in
    through the relay's public side (no echo server needed)."""


@dataclass(frozen=True, slots=True)
class ReplyRoute:
    """Where this host routes its reply to a datagram that arrived through the relay."""

    arrived_on: str | None
    """The interface the probe arrived on (IP_PKTINFO)."""
    arrived_at: IPAddress | None
    """The local address it was sent to (the reply's source)."""
    leaves_by: str | None
    """The interface the kernel routes the reply out of, from that source to the sender
    (``None``: this platform cannot tell)."""


@dataclass(frozen=True, slots=True)
class RelayObservation:
    """What one attempt through ``relay_ip:port`` saw (the measurement's output)."""

    protocol: TransportProtocol
    port: int
    relay_ip: IPAddress
    via: RelayVia
    prober: IPAddress | None
    """Where the token came from as the relay saw it: the echo server's probe source, or this
    network's public address (``None``: unknown)."""
    listening: bool = True
    """natprobe listened on the port itself (else a service held it)."""
    refused: str | None = None
    """The echo server's refusal (the relay rule), verbatim."""
    record: str | None = None
    """The TXT record that would allow the echo server to probe the relay."""
    nonce_received: bool | None = None
    peer: IPAddress | None = None
    """The address the token's connection or datagram came from, as this host saw it."""
    proxy: ProxyHeader | None = None
    forwarded_for: str | None = None
    """``X-Forwarded-For`` / ``Forwarded`` as it arrived (HTTP only)."""
    relay_answered: bool | None = None
    """Something at relay:port accepted the TCP connection (or answered the service probe)."""
    relay_status: int | None = None
    """The HTTP status the relay answered with (502: its upstream, the tunnel, is down)."""
    seen_on_interface: bool | None = None
    """The probe reached one of this host's interfaces (packet capture; needs root)."""
    reply: ReplyRoute | None = None
    service_answered: bool | None = None
    """For a port a service holds: the service answered through the relay."""
    error: str | None = None
    watch_missing: Availability | None = None
    """The arrival watch could not run here (switched off, no privilege, unsupported): a TCP
    token that never completed cannot be told apart from one that arrived (None: it ran)."""


@dataclass(frozen=True, slots=True)
class RelayPortVerdict:
    protocol: TransportProtocol
    port: int
    relay_ip: IPAddress
    via: RelayVia
    status: RelayStatus
    client_address: ClientAddress
    evidence: str
    """Why ``client_address`` (a short factual line)."""
    proxy_protocol: ProxyProtocol | None
    """When natprobe listened on a TCP port: the header that arrived (None: not measured)."""
    forwarded_for: str | None
    record: str | None
    observation: RelayObservation

    @property
    def reachable(self) -> bool | None:
        if self.status is RelayStatus.REACHABLE_VIA_RELAY:
            return True
        if self.status in (RelayStatus.RELAY_UNVERIFIED, RelayStatus.NOT_TESTED):
            return None
        return False


def _forwarded_addresses(header: str) -> list[str]:
    """The addresses in ``X-Forwarded-For: a, b`` or ``Forwarded: for=a;proto=…, for="[b]"``."""
    found = []
    for part in header.split(","):
        part = part.strip()
        for item in part.split(";"):
            key, sep, value = item.strip().partition("=")
            if sep and key.strip().lower() == "for":
                part = value.strip().strip('"')
                break
        if part.startswith("["):
            part = part[1:].partition("]")[0]
        found.append(part)
    return found


def classify_client_address(observation: RelayObservation) -> tuple[ClientAddress, str]:
    """What the service saw as the client's address, and the evidence (English; values only)."""
    prober, peer = observation.prober, observation.peer
    proxy = observation.proxy
    if proxy is not None and proxy.source is not None:
        kept = prober is None or proxy.source == prober
        return (ClientAddress.KEPT if kept else ClientAddress.RELAY,
                f"PROXY v{proxy.version} header: client {proxy.source} (connection from {peer})")
    if observation.forwarded_for:
        addresses = _forwarded_addresses(observation.forwarded_for)
        if prober is not None and str(prober) in addresses:
            return ClientAddress.KEPT, f"X-Forwarded-For/Forwarded: {observation.forwarded_for} (connection from {peer})"
    if peer is None:
        why = "nothing reached natprobe's listener" if observation.listening else "a service holds the port"
        return ClientAddress.UNKNOWN, why
    if peer.is_loopback:
        return ClientAddress.LOOPBACK, f"connection from {peer}"
    if prober is not None and peer == prober:
        return ClientAddress.KEPT, f"connection from {peer}, the prober's own address"
    if prober is None and peer != observation.relay_ip and is_globally_routable(classify(peer)):
        # From this host without an echo server: a public address other than the relay's is
        # this network's own, come back through the relay unchanged.
        return ClientAddress.KEPT, f"connection from {peer}, a public address other than the relay's"
    return ClientAddress.RELAY, f"connection from {peer}, not the prober's address {prober or 'here'}"


def _reply_broken(reply: ReplyRoute | None) -> bool:
    return (reply is not None and reply.arrived_on is not None and reply.leaves_by is not None
            and reply.arrived_on != reply.leaves_by)


def decide_relay_port(observation: RelayObservation) -> RelayPortVerdict:
    """The verdict for one port through one relay address (see :class:`RelayStatus`)."""
    client, evidence = classify_client_address(observation)
    proxy: ProxyProtocol | None = None
    if observation.listening and observation.protocol is TransportProtocol.TCP and observation.nonce_received:
        proxy = (ProxyProtocol.NONE if observation.proxy is None
                 else ProxyProtocol.V1 if observation.proxy.version == 1 else ProxyProtocol.V2)

    def verdict(status: RelayStatus) -> RelayPortVerdict:
        return RelayPortVerdict(observation.protocol, observation.port, observation.relay_ip, observation.via, status,
                                client, evidence, proxy, observation.forwarded_for, observation.record, observation)

    if observation.refused is not None:
        return verdict(RelayStatus.RELAY_UNVERIFIED)
    if observation.error is not None and observation.nonce_received is None and observation.service_answered is None:
        return verdict(RelayStatus.NOT_TESTED)
    if observation.nonce_received or observation.service_answered:
        if _reply_broken(observation.reply):
            return verdict(RelayStatus.RELAY_REPLY_PATH_BROKEN)
        return verdict(RelayStatus.REACHABLE_VIA_RELAY)
    if observation.seen_on_interface:
        # It arrived at this host but never completed: the answer left by another path.
        return verdict(RelayStatus.RELAY_REPLY_PATH_BROKEN)
    if (observation.watch_missing is not None and observation.protocol is TransportProtocol.TCP
            and not observation.relay_answered and observation.relay_status is None):
        # Nothing completed here and nothing answered at the relay: a dead tunnel, or a probe
        # that arrived and whose answer left by another path. Only the watch tells them apart.
        return verdict(RelayStatus.NOT_TESTED)
    if (observation.relay_answered or observation.relay_status is not None
            or observation.via is RelayVia.ECHO_SERVER):
        # Something at the relay accepted, or its owner declared it a relay (the server was
        # allowed to probe it): a relay that did not pass the token on.
        return verdict(RelayStatus.RELAY_TUNNEL_DOWN)
    return verdict(RelayStatus.STALE)
