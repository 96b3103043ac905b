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

from natprobe.reports.lifetime_report import LifetimeReport, LifetimeTrial, interpret
from natprobe.addressing import TransportAddress
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


async def _check(
    checker: StunEndpoint, trial: StunEndpoint, server: TransportAddress, public_port: int
) -> bool:
    """Ask the server to answer at ``public_port``; does the answer reach the idle trial socket?"""
    request = binding_request(response_port=public_port)
    _, arrived = await send_until_arrival(checker, request, server, trial, CHECK_POLICY)
    return arrived is not None


async def measure_mapping_lifetime(
    server: TransportAddress,
    *,
    max_wait_s: float = 120.0,
    bind_ip: str = "0.0.0.0",
    progress: Callable[[LifetimeProgress], None] | None = None,
) -> LifetimeReport:
    """Bracket the idle lifetime of UDP mappings toward ``server``; takes about the lifetime plus ~1 s.

    Stops early once two consecutive idle times have lost their mapping.
    """
    schedule = idle_schedule(max_wait_s)
    loop = asyncio.get_running_loop()
    trials: dict[float, bool | None] = {idle: None for idle in schedule}
    sockets: list[StunEndpoint] = []
    try:
        checker = await StunEndpoint.open((bind_ip, 0))
        sockets.append(checker)
        for _ in schedule:
            sockets.append(await StunEndpoint.open((bind_ip, 0)))
        # Create every mapping at once; each trial's idle period starts when its answer arrived.
        answers = await asyncio.gather(
            *(s.transact(binding_request(), server, CHECK_POLICY) for s in sockets[1:])
        )
        started: dict[float, tuple[StunEndpoint, float, int]] = {}
        now = loop.time()
        for idle, trial_socket, answer in zip(schedule, sockets[1:], answers):
            if answer is None or answer.message.reflexive_address is None:
                continue
            started[idle] = (trial_socket, now, answer.message.reflexive_address.port)
        if not started:
            return LifetimeReport(None, None, max_wait_s, (), "the server did not answer; no mapping was created")

        begin = loop.time()
        consecutive_dead = 0
        for idle in schedule:
            if idle not in started:
                continue
            trial_socket, created, public_port = started[idle]
            while loop.time() < created + idle:
                if progress is not None:
                    progress(_progress(trials, loop.time() - begin, max_wait_s))
                await asyncio.sleep(min(1.0, created + idle - loop.time()))
            while not trial_socket.inbox.empty():  # stale datagrams are not evidence
                trial_socket.inbox.get_nowait()
            alive = await _check(checker, trial_socket, server, public_port)
            trials[idle] = alive
            logger.debug("mapping idle %.1f s: %s", idle, "alive" if alive else "gone")
            consecutive_dead = 0 if alive else consecutive_dead + 1
            if consecutive_dead >= 2:
                break
        if progress is not None:
            progress(_progress(trials, loop.time() - begin, max_wait_s))
        return interpret([LifetimeTrial(idle, alive) for idle, alive in trials.items()], max_wait_s)
    finally:
        for endpoint in sockets:
            endpoint.close()


def _progress(trials: dict[float, bool | None], elapsed: float, max_wait_s: float) -> LifetimeProgress:
    alive = [idle for idle, ok in trials.items() if ok]
    gone = [idle for idle, ok in trials.items() if ok is False]
    return LifetimeProgress(elapsed, max_wait_s, max(alive) if alive else None, min(gone) if gone else None)
