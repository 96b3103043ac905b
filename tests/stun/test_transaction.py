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
