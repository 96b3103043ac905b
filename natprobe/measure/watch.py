"""``natprobe watch``: run the watched set of checks, remember the result, tell what changed.

One run (:func:`run_once`):

1. measure, one measurement after the other so the watch stays light on the network and on
   the echo server: the ports and the name (``check``, with the router asked for its
   external address unless told not to), the exposure scan (one per run: the server allows
   one per address every few minutes and says so with a 429, which leaves the exposure items
   as they were), the NAT type (RFC 5780 against the echo server's STUN port);
2. in one history transaction: read the state the previous run left (another watch may have
   written since), find the events (:func:`natprobe.verdicts.watch_changes.detect_changes`),
   store the run, its events, the new state and one message per target;
3. deliver every message not yet delivered (this run's and earlier failures), recording each
   result: a failure is retried on the next run, never fatal;
4. write the Prometheus textfile and refresh the ``/metrics`` listener.

:func:`watch_loop` repeats runs every ``every_s`` seconds with jitter (many watches started
by the same timer do not all hit the echo server in the same second).
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from natprobe.addressing import IpFamily
from natprobe.adapters.history_store import HistoryStore, target_digest
from natprobe.adapters.metrics_output import MetricsListener, write_textfile
from natprobe.adapters.notify import Target, deliver
from natprobe.adapters.resolve import url_host
from natprobe.contract.exposure_route import PortRef
from natprobe.errors import NatprobeError
from natprobe.findings.watch_findings import WatchMessage, cause_sentences, describe_event, watch_message
from natprobe.reports.watch_report import (
    HistoryChange,
    HistoryRun,
    items_from_check,
    items_from_dns,
    items_from_exposure,
    items_from_nat,
    items_from_router,
    render_metrics,
    watch_run_document,
)
from natprobe.verdicts.port_spec import PortSpec
from natprobe.verdicts.watch_changes import ItemState, WatchEvent, detect_changes

__all__ = ("DEFAULT_REPEAT_S", "RunOutcome", "WatchSet", "measure_set", "run_once", "watch_loop")

logger = logging.getLogger(__name__)

DEFAULT_REPEAT_S = 6 * 3600.0
JITTER_FRACTION = 0.1
STUN_PORT = 3478


@dataclass(frozen=True, slots=True)
class WatchSet:
    """What to watch (the ``[watch]`` table or the command line)."""

    server: str
    ports: tuple[PortSpec, ...] = ()
    name: str | None = None
    """The DNS name (also the HTTP Host / TLS SNI of the port checks)."""
    token: str | None = None
    exposure: bool = False
    expect: tuple[PortRef, ...] | None = None
    nat: bool = False
    router: bool = True
    families: tuple[IpFamily, ...] = (IpFamily.IPV4, IpFamily.IPV6)
    stun_server: str | None = None
    """For the NAT type: default the echo server's host, port 3478."""
    nameservers: tuple[str, ...] | None = None
    """For the local view of ``name`` (default: resolv.conf)."""

    def __post_init__(self) -> None:
        if not (self.ports or self.name or self.exposure or self.nat):
            raise ValueError("nothing to watch: name ports (--udp/--tcp), a --host, --exposure or --nat")


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run_id: int
    started: float
    items: tuple[ItemState, ...]
    events: tuple[WatchEvent, ...]
    message: WatchMessage | None
    errors: tuple[str, ...]
    deliveries: tuple[tuple[str, str | None], ...] = field(default=())
    """(target shown, error or ``None`` when delivered) for each delivery tried this run."""
    metrics: str = ""
    finished: float = 0.0
    changes: tuple[HistoryChange, ...] = ()
    """The events as the history stored them (with their text and causes)."""

    def to_dict(self) -> dict[str, Any]:
        """The ``natprobe/watch`` JSON document of this run."""
        run = HistoryRun(self.run_id, self.started, max(0.0, self.finished - self.started), self.items, self.errors)
        return watch_run_document(run, self.changes, self.deliveries,
                                  self.message.title if self.message is not None else None)


async def measure_set(watch: WatchSet) -> tuple[dict[str, Any], list[ItemState], set[str], list[str]]:
    """Run the set's measurements; (reports by name, items, measurements completed, errors)."""
    from natprobe.measure.check import CheckOptions, check_ports
    from natprobe.measure.mapped_check import check_ports_with_router

    reports: dict[str, Any] = {}
    items: list[ItemState] = []
    completed: set[str] = set()
    errors: list[str] = []
    if watch.ports:
        options = CheckOptions(token=watch.token, families=watch.families, name=watch.name,
                               nameservers=watch.nameservers)
        specs = [PortSpec(s.protocol, s.port, s.service, watch.name) for s in watch.ports]
        try:
            if watch.router:
                check, router = await check_ports_with_router(watch.server, specs, options)
                reports["router"] = router.to_dict()
                items += items_from_router(router)
                completed.add("router")
            else:
                check = await check_ports(watch.server, specs, options)
            if check.server_reached:
                reports["check"] = check.to_dict()
                items += items_from_check(check)
                completed.add("check")
            else:  # nothing measured: an error of this run, not a change
                errors.append("check: " + "; ".join(dict.fromkeys(port.reason for port in check.ports)))
        except (NatprobeError, OSError) as exc:
            errors.append(f"check: {exc}")
    elif watch.name:
        from natprobe.measure.name_check import NameCheckOptions, check_name

        try:
            dns = await check_name(watch.name, NameCheckOptions(server=watch.server, token=watch.token,
                                                                nameservers=watch.nameservers))
            reports["dns"] = dns.to_dict()
            items += items_from_dns(dns)
            completed.add("check")
        except (NatprobeError, OSError) as exc:
            errors.append(f"dns: {exc}")
    if watch.exposure:
        from natprobe.measure.exposure import ExposureOptions, scan_exposure

        try:
            exposure = await scan_exposure(watch.server, ExposureOptions(
                expect=watch.expect, host=watch.name, token=watch.token, families=watch.families))
            reports["exposure"] = exposure.to_dict()
            items += items_from_exposure(exposure)
            completed.add("exposure")
        except (NatprobeError, OSError, ValueError) as exc:
            errors.append(f"exposure: {exc}")
    if watch.nat:
        from natprobe.measure.discovery import discover_nat

        stun = watch.stun_server or f"{url_host(watch.server)}:{STUN_PORT}"
        try:
            nat = await discover_nat(stun)
            reports["nat"] = nat.to_dict()
            items += items_from_nat(nat)
            completed.add("nat")
        except (NatprobeError, OSError) as exc:
            errors.append(f"nat: {exc}")
    return reports, items, completed, errors


async def _deliver_pending(store: HistoryStore, targets: Sequence[Target],
                           clock: Callable[[], float]) -> list[tuple[str, str | None]]:
    by_digest = {target_digest(t.address): t for t in targets}
    results: list[tuple[str, str | None]] = []
    for pending in store.pending_deliveries():
        if not store.claim_delivery(pending):
            continue  # another watch is sending this one
        target = by_digest.get(pending.target_digest)
        if target is None:
            error: str | None = "this target is no longer in the watch's configuration"
            shown = "?"
        else:
            error = await deliver(target, pending.title, pending.body, pending.level)
            shown = target.shown
        if error is not None:
            logger.warning("message to %s not delivered (attempt %d): %s", shown, pending.attempts + 1, error)
        store.delivery_result(pending.delivery_id, clock(), error, give_up=target is None)
        results.append((shown, error))
    return results


async def run_once(
    watch: WatchSet,
    store: HistoryStore,
    targets: Sequence[Target] = (),
    *,
    repeat_s: float = DEFAULT_REPEAT_S,
    textfile: Path | None = None,
    listener: MetricsListener | None = None,
    clock: Callable[[], float] = time.time,
    host_label: str | None = None,
    measure: Callable[[WatchSet], Awaitable[tuple[dict[str, Any], list[ItemState], set[str], list[str]]]] = measure_set,
) -> RunOutcome:
    """One run (see the module docstring). Raises :class:`~natprobe.errors.HistoryError` when the
    history cannot be written; measurement and delivery failures are part of the outcome."""
    started = clock()
    reports, items, completed, errors = await measure(watch)
    finished = clock()
    label = host_label if host_label is not None else socket.gethostname()
    with store.write() as tx:
        state, events = detect_changes(tx.load_state(), items, completed_scopes=completed, now=finished,
                                       repeat_s=repeat_s)
        message = watch_message(events, at=finished, host=label)
        run_id = tx.add_run(started, finished, reports, items, errors)
        changes = tuple(HistoryChange(run_id, finished, event.kind, event.item,
                                      event.previous.value if event.previous is not None else None,
                                      cause_sentences(event), describe_event(event)) for event in events)
        for change in changes:
            tx.add_event(run_id, finished, change.kind, change.item, change.previous, change.causes, change.text)
        tx.save_state(state)
        if message is not None:
            for target in targets:
                tx.add_delivery(run_id, finished, target.address, target.shown, message.title, message.body,
                                message.level.value)
    store.apply_retention(finished)
    delivered = await _deliver_pending(store, targets, clock)
    pending = len(store.pending_deliveries())
    metrics = render_metrics(state, finished, pending)
    if textfile is not None:
        try:
            write_textfile(textfile, metrics)
        except OSError as exc:
            errors.append(f"textfile {textfile}: {exc.strerror or exc}")
    if listener is not None:
        listener.text = metrics
    return RunOutcome(run_id, started, tuple(items), events, message, tuple(errors), tuple(delivered), metrics,
                      finished, changes)


def next_delay(every_s: float, rng: random.Random) -> float:
    """``every_s`` give or take :data:`JITTER_FRACTION`."""
    return every_s * (1.0 + rng.uniform(-JITTER_FRACTION, JITTER_FRACTION))


async def watch_loop(
    run: Callable[[], Awaitable[RunOutcome]],
    every_s: float,
    *,
    max_runs: int | None = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_outcome: Callable[[RunOutcome], None] | None = None,
) -> int:
    """Run, then wait ``every_s`` with jitter, until ``max_runs`` (``None``: until cancelled);
    returns the number of runs."""
    if every_s <= 0:
        raise ValueError("every_s must be > 0")
    rng = rng or random.Random()
    count = 0
    while max_runs is None or count < max_runs:
        outcome = await run()
        count += 1
        if on_outcome is not None:
            on_outcome(outcome)
        if max_runs is not None and count >= max_runs:
            break
        await sleep(next_delay(every_s, rng))
    return count
