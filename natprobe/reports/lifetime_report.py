"""The mapping-lifetime report: how long an idle UDP mapping survives (RFC 5780 section 4.6).

:func:`interpret` brackets the lifetime from the trials :mod:`natprobe.measure.lifetime` ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from natprobe.i18n import _
from natprobe.reports.json_schema import BOOL_OR_NULL, NUMBER_OR_NULL, JsonSchema, obj, report_schema

__all__ = ("LIFETIME_SCHEMA", "LIFETIME_SCHEMA_ID", "LIFETIME_VERSION", "LifetimeReport", "LifetimeTrial", "interpret")

LIFETIME_SCHEMA_ID = "natprobe/lifetime"
LIFETIME_VERSION = 1


@dataclass(frozen=True, slots=True)
class LifetimeTrial:
    """One socket left idle for ``idle_s`` seconds, then checked from outside."""

    idle_s: float
    alive: bool | None
    """True: an inbound packet still reached the socket; False: it did not; None: not checked."""


@dataclass(frozen=True, slots=True)
class LifetimeReport:
    """How long an idle UDP mapping survives (RFC 5780 section 4.6, parallelised)."""

    at_least_s: float | None
    """The longest idle time after which the mapping was still alive."""
    at_most_s: float | None
    """The shortest idle time after which it was gone; ``None`` if it outlived the maximum."""
    max_wait_s: float
    trials: tuple[LifetimeTrial, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON form (:data:`LIFETIME_SCHEMA`), alone or inside another report."""
        return {
            "schema": LIFETIME_SCHEMA_ID,
            "schema_version": LIFETIME_VERSION,
            "at_least_s": self.at_least_s,
            "at_most_s": self.at_most_s,
            "max_wait_s": self.max_wait_s,
            "reason": self.reason,
            "trials": [{"idle_s": t.idle_s, "alive": t.alive} for t in self.trials],
        }


LIFETIME_SCHEMA: JsonSchema = report_schema(
    LIFETIME_SCHEMA_ID,
    LIFETIME_VERSION,
    "How long an idle UDP mapping survives (natprobe nat --lifetime)",
    {
        "at_least_s": NUMBER_OR_NULL,
        "at_most_s": NUMBER_OR_NULL,
        "max_wait_s": {"type": "number"},
        "reason": {"type": "string"},
        "trials": {"type": "array", "items": obj({"idle_s": {"type": "number"}, "alive": BOOL_OR_NULL})},
    },
)


def interpret(trials: Sequence[LifetimeTrial], max_wait_s: float) -> LifetimeReport:
    """Bracket the lifetime between the last survivor and the first expiry."""
    checked = sorted((t for t in trials if t.alive is not None), key=lambda t: t.idle_s)
    ordered = tuple(sorted(trials, key=lambda t: t.idle_s))
    if not checked:
        return LifetimeReport(None, None, max_wait_s, ordered, _("no mapping could be checked"))
    first_dead = next((t for t in checked if not t.alive), None)
    if first_dead is None:
        longest = checked[-1].idle_s
        return LifetimeReport(
            longest, None, max_wait_s, ordered, _("every mapping survived; the longest idle period checked was {seconds:g} s", seconds=longest)
        )
    alive_before = [t for t in checked if t.alive and t.idle_s < first_dead.idle_s]
    at_least = alive_before[-1].idle_s if alive_before else None
    revived = [t for t in checked if t.alive and t.idle_s > first_dead.idle_s]
    if revived:
        reason = _(
            "inconsistent: a mapping idle {gone:g} s was gone but one idle "
            "{alive:g} s survived (loss during a check, or a NAT that does not time out by idle time)",
            gone=first_dead.idle_s, alive=revived[0].idle_s,
        )
    elif at_least is None:
        reason = _("even the shortest idle period ({seconds:g} s) lost the mapping", seconds=first_dead.idle_s)
    else:
        reason = _("idle mappings survive {alive:g} s and are gone after {gone:g} s", alive=at_least, gone=first_dead.idle_s)
    return LifetimeReport(at_least, first_dead.idle_s, max_wait_s, ordered, reason)
