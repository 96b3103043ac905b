"""The Jamulus hole punch as a sans-I/O plan: what to send from which socket, and when to listen.

A directory that a client asks for the list tells each listed server to send an empty message
to that client (``CLM_SEND_EMPTY_MESSAGE``), so the server's NAT admits the client
(facts/jamulus.md section 3). :class:`HolePunchPlan` measures that for one registration, in
three steps:

a) **unsolicited**: from a fresh "stranger" socket, pings to the published address. Only a
   forward or a full-cone NAT lets them in (its own socket, so its dropped pings leave no NAT
   state on the peer's path);
b) **punch**: ``CLM_SEND_EMPTY_MESSAGE(peer)`` from the directory socket to the registration,
   resent until the empty message arrives at the fresh "peer" socket (from any address: a NAT
   with arbitrary address pooling, RFC 4787 section 4.1, may send it from another public IP);
c) **punched ping**: the peer pings the published address, as a client pings a listed server.

The plan owns the byte budget (the HTTP request body: the server never sends more UDP bytes
than it received) and keeps room in each step for the ones after it. It does no I/O and reads
no clock: the driver (:mod:`natprobe_server.jamulus.hole_punch`) acts on each :class:`Send`
and :class:`Listen`, and answers with :class:`Sent`, :class:`Arrived` or :class:`TimedOut`,
each carrying the time, so tests drive the plan without sockets or sleeps.
"""

from __future__ import annotations

import enum
from collections.abc import Generator
from dataclasses import dataclass
from ipaddress import IPv4Address

from natprobe.addressing import TransportAddress
from natprobe.contract.terms import (
    HOLE_PUNCH_PEER_PINGS,
    HOLE_PUNCH_REQUESTS,
    HOLE_PUNCH_STRANGER_PINGS,
)
from natprobe.jamulus import EmptyMessage, Message, PingMs, SendEmptyMessage, encode
from natprobe.jamulus.directory_table import PING_BYTES, SEND_EMPTY_BYTES

__all__ = (
    "PING_SPACING_S",
    "PUNCH_SPACING_S",
    "Action",
    "Arrived",
    "Done",
    "HolePunchPlan",
    "Listen",
    "PingTrace",
    "PunchOutcome",
    "Send",
    "Sent",
    "Event",
    "TimedOut",
    "Via",
)

PING_SPACING_S = 0.4
"""Seconds between two pings of one step (an echo ends the step at once)."""
PUNCH_SPACING_S = 0.5
"""Seconds to wait for the punch before the directory asks again."""


class Via(enum.Enum):
    """The socket a message leaves from, or arrives at."""

    STRANGER = "stranger"
    DIRECTORY = "directory"
    PEER = "peer"


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``message`` from ``via`` to the registration's published address; answer :class:`Sent`."""

    via: Via
    message: Message


@dataclass(frozen=True, slots=True)
class Listen:
    """Wait for one message at ``via`` until ``deadline``; answer :class:`Arrived` or :class:`TimedOut`."""

    via: Via
    deadline: float


@dataclass(frozen=True, slots=True)
class Done:
    """The plan is over: read :attr:`HolePunchPlan.outcome`."""


@dataclass(frozen=True, slots=True)
class Sent:
    at: float


@dataclass(frozen=True, slots=True)
class Arrived:
    message: Message
    source: TransportAddress
    at: float


@dataclass(frozen=True, slots=True)
class TimedOut:
    at: float


Action = Send | Listen | Done
Event = Sent | Arrived | TimedOut


@dataclass(frozen=True, slots=True)
class PingTrace:
    sent: int
    answered: bool
    rtt_s: float | None


@dataclass(frozen=True, slots=True)
class PunchOutcome:
    unsolicited: PingTrace
    requests_sent: int
    punch_source: TransportAddress | None
    """Where the empty message came from (``None``: it never came)."""
    punch_after_s: float | None
    """From the first ``CLM_SEND_EMPTY_MESSAGE`` to the punch."""
    punched: PingTrace
    udp_bytes_sent: int


class HolePunchPlan:
    """One hole punch toward ``target`` (the registration's source) for ``peer`` (the peer
    socket's public address), paid by ``byte_budget``; ``stamp`` seeds the ping values."""

    def __init__(self, target: TransportAddress, peer: TransportAddress, byte_budget: int, stamp: int) -> None:
        if not isinstance(peer.ip, IPv4Address):
            raise ValueError("CLM_SEND_EMPTY_MESSAGE carries an IPv4 address")
        self.target = target
        self.peer = peer
        self.byte_budget = byte_budget
        self._budget = byte_budget
        self._stamp = stamp
        self._steps = self._run()
        self._outcome: PunchOutcome | None = None

    @property
    def outcome(self) -> PunchOutcome:
        if self._outcome is None:
            raise RuntimeError("the hole punch is not over")
        return self._outcome

    def start(self) -> Action:
        return next(self._steps)

    def advance(self, event: Event) -> Action:
        """The answer to the last action; returns the next one."""
        try:
            return self._steps.send(event)
        except StopIteration:
            return Done()

    def _spend(self, message: Message) -> bool:
        size = len(encode(message))
        if self._budget < size:
            return False
        self._budget -= size
        return True

    def _run(self) -> Generator[Action, Event, None]:
        # a) Keeps room for one punch request and one punched ping.
        stranger_pings = min(HOLE_PUNCH_STRANGER_PINGS, (self._budget - SEND_EMPTY_BYTES - PING_BYTES) // PING_BYTES)
        unsolicited = yield from self._ping(Via.STRANGER, stranger_pings)

        # b) "Send an empty message to the peer", resent until the punch arrives.
        assert isinstance(self.peer.ip, IPv4Address)  # checked in __init__
        request = SendEmptyMessage(self.peer.ip, self.peer.port)
        requests = 0
        first: float | None = None
        source: TransportAddress | None = None
        after: float | None = None
        for _ in range(HOLE_PUNCH_REQUESTS):
            if self._budget - SEND_EMPTY_BYTES < PING_BYTES:
                break  # keep one punched ping
            self._budget -= SEND_EMPTY_BYTES
            sent = yield Send(Via.DIRECTORY, request)
            requests += 1
            first = sent.at if first is None else first
            until = sent.at + PUNCH_SPACING_S
            while source is None:
                event = yield Listen(Via.PEER, until)
                if not isinstance(event, Arrived):
                    break
                if isinstance(event.message, EmptyMessage):
                    source, after = event.source, max(0.0, event.at - first)
            if source is not None:
                break

        # c) The peer pings the published address, as a client pings the listed server.
        punched = yield from self._ping(Via.PEER, min(HOLE_PUNCH_PEER_PINGS, self._budget // PING_BYTES))
        self._outcome = PunchOutcome(unsolicited, requests, source, after, punched, self.byte_budget - self._budget)
        yield Done()

    def _ping(self, via: Via, attempts: int) -> Generator[Action, Event, PingTrace]:
        """Up to ``attempts`` pings :data:`PING_SPACING_S` apart; an echo counts only from the target."""
        sent_at: dict[int, float] = {}
        start: float | None = None
        for attempt in range(max(0, attempts)):
            value = (self._stamp + attempt) & 0xFFFFFFFF
            message = PingMs(value)
            if not self._spend(message):
                break
            sent = yield Send(via, message)
            start = sent.at if start is None else start
            sent_at[value] = sent.at
            until = start + (attempt + 1) * PING_SPACING_S
            while True:
                event = yield Listen(via, until)
                if not isinstance(event, Arrived):
                    break
                echo = event.message
                if event.source == self.target and isinstance(echo, PingMs) and echo.time_ms in sent_at:
                    return PingTrace(len(sent_at), True, max(0.0, event.at - sent_at[echo.time_ms]))
        return PingTrace(len(sent_at), False, None)
