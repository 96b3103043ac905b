"""``natprobe watch`` and ``natprobe history``: the watched items of a run, the history's JSON
form (``natprobe/history``) and the Prometheus text ``--textfile`` and ``/metrics`` carry.

A run's reports (the same records ``--json`` prints) are turned into :class:`ItemState` s,
one per thing the owner cares about, with its health decided here from the verdicts and
findings natprobe already made: nothing is re-judged, only collected under a stable key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from natprobe.addressing import IpFamily
from natprobe.reports.check_report import CheckReport
from natprobe.reports.dns_report import DnsReport
from natprobe.reports.exposure_report import BAD_SEVERITIES, ExposureReport
from natprobe.reports.json_schema import STRING_OR_NULL, JsonSchema, enum_of, nullable, obj, report_schema
from natprobe.reports.nat_report import NatReport
from natprobe.reports.router_report import RouterReport
from natprobe.verdicts.reachability import PortStatus
from natprobe.verdicts.watch_changes import EventKind, Health, ItemKind, ItemState, WatchState

__all__ = (
    "HISTORY_SCHEMA",
    "HISTORY_SCHEMA_ID",
    "HISTORY_SCHEMA_VERSION",
    "WATCH_SCHEMA",
    "WATCH_SCHEMA_ID",
    "WATCH_SCHEMA_VERSION",
    "HistoryChange",
    "HistoryDelivery",
    "HistoryReport",
    "HistoryRun",
    "items_from_check",
    "items_from_dns",
    "items_from_exposure",
    "items_from_nat",
    "items_from_router",
    "render_metrics",
    "watch_run_document",
)

HISTORY_SCHEMA_ID = "natprobe/history"
HISTORY_SCHEMA_VERSION = 1

_UNDECIDED_PORT = {PortStatus.UNTESTED}


def items_from_check(report: CheckReport) -> list[ItemState]:
    """Ports per family, the public address per family tested, the name's records per family."""
    items: list[ItemState] = []
    for family in report.families:
        if family.tested and family.public_ip is not None:
            items.append(ItemState(f"public-address/{family.family.value}", ItemKind.PUBLIC_ADDRESS,
                                   family.family.value, family.family.value, str(family.public_ip), Health.INFO,
                                   "check"))
    for port in report.ports:
        subject = f"{port.protocol.value}/{port.port}"
        if port.reachable is True:
            health = Health.OK
        elif port.reachable is False and port.status not in _UNDECIDED_PORT:
            health = Health.PROBLEM
        else:
            health = Health.UNKNOWN
        items.append(ItemState(f"port/{subject}/{port.family.value}", ItemKind.PORT, subject, port.family.value,
                               port.status.value, health, "check", port.reason, tuple(port.advice)))
    if report.dns is not None:
        items += items_from_dns(report.dns, with_addresses=False)
    return items


def items_from_dns(report: DnsReport, *, with_addresses: bool = True, scope: str = "check") -> list[ItemState]:
    """The name's records per family (and, for a name watched without ports, the public
    addresses the echo server saw)."""
    items: list[ItemState] = []
    if with_addresses:
        for family, ip in report.public_ips.items():
            if ip is not None:
                items.append(ItemState(f"public-address/{family.value}", ItemKind.PUBLIC_ADDRESS, family.value,
                                       family.value, str(ip), Health.INFO, scope))
    for verdict in report.verdicts:
        health = Health.OK if verdict.ok else Health.PROBLEM if verdict.problem else Health.UNKNOWN
        items.append(ItemState(f"name/{report.name}/{verdict.family.value}", ItemKind.NAME, report.name,
                               verdict.family.value, verdict.verdict.value, health, scope, verdict.reason,
                               tuple(verdict.advice)))
    return items


_SEVERITY_RANK = {"ok": 0, "info": 1, "warning": 2, "problem": 3}
_WATCH_BAD = BAD_SEVERITIES | {"warning"}


def items_from_exposure(report: ExposureReport) -> list[ItemState]:
    """Each open or expected port per family; a ``warning`` or ``problem`` finding (an
    unexpected open service, a service that should not face the Internet, an expected port
    that is closed) makes it a problem: the watch exists to catch the forgotten test service
    that starts answering. Closed or filtered ports that nobody expects are no item at all."""
    items: list[ItemState] = []
    for exposed, findings in zip(report.ports, report.port_findings):
        scanned = exposed.scanned
        subject = f"{scanned.protocol.value}/{scanned.port}"
        worst = max(findings, key=lambda f: _SEVERITY_RANK.get(f.severity, 0), default=None)
        bad = [f for f in findings if f.severity in _WATCH_BAD]
        value = scanned.state.value + (f" ({scanned.service})" if scanned.service else "")
        # Every finding that makes it a problem speaks (an unexpected port that is also plain HTTP).
        shown = bad or ([worst] if worst is not None else [])
        reason = "; ".join(f"{f.title}: {f.detail}" if f.detail else f.title for f in shown)
        advice = tuple(dict.fromkeys(a for f in shown for a in f.advice))
        items.append(ItemState(f"exposure/{subject}/{exposed.family.value}", ItemKind.EXPOSURE, subject,
                               exposed.family.value, value, Health.PROBLEM if bad else Health.OK, "exposure",
                               reason, advice, ",".join(f.code for f in bad)))
    return items


def items_from_nat(report: NatReport) -> list[ItemState]:
    value = report.nat_type.value
    decided = value is not None and str(value) != "inconclusive"
    return [ItemState("nat-type", ItemKind.NAT_TYPE, "nat", None, str(value),
                      Health.INFO if decided else Health.UNKNOWN, "nat", report.nat_type.reason)]


def items_from_router(report: RouterReport) -> list[ItemState]:
    if report.external_address is None:
        return []  # a router that speaks none of UPnP/NAT-PMP/PCP: nothing to watch
    return [ItemState("router-address", ItemKind.ROUTER_ADDRESS, "router", IpFamily.IPV4.value,
                      str(report.external_address), Health.INFO, "router")]


# --- the history's JSON form --------------------------------------------------------------------


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _item_dict(item: ItemState) -> dict[str, Any]:
    return {"key": item.key, "kind": item.kind.value, "subject": item.subject, "family": item.family,
            "value": item.value, "health": item.health.value}


@dataclass(frozen=True, slots=True)
class HistoryRun:
    run_id: int
    started: float
    """Seconds since the epoch (UTC)."""
    duration_s: float
    items: tuple[ItemState, ...]
    errors: tuple[str, ...] = ()
    """Measurements that could not run (their items kept their previous state)."""
    reports: Mapping[str, Any] = field(default_factory=dict)
    """The run's reports as ``--json`` prints them, by measurement (``check``, ``exposure``...)."""

    @property
    def public_ips(self) -> dict[str, str | None]:
        found: dict[str, str | None] = {"ipv4": None, "ipv6": None}
        for item in self.items:
            if item.kind is ItemKind.PUBLIC_ADDRESS and item.family in found:
                found[item.family] = item.value
        return found

    def to_dict(self, *, with_reports: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.run_id,
            "started": _iso(self.started),
            "duration_ms": round(self.duration_s * 1000),
            "public_ips": self.public_ips,
            "errors": list(self.errors),
            "items": [_item_dict(i) for i in self.items],
        }
        if with_reports:
            data["reports"] = dict(self.reports)
        return data


@dataclass(frozen=True, slots=True)
class HistoryChange:
    """One event as the run that found it stored it, with its message text."""

    run_id: int
    at: float
    kind: EventKind
    item: ItemState
    previous: str | None
    """The item's previous value (``None``: first seen)."""
    causes: tuple[str, ...]
    """The likely causes, as sentences (natprobe's findings, in the run's language)."""
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run_id, "at": _iso(self.at), "event": self.kind.value, "key": self.item.key,
                "kind": self.item.kind.value, "subject": self.item.subject, "family": self.item.family,
                "value": self.item.value, "previous": self.previous, "causes": list(self.causes),
                "text": self.text}


@dataclass(frozen=True, slots=True)
class HistoryDelivery:
    """One message to one target: sent, or failed and waiting for a retry."""

    run_id: int
    created: float
    target: str
    """The target with its secrets masked (Apprise's privacy form), or ``exec``."""
    delivered: bool
    attempts: int
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run_id, "created": _iso(self.created), "target": self.target,
                "delivered": self.delivered, "attempts": self.attempts, "error": self.error}


@dataclass(frozen=True, slots=True)
class HistoryReport:
    database: str
    since: float | None
    runs: tuple[HistoryRun, ...]
    changes: tuple[HistoryChange, ...]
    deliveries: tuple[HistoryDelivery, ...]
    with_reports: bool = False

    def rows(self) -> list[tuple[str, ItemState]]:
        """One timeline row per item ever watched in these runs: (key, its latest state), in
        first-seen order."""
        latest: dict[str, ItemState] = {}
        for run in self.runs:
            for item in run.items:
                latest[item.key] = item
        return list(latest.items())

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": HISTORY_SCHEMA_ID,
            "schema_version": HISTORY_SCHEMA_VERSION,
            "database": self.database,
            "since": None if self.since is None else _iso(self.since),
            "runs": [r.to_dict(with_reports=self.with_reports) for r in self.runs],
            "changes": [c.to_dict() for c in self.changes],
            "deliveries": [d.to_dict() for d in self.deliveries],
        }


_FAMILY_OR_NULL: JsonSchema = {"type": ["string", "null"], "enum": ["ipv4", "ipv6", None]}
_ITEM: JsonSchema = obj({
    "key": {"type": "string"},
    "kind": enum_of(ItemKind),
    "subject": {"type": "string"},
    "family": _FAMILY_OR_NULL,
    "value": {"type": "string"},
    "health": enum_of(Health),
})
_TIME: JsonSchema = {"type": "string", "format": "date-time"}

_RUN: JsonSchema = obj({
    "id": {"type": "integer"},
    "started": _TIME,
    "duration_ms": {"type": "integer", "minimum": 0},
    "public_ips": obj({"ipv4": STRING_OR_NULL, "ipv6": STRING_OR_NULL}),
    "errors": {"type": "array", "items": {"type": "string"}},
    "items": {"type": "array", "items": _ITEM},
    "reports": {"type": "object", "additionalProperties": {"type": "object"}},
}, optional=("reports",))
_CHANGE: JsonSchema = obj({
    "run": {"type": "integer"},
    "at": _TIME,
    "event": enum_of(EventKind),
    "key": {"type": "string"},
    "kind": enum_of(ItemKind),
    "subject": {"type": "string"},
    "family": _FAMILY_OR_NULL,
    "value": {"type": "string"},
    "previous": STRING_OR_NULL,
    "causes": {"type": "array", "items": {"type": "string"}},
    "text": {"type": "string"},
})
_DELIVERY: JsonSchema = obj({
    "run": {"type": "integer"},
    "created": _TIME,
    "target": {"type": "string"},
    "delivered": {"type": "boolean"},
    "attempts": {"type": "integer", "minimum": 0},
    "error": STRING_OR_NULL,
})

HISTORY_SCHEMA: JsonSchema = report_schema(
    HISTORY_SCHEMA_ID,
    HISTORY_SCHEMA_VERSION,
    "natprobe history: the watch's runs, what changed and the messages sent",
    {
        "database": {"type": "string"},
        "since": nullable(_TIME),
        "runs": {"type": "array", "items": _RUN},
        "changes": {"type": "array", "items": _CHANGE},
        "deliveries": {"type": "array", "items": _DELIVERY},
    },
)

WATCH_SCHEMA_ID = "natprobe/watch"
WATCH_SCHEMA_VERSION = 1


def watch_run_document(run: HistoryRun, changes: Sequence[HistoryChange],
                       deliveries: Sequence[tuple[str, str | None]], message_title: str | None) -> dict[str, Any]:
    """One ``natprobe watch --json`` line: the run as the history stores it, its changes, and
    what each delivery tried this run did."""
    return {
        "schema": WATCH_SCHEMA_ID,
        "schema_version": WATCH_SCHEMA_VERSION,
        "run": run.to_dict(with_reports=False),
        "changes": [c.to_dict() for c in changes],
        "message": message_title,
        "deliveries": [{"target": target, "delivered": error is None, "error": error} for target, error in deliveries],
    }


WATCH_SCHEMA: JsonSchema = report_schema(
    WATCH_SCHEMA_ID,
    WATCH_SCHEMA_VERSION,
    "natprobe watch: one run, what changed, the message and its deliveries",
    {
        "run": _RUN,
        "changes": {"type": "array", "items": _CHANGE},
        "message": STRING_OR_NULL,
        "deliveries": {"type": "array", "items": obj({
            "target": {"type": "string"}, "delivered": {"type": "boolean"}, "error": STRING_OR_NULL})},
    },
)


# --- Prometheus text format (node_exporter's textfile collector reads the same) ------------------


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(item: ItemState) -> str:
    pairs = (("key", item.key), ("kind", item.kind.value), ("subject", item.subject),
             ("family", item.family or ""), ("value", item.value))
    return "{" + ",".join(f'{name}="{_label(value)}"' for name, value in pairs) + "}"


_STATUS = {Health.OK: 1, Health.INFO: 1, Health.PROBLEM: 0, Health.UNKNOWN: -1}


def render_metrics(state: WatchState, last_run: float, pending_deliveries: int = 0,
                   items: Iterable[ItemState] | None = None) -> str:
    """The exposition text: one status gauge and one last-change time per item, and the run's time.

    ``natprobe_watch_item_status`` is 1 when the item is fine (or a plain fact), 0 for a
    problem, -1 when it could not be decided; its ``value`` label carries the verdict.
    """
    shown: Sequence[ItemState] = sorted(items if items is not None else state.items.values(), key=lambda i: i.key)
    lines = [
        "# HELP natprobe_watch_item_status 1 when a watched item is fine, 0 when it is a problem, -1 undecided.",
        "# TYPE natprobe_watch_item_status gauge",
        *(f"natprobe_watch_item_status{_labels(i)} {_STATUS[i.health]}" for i in shown),
        "# HELP natprobe_watch_item_last_change_timestamp_seconds When the item last took its current value.",
        "# TYPE natprobe_watch_item_last_change_timestamp_seconds gauge",
        *(f'natprobe_watch_item_last_change_timestamp_seconds{{key="{_label(i.key)}"}} '
          f"{state.changed_at.get(i.key, last_run):.3f}" for i in shown),
        "# HELP natprobe_watch_problems Watched items that are a problem now.",
        "# TYPE natprobe_watch_problems gauge",
        f"natprobe_watch_problems {sum(1 for i in shown if i.health is Health.PROBLEM)}",
        "# HELP natprobe_watch_last_run_timestamp_seconds When the last watch run ended.",
        "# TYPE natprobe_watch_last_run_timestamp_seconds gauge",
        f"natprobe_watch_last_run_timestamp_seconds {last_run:.3f}",
        "# HELP natprobe_watch_pending_deliveries Messages not delivered yet (to be retried).",
        "# TYPE natprobe_watch_pending_deliveries gauge",
        f"natprobe_watch_pending_deliveries {pending_deliveries}",
    ]
    return "\n".join(lines) + "\n"
