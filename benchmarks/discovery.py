"""NAT discovery benchmark: natprobe vs turnutils_natdiscovery vs pystun3 on a real kernel NAT.

::

    python -m benchmarks.discovery [--runs N] [--loss-runs N] [--target-runs N]
        [--behaviors full-cone,...] [--conditions clean,delay25,loss10,slowfirst]
        [--tools natprobe,natdiscovery,pystun3] [--json FILE] [--quick] [--seed S] [-v]

For every condition and behaviour it builds ONE lab (:class:`natprobe.lab.Lab`), starts
natprobe's echo server (STUN on 3478/3479, for natprobe and pystun3) and coturn (STUN on
3490/3491, for turnutils_natdiscovery) on the server's two addresses, and runs each tool as a
**subprocess in the client namespace**, so all three are timed the same way: the wall time of
the whole run, interpreter start-up included. natprobe's own ``duration_ms`` (the protocol
time, measured inside the process) is kept as a second figure.

Between any two tool runs the router's NAT state is flushed (conntrack and the dynamic
maps), so a mapping left by one run can never help the next (pystun3's fixed source port is
the classic victim: facts/linux-nat-lab.md). Every tool is wrapped in ``timeout``; every lab
is a context manager that kills what it started and removes its namespaces.

A run is *right* when the tool's classic (RFC 3489) NAT type equals the lab's behaviour
(``no-nat`` ↔ ``open-internet``, ``udp-blocked`` ↔ ``udp-blocked``). The parsers of the
three tools' outputs are plain functions (:func:`parse_natprobe`, :func:`parse_natdiscovery`,
:func:`parse_pystun3`), so what counts as which verdict is written down in one place.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import logging
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from natprobe.verdicts.behavior import ClassicNatType, FilteringBehavior, MappingBehavior
from natprobe.errors import LabError
from natprobe.lab import Behavior, Lab, LabConfig, require_lab
from natprobe.lab.netns import Host
from natprobe.lab.services import start_coturn, start_echo_server

__all__ = (
    "CONDITIONS",
    "BEHAVIORS",
    "CellStats",
    "Condition",
    "Outcome",
    "Plan",
    "Run",
    "Target",
    "Tool",
    "expected_type",
    "main",
    "parse_natdiscovery",
    "parse_natprobe",
    "parse_pystun3",
    "render",
    "summarize",
    "targets",
)

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]

ECHO_PORT = 3478
"""natprobe's echo server: STUN on 3478 and 3479, its UDP echo service on 3480."""
COTURN_PORT = 3490
"""coturn's STUN port (alternate 3491). Not 3480: coturn binds a port the echo server's UDP
echo already holds without complaint, and the echo service then answers natdiscovery's
requests with copies of themselves ("Received a request (maybe a successful hairpinning)")."""

#: Upper bounds per tool invocation; the slowest normal runs are pystun3 at 10 % loss
#: (up to 4 tests x 4 sends x 2 s = 32 s) and natdiscovery's two invocations (9-12 s).
TIME_LIMIT_S = {"natprobe": 30.0, "natdiscovery": 40.0, "pystun3": 60.0}
_KILL_AFTER_S = 2.0
_TIMEOUT_EXIT = (124, 137)  # coreutils timeout: TERM sent / KILL sent

_PYSTUN3_PORTS = (49152, 65535)
"""RFC 5780 section 4.1's dynamic range for pystun3's source port, fresh every run."""


class Tool(StrEnum):
    """The three contestants."""

    NATPROBE = "natprobe"
    NATDISCOVERY = "natdiscovery"
    PYSTUN3 = "pystun3"

    @property
    def label(self) -> str:
        return _TOOL_LABELS[self]


_TOOL_LABELS = {
    Tool.NATPROBE: "natprobe nat --json",
    Tool.NATDISCOVERY: "natdiscovery -m -f; -H",
    Tool.PYSTUN3: "pystun3",
}

BEHAVIORS: tuple[Behavior, ...] = (
    Behavior.FULL_CONE,
    Behavior.RESTRICTED_CONE,
    Behavior.PORT_RESTRICTED_CONE,
    Behavior.SYMMETRIC,
    Behavior.NO_NAT,
    Behavior.UDP_BLOCKED,
)


@dataclass(frozen=True, slots=True)
class Condition:
    """A network impairment on the home router's WAN link, both directions."""

    name: str
    description: str
    delay_ms: float = 0.0
    loss_percent: float = 0.0
    first_packet_delay_ms: float = 0.0
    """Extra delay for the first packet of each flow (a NAT creating its mapping)."""


CONDITIONS: dict[str, Condition] = {
    c.name: c
    for c in (
        Condition("clean", "no impairment"),
        Condition("delay25", "25 ms delay each way (50 ms RTT)", delay_ms=25.0),
        Condition("loss10", "10 % random loss each way", loss_percent=10.0),
        Condition("slowfirst", "50 ms RTT; the first packet of each flow one RTT later",
                  delay_ms=25.0, first_packet_delay_ms=50.0),
    )
}


def expected_type(behavior: Behavior) -> ClassicNatType:
    """The classic NAT type a correct tool reports for a lab behaviour."""
    if behavior is Behavior.NO_NAT:
        return ClassicNatType.OPEN_INTERNET
    return ClassicNatType(behavior.value)


# ---------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one tool run said, read from its output."""

    nat_type: ClassicNatType
    mapping: str | None = None
    filtering: str | None = None
    hairpinning: bool | None = None
    protocol_s: float | None = None
    """natprobe only: the report's own ``duration_ms``, in seconds."""
    loss: float | None = None
    """natprobe only: the report's ``round_trip_loss``."""
    detail: str = ""
    """The tool's own words for the verdict, or why none could be read."""


def parse_natprobe(stdout: str) -> Outcome:
    """``natprobe nat --json`` output (schema natprobe/nat v2) → its verdicts and in-process duration."""
    try:
        data = json.loads(stdout)
        nat_type = ClassicNatType(data["nat_type"]["value"])
    except (ValueError, KeyError, TypeError) as exc:
        return Outcome(ClassicNatType.INCONCLUSIVE, detail=f"no readable JSON report ({exc.__class__.__name__})")
    duration = data.get("duration_ms")

    def value(key: str) -> object:
        verdict = data.get(key)
        return verdict.get("value") if isinstance(verdict, dict) else None

    hairpin = value("hairpinning")
    loss = data.get("round_trip_loss")
    return Outcome(
        nat_type,
        mapping=str(value("mapping")),
        filtering=str(value("filtering")),
        hairpinning=hairpin if isinstance(hairpin, bool) else None,
        protocol_s=float(duration) / 1000.0 if isinstance(duration, (int, float)) else None,
        loss=float(loss) if isinstance(loss, (int, float)) else None,
        detail=nat_type.value,
    )


_ND_SECTION = re.compile(r"^-= (Mapping|Filtering|Hairpinning) Behavior Discovery =-[ \t]*$", re.MULTILINE)
_ND_VERDICT = re.compile(r"NAT with (Endpoint Independent|Address Dependent|Address and Port Dependent) (Mapping|Filtering)!")
_ND_KINDS = {
    "Endpoint Independent": "endpoint-independent",
    "Address Dependent": "address-dependent",
    "Address and Port Dependent": "address-and-port-dependent",
}
_ND_ANSWER_MARKERS = ("RFC 5780 response", "UDP reflexive addr")


def _natdiscovery_sections(text: str) -> dict[str, str]:
    """Split natdiscovery's output into its "-= X Behavior Discovery =-" sections."""
    parts = _ND_SECTION.split(text)
    sections: dict[str, str] = {}
    for i in range(1, len(parts) - 1, 2):
        name = parts[i].lower()
        sections[name] = sections.get(name, "") + parts[i + 1]
    return sections


def _natdiscovery_verdict(section: str | None, kind: str) -> str | None:
    if section is None:
        return None
    if kind == "Mapping" and "No NAT!" in section:
        return MappingBehavior.NO_NAT.value
    for match in _ND_VERDICT.finditer(section):
        if match.group(2) == kind:
            return _ND_KINDS[match.group(1)]
    return None


def parse_natdiscovery(stdout: str) -> Outcome:
    """turnutils_natdiscovery's text (``-m -f`` and ``-H``, concatenated) → a classic type.

    RFC 4787 names map to RFC 3489 ones as usual: EIM+EIF full cone, EIM+ADF restricted
    cone, EIM+APDF port-restricted cone, ADM or APDM symmetric; "No NAT!" with EIF is the
    open Internet. The tool prints no verdict at all when its first request goes unanswered;
    that is read as "UDP blocked" only when no request was ever answered (the tool cannot
    tell a blocked path from a dead server, or from one lost datagram).
    """
    sections = _natdiscovery_sections(stdout)
    mapping = _natdiscovery_verdict(sections.get("mapping"), "Mapping")
    filtering = _natdiscovery_verdict(sections.get("filtering"), "Filtering")
    hairpin_text = sections.get("hairpinning")
    hairpinning: bool | None = None
    if hairpin_text is not None:
        if "Received a request" in hairpin_text:
            hairpinning = True  # its own request came back through the NAT
        elif any(m in hairpin_text for m in _ND_ANSWER_MARKERS) and "STUN receive timeout" in hairpin_text:
            hairpinning = False
    answered = any(m in stdout for m in _ND_ANSWER_MARKERS)
    ei, ad, apd = (k.value for k in (FilteringBehavior.ENDPOINT_INDEPENDENT, FilteringBehavior.ADDRESS_DEPENDENT,
                                      FilteringBehavior.ADDRESS_AND_PORT_DEPENDENT))
    nat_type: ClassicNatType
    if mapping is None and filtering is None:
        blocked = not answered and "STUN receive timeout" in stdout
        nat_type = ClassicNatType.UDP_BLOCKED if blocked else ClassicNatType.INCONCLUSIVE
    elif mapping == MappingBehavior.NO_NAT.value:
        nat_type = {ei: ClassicNatType.OPEN_INTERNET, ad: ClassicNatType.SYMMETRIC_UDP_FIREWALL,
                    apd: ClassicNatType.SYMMETRIC_UDP_FIREWALL}.get(filtering or "", ClassicNatType.INCONCLUSIVE)
    elif mapping in (MappingBehavior.ADDRESS_DEPENDENT.value, MappingBehavior.ADDRESS_AND_PORT_DEPENDENT.value):
        nat_type = ClassicNatType.SYMMETRIC
    elif mapping == MappingBehavior.ENDPOINT_INDEPENDENT.value:
        nat_type = {ei: ClassicNatType.FULL_CONE, ad: ClassicNatType.RESTRICTED_CONE,
                    apd: ClassicNatType.PORT_RESTRICTED_CONE}.get(filtering or "", ClassicNatType.INCONCLUSIVE)
    else:
        nat_type = ClassicNatType.INCONCLUSIVE
    detail = f"mapping={mapping or '-'} filtering={filtering or '-'}"
    return Outcome(nat_type, mapping=mapping, filtering=filtering, hairpinning=hairpinning, detail=detail)


_PYSTUN3_TYPES = {
    "Open Internet": ClassicNatType.OPEN_INTERNET,
    "Full Cone": ClassicNatType.FULL_CONE,
    # pystun3 2.0.0 spells these "Restric NAT" / "Restric Port NAT"; older releases did not.
    "Restric NAT": ClassicNatType.RESTRICTED_CONE,
    "Restricted NAT": ClassicNatType.RESTRICTED_CONE,
    "Restric Port NAT": ClassicNatType.PORT_RESTRICTED_CONE,
    "Restricted Port NAT": ClassicNatType.PORT_RESTRICTED_CONE,
    "Symmetric NAT": ClassicNatType.SYMMETRIC,
    "Symmetric UDP Firewall": ClassicNatType.SYMMETRIC_UDP_FIREWALL,
    "Blocked": ClassicNatType.UDP_BLOCKED,
}
_PYSTUN3_LINE = re.compile(r"^NAT Type:\s*(.+?)\s*$", re.MULTILINE)


def parse_pystun3(stdout: str) -> Outcome:
    """pystun3's "NAT Type: ..." line → natprobe's classic type (anything else: inconclusive)."""
    match = _PYSTUN3_LINE.search(stdout)
    if match is None:
        return Outcome(ClassicNatType.INCONCLUSIVE, detail="no 'NAT Type:' line")
    name = match.group(1)
    return Outcome(_PYSTUN3_TYPES.get(name, ClassicNatType.INCONCLUSIVE), detail=name)


# ---------------------------------------------------------------------------- running


@dataclass(frozen=True, slots=True)
class Run:
    """One timed tool run in one lab."""

    tool: str
    behavior: str
    condition: str
    index: int
    expected: str
    verdict: str
    correct: bool
    wall_s: float
    """Wall time of the whole tool run (all invocations), interpreter start-up included."""
    protocol_s: float | None
    mapping: str | None
    filtering: str | None
    hairpinning: bool | None
    exit_codes: tuple[int, ...]
    timed_out: bool
    detail: str
    loss: float | None = None
    """natprobe only: the round-trip loss its report gives."""


@dataclass(frozen=True, slots=True)
class _Invocation:
    stdout: str
    stderr: str
    exit_code: int
    wall_s: float
    timed_out: bool


def _invoke(host: Host, argv: Sequence[str], limit_s: float, cwd: Path | None = None) -> _Invocation:
    """Run ``argv`` in ``host`` under ``timeout`` and measure its wall time."""
    cmd = ["timeout", "-k", f"{_KILL_AFTER_S:g}", f"{limit_s:g}", *argv]
    start = time.perf_counter()
    try:
        done = host.exec(cmd, check=False, timeout=limit_s + _KILL_AFTER_S + 10.0, cwd=cwd)
    except LabError as exc:  # the outer bound: only if `timeout` itself hung
        return _Invocation("", str(exc), -1, time.perf_counter() - start, True)
    wall = time.perf_counter() - start
    return _Invocation(done.stdout or "", done.stderr or "", done.returncode, wall,
                       done.returncode in _TIMEOUT_EXIT)


@dataclass
class _Cell:
    """One lab (behaviour x condition) and what the tools need to reach its servers."""

    lab: Lab
    behavior: Behavior
    condition: Condition
    rng: random.Random
    pystun3: str
    used_ports: set[int] = field(default_factory=set)

    @property
    def server_ip(self) -> str:
        return str(self.lab.server.primary_ip)

    @property
    def client_ip(self) -> str:
        return str(self.lab.client.ip)

    def fresh_port(self) -> int:
        """A source port this benchmark has not used yet (bounded: the range is 16 k ports)."""
        for _ in range(1000):
            port = self.rng.randint(*_PYSTUN3_PORTS)
            if port not in self.used_ports:
                self.used_ports.add(port)
                return port
        raise RuntimeError("no unused source port left for pystun3")


def _run_natprobe(cell: _Cell) -> tuple[Outcome, list[_Invocation]]:
    argv = [sys.executable, "-m", "natprobe_cli", "nat", "--server", f"{cell.server_ip}:{ECHO_PORT}", "--json"]
    inv = _invoke(cell.lab.client, argv, TIME_LIMIT_S["natprobe"], cwd=REPO_ROOT)
    return parse_natprobe(inv.stdout), [inv]


def _run_natdiscovery(cell: _Cell) -> tuple[Outcome, list[_Invocation]]:
    # Two invocations, times summed: the tool always runs its hairpin test first, and when that
    # test's first request is unanswered it exits (err(3): sendto a zero address) before the
    # mapping and filtering tests ever start. -L gives it the client's own address, without
    # which it can never print "No NAT!".
    base = ["turnutils_natdiscovery", "-p", str(COTURN_PORT), "-L", cell.client_ip]
    limit = TIME_LIMIT_S["natdiscovery"]
    first = _invoke(cell.lab.client, [*base[:1], "-m", "-f", *base[1:], cell.server_ip], limit)
    second = _invoke(cell.lab.client, [*base[:1], "-H", *base[1:], cell.server_ip], limit)
    return parse_natdiscovery(first.stdout + "\n" + second.stdout), [first, second]


def _run_pystun3(cell: _Cell) -> tuple[Outcome, list[_Invocation]]:
    # -i: its bind address (else an un-NATed host is "Full Cone"); -p: a fresh source port
    # (its default 54320 would reuse old conntrack state). timeout: it spins on a 420.
    argv = [cell.pystun3, "-H", cell.server_ip, "-P", str(ECHO_PORT), "-i", cell.client_ip,
            "-p", str(cell.fresh_port())]
    inv = _invoke(cell.lab.client, argv, TIME_LIMIT_S["pystun3"])
    return parse_pystun3(inv.stdout), [inv]


_RUNNERS: dict[Tool, Callable[[_Cell], tuple[Outcome, list[_Invocation]]]] = {
    Tool.NATPROBE: _run_natprobe,
    Tool.NATDISCOVERY: _run_natdiscovery,
    Tool.PYSTUN3: _run_pystun3,
}


def _timed_run(cell: _Cell, tool: Tool, index: int) -> Run:
    cell.lab.flush_nat_state()  # no run may profit from a mapping an earlier run left
    outcome, invocations = _RUNNERS[tool](cell)
    expected = expected_type(cell.behavior)
    timed_out = any(i.timed_out for i in invocations)
    detail = outcome.detail
    if timed_out:
        detail += " [timed out]"
    elif outcome.nat_type is ClassicNatType.INCONCLUSIVE:
        tail = " | ".join(i.stderr.strip().splitlines()[-1] for i in invocations if i.stderr.strip())
        if tail:
            detail += f" [{tail[:200]}]"
    return Run(
        tool=tool.value,
        behavior=cell.behavior.value,
        condition=cell.condition.name,
        index=index,
        expected=expected.value,
        verdict=outcome.nat_type.value,
        correct=outcome.nat_type is expected,
        wall_s=round(sum(i.wall_s for i in invocations), 4),
        protocol_s=None if outcome.protocol_s is None else round(outcome.protocol_s, 4),
        mapping=outcome.mapping,
        filtering=outcome.filtering,
        hairpinning=outcome.hairpinning,
        exit_codes=tuple(i.exit_code for i in invocations),
        timed_out=timed_out,
        detail=detail,
        loss=outcome.loss,
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """What to run: which cells, which tools, how many runs of each."""

    behaviors: tuple[Behavior, ...]
    conditions: tuple[Condition, ...]
    tools: tuple[Tool, ...]
    runs: int
    """Runs per tool per cell without loss."""
    loss_runs: int
    """Runs per tool per cell with loss."""
    target_runs: int
    """natprobe's runs on a port-restricted NAT with loss (the 99-of-100 target)."""

    def runs_for(self, tool: Tool, behavior: Behavior, condition: Condition) -> int:
        if condition.loss_percent <= 0:
            return self.runs
        if tool is Tool.NATPROBE and behavior is Behavior.PORT_RESTRICTED_CONE:
            return max(self.loss_runs, self.target_runs)
        return self.loss_runs

    def total_runs(self) -> int:
        return sum(self.runs_for(t, b, c) for c in self.conditions for b in self.behaviors for t in self.tools)


def _cli_startup(host: Host) -> float | None:
    """Wall time of ``python -m natprobe_cli nat --help`` in ``host``: the CLI's fixed start-up cost, no network."""
    inv = _invoke(host, [sys.executable, "-m", "natprobe_cli", "nat", "--help"], TIME_LIMIT_S["natprobe"], cwd=REPO_ROOT)
    return None if inv.exit_code != 0 else round(inv.wall_s, 4)


def _run_cell(plan: Plan, behavior: Behavior, condition: Condition, rng: random.Random, pystun3: str,
              used_ports: set[int], on_run: Callable[[Run], None], startups: list[float]) -> list[Run]:
    config = LabConfig(behavior=behavior, delay_ms=condition.delay_ms, loss_percent=condition.loss_percent,
                       first_packet_delay_ms=condition.first_packet_delay_ms)
    runs: list[Run] = []
    with Lab(config) as lab:
        server = lab.server
        if Tool.NATPROBE in plan.tools or Tool.PYSTUN3 in plan.tools:
            start_echo_server(server, server.primary_ip, server.alternate_ip, port=ECHO_PORT)
        if Tool.NATDISCOVERY in plan.tools:
            # RFC 5780 needs coturn on two addresses (alternate port = port + 1).
            start_coturn(server, server.primary_ip, server.alternate_ip, port=COTURN_PORT)
        cell = _Cell(lab, behavior, condition, rng, pystun3, used_ports)
        if Tool.NATPROBE in plan.tools:
            # One sample per cell, so start-up is measured under the same machine load as the runs.
            startup = _cli_startup(lab.client)
            if startup is not None:
                startups.append(startup)
        counts = {tool: plan.runs_for(tool, behavior, condition) for tool in plan.tools}
        # Interleaved (run i of every tool, then run i+1), so slow drift of a shared machine
        # touches all tools alike.
        for index in range(max(counts.values(), default=0)):
            for tool in plan.tools:
                if index < counts[tool]:
                    run = _timed_run(cell, tool, index)
                    runs.append(run)
                    on_run(run)
    return runs


# ---------------------------------------------------------------------------- statistics


@dataclass(frozen=True, slots=True)
class CellStats:
    """One tool on one behaviour under one condition."""

    tool: str
    behavior: str
    condition: str
    runs: int
    correct: int
    median_wall_s: float
    median_protocol_s: float | None
    max_wall_s: float
    verdicts: dict[str, int]
    max_loss: float | None = None
    """natprobe only: the largest round-trip loss a report of this cell gave."""


def summarize(runs: Iterable[Run]) -> list[CellStats]:
    """Group runs by (condition, behaviour, tool), in first-seen order; medians over all runs."""
    groups: dict[tuple[str, str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.condition, run.behavior, run.tool), []).append(run)
    stats = []
    for (condition, behavior, tool), group in groups.items():
        protocol = [r.protocol_s for r in group if r.protocol_s is not None]
        stats.append(CellStats(
            tool=tool,
            behavior=behavior,
            condition=condition,
            runs=len(group),
            correct=sum(r.correct for r in group),
            median_wall_s=statistics.median(r.wall_s for r in group),
            median_protocol_s=statistics.median(protocol) if protocol else None,
            max_wall_s=max(r.wall_s for r in group),
            verdicts=dict(Counter(r.verdict for r in group).most_common()),
            max_loss=max((r.loss for r in group if r.loss is not None), default=None),
        ))
    return stats


@dataclass(frozen=True, slots=True)
class Target:
    """One of the issue's targets, with what this run measured."""

    name: str
    measured: str
    met: bool | None
    """None: not enough data in this run (cell not run)."""


def _find(stats: Sequence[CellStats], tool: Tool, behavior: Behavior, condition: str) -> CellStats | None:
    for s in stats:
        if (s.tool, s.behavior, s.condition) == (tool.value, behavior.value, condition):
            return s
    return None


def _ratio_target(stats: Sequence[CellStats], other: Tool, factor: float, condition: str) -> Target:
    name = f"port-restricted, {condition}: natprobe >= {factor:g}x faster than {other.value}"
    mine = _find(stats, Tool.NATPROBE, Behavior.PORT_RESTRICTED_CONE, condition)
    theirs = _find(stats, other, Behavior.PORT_RESTRICTED_CONE, condition)
    if mine is None or theirs is None:
        return Target(name, "not run", None)
    wall = theirs.median_wall_s / mine.median_wall_s
    text = (f"{other.value} {theirs.median_wall_s:.2f} s / natprobe {mine.median_wall_s:.2f} s = "
            f"{wall:.1f}x (whole runs)")
    if mine.median_protocol_s:
        proto = theirs.median_wall_s / mine.median_protocol_s
        text += f"; vs natprobe's in-process {mine.median_protocol_s:.2f} s = {proto:.1f}x"
    return Target(name, text, wall >= factor)


def targets(stats: Sequence[CellStats]) -> list[Target]:
    """The issue's targets, judged from medians (a shared, noisy machine: no single runs)."""
    out: list[Target] = []
    name = "natprobe full report < 1 s at 50 ms RTT (delay25), every behaviour"
    cells = [s for s in stats if s.tool == Tool.NATPROBE.value and s.condition == "delay25"]
    if cells:
        slow_proto = max(cells, key=lambda s: s.median_protocol_s or 0.0)
        slow_wall = max(cells, key=lambda s: s.median_wall_s)
        proto = slow_proto.median_protocol_s
        text = (f"slowest median in-process {proto:.2f} s ({slow_proto.behavior})" if proto is not None
                else "no in-process duration")
        text += f"; whole CLI run {slow_wall.median_wall_s:.2f} s ({slow_wall.behavior})"
        open_cells = [s for s in cells if s.behavior != Behavior.UDP_BLOCKED.value and s.median_protocol_s is not None]
        if open_cells and len(open_cells) < len(cells):
            slow_open = max(open_cells, key=lambda s: s.median_protocol_s or 0.0)
            text += f"; with UDP open: {slow_open.median_protocol_s or 0.0:.2f} s in-process ({slow_open.behavior})"
        wrong = [s.behavior for s in cells if s.correct < s.runs]
        if wrong:
            text += f"; not always right on {', '.join(wrong)}"
        out.append(Target(name, text, proto is not None and proto < 1.0 and not wrong))
    else:
        out.append(Target(name, "not run", None))
    name = "slow first packet (one extra RTT at 50 ms RTT): natprobe full report < 1 s, no loss reported"
    cells = [s for s in stats if s.tool == Tool.NATPROBE.value and s.condition == "slowfirst"
             and s.behavior != Behavior.UDP_BLOCKED.value]
    if cells:
        slow = max(cells, key=lambda s: s.median_protocol_s or 0.0)
        lossy = [s.behavior for s in cells if s.max_loss]
        proto = slow.median_protocol_s
        text = (f"slowest median in-process {proto:.2f} s ({slow.behavior})" if proto is not None
                else "no in-process duration")
        text += f"; loss reported on {', '.join(lossy)}" if lossy else "; no loss reported"
        wrong = [s.behavior for s in cells if s.correct < s.runs]
        if wrong:
            text += f"; not always right on {', '.join(wrong)}"
        out.append(Target(name, text, proto is not None and proto < 1.0 and not lossy and not wrong))
    else:
        out.append(Target(name, "not run", None))
    for condition in ("delay25", "clean"):
        out.append(_ratio_target(stats, Tool.NATDISCOVERY, 6.0, condition))
        out.append(_ratio_target(stats, Tool.PYSTUN3, 15.0, condition))
    name = "natprobe right in >= 99 of 100 runs at 10 % loss (port-restricted)"
    cell = _find(stats, Tool.NATPROBE, Behavior.PORT_RESTRICTED_CONE, "loss10")
    if cell is None:
        out.append(Target(name, "not run", None))
    else:
        text = f"{cell.correct}/{cell.runs} right"
        met = cell.correct * 100 >= 99 * cell.runs if cell.runs >= 100 else None
        if cell.runs < 100:
            text += " (fewer than 100 runs: not judged)"
        out.append(Target(name, text, met))
    return out


# ---------------------------------------------------------------------------- rendering


def _fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def render(stats: Sequence[CellStats], runs: Sequence[Run] = (), startups: Sequence[float] = ()) -> str:
    """The tables (one per condition), the wrong verdicts, the target lines, natprobe's start-up cost."""
    lines: list[str] = []
    tools = [t for t in Tool if any(s.tool == t.value for s in stats)]
    conditions = [c for c in CONDITIONS.values() if any(s.condition == c.name for s in stats)]
    behaviors = [b for b in BEHAVIORS if any(s.behavior == b.value for s in stats)]
    for condition in conditions:
        lines.append(f"== {condition.name}: {condition.description} ==")
        def cell(tool: Tool, s: CellStats | None, header: bool = False) -> str:
            if header:
                right, wall, proto = "right", "median", "in-proc"
            else:
                right = "" if s is None else f"{s.correct}/{s.runs}"
                wall = "" if s is None else _fmt_s(s.median_wall_s)
                proto = "" if s is None else _fmt_s(s.median_protocol_s)
            text = f"{right:<8}{wall:>9}"
            return text + f"{proto:>10}" if tool is Tool.NATPROBE else text

        widths = {tool: max(len(tool.label), len(cell(tool, None, header=True))) for tool in tools}
        head1 = f"{'behaviour':<21}" + "".join(f" | {tool.label:<{widths[tool]}}" for tool in tools)
        head2 = f"{'':<21}" + "".join(f" | {cell(tool, None, header=True):<{widths[tool]}}" for tool in tools)
        lines += [head1.rstrip(), head2.rstrip(), "-" * len(head2)]
        for behavior in behaviors:
            row = f"{behavior.value:<21}" + "".join(
                f" | {cell(tool, _find(stats, tool, behavior, condition.name)):<{widths[tool]}}" for tool in tools)
            lines.append(row.rstrip())
        lines.append("")
    wrong = [r for r in runs if not r.correct]
    if wrong:
        lines.append("Wrong verdicts (tool, condition, behaviour: what it said x times):")
        tally = Counter((r.tool, r.condition, r.behavior, r.verdict, r.detail) for r in wrong)
        for (tool_name, condition_name, behavior_name, verdict, detail), n in sorted(tally.items()):
            lines.append(f"  {tool_name:<12} {condition_name:<8} {behavior_name:<21} {verdict} x{n}  ({detail})")
        lines.append("")
    lines.append("Targets (medians):")
    for target in targets(stats):
        mark = {True: "MET", False: "NOT MET", None: "n/a"}[target.met]
        lines.append(f"  [{mark:>7}] {target.name}: {target.measured}")
    if startups:
        lines.append(f"\nnatprobe CLI start-up alone (python -m natprobe_cli nat --help), median of {len(startups)}: "
                     f"{statistics.median(startups):.2f} s (range {min(startups):.2f}-{max(startups):.2f} s); "
                     "wall = start-up + in-proc + exit")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- CLI


def _split_list(values: Sequence[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or ():
        out += [v.strip() for v in value.split(",") if v.strip()]
    return out


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.discovery",
        description="Time natprobe, turnutils_natdiscovery and pystun3 on every lab NAT behaviour "
                    "and impairment; print verdicts right/runs and median wall times.",
    )
    parser.add_argument("--runs", type=int, help="runs per tool per cell without loss (default 5; --quick 1)")
    parser.add_argument("--loss-runs", type=int,
                        help="runs per tool per cell at 10 %% loss (default 10; --quick 1)")
    parser.add_argument("--target-runs", type=int,
                        help="natprobe runs on port-restricted at 10 %% loss, the 99/100 target (default 100)")
    parser.add_argument("--behaviors", nargs="+", metavar="B",
                        help=f"comma/space separated; default all: {','.join(b.value for b in BEHAVIORS)}")
    parser.add_argument("--conditions", nargs="+", metavar="C",
                        help=f"comma/space separated; default all: {','.join(CONDITIONS)}")
    parser.add_argument("--tools", nargs="+", metavar="T",
                        help=f"comma/space separated; default all: {','.join(t.value for t in Tool)}")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every raw timing and the summary here")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run (< 60 s): full-cone and port-restricted, clean, 1 run per tool")
    parser.add_argument("--seed", type=int, help="seed for pystun3's source ports (default: random)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every run as it finishes")
    args = parser.parse_args(argv)
    for name in ("runs", "loss_runs", "target_runs"):
        value = getattr(args, name)
        if value is not None and not 0 <= value <= 10_000:
            parser.error(f"--{name.replace('_', '-')} must be within 0..10000")
    try:
        args.behavior_list = tuple(Behavior(b) for b in _split_list(args.behaviors)) or (
            (Behavior.FULL_CONE, Behavior.PORT_RESTRICTED_CONE) if args.quick else BEHAVIORS)
        args.tool_list = tuple(Tool(t) for t in _split_list(args.tools)) or tuple(Tool)
    except ValueError as exc:
        parser.error(str(exc))
    names = _split_list(args.conditions) or (["clean"] if args.quick else list(CONDITIONS))
    unknown = [n for n in names if n not in CONDITIONS]
    if unknown:
        parser.error(f"unknown condition(s) {unknown}; choose from {','.join(CONDITIONS)}")
    args.condition_list = tuple(CONDITIONS[n] for n in names)
    return args


def _pystun3_script() -> str | None:
    """pystun3's console script next to this interpreter (a pyenv shim would add start-up time)."""
    local = Path(sys.executable).parent / "pystun3"
    if local.exists():
        return str(local)
    return shutil.which("pystun3")


def _version(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (done.stdout or done.stderr or "").strip()
    return text.splitlines()[0] if text else "unknown"


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _meta(args: argparse.Namespace, plan: Plan, seed: int) -> dict[str, Any]:
    return {
        "benchmark": "discovery",
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()},
        "versions": {
            "natprobe": _dist_version("natprobe"),
            "pystun3": _dist_version("pystun3"),
            "coturn": _version(["dpkg-query", "-W", "-f=${Version}", "coturn"]),
        },
        "plan": {
            "behaviors": [b.value for b in plan.behaviors],
            "conditions": [asdict(c) for c in plan.conditions],
            "tools": [t.value for t in plan.tools],
            "runs": plan.runs,
            "loss_runs": plan.loss_runs,
            "target_runs": plan.target_runs,
            "quick": bool(args.quick),
            "seed": seed,
        },
        "method": {
            "natprobe": f"{sys.executable} -m cli nat --server IP:{ECHO_PORT} --json (natprobe echo server)",
            "natdiscovery": (f"turnutils_natdiscovery -m -f -p {COTURN_PORT} -L CLIENT IP, then -H (same flags); "
                             f"two invocations, wall times summed (coturn on {COTURN_PORT}/{COTURN_PORT + 1})"),
            "pystun3": f"pystun3 -H IP -P {ECHO_PORT} -i CLIENT -p RANDOM (natprobe echo server, RFC 3489 mode)",
            "between_runs": "router conntrack and dynamic NAT maps flushed",
            "wall_time": "whole process run from the client namespace, interpreter start-up included",
        },
    }


def _write_json(path: Path, meta: dict[str, Any], runs: Sequence[Run], startups: Sequence[float],
                complete: bool, elapsed_s: float) -> None:
    stats = summarize(runs)
    payload = {
        **meta,
        "natprobe_cli_startup_s": list(startups),
        "complete": complete,
        "elapsed_s": round(elapsed_s, 1),
        "runs": [asdict(r) for r in runs],
        "cells": [asdict(s) for s in stats],
        "targets": [asdict(t) for t in targets(stats)],
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    tmp.replace(path)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    quick = bool(args.quick)
    plan = Plan(
        behaviors=args.behavior_list,
        conditions=args.condition_list,
        tools=args.tool_list,
        runs=args.runs if args.runs is not None else (1 if quick else 5),
        loss_runs=args.loss_runs if args.loss_runs is not None else (1 if quick else 10),
        target_runs=args.target_runs if args.target_runs is not None else (0 if quick else 100),
    )
    reason = require_lab()
    if reason is not None:
        print(f"benchmarks.discovery: cannot build the NAT lab: {reason}", file=sys.stderr)
        return 2
    pystun3 = _pystun3_script() or ""
    missing = [name for tool, name, ok in (
        (Tool.NATDISCOVERY, "turnutils_natdiscovery", shutil.which("turnutils_natdiscovery")),
        (Tool.NATDISCOVERY, "turnserver", shutil.which("turnserver")),
        (Tool.PYSTUN3, "pystun3", pystun3),
    ) if tool in plan.tools and not ok]
    if missing:
        print(f"benchmarks.discovery: not installed: {', '.join(missing)} (scripts/setup.sh installs them)",
              file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    meta = _meta(args, plan, seed)
    total = plan.total_runs()
    print(f"discovery benchmark: {len(plan.conditions)} condition(s) x {len(plan.behaviors)} behaviour(s), "
          f"{total} tool runs", file=sys.stderr, flush=True)

    runs: list[Run] = []
    startups: list[float] = []
    used_ports: set[int] = set()
    started = time.monotonic()

    finished = Counter[str]()

    def on_run(run: Run) -> None:
        finished["runs"] += 1
        if args.verbose:
            mark = "ok " if run.correct else "BAD"
            print(f"  {finished['runs']:>5}/{total} {run.condition:<8} {run.behavior:<21} {run.tool:<12} {mark} "
                  f"{run.verdict:<22} {run.wall_s:7.2f} s  {run.detail}", file=sys.stderr, flush=True)

    complete = False
    try:
        for condition in plan.conditions:
            for behavior in plan.behaviors:
                cell_runs = _run_cell(plan, behavior, condition, rng, pystun3, used_ports, on_run, startups)
                runs.extend(cell_runs)
                for s in summarize(cell_runs):
                    print(f"[{time.monotonic() - started:7.0f} s] {s.condition:<8} {s.behavior:<21} {s.tool:<12} "
                          f"{s.correct}/{s.runs} right, median {s.median_wall_s:.2f} s", file=sys.stderr, flush=True)
                if args.json is not None:  # partial results survive a crash or Ctrl-C
                    _write_json(args.json, meta, runs, startups, False, time.monotonic() - started)
        complete = True
    except KeyboardInterrupt:
        print("interrupted; results so far:", file=sys.stderr)
    finally:
        if args.json is not None:
            with contextlib.suppress(OSError):
                _write_json(args.json, meta, runs, startups, complete, time.monotonic() - started)
    print(render(summarize(runs), runs, startups))
    print(f"\n{len(runs)} runs in {time.monotonic() - started:.0f} s; wall = whole tool run from the client "
          f"namespace incl. interpreter start-up; in-proc = natprobe's own duration_ms.")
    return 0 if complete else 130


if __name__ == "__main__":
    sys.exit(main())
