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
from dataclasses import dataclass, replace

from natprobe.i18n import _
from natprobe.errors import DecodeError, NetworkError
from natprobe.addressing import TransportAddress
from natprobe.adapters.udp_bind import bind_udp
from natprobe.stun.message import Message, decode, encode, new_transaction_id
from natprobe.stun.transaction import (
    INTERACTIVE,
    ClientTransaction,
    RetransmissionPolicy,
    Send,
    TimedOut,
)
from natprobe.stun.types import MessageClass

logger = logging.getLogger(__name__)

INBOX_LIMIT = 256
"""Unmatched datagrams kept for the caller; beyond this, new ones are dropped."""

RETIRED_LIMIT = 1024
"""Ids of finished transactions remembered, so their late duplicates stay out of the inbox."""


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
    attempt: int = 1
    """Which send (1-based) the response answered; the sends before it were lost."""

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


class _Waiter:
    """One running transaction and how its completion is signalled."""

    __slots__ = ("transaction", "event", "late", "source")

    def __init__(self, transaction: ClientTransaction) -> None:
        self.transaction = transaction
        self.event = asyncio.Event()
        self.late = asyncio.Event()
        self.source: TransportAddress | None = None


class StunEndpoint:
    """One UDP socket running STUN client transactions. Use :meth:`open`; close with :meth:`close`."""

    def __init__(self, transport: asyncio.DatagramTransport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: dict[bytes, _Waiter] = {}
        """Every transaction id in use -> its transaction (several ids per transaction)."""
        self._retired: dict[bytes, None] = {}
        """Ids of finished transactions (bounded): their late answers are dropped, not queued."""
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
        family = socket.AF_INET6 if ":" in local[0] else socket.AF_INET
        transport, protocol = await bind_udp(_Protocol, local, family=family, sock=sock, where=f"{local[0]}:{local[1]}")
        endpoint = cls(transport, asyncio.get_running_loop())
        protocol.endpoint = endpoint
        return endpoint

    async def __aenter__(self) -> StunEndpoint:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()
        for waiter in self._pending.values():
            waiter.event.set()
        self._pending.clear()

    def _on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        now = self._loop.time()
        if len(data) >= 20 and data[0] < 0x40:
            try:
                message = decode(data)
            except DecodeError:
                message = None
            if message is not None:
                waiter = self._pending.get(message.transaction_id)
                if waiter is not None:
                    if waiter.transaction.receive(message, now) is not None:
                        waiter.source = to_address(addr)
                        waiter.event.set()
                        return
                    if waiter.transaction.late_rtts:
                        waiter.late.set()
                is_response = message.message_class in (MessageClass.SUCCESS_RESPONSE, MessageClass.ERROR_RESPONSE)
                if is_response and (waiter is not None or message.transaction_id in self._retired):
                    return  # a duplicate or late answer of ours: not for the inbox
        try:
            self.inbox.put_nowait(Datagram(data, to_address(addr), now))
        except asyncio.QueueFull:
            logger.debug("inbox full on %s; dropping a datagram from %s", self.local_address, addr)

    def send_to(self, data: bytes, destination: TransportAddress) -> None:
        """Send one datagram (no transaction)."""
        try:
            self._transport.sendto(data, destination.as_tuple())
        except OSError as exc:
            raise NetworkError(_("cannot send to {address}: {error}", address=destination, error=exc.strerror or exc)) from exc

    async def transact(
        self,
        request: Message,
        destination: TransportAddress,
        policy: RetransmissionPolicy = INTERACTIVE,
        *,
        integrity_key: bytes | None = None,
        fingerprint: bool = False,
        fresh_id_per_send: bool = True,
        settle_rtt: bool = False,
        settle_above: float | None = None,
    ) -> StunResponse | None:
        """Run one transaction; the response (success or error), or ``None`` if all sends went unanswered.

        Each retransmission carries its own transaction id unless ``fresh_id_per_send`` is
        off, so an answer is matched to the send that caused it (see
        :class:`~natprobe.stun.transaction.ClientTransaction`). With ``settle_rtt``, when the
        answer came to an earlier send while later ones are still in flight (a slow first
        packet), it waits up to that round-trip time for a later send's answer and reports
        the smaller RTT: the first packet of a flow is often slower than the path. With
        ``settle_above`` too, an answer to the only send that took longer than that is
        followed by one more request (the flow now exists) for a second RTT sample.
        """
        if request.transaction_id in self._pending:
            raise ValueError("a transaction with this id is already running on this endpoint")
        data = encode(request, integrity_key=integrity_key, fingerprint=fingerprint)

        def rewrite(attempt: int) -> tuple[bytes, bytes]:
            fresh = replace(request, transaction_id=new_transaction_id(), raw=None)
            return fresh.transaction_id, encode(fresh, integrity_key=integrity_key, fingerprint=fingerprint)

        transaction = ClientTransaction(
            request, data, policy, self._loop.time(), rewrite=rewrite if fresh_id_per_send else None
        )
        waiter = _Waiter(transaction)
        try:
            while True:
                action = transaction.poll(self._loop.time())
                if isinstance(action, Send):
                    self._pending[action.transaction_id] = waiter
                    self.send_to(action.data, destination)
                    continue
                if isinstance(action, TimedOut):
                    return None
                try:
                    async with asyncio.timeout_at(action.deadline):
                        await waiter.event.wait()
                except TimeoutError:
                    if transaction.result is None:
                        continue  # the response may have arrived just as the timer fired
                result = transaction.result
                if result is None:  # endpoint closed under us
                    return None
                rtt = result.rtt
                if settle_rtt and result.sends == result.attempt and settle_above is not None and rtt > settle_above:
                    again = transaction.send_again(self._loop.time())
                    if again is not None:
                        self._pending[again.transaction_id] = waiter
                        self.send_to(again.data, destination)
                if settle_rtt and transaction.sends > result.attempt:  # a later send is in flight
                    try:
                        async with asyncio.timeout(result.rtt):
                            await waiter.late.wait()
                    except TimeoutError:
                        pass
                    rtt = min([rtt, *transaction.late_rtts])
                source = waiter.source or destination
                return StunResponse(result.response, source, destination, rtt, result.sends, result.attempt)
        finally:
            for transaction_id in transaction.transaction_ids:
                if self._pending.pop(transaction_id, None) is not None:
                    self._retired[transaction_id] = None
            while len(self._retired) > RETIRED_LIMIT:
                del self._retired[next(iter(self._retired))]


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
