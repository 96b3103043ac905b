"""The sans-I/O client transaction, driven by an explicit clock and a deterministic loss pattern."""

from __future__ import annotations

import pytest

from natprobe.stun import Attribute, AttributeType, Message, MessageClass, Method, binding_request, encode
from natprobe.addressing import TransportAddress
from natprobe.stun.transaction import (
    INTERACTIVE,
    RFC8489,
    ClientTransaction,
    RetransmissionPolicy,
    Send,
    TimedOut,
    TransactionState,
    WaitUntil,
)


def _run(policy: RetransmissionPolicy, loss_pattern: list[bool], rtt: float = 0.01) -> tuple[list[float], object]:
    """Simulate a path: ``loss_pattern[i]`` True drops the i-th send. Returns send times and the outcome."""
    request = binding_request()
    transaction = ClientTransaction(request, encode(request), policy, now=0.0)
    response = Message(MessageClass.SUCCESS_RESPONSE, Method.BINDING, request.transaction_id, (
        Attribute(AttributeType.XOR_MAPPED_ADDRESS, TransportAddress.parse("192.0.2.1", 1)),))
    now = 0.0
    sends: list[float] = []
    arrival: float | None = None
    for _ in range(100):
        action = transaction.poll(now)
        if isinstance(action, Send):
            index = len(sends)
            sends.append(now)
            if index < len(loss_pattern) and not loss_pattern[index] and arrival is None:
                arrival = now + rtt
            continue
        if isinstance(action, TimedOut):
            return sends, action
        assert isinstance(action, WaitUntil)
        if arrival is not None and arrival <= action.deadline:
            now = arrival
            return sends, transaction.receive(response, now)
        now = action.deadline
    raise AssertionError("transaction did not finish in 100 steps")


def test_rfc8489_schedule_matches_the_rfc() -> None:
    """RFC 8489 6.2.1: sends at 0, 500, 1500, 3500, 7500, 15500, 31500 ms; fail at 39500 ms."""
    assert RFC8489.send_offsets() == (0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5)
    assert RFC8489.total_timeout == 39.5
    sends, outcome = _run(RFC8489, [True] * 7)
    assert sends == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert isinstance(outcome, TimedOut) and outcome.sends == 7


def test_interactive_policy_gives_up_within_about_two_seconds() -> None:
    assert INTERACTIVE.max_sends >= 3
    assert INTERACTIVE.total_timeout <= 2.0


def test_response_after_losses_completes_with_karn_ambiguous_rtt() -> None:
    sends, outcome = _run(INTERACTIVE, [True, True, False], rtt=0.05)
    assert len(sends) == 3
    assert outcome is not None and not isinstance(outcome, TimedOut)
    assert outcome.sends == 3  # type: ignore[union-attr]
    assert outcome.rtt == pytest.approx(0.05)  # type: ignore[union-attr]


def test_adaptive_policy_is_evenly_spaced_and_bounded() -> None:
    policy = RetransmissionPolicy.for_rtt(0.05)
    offsets = policy.send_offsets()
    gaps = {round(b - a, 6) for a, b in zip(offsets, offsets[1:])}
    assert gaps == {0.1}
    assert policy.total_timeout < 1.0
    assert RetransmissionPolicy.for_rtt(0.0).rto == 0.1  # floor on loopback


def test_foreign_transaction_id_or_request_is_ignored() -> None:
    request = binding_request()
    transaction = ClientTransaction(request, encode(request), INTERACTIVE, now=0.0)
    assert isinstance(transaction.poll(0.0), Send)
    other = Message(MessageClass.SUCCESS_RESPONSE, Method.BINDING, bytes(12))
    assert transaction.receive(other, 0.1) is None
    echo_of_request = Message(MessageClass.REQUEST, Method.BINDING, request.transaction_id)
    assert transaction.receive(echo_of_request, 0.1) is None
    assert transaction.state is TransactionState.WAITING
    error = Message(MessageClass.ERROR_RESPONSE, Method.BINDING, request.transaction_id)
    assert transaction.receive(error, 0.2) is not None
    assert transaction.state is TransactionState.SUCCEEDED


def test_invalid_policy_is_refused() -> None:
    with pytest.raises(ValueError):
        RetransmissionPolicy(rto=0)
    with pytest.raises(ValueError):
        RetransmissionPolicy(max_sends=0)


def test_fresh_id_per_send_credits_a_slow_first_answer_to_the_first_send() -> None:
    """Issue #9: a first answer that arrives after the retransmission is an RTT sample, not a loss."""
    request = binding_request()
    ids = iter(bytes([n]) * 12 for n in range(1, 10))

    def rewrite(attempt: int) -> tuple[bytes, bytes]:
        fresh = Message(MessageClass.REQUEST, Method.BINDING, next(ids))
        return fresh.transaction_id, encode(fresh)

    policy = RetransmissionPolicy(rto=0.1, max_sends=4, last_wait=0.2, backoff=1.0)
    transaction = ClientTransaction(request, encode(request), policy, now=0.0, rewrite=rewrite)
    first = transaction.poll(0.0)
    second = transaction.poll(0.1)
    assert isinstance(first, Send) and isinstance(second, Send)
    assert first.transaction_id == request.transaction_id != second.transaction_id
    assert transaction.transaction_ids == (first.transaction_id, second.transaction_id)

    def answer(transaction_id: bytes) -> Message:
        return Message(MessageClass.SUCCESS_RESPONSE, Method.BINDING, transaction_id)

    done = transaction.receive(answer(first.transaction_id), 0.15)
    assert done is not None and done.attempt == 1 and done.sends == 2
    assert done.rtt == pytest.approx(0.15)
    assert transaction.receive(answer(second.transaction_id), 0.2) is None  # already complete ...
    assert transaction.late_rtts == [pytest.approx(0.1)]  # ... but the steadier RTT is kept
    assert transaction.receive(answer(bytes(12)), 0.2) is None and len(transaction.late_rtts) == 1


def test_send_again_samples_the_rtt_once_more_after_completion() -> None:
    request = binding_request()
    fresh = Message(MessageClass.REQUEST, Method.BINDING, b"\x07" * 12)
    transaction = ClientTransaction(request, encode(request), INTERACTIVE, now=0.0,
                                    rewrite=lambda attempt: (fresh.transaction_id, encode(fresh)))
    assert transaction.send_again(0.0) is None  # not complete yet
    transaction.poll(0.0)
    done = transaction.receive(Message(MessageClass.SUCCESS_RESPONSE, Method.BINDING, request.transaction_id), 0.1)
    assert done is not None and done.attempt == 1
    again = transaction.send_again(0.1)
    assert again is not None and again.transaction_id == fresh.transaction_id and again.attempt == 2
    transaction.receive(Message(MessageClass.SUCCESS_RESPONSE, Method.BINDING, fresh.transaction_id), 0.15)
    assert transaction.late_rtts == [pytest.approx(0.05)]
    plain = ClientTransaction(request, encode(request), INTERACTIVE, now=0.0)
    plain.poll(0.0)
    plain.receive(Message(MessageClass.SUCCESS_RESPONSE, Method.BINDING, request.transaction_id), 0.1)
    assert plain.send_again(0.1) is None  # one id for all sends: an extra answer could not be told apart


def test_one_id_for_every_send_keeps_karn_ambiguity() -> None:
    request = binding_request()
    transaction = ClientTransaction(request, encode(request), INTERACTIVE, now=0.0)
    transaction.poll(0.0)
    again = transaction.poll(INTERACTIVE.rto)
    assert isinstance(again, Send) and again.transaction_id == request.transaction_id
    done = transaction.receive(Message(MessageClass.SUCCESS_RESPONSE, Method.BINDING, request.transaction_id), 0.25)
    assert done is not None and done.attempt == 2 and done.rtt == pytest.approx(0.05)
