"""Jamulus over UDP with asyncio: ping a server, list a directory's servers.

:class:`JamulusSocket` owns one UDP socket and drives the sans-I/O machines of
:mod:`natprobe.jamulus.probe` over it. Replies are accepted only from the exact ip:port a
request went to (each exchange has its own inbox keyed by that address); anything else,
and anything that is not a valid protocol frame, is dropped. Only :func:`encode` output
is ever sent, so a Jamulus server never mistakes natprobe's traffic for audio (which
would open a phantom channel).

The socket only carries exchanges; pinging a server and listing a directory (which socket
pings what, and the reports) is orchestration: :mod:`natprobe.measure.jamulus_query`.
A missing reply is a result, not an exception; OS-level failures (bind, send) raise
:class:`~natprobe.errors.NetworkError`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import ip_address

from natprobe.i18n import _
from natprobe.adapters.resolve import resolve_host
from natprobe.adapters.udp_bind import bind_udp
from natprobe.adapters.stun_udp import INBOX_LIMIT  # one bound for every client socket's inbox
from natprobe.addressing import IPAddress
from natprobe.errors import DecodeError, NetworkError
from natprobe.jamulus.messages import EmptyMessage, Message, decode, encode, matches_request
from natprobe.jamulus.probe import (
    Finished,
    ListOutcome,
    PingOutcome,
    PingProbe,
    SendMessages,
    ServerListRequest,
)

__all__ = ("JamulusSocket", "Peer")

logger = logging.getLogger(__name__)

Peer = tuple[IPAddress, int]

HOLE_PUNCH_LIMIT = 4096
"""Distinct sources of ``CLM_EMPTY_MESSAGE`` remembered per socket."""


def _peer(addr: tuple[str, int] | tuple[str, int, int, int]) -> Peer:
    return ip_address(addr[0].split("%", 1)[0]), int(addr[1])


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.owner: JamulusSocket | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.owner is not None:
            self.owner._on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        if self.owner is not None:
            self.owner._on_error(exc)


class JamulusSocket:
    """One UDP socket speaking Jamulus connection-less messages to any number of peers.

    Open with :meth:`open` (or ``async with await JamulusSocket.open(...)``); close with
    :meth:`close`. Exchanges with different peers may run concurrently; one peer has at most
    one exchange at a time.
    """

    def __init__(self, transport: asyncio.DatagramTransport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._inboxes: dict[Peer, asyncio.Queue[tuple[Message, float]]] = {}
        self._hole_punches: set[Peer] = set()
        self._punch_waiters: dict[Peer, list[asyncio.Future[None]]] = {}
        self._sending = False
        self._send_error: Exception | None = None
        sockname = transport.get_extra_info("sockname")
        self.local_address: Peer = _peer(sockname)

    @classmethod
    async def open(
        cls,
        local_addr: tuple[str, int] | None = None,
        *,
        family: socket.AddressFamily = socket.AF_INET,
        sock: socket.socket | None = None,
    ) -> JamulusSocket:
        """Bind a UDP socket at ``local_addr`` (default: any address, any port) or adopt ``sock``."""
        if sock is not None and local_addr is not None:
            raise ValueError("give either sock or local_addr, not both")
        where = "the given socket" if sock is not None else None
        if local_addr is None:
            local_addr = ("::" if family == socket.AF_INET6 else "0.0.0.0", 0)
        transport, protocol = await bind_udp(_Protocol, local_addr, family=family, sock=sock,
                                             where=where or f"{local_addr[0]}:{local_addr[1]}")
        self = cls(transport, asyncio.get_running_loop())
        protocol.owner = self
        logger.debug("Jamulus socket bound at %s:%d", *self.local_address)
        return self

    async def __aenter__(self) -> JamulusSocket:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    @property
    def hole_punches(self) -> frozenset[Peer]:
        """Every ip:port that sent this socket a ``CLM_EMPTY_MESSAGE`` (a hole punch or keep-alive)."""
        return frozenset(self._hole_punches)

    async def wait_hole_punch(self, peer: Peer, *, timeout: float) -> bool:
        """Wait up to ``timeout`` s for a ``CLM_EMPTY_MESSAGE`` from ``peer``; ``True`` if one came (even earlier)."""
        if peer in self._hole_punches:
            return True
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._punch_waiters.setdefault(peer, []).append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            return False
        finally:
            waiters = self._punch_waiters.get(peer)
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._punch_waiters[peer]
        return True

    # -- datagrams ------------------------------------------------------------------------

    def _on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        received_at = self._loop.time()  # stamp now: RTTs must not include queueing delay
        peer = _peer(addr)
        try:
            message = decode(data)
        except DecodeError as exc:
            # Not a frame (audio, junk) or a malformed one: nothing we asked for.
            logger.debug("dropping %d bytes from %s:%d: %s", len(data), peer[0], peer[1], exc)
            return
        if isinstance(message, EmptyMessage):
            if len(self._hole_punches) < HOLE_PUNCH_LIMIT:
                self._hole_punches.add(peer)
            for waiter in self._punch_waiters.pop(peer, []):
                if not waiter.done():
                    waiter.set_result(None)
        inbox = self._inboxes.get(peer)
        if inbox is None:
            logger.debug("ignoring %s from %s:%d (no exchange with that address)", type(message).__name__, *peer)
            return
        try:
            inbox.put_nowait((message, received_at))
        except asyncio.QueueFull:
            logger.debug("inbox for %s:%d full; dropping %s", peer[0], peer[1], type(message).__name__)

    def _on_error(self, exc: Exception) -> None:
        if self._sending:
            self._send_error = exc
        else:
            logger.debug("UDP error on %s:%d: %s", *self.local_address, exc)

    def send(self, message: Message, peer: Peer) -> None:
        """Encode ``message`` and send it to ``peer``; :class:`NetworkError` if the OS refuses."""
        data = encode(message)
        self._send_error = None
        self._sending = True
        try:
            # asyncio reports a failing sendto through error_received, synchronously.
            self._transport.sendto(data, (str(peer[0]), peer[1]))
        except OSError as exc:
            self._send_error = exc
        finally:
            self._sending = False
        if self._send_error is not None:
            error = self._send_error
            self._send_error = None
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            where = f"{peer[0]}:{peer[1]}"
            raise NetworkError(_("cannot send to {address}: {error}", address=where, error=reason)) from error

    @contextmanager
    def _inbox(self, peer: Peer) -> Iterator[asyncio.Queue[tuple[Message, float]]]:
        if peer in self._inboxes:
            raise RuntimeError(f"an exchange with {peer[0]}:{peer[1]} is already running on this socket")
        inbox: asyncio.Queue[tuple[Message, float]] = asyncio.Queue(INBOX_LIMIT)
        self._inboxes[peer] = inbox
        try:
            yield inbox
        finally:
            del self._inboxes[peer]

    async def run(self, machine: PingProbe | ServerListRequest, peer: Peer) -> None:
        """Drive ``machine`` against ``peer`` until it finishes (its own deadline bounds this)."""
        with self._inbox(peer) as inbox:
            while True:
                action = machine.poll(self._loop.time())
                if isinstance(action, Finished):
                    return
                if isinstance(action, SendMessages):
                    for message in action.messages:
                        self.send(message, peer)
                    continue
                try:
                    async with asyncio.timeout_at(action.deadline):
                        message, received_at = await inbox.get()
                except TimeoutError:
                    continue
                machine.receive(message, received_at)

    # -- exchanges ------------------------------------------------------------------------

    async def ping(
        self,
        peer: Peer,
        *,
        timeout: float = 2.0,
        attempts: int = 3,
        plain_ping: bool = True,
        request_version: bool = True,
        probe_directory: bool = True,
    ) -> PingOutcome:
        """Ping ``peer`` (see :class:`~natprobe.jamulus.probe.PingProbe`)."""
        probe = PingProbe(
            self._loop.time(),
            timeout=timeout,
            attempts=attempts,
            first_time_value=secrets.randbits(32),  # stale echoes from an earlier run cannot match
            plain_ping=plain_ping,
            request_version=request_version,
            probe_directory=probe_directory,
        )
        await self.run(probe, peer)
        return probe.outcome

    async def request(self, peer: Peer, message: Message, *, timeout: float = 2.0, attempts: int = 3) -> Message | None:
        """Send ``message`` up to ``attempts`` times within ``timeout`` s; the first reply that
        :func:`~natprobe.jamulus.messages.matches_request` it, or ``None``.

        For one-off exchanges (``CLM_REQ_CONN_CLIENTS_LIST``, ``CLM_REGISTER_SERVER_EX``...).
        """
        if not timeout > 0 or attempts < 1:
            raise ValueError("timeout must be positive and attempts at least 1")
        start = self._loop.time()
        with self._inbox(peer) as inbox:
            for attempt in range(attempts):
                self.send(message, peer)
                until = start + (attempt + 1) * timeout / attempts
                while True:
                    try:
                        async with asyncio.timeout_at(until):
                            reply, _ = await inbox.get()
                    except TimeoutError:
                        break
                    if matches_request(message, reply):
                        return reply
        return None

    async def request_list(self, peer: Peer, *, timeout: float = 5.0) -> ListOutcome:
        """Ask the directory at ``peer`` for its server list."""
        request = ServerListRequest(self._loop.time(), timeout=timeout)
        await self.run(request, peer)
        return request.outcome
