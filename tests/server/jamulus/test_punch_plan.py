"""The hole punch plan without sockets or sleeps: every time is injected."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from natprobe.addressing import TransportAddress
from natprobe.contract.terms import (
    HOLE_PUNCH_FULL_BUDGET,
    HOLE_PUNCH_MIN_BUDGET,
    HOLE_PUNCH_PEER_PINGS,
    HOLE_PUNCH_REQUESTS,
    HOLE_PUNCH_STRANGER_PINGS,
)
from natprobe.jamulus import EmptyMessage, PingMs, SendEmptyMessage, encode

from natprobe_server.jamulus.punch_plan import (
    PING_SPACING_S,
    PUNCH_SPACING_S,
    Action,
    Arrived,
    Done,
    HolePunchPlan,
    Listen,
    Send,
    Sent,
    TimedOut,
    Via,
)

TARGET = TransportAddress(IPv4Address("203.0.113.7"), 22124)
OTHER_PORT = TransportAddress(IPv4Address("203.0.113.7"), 40001)
PEER = TransportAddress(IPv4Address("198.51.100.2"), 50000)


def run(plan: HolePunchPlan, answer: dict[Via, str]) -> list[Action]:
    """Drive ``plan`` at a fake clock. ``answer[via]``: "echo" (ping echoes from the target),
    "punch" (the empty message arrives from OTHER_PORT), "echo-elsewhere" (echoes from another
    port), or silence. Returns every action."""
    now = 100.0
    actions: list[Action] = []
    action = plan.start()
    last_sent: Send | None = None
    for _ in range(1000):  # bounded: a plan that never ends fails here
        actions.append(action)
        if isinstance(action, Done):
            return actions
        if isinstance(action, Send):
            last_sent = action
            now += 0.001
            action = plan.advance(Sent(now))
            continue
        assert isinstance(action, Listen)
        mode = answer.get(action.via)
        if mode in ("echo", "echo-elsewhere") and isinstance(last_sent, Send) and isinstance(last_sent.message, PingMs):
            now += 0.020
            source = TARGET if mode == "echo" else OTHER_PORT
            message, last_sent = last_sent.message, None
            action = plan.advance(Arrived(message, source, now))
        elif mode == "punch" and isinstance(last_sent, Send) and isinstance(last_sent.message, SendEmptyMessage):
            now += 0.030
            last_sent = None
            action = plan.advance(Arrived(EmptyMessage(), OTHER_PORT, now))
        else:
            assert action.deadline >= now
            now = action.deadline
            action = plan.advance(TimedOut(now))
    pytest.fail("the plan did not end")


def test_an_open_path_answers_every_step_at_once() -> None:
    plan = HolePunchPlan(TARGET, PEER, HOLE_PUNCH_FULL_BUDGET, stamp=7)
    actions = run(plan, {Via.STRANGER: "echo", Via.PEER: "punch"})
    outcome = plan.outcome
    assert outcome.unsolicited.answered and outcome.unsolicited.sent == 1
    assert outcome.unsolicited.rtt_s == pytest.approx(0.020)
    assert outcome.requests_sent == 1 and outcome.punch_source == OTHER_PORT
    assert outcome.punch_after_s == pytest.approx(0.030)
    # The peer's ping: the punch's echo mode is "punch", so the peer's pings go unanswered here.
    assert not outcome.punched.answered and outcome.punched.sent == HOLE_PUNCH_PEER_PINGS
    sends = [a for a in actions if isinstance(a, Send)]
    assert [a.via for a in sends][:2] == [Via.STRANGER, Via.DIRECTORY]
    assert sends[1].message == SendEmptyMessage(PEER.ip, PEER.port)  # type: ignore[arg-type]
    assert outcome.udp_bytes_sent == sum(len(encode(a.message)) for a in sends)


def test_a_silent_path_spends_every_retry_and_no_more() -> None:
    plan = HolePunchPlan(TARGET, PEER, HOLE_PUNCH_FULL_BUDGET, stamp=0xFFFFFFFF)  # ping values wrap
    actions = run(plan, {})
    outcome = plan.outcome
    assert (outcome.unsolicited.sent, outcome.requests_sent, outcome.punched.sent) == (
        HOLE_PUNCH_STRANGER_PINGS, HOLE_PUNCH_REQUESTS, HOLE_PUNCH_PEER_PINGS)
    assert not (outcome.unsolicited.answered or outcome.punch_source or outcome.punched.answered)
    listens = [a for a in actions if isinstance(a, Listen)]
    # Pings are spaced from the step's first send; each punch request waits its own spacing.
    stranger = [a.deadline for a in listens if a.via is Via.STRANGER]
    assert stranger[1] - stranger[0] == pytest.approx(PING_SPACING_S)
    assert all(a.message.time_ms <= 0xFFFFFFFF for a in actions if isinstance(a, Send) and isinstance(a.message, PingMs))
    punch_waits = [a for a in listens if a.via is Via.PEER][:HOLE_PUNCH_REQUESTS]
    assert len(punch_waits) == HOLE_PUNCH_REQUESTS
    assert punch_waits[0].deadline == pytest.approx(100.0 + HOLE_PUNCH_STRANGER_PINGS * PING_SPACING_S + 0.001
                                                    + PUNCH_SPACING_S, abs=0.01)


def test_an_echo_from_another_port_is_not_an_answer() -> None:
    plan = HolePunchPlan(TARGET, PEER, HOLE_PUNCH_FULL_BUDGET, stamp=1)
    run(plan, {Via.STRANGER: "echo-elsewhere", Via.PEER: "echo-elsewhere"})
    assert not plan.outcome.unsolicited.answered and not plan.outcome.punched.answered


@given(st.integers(HOLE_PUNCH_MIN_BUDGET, HOLE_PUNCH_FULL_BUDGET + 200), st.integers(0, 0xFFFFFFFF))
def test_the_budget_is_never_exceeded_and_every_step_runs_at_least_once(budget: int, stamp: int) -> None:
    plan = HolePunchPlan(TARGET, PEER, budget, stamp)
    actions = run(plan, {})
    sent = sum(len(encode(a.message)) for a in actions if isinstance(a, Send))
    assert sent == plan.outcome.udp_bytes_sent <= budget
    assert plan.outcome.unsolicited.sent >= 1 and plan.outcome.requests_sent >= 1 and plan.outcome.punched.sent >= 1


def test_a_budget_too_small_for_a_step_skips_it() -> None:
    plan = HolePunchPlan(TARGET, PEER, 10, stamp=1)
    run(plan, {})
    assert plan.outcome.udp_bytes_sent <= 10 and plan.outcome.requests_sent == 0


def test_the_peer_must_be_ipv4() -> None:
    with pytest.raises(ValueError, match="IPv4"):
        HolePunchPlan(TARGET, TransportAddress(IPv6Address("2001:db8::2"), 1), HOLE_PUNCH_FULL_BUDGET, 1)


def test_the_outcome_waits_for_the_end() -> None:
    plan = HolePunchPlan(TARGET, PEER, HOLE_PUNCH_FULL_BUDGET, stamp=1)
    plan.start()
    with pytest.raises(RuntimeError):
        plan.outcome
