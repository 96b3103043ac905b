"""Client transactions, sans-I/O: when to (re)send a request and when to give up.

RFC 8489 section 6.2.1 defines retransmission over UDP: an initial RTO, doubled after each
send, ``Rc`` sends in all, and a final wait of ``Rm × RTO`` after the last one. That schedule
(39.5 s to give up) is right for a long-lived application and wrong for a diagnostic a person
waits on, so the policy is an explicit object: :data:`RFC8489` on request, :data:`INTERACTIVE`
(four sends within 2 s) by default, and :meth:`RetransmissionPolicy.for_rtt` for discovery,
which adapts the ladder to a measured round-trip time.

:class:`ClientTransaction` is fed the current time and received messages, and answers with
what to do next; the asyncio runner in :mod:`natprobe.adapters.stun_udp` does the I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from collections.abc import Callable
from typing import Union

from natprobe.stun.message import Message


@dataclass(frozen=True, slots=True)
class RetransmissionPolicy:
    """Send at 0, RTO, 3×RTO, … (each gap ``backoff`` times the last); give up ``last_wait`` after the last send.

    ``max_interval`` caps a single gap (RFC 8489 allows an upper bound on RTO).
    For TCP only ``total_timeout`` matters (``Ti``, RFC 8489 section 6.2.2).
    """

    rto: float = 0.5
    max_sends: int = 7
    last_wait: float = 8.0
    backoff: float = 2.0
    max_interval: float | None = None

    def __post_init__(self) -> None:
        if self.rto <= 0 or self.max_sends < 1 or self.last_wait < 0 or self.backoff < 1:
            raise ValueError(f"invalid retransmission policy: {self}")

    def send_offsets(self) -> tuple[float, ...]:
        """When each send happens, relative to the first."""
        offsets = [0.0]
        interval = self.rto
        for _ in range(self.max_sends - 1):
            if self.max_interval is not None:
                interval = min(interval, self.max_interval)
            offsets.append(offsets[-1] + interval)
            interval *= self.backoff
        return tuple(offsets)

    @property
    def total_timeout(self) -> float:
        """Time from the first send until the transaction fails."""
        return self.send_offsets()[-1] + self.last_wait

    @classmethod
    def for_rtt(cls, rtt: float, *, max_sends: int = 6, floor: float = 0.1) -> RetransmissionPolicy:
        """An evenly spaced ladder for a path whose round-trip time was just measured.

        Sends every ``max(2 × rtt, floor)`` seconds and waits one more interval plus an RTT
        after the last. Losses on a path are independent, so even spacing is as good as
        backing off and much faster: with six sends and 10 % loss each way, an answering
        test stays silent with probability 0.19**6 ≈ 5e-5. At 50 ms RTT the whole ladder
        takes 0.65 s.
        """
        interval = max(2.0 * rtt, floor)
        return cls(rto=interval, max_sends=max_sends, last_wait=interval + rtt, backoff=1.0)


RFC8489 = RetransmissionPolicy(rto=0.5, max_sends=7, last_wait=8.0)
"""RFC 8489 section 6.2.1 defaults: sends at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; fail at 39.5 s."""

INTERACTIVE = RetransmissionPolicy(rto=0.2, max_sends=4, last_wait=0.6)
"""For a person waiting: sends at 0, 0.2, 0.6, 1.4 s; fail at 2.0 s."""


class TransactionState(enum.StrEnum):
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    TIMED_OUT = "timed-out"


@dataclass(frozen=True, slots=True)
class Send:
    """Action: send ``data`` now; it carries ``transaction_id`` (fresh per send unless the id is kept)."""

    data: bytes
    attempt: int
    transaction_id: bytes = b""


@dataclass(frozen=True, slots=True)
class WaitUntil:
    """Action: nothing to do before ``deadline`` unless a response arrives."""

    deadline: float


@dataclass(frozen=True, slots=True)
class TimedOut:
    """Action: the transaction failed; every send went unanswered."""

    sends: int


@dataclass(frozen=True, slots=True)
class Completed:
    """A response matched the transaction."""

    response: Message
    rtt: float
    """Time since the send this response answers. Exact with a fresh id per send; with one
    id for every send (Karn) it is measured from the most recent send and ambiguous when
    ``sends`` > 1."""
    sends: int
    """Sends made so far (the answered one and any later retransmission)."""
    attempt: int = 0
    """Which send (1-based) the response answers; with one id for every send, the last one."""


Action = Union[Send, WaitUntil, TimedOut]

Rewrite = Callable[[int], tuple[bytes, bytes]]
"""``attempt -> (transaction id, request bytes)`` for a send that carries its own id."""


class ClientTransaction:
    """One request awaiting its response, driven by explicit time.

    Usage: call :meth:`poll` with the current time and perform the returned action (``Send``
    then poll again, ``WaitUntil`` sleep until then or until a datagram arrives); hand every
    received message to :meth:`receive`.

    RFC 8489 retransmits the same bytes under one transaction id, so a late answer to the
    first send cannot be told from a prompt answer to the second (Karn's ambiguity): it looks
    like a loss and an RTT of nearly zero. A diagnostic can do better. With ``rewrite`` each
    send after the first carries its own transaction id (what ``rewrite(attempt)`` returns),
    so every answer is matched to the send that caused it: a slow first answer is an RTT
    sample, not a loss. Answers to later sends that arrive after completion are kept in
    :attr:`late_rtts` (the first packet of a flow is often the slow one: ARP, a NAT creating
    its mapping, a radio waking up).
    """

    def __init__(
        self,
        request: Message,
        request_bytes: bytes,
        policy: RetransmissionPolicy,
        now: float,
        *,
        rewrite: Rewrite | None = None,
    ) -> None:
        self.request = request
        self._data = request_bytes
        self._rewrite = rewrite
        self._offsets = policy.send_offsets()
        self._start = now
        self._give_up = now + policy.total_timeout
        self._sends = 0
        self._last_send = now
        self._sent: dict[bytes, tuple[int, float]] = {}
        """transaction id -> (attempt, send time), for every id this transaction used."""
        self.state = TransactionState.WAITING
        self.result: Completed | None = None
        self.late_rtts: list[float] = []

    @property
    def transaction_id(self) -> bytes:
        return self.request.transaction_id

    @property
    def transaction_ids(self) -> tuple[bytes, ...]:
        """Every transaction id sent so far (one unless ``rewrite`` was given)."""
        return tuple(self._sent) or (self.request.transaction_id,)

    @property
    def sends(self) -> int:
        return self._sends

    def poll(self, now: float) -> Action:
        if self.state is TransactionState.TIMED_OUT:
            return TimedOut(self._sends)
        if self.state is TransactionState.SUCCEEDED:
            raise RuntimeError("transaction already completed")
        if self._sends < len(self._offsets):
            due = self._start + self._offsets[self._sends]
            if now >= due:
                self._sends += 1
                self._last_send = now
                if self._rewrite is None or self._sends == 1:
                    transaction_id, data = self.request.transaction_id, self._data
                else:
                    transaction_id, data = self._rewrite(self._sends)
                if transaction_id not in self._sent:
                    self._sent[transaction_id] = (self._sends, now)
                return Send(data, self._sends, transaction_id)
            return WaitUntil(due)
        if now >= self._give_up:
            self.state = TransactionState.TIMED_OUT
            return TimedOut(self._sends)
        return WaitUntil(self._give_up)

    def send_again(self, now: float) -> Send | None:
        """After completion, one more send under a fresh id, to sample the RTT once more.

        Its answer lands in :attr:`late_rtts`. ``None`` without ``rewrite`` (one id for
        every send could not tell that answer from a duplicate) or before completion.
        """
        if self._rewrite is None or self.state is not TransactionState.SUCCEEDED:
            return None
        self._sends += 1
        transaction_id, data = self._rewrite(self._sends)
        self._sent[transaction_id] = (self._sends, now)
        return Send(data, self._sends, transaction_id)

    def receive(self, message: Message, now: float) -> Completed | None:
        """Offer a received message; returns the completion if it is this transaction's response."""
        sent = self._sent.get(message.transaction_id)
        if sent is None or message.method != self.request.method:
            return None
        if message.message_class not in (message.message_class.SUCCESS_RESPONSE, message.message_class.ERROR_RESPONSE):
            return None
        attempt, sent_at = sent
        if self._rewrite is None:
            attempt, sent_at = self._sends, self._last_send  # one id for all sends: Karn's ambiguity
        if self.state is TransactionState.SUCCEEDED:
            if self.result is not None and attempt > self.result.attempt:
                self.late_rtts.append(now - sent_at)
            return None
        if self.state is not TransactionState.WAITING:
            return None
        self.state = TransactionState.SUCCEEDED
        self.result = Completed(message, now - sent_at, self._sends, attempt)
        return self.result
