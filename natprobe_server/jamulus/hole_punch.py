"""The thin driver of :class:`~natprobe_server.jamulus.punch_plan.HolePunchPlan`: two fresh
UDP probe sockets (the "stranger" and the "peer"), the directory's own socket, and the answer
as the HTTP contract's record.

The plan decides what to send and for how long to listen; this module only sends, waits on
the named socket's bounded inbox, and tells the plan what happened and when.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from natprobe.addressing import TransportAddress
from natprobe.errors import DecodeError, NetworkError
from natprobe.jamulus import Message, decode, encode

from natprobe_server.jamulus.protocol import peer_of
from natprobe_server.jamulus.punch_plan import (
    Arrived,
    Done,
    HolePunchPlan,
    Listen,
    PingTrace,
    Send,
    Sent,
    TimedOut,
    Via,
)

if TYPE_CHECKING:
    from natprobe.contract.hole_punch import HolePunchResponse, PingStep
    from natprobe.jamulus.directory_table import RegistrationInfo

logger = logging.getLogger(__name__)

__all__ = ("PUNCH_INBOX_LIMIT", "punch")

PUNCH_INBOX_LIMIT = 64
"""Frames a probe socket keeps unread; beyond this, new ones are dropped (a flood cannot grow memory)."""


class _Collector(asyncio.DatagramProtocol):
    """A probe socket's receive side: valid frames into a bounded inbox; the rest dropped."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[tuple[Message, TransportAddress, float]] = asyncio.Queue(PUNCH_INBOX_LIMIT)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        source = peer_of(addr)
        if source is None:
            return
        try:
            message = decode(data)
        except DecodeError:
            return
        try:
            self.inbox.put_nowait((message, source, time.monotonic()))
        except asyncio.QueueFull:
            pass

    def error_received(self, exc: Exception) -> None:
        logger.debug("hole-punch probe socket: %s", exc)


@dataclass(slots=True)
class _ProbeSocket:
    transport: asyncio.DatagramTransport
    collector: _Collector
    local: TransportAddress

    @classmethod
    async def open(cls, ip: ipaddress.IPv4Address) -> _ProbeSocket:
        loop = asyncio.get_running_loop()
        try:
            transport, collector = await loop.create_datagram_endpoint(
                _Collector, local_addr=(str(ip), 0), family=socket.AF_INET
            )
        except OSError as exc:
            raise NetworkError(f"cannot bind a hole-punch probe socket on {ip}: {exc.strerror or exc}") from exc
        port = int(transport.get_extra_info("sockname")[1])
        return cls(transport, collector, TransportAddress(ip, port))

    def close(self) -> None:
        self.transport.close()


async def _drive(
    plan: HolePunchPlan, sockets: dict[Via, _ProbeSocket], directory_send: Callable[[Message, TransportAddress], None]
) -> None:
    action = plan.start()
    while not isinstance(action, Done):
        if isinstance(action, Send):
            if action.via is Via.DIRECTORY:
                directory_send(action.message, plan.target)
            else:
                sockets[action.via].transport.sendto(encode(action.message), plan.target.as_tuple())
            action = plan.advance(Sent(time.monotonic()))
        elif isinstance(action, Listen):
            try:
                async with asyncio.timeout_at(action.deadline):  # loop.time() is time.monotonic()
                    message, source, received_at = await sockets[action.via].collector.inbox.get()
            except TimeoutError:
                action = plan.advance(TimedOut(time.monotonic()))
            else:
                action = plan.advance(Arrived(message, source, received_at))


def _ping_step(local: TransportAddress, trace: PingTrace) -> PingStep:
    from natprobe.contract.base import Endpoint
    from natprobe.contract.hole_punch import PingStep

    rtt = None if trace.rtt_s is None else max(0.0, round(trace.rtt_s * 1000.0, 3))
    return PingStep(Endpoint.of(local), trace.sent, trace.answered, rtt)


async def punch(
    registration: RegistrationInfo,
    *,
    source_ip: ipaddress.IPv4Address,
    public: Callable[[ipaddress.IPv4Address], ipaddress.IPv4Address],
    byte_budget: int,
    registered_s_ago: float,
    directory_send: Callable[[Message, TransportAddress], None],
) -> HolePunchResponse:
    """Run one hole punch toward ``registration`` and report each step.

    ``public`` names the peer socket by the address the outside knows (behind a 1:1 NAT);
    ``directory_send`` sends from the directory's own socket. :class:`NetworkError` when a
    probe socket cannot be bound.
    """
    # The answer is the HTTP contract's record, imported here: a server without the HTTP
    # API never loads msgspec (benchmarks/README.md, "The HTTP contract's library").
    from natprobe.contract.base import Endpoint
    from natprobe.contract.hole_punch import HolePunchResponse, HolePunchStep

    loop = asyncio.get_running_loop()
    started = loop.time()
    stranger = await _ProbeSocket.open(source_ip)
    try:
        peer = await _ProbeSocket.open(source_ip)
    except BaseException:
        stranger.close()
        raise
    try:
        assert isinstance(peer.local.ip, ipaddress.IPv4Address)
        peer_public = TransportAddress(public(peer.local.ip), peer.local.port)
        plan = HolePunchPlan(registration.source, peer_public, byte_budget, secrets.randbits(32))
        await _drive(plan, {Via.STRANGER: stranger, Via.PEER: peer}, directory_send)
    finally:
        stranger.close()
        peer.close()
    outcome = plan.outcome
    after = None if outcome.punch_after_s is None else round(outcome.punch_after_s * 1000.0, 3)
    return HolePunchResponse(
        name=registration.name,
        published=Endpoint.of(registration.source),
        registered_s_ago=round(registered_s_ago, 3),
        keepalive_interval_s=registration.keepalive_s,
        unsolicited=_ping_step(stranger.local, outcome.unsolicited),
        hole_punch=HolePunchStep(
            peer=Endpoint.of(peer_public),
            requests_sent=outcome.requests_sent,
            received=outcome.punch_source is not None,
            source=None if outcome.punch_source is None else Endpoint.of(outcome.punch_source),
            after_ms=after,
        ),
        punched_ping=_ping_step(peer.local, outcome.punched),
        udp_bytes_sent=outcome.udp_bytes_sent,
        elapsed_ms=round((loop.time() - started) * 1000.0, 3),
    )
