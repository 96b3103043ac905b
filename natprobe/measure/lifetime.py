"""Measure how long an idle UDP mapping survives, all trials in parallel (see behavior.lifetime).

Every trial socket sends one Binding request to the server's primary address (creating a
mapping and learning its public port), then stays silent. After its idle time, a separate
checker socket asks the server, with RESPONSE-PORT (RFC 5780 section 7.5), to answer at that
public port: if the trial socket receives the answer, the mapping was still alive. The server
only ever answers toward the requester's own IP, so this needs a NAT whose public address is
the same for all sockets (RFC 4787 "paired" pooling, REQ-2), which is nearly every NAT.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Protocol

from natprobe.reports.lifetime_report import LifetimeReport, LifetimeTrial, interpret
from natprobe.addressing import IPAddress, TransportAddress
from natprobe.stun.message import binding_request
from natprobe.stun.transaction import RetransmissionPolicy
from natprobe.adapters.stun_udp import StunEndpoint, send_until_arrival

logger = logging.getLogger(__name__)

CHECK_POLICY = RetransmissionPolicy(rto=0.15, max_sends=6, last_wait=0.3, backoff=1.0)
"""A check sends every 150 ms for 0.75 s and waits 0.3 s more: a live mapping at 10 % loss each
way is missed with probability 0.19**6 ≈ 5e-5."""

ANCHORS_S = (30.0, 60.0, 120.0, 300.0)
"""Idle times worth checking exactly: common NAT defaults, Jamulus' 59 s keep-alive, and RFC
4787 REQ-5's 120 s floor and 300 s recommendation."""


def idle_schedule(max_wait_s: float, *, first_s: float = 2.0, growth: float = 1.15, step_s: float = 2.0) -> tuple[float, ...]:
    """Idle times to test, up to ``max_wait_s``: every ``step_s`` at first, then ~15 % apart.

    The resolution is what a lifetime can be told to: 2 s around the short timeouts of cheap
    routers, 15 % for the minute-long ones.
    """
    if max_wait_s < first_s:
        raise ValueError(f"the maximum wait must be at least {first_s} s")
    geometric: list[float] = []
    t = first_s
    while t <= max_wait_s:
        geometric.append(round(t, 1))
        t = max(t + step_s, t * growth)
    preferred = {a for a in ANCHORS_S if a <= max_wait_s} | {float(max_wait_s)}
    merged: list[float] = []
    for t in sorted(set(geometric) | preferred):
        if merged and t - merged[-1] < 1.0:  # too close to tell apart: keep the anchor
            if t in preferred:
                merged[-1] = t
            continue
        merged.append(t)
    return tuple(merged)



@dataclass(frozen=True, slots=True)
class LifetimeProgress:
    """Passed to the progress callback about once a second."""

    elapsed_s: float
    max_wait_s: float
    alive_after_s: float | None
    """Longest idle time after which a mapping was still alive, so far."""
    gone_after_s: float | None


@dataclass(frozen=True, slots=True)
class LifetimeOptions:
    """Knobs of :func:`measure_mapping_lifetime`."""

    max_wait_s: float = 120.0
    """The longest idle time tested; the measurement takes about the lifetime, at most this (+ ~1 s)."""
    bind_ip: IPAddress = IPv4Address("0.0.0.0")
    """Local address the trial sockets bind to (``0.0.0.0`` lets the kernel choose)."""


class Clock(Protocol):
    """Where the idle waits read the time and sleep (a test passes one that needs no real waiting)."""

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class LoopClock:
    """The running event loop's monotonic clock."""

    def time(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class _Trial:
    idle_s: float
    endpoint: StunEndpoint
    answered_at: float
    """The clock's time when this trial's own Binding answer arrived: its idle period starts here."""
    public_port: int

    @property
    def due(self) -> float:
        return self.answered_at + self.idle_s


async def _create_mappings(
    endpoints: list[StunEndpoint], schedule: tuple[float, ...], server: TransportAddress, clock: Clock
) -> list[_Trial]:
    """One Binding per trial socket, all at once; each trial's idle time starts at its own answer.

    A trial whose answer needed retransmissions starts later than the others: timing every
    trial from the moment the slowest answered would stretch the early trials' idle periods.
    """

    async def create(idle: float, endpoint: StunEndpoint) -> _Trial | None:
        answer = await endpoint.transact(binding_request(), server, CHECK_POLICY)
        answered_at = clock.time()
        if answer is None or answer.message.reflexive_address is None:
            return None
        return _Trial(idle, endpoint, answered_at, answer.message.reflexive_address.port)

    created = await asyncio.gather(*(create(idle, e) for idle, e in zip(schedule, endpoints)))
    return sorted((t for t in created if t is not None), key=lambda t: t.due)


async def _check(
    checker: StunEndpoint, trial: StunEndpoint, server: TransportAddress, public_port: int
) -> bool:
    """Ask the server to answer at ``public_port``; does the answer reach the idle trial socket?"""
    request = binding_request(response_port=public_port)
    _, arrived = await send_until_arrival(checker, request, server, trial, CHECK_POLICY)
    return arrived is not None


async def measure_mapping_lifetime(
    server: TransportAddress,
    options: LifetimeOptions = LifetimeOptions(),
    *,
    progress: Callable[[LifetimeProgress], None] | None = None,
    clock: Clock | None = None,
) -> LifetimeReport:
    """Bracket the idle lifetime of UDP mappings toward ``server``; takes about the lifetime plus ~1 s.

    Stops early once two consecutive idle times (in the order they come due) have lost their
    mapping. ``clock`` times the idle periods (default: the event loop's clock).
    """
    max_wait_s = options.max_wait_s
    schedule = idle_schedule(max_wait_s)
    clock = clock or LoopClock()
    trials: dict[float, bool | None] = {idle: None for idle in schedule}
    sockets: list[StunEndpoint] = []
    bind = (str(options.bind_ip), 0)
    try:
        checker = await StunEndpoint.open(bind)
        sockets.append(checker)
        for _ in schedule:
            sockets.append(await StunEndpoint.open(bind))
        created = await _create_mappings(sockets[1:], schedule, server, clock)
        if not created:
            return LifetimeReport(None, None, max_wait_s, (), "the server did not answer; no mapping was created")

        begin = clock.time()
        consecutive_dead = 0
        for trial in created:
            while (now := clock.time()) < trial.due:
                if progress is not None:
                    progress(_progress(trials, now - begin, max_wait_s))
                await clock.sleep(min(1.0, trial.due - now))
            while not trial.endpoint.inbox.empty():  # stale datagrams are not evidence
                trial.endpoint.inbox.get_nowait()
            alive = await _check(checker, trial.endpoint, server, trial.public_port)
            trials[trial.idle_s] = alive
            logger.debug("mapping idle %.1f s: %s", trial.idle_s, "alive" if alive else "gone")
            consecutive_dead = 0 if alive else consecutive_dead + 1
            if consecutive_dead >= 2:
                break
        if progress is not None:
            progress(_progress(trials, clock.time() - begin, max_wait_s))
        return interpret([LifetimeTrial(idle, alive) for idle, alive in trials.items()], max_wait_s)
    finally:
        for endpoint in sockets:
            endpoint.close()


def _progress(trials: dict[float, bool | None], elapsed: float, max_wait_s: float) -> LifetimeProgress:
    alive = [idle for idle, ok in trials.items() if ok]
    gone = [idle for idle, ok in trials.items() if ok is False]
    return LifetimeProgress(elapsed, max_wait_s, max(alive) if alive else None, min(gone) if gone else None)
