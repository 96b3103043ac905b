"""TCP adapter: STUN over a stream (RFC 8489 section 6.2.2), one asyncio protocol per connection.

Messages follow each other with no extra framing; :class:`~natprobe.stun.StreamDecoder`
splits them (it holds at most one partial message, so at most ~64 KiB per connection). A
stream that cannot be STUN is closed: there is no resynchronising a byte stream.

Bounds: at most ``max_connections`` at once (extra ones are reset at once), an idle timeout
per connection, the per-source rate limiter on every accepted connection and every request,
and reading pauses while the kernel send buffer is full (a client that never reads cannot
make the server buffer replies without limit).

Replies only ever go back on the connection the request came in on: CHANGE-REQUEST,
RESPONSE-PORT and PADDING get 420 over TCP (see :mod:`echo_server.stun_service`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Mapping

from natprobe.errors import DecodeError
from natprobe.stun import StreamDecoder
from natprobe.addressing import TransportAddress

from echo_server.ratelimit import RateLimiter, source_key
from echo_server.stun_service import StunService, Transport

logger = logging.getLogger(__name__)

__all__ = ("TcpServer",)


def _transport_address(peer: object) -> TransportAddress | None:
    if not isinstance(peer, tuple) or len(peer) < 2:
        return None
    try:
        return TransportAddress(ipaddress.ip_address(str(peer[0]).partition("%")[0]), int(peer[1]))
    except ValueError:
        return None


class _StunConnection(asyncio.Protocol):
    """One TCP client."""

    def __init__(self, server: TcpServer, local: TransportAddress) -> None:
        self._server = server
        self._local = local
        self._remote: TransportAddress | None = None
        self._transport: asyncio.Transport | None = None
        self._decoder = StreamDecoder()
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        server = self._server
        self._remote = _transport_address(transport.get_extra_info("peername"))
        if (
            self._remote is None
            or len(server.connections) >= server.max_connections
            or not server.limiter.allow(source_key(self._remote.ip), server.clock())
        ):
            server.refused += 1
            transport.abort()
            return
        server.connections.add(self)
        self._arm_idle_timer()

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        remote = self._remote
        if transport is None or remote is None or transport.is_closing():
            return
        self._arm_idle_timer()
        server = self._server
        try:
            messages = self._decoder.feed(data)
        except DecodeError:
            server.service.stats.malformed += 1
            transport.close()
            return
        source_ip = source_key(remote.ip)
        for message in messages:
            if not server.limiter.allow(source_ip, server.clock()):
                continue
            reply = server.service.handle_message(message, self._local, remote, Transport.TCP)
            if reply is None:
                continue
            if reply.source != self._local or reply.destination != remote:
                logger.error("dropping a TCP reply that would not go back on its connection: %s", reply)
                continue
            transport.write(reply.data)

    def eof_received(self) -> bool | None:
        return False  # close our side too

    def pause_writing(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self._server.connections.discard(self)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def _arm_idle_timer(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
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
        idle_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.listeners = dict(listeners)
        self.limiter = limiter
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.clock = clock
        self.connections: set[_StunConnection] = set()
        self.refused = 0
        self._servers: list[asyncio.Server] = []

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
