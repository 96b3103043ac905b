"""What ``natprobe watch`` tells people when something changes: the message of a run.

A run's events (:mod:`natprobe.verdicts.watch_changes`) become one message: a title, then
per event what changed, its likely cause (another change of the same run, or natprobe's own
verdict on the item) and the advice that verdict carries. English and French, like every
other finding; the event codes stay in the history for programs.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from natprobe.i18n import _
from natprobe.verdicts.watch_changes import EventKind, ItemKind, ItemState, WatchEvent

__all__ = ("MessageLevel", "WatchMessage", "cause_sentences", "describe_event", "item_label", "watch_message")


class MessageLevel(enum.StrEnum):
    """The message's colour in a notification service (Apprise's notify types)."""

    PROBLEM = "failure"
    RECOVERED = "success"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class WatchMessage:
    title: str
    body: str
    level: MessageLevel


def _family(family: str | None) -> str:
    return {"ipv4": "IPv4", "ipv6": "IPv6"}.get(family or "", family or "")


def item_label(item: ItemState) -> str:
    """The item as a person names it: ``UDP 22124 (IPv4)``, ``cloud.example.org (A record)``."""
    if item.kind in (ItemKind.PORT, ItemKind.EXPOSURE):
        protocol, _slash, port = item.subject.partition("/")
        if item.kind is ItemKind.EXPOSURE:
            return _("{protocol} {port} seen from the Internet ({family})", protocol=protocol.upper(), port=port,
                     family=_family(item.family))
        return f"{protocol.upper()} {port} ({_family(item.family)})"
    if item.kind is ItemKind.NAME:
        record = "AAAA" if item.family == "ipv6" else "A"
        return _("{name} ({record} record)", name=item.subject, record=record)
    if item.kind is ItemKind.PUBLIC_ADDRESS:
        return _("the public {family} address", family=_family(item.family))
    if item.kind is ItemKind.NAT_TYPE:
        return _("the NAT type")
    return _("the router's external address")


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def describe_event(event: WatchEvent) -> str:
    """One sentence: what happened to the item."""
    label, value = item_label(event.item), event.item.value
    previous = event.previous.value if event.previous is not None else None
    if event.kind is EventKind.PROBLEM:
        if previous is None:
            return _("{item}: {value}.", item=label, value=value)
        return _("{item} became {value} (it was {previous}).", item=label, value=value, previous=previous)
    if event.kind is EventKind.REMINDER:
        return _("{item} is still {value} (since {since}).", item=label, value=value,
                 since=_time(event.since if event.since is not None else 0.0))
    if event.kind is EventKind.RECOVERED:
        if value == "gone":
            return _("{item} is gone (it was {previous}): the problem is over.", item=label, previous=previous or "?")
        return _("{item} is {value} again (it was {previous}).", item=label, value=value, previous=previous or "?")
    return _("{item} changed from {previous} to {value}.", item=label, previous=previous or "?", value=value)


def cause_sentences(event: WatchEvent) -> tuple[str, ...]:
    """The likely causes, most specific first: the same run's changes that explain the event,
    then natprobe's own reason for the item's verdict."""
    out = [_("after {change}", change=describe_event(cause).rstrip(".")) for cause in event.causes]
    if event.kind in (EventKind.PROBLEM, EventKind.REMINDER) and event.item.reason:
        out.append(event.item.reason)
    return tuple(out)


def _headline(events: Sequence[WatchEvent]) -> tuple[str, MessageLevel]:
    problems = [e for e in events if e.kind in (EventKind.PROBLEM, EventKind.REMINDER)]
    recovered = [e for e in events if e.kind is EventKind.RECOVERED]
    first = (problems or recovered or list(events))[0]
    more = len(events) - 1
    if problems:
        text = _("natprobe: {item} is {value}", item=item_label(first.item), value=first.item.value)
        level = MessageLevel.PROBLEM
    elif recovered:
        text = _("natprobe: {item} recovered", item=item_label(first.item))
        level = MessageLevel.RECOVERED
    else:
        text = _("natprobe: {item} changed", item=item_label(first.item))
        level = MessageLevel.INFO
    if more:
        text += " " + _("(and {count} more change(s))", count=more)
    return text, level


def watch_message(events: Sequence[WatchEvent], *, at: float, host: str | None = None) -> WatchMessage | None:
    """The one message for a run's events (``None`` when there are none)."""
    if not events:
        return None
    title, level = _headline(events)
    lines = [_("natprobe watch on {host}, {time}:", host=host, time=_time(at)) if host
             else _("natprobe watch, {time}:", time=_time(at))]
    for event in events:
        lines.append("")
        lines.append("• " + describe_event(event))
        causes = cause_sentences(event)
        if causes:
            lines.append("  " + _("Likely cause: {cause}", cause="; ".join(causes)))
        if event.kind in (EventKind.PROBLEM, EventKind.REMINDER):
            for advice in event.item.advice:
                lines.append("  → " + advice)
    return WatchMessage(title, "\n".join(lines), level)
