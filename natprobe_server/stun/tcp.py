"""TCP adapter: STUN over a stream (RFC 8489 section 6.2.2), one asyncio protocol per connection.

Messages follow each other with no extra framing; the 16-bit length in each header says
where a message ends. A stream that cannot be STUN is closed: there is no resynchronising a
byte stream.

Every resource a stranger can hold is bounded (DESIGN.md, issue #9):

* **Connections**: at most ``max_connections`` in all and ``max_per_source`` per source
  (the IPv4 address or the IPv6 /64, :func:`~natprobe_server.limits.source_key`). When the
  table is full, the connection idle the longest (no partial message, not paused) is closed
  to make room: holding idle slots buys a flooder nothing. Only when every slot is busy
  mid-message is a newcomer refused.
* **Time**: an idle timeout, and a deadline for each whole message from its first byte, so a
  client trickling one byte every few seconds into a message whose header claims 64 KiB
  loses its slot after ``message_timeout`` seconds, not never.
* **Work**: messages are framed from their header alone, and the per-source rate limiter is
  charged for each one *before* it is decoded. A connection over its budget stops being
  read until its bucket has a token again (TCP back-pressure does the rest), so pipelining
  costs the server a header check per message, not a decode. A request for an unknown
  method (which a stream of zero bytes is: method 0) closes the connection.
* **Memory**: at most one partial message plus one read chunk per connection; reading
  pauses while the kernel send buffer is full (a client that never reads cannot make the
  server buffer replies without limit).

Replies only ever go back on the connection the request came in on: CHANGE-REQUEST,
RESPONSE-PORT and PADDING get 420 over TCP (see :mod:`natprobe_server.stun.service`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Mapping

from natprobe.addressing import TransportAddress
from natprobe.errors import DecodeError
from natprobe.stun import Method
from natprobe.stun.message import decode

from natprobe_server.limits import RateLimiter, SourceCounts, source_key
from natprobe_server.stun.service import StunService, Transport

logger = logging.getLogger(__name__)

__all__ = ("TcpServer", "TcpStats")

_HEADER = 20
_KNOWN_REQUEST_METHODS = frozenset({int(Method.BINDING)})


def _transport_address(peer: object) -> TransportAddress | None:
    if not isinstance(peer, tuple) or len(peer) < 2:
        return None
    try:
        return TransportAddress(ipaddress.ip_address(str(peer[0]).partition("%")[0]), int(peer[1]))
    except ValueError:
        return None


def _method_and_class(message_type: int) -> tuple[int, int]:
    """RFC 8489 section 5: the 12 method bits and 2 class bits interleaved in the type."""
    method = (message_type & 0x000F) | ((message_type & 0x00E0) >> 1) | ((message_type & 0x3E00) >> 2)
    message_class = ((message_type >> 4) & 0x1) | ((message_type >> 7) & 0x2)
    return method, message_class


class TcpStats:
    """Counters of the TCP side (single-threaded)."""

    __slots__ = ("refused", "evicted", "message_timeouts", "over_budget", "unknown_method")

    def __init__(self) -> None:
        self.refused = 0
        """Connections reset at once: per-source cap, rate limit, or every slot busy."""
        self.evicted = 0
        """Idle connections closed to make room for a new one."""
        self.message_timeouts = 0
        """Connections closed because a message did not arrive whole in time."""
        self.over_budget = 0
        """Times a connection was paused because its source ran out of tokens."""
        self.unknown_method = 0
        """Connections closed for a request with a method this server does not know."""


class _StunConnection(asyncio.Protocol):
    """One TCP client."""

    def __init__(self, server: TcpServer, local: TransportAddress) -> None:
        self._server = server
        self._local = local
        self._remote: TransportAddress | None = None
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._idle: asyncio.TimerHandle | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._resume: asyncio.TimerHandle | None = None
        self._write_paused = False
        self.key = ""
        self.last_active = 0.0

    @property
    def idle(self) -> bool:
        """Holding a slot without a message under way (what eviction may take)."""
        return not self._buffer and self._resume is None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not isinstance(transport, asyncio.Transport):  # create_server always gives one
            transport.close()
            return
        self._transport = transport
        self._remote = _transport_address(transport.get_extra_info("peername"))
        server = self._server
        self.last_active = server.clock()
        if self._remote is None or not server.admit(self, source_key(self._remote.ip)):
            server.stats.refused += 1
            transport.abort()
            return
        self._arm_idle_timer()

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or self._remote is None or transport.is_closing():
            return
        self._buffer += data
        self.last_active = self._server.clock()
        self._arm_idle_timer()
        if self._resume is None:
            self._process()

    def _process(self) -> None:
        """Answer every whole message in the buffer, charging the limiter before each decode."""
        transport = self._transport
        remote = self._remote
        if transport is None or remote is None:
            return
        server = self._server
        buffer = self._buffer
        offset = 0
        while len(buffer) - offset >= _HEADER and not transport.is_closing():
            message_type = int.from_bytes(buffer[offset : offset + 2], "big")
            length = int.from_bytes(buffer[offset + 2 : offset + 4], "big")
            if message_type >= 0x4000 or length % 4:
                server.service.stats.malformed += 1
                self._close()
                return
            total = _HEADER + length
            if len(buffer) - offset < total:
                break
            if not server.limiter.allow(self.key, server.clock()):
                server.stats.over_budget += 1
                self._pause_for_budget()
                break
            method, message_class = _method_and_class(message_type)
            if message_class == 0 and method not in _KNOWN_REQUEST_METHODS:
                server.stats.unknown_method += 1
                self._close()
                return
            data = bytes(buffer[offset : offset + total])
            offset += total
            try:
                message = decode(data)
            except DecodeError:
                server.service.stats.malformed += 1
                self._close()
                return
            reply = server.service.handle_message(message, self._local, remote, Transport.TCP)
            if reply is None:
                continue
            if reply.source != self._local or reply.destination != remote:
                logger.error("dropping a TCP reply that would not go back on its connection: %s", reply)
                continue
            transport.write(reply.data)
        if offset:
            del buffer[:offset]
            self._cancel(self._deadline)
            self._deadline = None  # what is left, if anything, is a new message: a new deadline
        if buffer and self._deadline is None and self._resume is None:
            loop = asyncio.get_running_loop()
            self._deadline = loop.call_later(server.message_timeout, self._message_too_slow)
        elif not buffer:
            self._cancel(self._deadline)
            self._deadline = None

    def _pause_for_budget(self) -> None:
        """Stop reading until the source's bucket has a token again (about 1/rate seconds)."""
        transport = self._transport
        if transport is None:
            return
        self._cancel(self._deadline)
        self._deadline = None
        transport.pause_reading()
        wait = 1.0 / self._server.limiter.rate
        self._resume = asyncio.get_running_loop().call_later(wait, self._resume_after_budget)

    def _resume_after_budget(self) -> None:
        self._resume = None
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if not self._write_paused:
            transport.resume_reading()
        self._process()

    def _message_too_slow(self) -> None:
        self._deadline = None
        self._server.stats.message_timeouts += 1
        self.abort()

    def eof_received(self) -> bool | None:
        return False  # close our side too

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._transport is not None and not self._transport.is_closing() and self._resume is None:
            self._transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._idle, self._deadline, self._resume):
            self._cancel(timer)
        self._idle = self._deadline = self._resume = None
        self._buffer.clear()
        self._server.release(self)

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    @staticmethod
    def _cancel(timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()

    def _arm_idle_timer(self) -> None:
        self._cancel(self._idle)
        transport = self._transport
        if transport is not None:
            self._idle = asyncio.get_running_loop().call_later(self._server.idle_timeout, transport.abort)


class TcpServer:
    """STUN over TCP on pre-bound listening sockets (the caller binds them, and they close with the server)."""

    def __init__(
        self,
        service: StunService,
        listeners: Mapping[TransportAddress, socket.socket],
        limiter: RateLimiter,
        *,
        max_connections: int = 256,
        max_per_source: int = 8,
        idle_timeout: float = 30.0,
        message_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.listeners = dict(listeners)
        self.limiter = limiter
        self.max_connections = max_connections
        self.max_per_source = max_per_source
        self.idle_timeout = idle_timeout
        self.message_timeout = message_timeout
        self.clock = clock
        self.connections: dict[_StunConnection, None] = {}
        """Open connections, oldest first."""
        self._per_source = SourceCounts(max_per_source)
        self.stats = TcpStats()
        self._servers: list[asyncio.Server] = []

    @property
    def refused(self) -> int:
        return self.stats.refused

    def admit(self, connection: _StunConnection, key: str) -> bool:
        """Give ``connection`` a slot, evicting the longest-idle one if the table is full."""
        if self._per_source.full(key):
            return False
        if not self.limiter.allow(key, self.clock()):
            return False
        if len(self.connections) >= self.max_connections:
            idle = [c for c in self.connections if c.idle]
            if not idle:
                return False
            victim = min(idle, key=lambda c: c.last_active)
            self.stats.evicted += 1
            self.release(victim)
            victim.abort()
        connection.key = key
        self.connections[connection] = None
        self._per_source.add(key)
        return True

    def release(self, connection: _StunConnection) -> None:
        """Free ``connection``'s slot (idempotent)."""
        if connection not in self.connections:
            return
        del self.connections[connection]
        self._per_source.remove(connection.key)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for local, sock in self.listeners.items():
            self._servers.append(await loop.create_server(self._protocol_factory(local), sock=sock))

    def _protocol_factory(self, local: TransportAddress) -> Callable[[], asyncio.Protocol]:
        return lambda: _StunConnection(self, local)

    async def stop(self) -> None:
        """Stop accepting, reset every open connection, and close the listening sockets."""
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        for connection in list(self.connections):
            connection.abort()
        for server in servers:
            await server.wait_closed()
