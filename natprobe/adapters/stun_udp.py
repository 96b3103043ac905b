"""STUN over UDP with asyncio: many concurrent transactions on one socket.

:class:`StunEndpoint` owns one UDP socket. Responses are matched to their transaction by
transaction id, whatever address they come from (RFC 5780 change requests are answered from
another address; the caller decides whether that source is acceptable). Datagrams that match
no transaction land in a bounded :attr:`StunEndpoint.inbox`, which is how hairpinning and
inbound probes are observed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass

from natprobe.errors import DecodeError, ErrorResponse, NetworkError, TransactionTimeout
from natprobe.addressing import TransportAddress
from natprobe.stun.message import Message, decode, encode
from natprobe.stun.transaction import (
    INTERACTIVE,
    ClientTransaction,
    Completed,
    RetransmissionPolicy,
    Send,
    TimedOut,
    WaitUntil,
)
from natprobe.stun.types import MessageClass

logger = logging.getLogger(__name__)

INBOX_LIMIT = 256
"""Unmatched datagrams kept for the caller; beyond this, new ones are dropped."""


@dataclass(frozen=True, slots=True)
class Datagram:
    """A datagram that matched no transaction."""

    data: bytes
    source: TransportAddress
    received_at: float


@dataclass(frozen=True, slots=True)
class StunResponse:
    """A response and how it was obtained."""

    message: Message
    source: TransportAddress
    """Where the response came from (RFC 5780: not necessarily where the request went)."""
    destination: TransportAddress
    """Where the request was sent."""
    rtt: float
    sends: int

    @property
    def is_error(self) -> bool:
        return self.message.message_class is MessageClass.ERROR_RESPONSE


def to_address(address: tuple[str, int] | tuple[str, int, int, int] | TransportAddress) -> TransportAddress:
    if isinstance(address, TransportAddress):
        return address
    host = address[0].split("%", 1)[0]  # drop an IPv6 scope id
    return TransportAddress.parse(host, int(address[1]))


class _Protocol(asyncio.DatagramProtocol):
    """Hands datagrams to its endpoint (set right after the transport exists)."""

    def __init__(self) -> None:
        self.endpoint: StunEndpoint | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.endpoint is not None:
            self.endpoint._on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        logger.debug("UDP error: %s", exc)


class StunEndpoint:
    """One UDP socket running STUN client transactions. Use :meth:`open`; close with :meth:`close`."""

    def __init__(self, transport: asyncio.DatagramTransport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: dict[bytes, tuple[ClientTransaction, asyncio.Event]] = {}
        self._sources: dict[bytes, TransportAddress] = {}
        self.inbox: asyncio.Queue[Datagram] = asyncio.Queue(INBOX_LIMIT)
        self.local_address = to_address(transport.get_extra_info("sockname"))

    @classmethod
    async def open(
        cls,
        local: tuple[str, int] = ("0.0.0.0", 0),
        *,
        sock: socket.socket | None = None,
    ) -> StunEndpoint:
        """Bind a UDP socket at ``local`` (or adopt ``sock``, already bound)."""
        loop = asyncio.get_running_loop()
        try:
            if sock is not None:
                transport, protocol = await loop.create_datagram_endpoint(_Protocol, sock=sock)
            else:
                family = socket.AF_INET6 if ":" in local[0] else socket.AF_INET
                transport, protocol = await loop.create_datagram_endpoint(_Protocol, local_addr=local, family=family)
        except OSError as exc:
            raise NetworkError(f"cannot bind UDP {local[0]}:{local[1]}: {exc.strerror or exc}") from exc
        endpoint = cls(transport, loop)
        protocol.endpoint = endpoint
        return endpoint

    async def __aenter__(self) -> StunEndpoint:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()
        for _, event in self._pending.values():
            event.set()
        self._pending.clear()

    def _on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        now = self._loop.time()
        if len(data) >= 20 and data[0] < 0x40:
            try:
                message = decode(data)
            except DecodeError:
                message = None
            if message is not None:
                entry = self._pending.get(message.transaction_id)
                if entry is not None:
                    transaction, event = entry
                    if transaction.receive(message, now) is not None:
                        self._sources[message.transaction_id] = to_address(addr)
                        event.set()
                        return
        try:
            self.inbox.put_nowait(Datagram(data, to_address(addr), now))
        except asyncio.QueueFull:
            logger.debug("inbox full on %s; dropping a datagram from %s", self.local_address, addr)

    def send_to(self, data: bytes, destination: TransportAddress) -> None:
        """Send one datagram (no transaction)."""
        try:
            self._transport.sendto(data, destination.as_tuple())
        except OSError as exc:
            raise NetworkError(f"cannot send to {destination}: {exc.strerror or exc}") from exc

    async def transact(
        self,
        request: Message,
        destination: TransportAddress,
        policy: RetransmissionPolicy = INTERACTIVE,
        *,
        integrity_key: bytes | None = None,
        fingerprint: bool = False,
    ) -> StunResponse | None:
        """Run one transaction; the response (success or error), or ``None`` if all sends went unanswered."""
        if request.transaction_id in self._pending:
            raise ValueError("a transaction with this id is already running on this endpoint")
        data = encode(request, integrity_key=integrity_key, fingerprint=fingerprint)
        transaction = ClientTransaction(request, data, policy, self._loop.time())
        event = asyncio.Event()
        self._pending[request.transaction_id] = (transaction, event)
        try:
            while True:
                action = transaction.poll(self._loop.time())
                if isinstance(action, Send):
                    self.send_to(action.data, destination)
                    continue
                if isinstance(action, TimedOut):
                    return None
                assert isinstance(action, WaitUntil)
                try:
                    async with asyncio.timeout_at(action.deadline):
                        await event.wait()
                except TimeoutError:
                    if transaction.result is None:
                        continue  # the response may have arrived just as the timer fired
                result = transaction.result
                if result is None:  # endpoint closed under us
                    return None
                return self._response(result, destination)
        finally:
            self._pending.pop(request.transaction_id, None)
            self._sources.pop(request.transaction_id, None)

    def _response(self, result: Completed, destination: TransportAddress) -> StunResponse:
        source = self._sources.get(result.response.transaction_id, destination)
        return StunResponse(result.response, source, destination, result.rtt, result.sends)

    async def request(
        self,
        request: Message,
        destination: TransportAddress,
        policy: RetransmissionPolicy = INTERACTIVE,
        **kwargs: bool | bytes | None,
    ) -> StunResponse:
        """Like :meth:`transact`, but a timeout or an error response raises."""
        response = await self.transact(request, destination, policy, **kwargs)  # type: ignore[arg-type]
        if response is None:
            raise TransactionTimeout(
                f"no STUN response from {destination} after {policy.max_sends} sends "
                f"in {policy.total_timeout:.1f} s"
            )
        error = response.message.error_code
        if response.is_error:
            raise ErrorResponse(error.code if error else 0, error.reason if error else "")
        return response


async def send_until_arrival(
    sender: StunEndpoint,
    request: Message,
    destination: TransportAddress,
    receiver: StunEndpoint,
    policy: RetransmissionPolicy,
) -> tuple[int, Datagram | None]:
    """Send ``request`` from ``sender`` on ``policy``'s ladder until it (or its answer) lands on ``receiver``.

    For tests where what is sent and what is awaited travel different paths: a hairpinned
    request arriving at another of our sockets, or a RESPONSE-PORT answer delivered to the
    socket whose mapping is being checked. Returns the number of sends and the datagram that
    carried ``request``'s transaction id, or ``None`` when none came within the policy.
    """
    data = encode(request)
    loop = asyncio.get_running_loop()
    start = loop.time()
    offsets = policy.send_offsets()
    deadline = start + policy.total_timeout
    sends = 0
    while True:
        now = loop.time()
        if sends < len(offsets) and now >= start + offsets[sends]:
            sender.send_to(data, destination)
            sends += 1
            continue
        if now >= deadline:
            return sends, None
        wake = min(start + offsets[sends], deadline) if sends < len(offsets) else deadline
        try:
            async with asyncio.timeout_at(wake):
                datagram = await receiver.inbox.get()
        except TimeoutError:
            continue
        try:
            if decode(datagram.data).transaction_id == request.transaction_id:
                return sends, datagram
        except DecodeError:
            continue
