"""Mapping lifetime measurement, the pure half: when to check which socket, and what it means.

RFC 5780 section 4.6 measures how long an idle UDP mapping survives by binary search, one
idle period after another ("takes quite a bit of time"). natprobe instead opens one socket per
candidate idle time at the start, lets them all go idle together, and checks socket *i* once,
from outside, after its idle time: the whole measurement takes about the lifetime plus a
margin, not the sum of the trials. A check refreshes the mapping it reaches, which is why every
socket is checked exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence

from natprobe.report import LifetimeReport, LifetimeTrial

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


def interpret(trials: Sequence[LifetimeTrial], max_wait_s: float) -> LifetimeReport:
    """Bracket the lifetime between the last survivor and the first expiry."""
    checked = sorted((t for t in trials if t.alive is not None), key=lambda t: t.idle_s)
    ordered = tuple(sorted(trials, key=lambda t: t.idle_s))
    if not checked:
        return LifetimeReport(None, None, max_wait_s, ordered, "no mapping could be checked")
    first_dead = next((t for t in checked if not t.alive), None)
    if first_dead is None:
        longest = checked[-1].idle_s
        return LifetimeReport(
            longest, None, max_wait_s, ordered, f"every mapping survived; the longest idle period checked was {longest:g} s"
        )
    alive_before = [t for t in checked if t.alive and t.idle_s < first_dead.idle_s]
    at_least = alive_before[-1].idle_s if alive_before else None
    revived = [t for t in checked if t.alive and t.idle_s > first_dead.idle_s]
    if revived:
        reason = (
            f"inconsistent: a mapping idle {first_dead.idle_s:g} s was gone but one idle "
            f"{revived[0].idle_s:g} s survived (loss during a check, or a NAT that does not time out by idle time)"
        )
    elif at_least is None:
        reason = f"even the shortest idle period ({first_dead.idle_s:g} s) lost the mapping"
    else:
        reason = f"idle mappings survive {at_least:g} s and are gone after {first_dead.idle_s:g} s"
    return LifetimeReport(at_least, first_dead.idle_s, max_wait_s, ordered, reason)
