"""What changed between two runs of ``natprobe watch``: previous state + new run -> events.

Sans-I/O (the shape of h11's state machine): :func:`detect_changes` takes the state the
history kept after the previous run, the items the new run measured and the current time,
and returns the next state and the events to tell people about. It never reads a clock,
a file or the network, so every rule below is tested with plain values.

The rules, per watched item (a port over one family, a name's records over one family, the
public address per family, an exposed port, the NAT type, the router's external address):

* an item that turns from fine (or unknown) to a problem is a ``problem`` event, and so is
  a problem that changes into another one (not forwarded -> behind CGNAT);
* a problem that lasts is told again (``reminder``) at most every ``repeat_s`` seconds;
* a problem that ends — the item is fine again, or it is gone from a measurement that did
  run (an unexpected open port that closed) — is a ``recovered`` event;
* a fact that is no problem but worth knowing changes value (the public address, the NAT
  type, the router's external address) is a ``changed`` event;
* an item whose measurement did not run this time (the exposure scan was refused, the echo
  server was down) keeps its previous state: silence is not a recovery.

Each event carries its likely causes: the other events of the same run that explain it
(a port or a name that broke in the run where the public address changed). One run gives at
most one message, so "one change, one message" holds however many items it touches.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

__all__ = (
    "Alert",
    "EventKind",
    "Health",
    "ItemKind",
    "ItemState",
    "WatchEvent",
    "WatchState",
    "detect_changes",
    "parse_duration",
)


class ItemKind(enum.StrEnum):
    """What a watched item is about."""

    PORT = "port"
    NAME = "name"
    PUBLIC_ADDRESS = "public-address"
    EXPOSURE = "exposure"
    NAT_TYPE = "nat-type"
    ROUTER_ADDRESS = "router-address"


class Health(enum.StrEnum):
    """How an item's value reads for its owner."""

    OK = "ok"
    """As it should be (reachable, the name matches, an expected open port)."""
    INFO = "info"
    """A fact, neither good nor bad (an address, a NAT type): its changes are told."""
    PROBLEM = "problem"
    """Something to act on (not reachable, a stale name, an unexpected open service)."""
    UNKNOWN = "unknown"
    """Not decided this time (not tested, resolver failure): no event either way."""


class EventKind(enum.StrEnum):
    PROBLEM = "problem"
    REMINDER = "reminder"
    RECOVERED = "recovered"
    CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class ItemState:
    """One watched item as one run measured it."""

    key: str
    """Stable identifier, e.g. ``port/udp/22124/ipv4``, ``name/cloud.example.org/ipv4``."""
    kind: ItemKind
    subject: str
    """What the item is about, language-neutral: ``udp/22124``, ``cloud.example.org``, ``ipv4``."""
    family: str | None
    """``ipv4``/``ipv6``, or ``None`` for items without a family (the NAT type)."""
    value: str
    """The verdict or the fact: ``reachable``, ``stale``, ``203.0.113.7``, ``open``..."""
    health: Health
    scope: str
    """The measurement the item comes from (``check``, ``exposure``, ``nat``, ``router``)."""
    reason: str = ""
    """natprobe's own explanation of the value (the verdict's reason or the finding's detail)."""
    advice: tuple[str, ...] = ()
    code: str = ""
    """A finding code the value came with, if any (e.g. an exposure grade)."""


@dataclass(frozen=True, slots=True)
class Alert:
    """A problem that is open: when it started and when it was last told."""

    since: float
    last_sent: float


@dataclass(frozen=True, slots=True)
class WatchState:
    """What the history keeps between runs: the last known item states and the open alerts."""

    items: Mapping[str, ItemState] = field(default_factory=dict)
    alerts: Mapping[str, Alert] = field(default_factory=dict)
    changed_at: Mapping[str, float] = field(default_factory=dict)
    """When each item last took its current value (Prometheus' last-change time)."""


@dataclass(frozen=True, slots=True)
class WatchEvent:
    kind: EventKind
    item: ItemState
    """The item now (for ``recovered`` of a vanished item: its last state, value ``gone``)."""
    previous: ItemState | None
    causes: tuple["WatchEvent", ...] = ()
    """Events of the same run that likely explain this one."""
    since: float | None = None
    """For reminders and recoveries: when the problem started."""


def _problem_changed(before: ItemState, now: ItemState) -> bool:
    return before.value != now.value or before.code != now.code


def detect_changes(
    previous: WatchState,
    items: Sequence[ItemState],
    *,
    completed_scopes: Iterable[str],
    now: float,
    repeat_s: float,
) -> tuple[WatchState, tuple[WatchEvent, ...]]:
    """The state after this run and the events to tell, in item order (see the module docstring).

    ``completed_scopes`` names the measurements that ran to the end this time: an item absent
    from the run whose scope completed is gone (its problem recovered); otherwise it is kept.
    """
    if repeat_s <= 0:
        raise ValueError("repeat_s must be > 0")
    done = frozenset(completed_scopes)
    current = {item.key: item for item in items}
    states: dict[str, ItemState] = {}
    alerts: dict[str, Alert] = {}
    changed_at: dict[str, float] = {}
    events: list[WatchEvent] = []
    for key, item in current.items():
        before = previous.items.get(key)
        alert = previous.alerts.get(key)
        if item.health is Health.UNKNOWN:
            # Undecided now: remember the last decided state, keep any open alert as it is.
            states[key] = before if before is not None else item
            changed_at[key] = previous.changed_at.get(key, now)
            if alert is not None:
                alerts[key] = alert
            continue
        states[key] = item
        same = before is not None and before.value == item.value
        changed_at[key] = previous.changed_at.get(key, now) if same else now
        if item.health is Health.PROBLEM:
            if alert is None or before is None or _problem_changed(before, item):
                events.append(WatchEvent(EventKind.PROBLEM, item, before))
                alerts[key] = Alert(since=now, last_sent=now)
            elif now - alert.last_sent >= repeat_s:
                events.append(WatchEvent(EventKind.REMINDER, item, before, since=alert.since))
                alerts[key] = replace(alert, last_sent=now)
            else:
                alerts[key] = alert
            continue
        if alert is not None:
            events.append(WatchEvent(EventKind.RECOVERED, item, before, since=alert.since))
        elif (before is not None and before.health is not Health.UNKNOWN and before.value != item.value
              and item.health is Health.INFO):
            events.append(WatchEvent(EventKind.CHANGED, item, before))
    for key, before in previous.items.items():
        if key in current:
            continue
        alert = previous.alerts.get(key)
        if before.scope not in done:
            states[key] = before  # not measured this time: silence is not a recovery
            changed_at[key] = previous.changed_at.get(key, now)
            if alert is not None:
                alerts[key] = alert
        elif alert is not None:
            gone = replace(before, value="gone", health=Health.OK, reason="", advice=(), code="")
            events.append(WatchEvent(EventKind.RECOVERED, gone, before, since=alert.since))
    return WatchState(states, alerts, changed_at), tuple(_with_causes(events))


def _with_causes(events: list[WatchEvent]) -> list[WatchEvent]:
    """Attach to each problem the same run's events that likely explain it.

    A new public address over a family explains a port or a name over that family that broke
    in the same run (the forward or the DNS record names the old address); a router whose
    external address changed explains the same. A port that stopped being reachable explains
    the name (its family no longer reaches the site) and the exposure scan's verdict on the
    same port. Nothing else is guessed: the item's own reason (natprobe's verdict) speaks for
    the rest.
    """
    address_changes = [e for e in events if e.kind is EventKind.CHANGED
                       and e.item.kind in (ItemKind.PUBLIC_ADDRESS, ItemKind.ROUTER_ADDRESS)]
    broken_ports = [e for e in events if e.kind is EventKind.PROBLEM and e.item.kind is ItemKind.PORT]
    out = []
    for event in events:
        item = event.item
        if event.kind is EventKind.PROBLEM and item.kind in (ItemKind.PORT, ItemKind.NAME, ItemKind.EXPOSURE):
            causes = [c for c in address_changes if c.item.family in (None, item.family)]
            if item.kind is ItemKind.NAME:
                causes += [p for p in broken_ports if p.item.family == item.family]
            elif item.kind is ItemKind.EXPOSURE:
                causes += [p for p in broken_ports if (p.item.family, p.item.subject) == (item.family, item.subject)]
            if causes:
                event = replace(event, causes=tuple(causes))
        out.append(event)
    return out


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``"15m"``, ``"6h"``, ``"90s"``, ``"2d"`` or plain seconds -> seconds; ``ValueError`` otherwise."""
    value = text.strip().lower()
    unit = 1
    if value and value[-1] in _UNITS:
        unit = _UNITS[value[-1]]
        value = value[:-1]
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a duration (e.g. 90s, 15m, 6h, 2d)") from None
    if not number > 0 or number != number or number == float("inf"):
        raise ValueError(f"{text!r}: a duration must be a positive number")
    return number * unit
