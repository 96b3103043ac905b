"""The Jamulus directory's socket: every datagram charged to its source, decoded, and applied to
the registration table; the directory's one way to send.

``CLM_REGISTER_SERVER_EX`` / ``CLM_REGISTER_SERVER`` are answered with
``CLM_REGISTER_SERVER_RESP`` (``1``, "list full", when the table is full) and remembered by
their **UDP source ip:port**; ``CLM_UNREGISTER_SERVER`` removes the sender's entry; anything
else well framed is credited to the sender's byte budget (and a ping echo may verify a
registration). Every source is rate limited before anything is parsed.

Datagrams are handled synchronously in ``datagram_received`` (a decode and a dictionary
update): as in :mod:`natprobe_server.stun.udp`, the kernel's receive buffer is the only queue.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from natprobe.addressing import TransportAddress
from natprobe.errors import DecodeError
from natprobe.jamulus import (
    ESvrRegResult,
    Message,
    RegisterServer,
    RegisterServerEx,
    RegisterServerResp,
    UnregisterServer,
    decode,
    encode,
)
from natprobe.jamulus.directory_table import DirectoryTable

from natprobe_server.limits import RateLimiter, source_key

logger = logging.getLogger(__name__)

__all__ = ("DirectoryProtocol", "DirectoryStats", "peer_of")


@dataclass(slots=True)
class DirectoryStats:
    received: int = 0
    rate_limited: int = 0
    malformed: int = 0
    registrations: int = 0
    refused: int = 0
    keepalives_sent: int = 0
    verify_pings: int = 0
    hole_punches: int = 0
    send_errors: int = 0


def peer_of(addr: tuple[str | object, ...]) -> TransportAddress | None:
    """A datagram's source as a :class:`TransportAddress` (``None`` if the OS gave something else)."""
    try:
        return TransportAddress(ipaddress.ip_address(str(addr[0]).partition("%")[0]), int(str(addr[1])))
    except (ValueError, IndexError):
        return None


class DirectoryProtocol(asyncio.DatagramProtocol):
    """The directory socket. ``on_change`` is told when the keep-alive schedule may have moved."""

    def __init__(
        self,
        table: DirectoryTable,
        limiter: RateLimiter,
        stats: DirectoryStats,
        clock: Callable[[], float],
        on_change: Callable[[], None],
    ) -> None:
        self.table = table
        self.limiter = limiter
        self.stats = stats
        self.clock = clock
        self.on_change = on_change
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A datagram endpoint's transport (asyncio's own class does not subclass DatagramTransport).
        self.transport = cast(asyncio.DatagramTransport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def send(self, message: Message, target: TransportAddress) -> None:
        """Send from the directory socket; callers only ever pass a registration's own source."""
        if self.transport is None:
            return
        try:
            self.transport.sendto(encode(message), target.as_tuple())
        except OSError:
            self.stats.send_errors += 1

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.stats.received += 1
        source = peer_of(addr)
        if source is None:
            return
        now = self.clock()
        if not self.limiter.allow(source_key(source.ip), now):
            self.stats.rate_limited += 1
            return
        try:
            message = decode(data)
        except DecodeError:
            self.stats.malformed += 1  # audio or junk: a directory ignores it
            return
        if isinstance(message, (RegisterServerEx, RegisterServer)):
            was_empty = len(self.table) == 0
            status = self.table.register(source, message, len(data), now)
            if status is ESvrRegResult.REGISTERED:
                self.stats.registrations += 1
                logger.info("Jamulus registration %r from %s", message.name, source)
            else:
                self.stats.refused += 1
            self.send(RegisterServerResp(status), source)  # paid by the request (>= 40 bytes vs 10)
            if was_empty or status is ESvrRegResult.REGISTERED:
                self.on_change()
        elif isinstance(message, UnregisterServer):
            if self.table.unregister(source):
                logger.info("Jamulus registration from %s withdrawn", source)
        else:
            # Keep-alives, verification ping echoes, list requests and the rest: credited
            # (this is not a listing directory); a ping echo may verify the registration.
            self.table.received(source, message, len(data))

    def error_received(self, exc: Exception) -> None:
        logger.debug("Jamulus directory socket: %s", exc)
