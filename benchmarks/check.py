"""``natprobe check`` and ``natprobe nat`` timed whole, the way a user runs them, on a real NAT.

    python -m benchmarks.check [--runs N] [--quick] [--json FILE]

One lab (``natprobe.lab``): the client behind a port-restricted home NAT with UDP 22124
forwarded to it, the echo server (STUN + HTTP API) on 198.51.100.10/.11, 25 ms each way on the
router's WAN link (the lab's user-space wire: a 50 ms RTT), IPv6 routed behind a stateful
firewall with a pinhole for 22124, and dnsmasq naming the echo server and the site. Each case
runs the CLI as a subprocess in the client namespace (interpreter start-up included), ``--runs``
times after one uncounted warm-up (with a bytecode cache, as an installed natprobe has), and is
reported by its median beside the same command with ``--no-router``:

- positive (UDP 22124, forwarded) and negative (UDP 22125, not forwarded);
- a silent router (nothing on PCP/NAT-PMP/UPnP) and a miniupnpd router (all three);
- IPv4 only (``--ipv4``) and dual-stack;
- with and without ``--host``;
- ``natprobe nat``.

Every process is ended by its PID and the lab torn down on every exit path; nothing is sent
outside the namespaces it creates. Needs root, iproute2, nftables, dnsmasq and miniupnpd
(``scripts/setup.sh``). Exit status 0 when every goal of issue #19 is met, 1 when one is not,
2 when the lab cannot be built.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from natprobe.errors import LabError
from natprobe.lab import Lab, LabConfig, PortForward
from natprobe.lab.dns_server import LabDns
from natprobe.lab.ipv6_net import enable_ipv6
from natprobe.lab.miniupnpd import Miniupnpd, miniupnpd_missing
from natprobe.lab.netns import namespace_environment
from natprobe.lab.services import start_echo_server

from benchmarks.startup import with_bytecode

OPEN = 22124
CLOSED = 22125
ECHO_NAME = "echo.example.test"
SITE_NAME = "site.example.test"
URL = f"http://{ECHO_NAME}:8080"
ONE_WAY_DELAY_MS = 25.0
RUN_TIMEOUT_S = 30.0

GOALS_S = {"positive": 1.0, "negative": 2.0, "dual-stack --host": 1.2, "nat": 0.8}
SILENT_ROUTER_ALLOWANCE_S = 0.1
"""A silent router may add at most this to a check."""


@dataclass(frozen=True)
class Case:
    name: str
    router: str
    """"silent" or "miniupnpd"."""
    args: tuple[str, ...]
    goal: str | None = None
    """Which entry of :data:`GOALS_S` applies."""
    router_comparison: bool = True


def cases(quick: bool) -> list[Case]:
    listed = [
        Case("positive, IPv4", "silent", ("check", "--udp", str(OPEN), "--ipv4"), "positive"),
        Case("negative, IPv4", "silent", ("check", "--udp", str(CLOSED), "--ipv4"), "negative"),
        Case("positive, IPv4", "miniupnpd", ("check", "--udp", str(OPEN), "--ipv4"), "positive"),
        Case("negative, IPv4", "miniupnpd", ("check", "--udp", str(CLOSED), "--ipv4"), "negative"),
        Case("positive, dual-stack", "silent", ("check", "--udp", str(OPEN)), "positive"),
        Case("positive, IPv4 --host", "silent", ("check", "--udp", str(OPEN), "--ipv4", "--host", SITE_NAME),
             "positive"),
        Case("positive, dual-stack --host", "silent", ("check", "--udp", str(OPEN), "--host", SITE_NAME),
             "dual-stack --host"),
        Case("negative, dual-stack --host", "silent", ("check", "--udp", str(CLOSED), "--host", SITE_NAME),
             "negative"),
        Case("nat", "silent", ("nat", "--server", "198.51.100.10:3478"), "nat", router_comparison=False),
    ]
    return listed[:2] + listed[-1:] if quick else listed


@dataclass
class Row:
    case: str
    router: str
    command: str
    runs_s: list[float]
    median_s: float
    no_router_runs_s: list[float]
    no_router_median_s: float | None
    exit_codes: list[int]
    in_process_ms: list[float]
    no_router_in_process_ms: list[float]
    goal_s: float | None
    met: bool | None


@contextmanager
def _lab() -> Iterator[tuple[Lab, ExitStack]]:
    forwards = (PortForward("udp", OPEN),)
    with ExitStack() as stack:
        lab = stack.enter_context(Lab(LabConfig(forwards=forwards, delay_ms=ONE_WAY_DELAY_MS)))
        dns = stack.enter_context(LabDns(lab))
        v6 = enable_ipv6(lab, client_global=True, temporary=False)
        v6.add_pinhole("udp", OPEN)
        # The site's name points at the public addresses the checks will see.
        dns.serve({ECHO_NAME: [lab.server.primary_ip, v6.plan.primary_ip],
                   SITE_NAME: [lab.edge.wan_ip, v6.plan.client_ip]})
        dns.use(lab.client)
        dns.use(lab.server)
        # Ended with the lab, which ends every process in its namespaces by PID.
        start_echo_server(
            lab.server, lab.server.primary_ip, lab.server.alternate_ip, http_port=8080,
            extra=("--primary", str(v6.plan.primary_ip), "--alternate", str(v6.plan.alternate_ip)),
        )
        yield lab, stack


def _run(lab: Lab, args: Sequence[str]) -> tuple[float, int, float | None]:
    argv = [sys.executable, "-m", "natprobe_cli", "--lang", "en", *args, "--json"]
    if args[0] == "check":
        argv += ["--server", URL]
    lab.flush_nat_state()  # every run starts from a clean NAT, as a user's first run does
    started = time.perf_counter()
    done = lab.client.exec(argv, check=False, timeout=RUN_TIMEOUT_S, env=with_bytecode(namespace_environment()))
    wall = time.perf_counter() - started
    in_process = None
    try:
        report = json.loads(done.stdout)
        in_process = float(report.get("duration_ms") or report.get("check", {}).get("duration_ms"))
    except (ValueError, TypeError, AttributeError):
        print(f"  ! {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()[-300:]}", file=sys.stderr)
    return wall, done.returncode, in_process


def _measure(lab: Lab, case: Case, runs: int) -> Row:
    _run(lab, case.args)  # warm-up, not counted: fills the bytecode cache
    walls, codes, inproc, bare, bare_inproc = [], [], [], [], []
    for _ in range(runs):  # interleaved, so a load spike hits both columns alike
        wall, code, ms = _run(lab, case.args)
        walls.append(wall)
        codes.append(code)
        if ms is not None:
            inproc.append(ms)
        if case.router_comparison:
            bare_wall, _code, bare_ms = _run(lab, (*case.args, "--no-router"))
            bare.append(bare_wall)
            if bare_ms is not None:
                bare_inproc.append(bare_ms)
    median = statistics.median(walls)
    goal = GOALS_S.get(case.goal) if case.goal else None
    return Row(case.name, case.router, "natprobe " + " ".join(case.args), walls, median, bare,
               statistics.median(bare) if bare else None, codes, inproc, bare_inproc, goal,
               None if goal is None else median <= goal)


def _table(rows: Sequence[Row]) -> str:
    lines = ["| case | router | median, whole CLI | with `--no-router` | in-process `duration_ms` | "
             "same, `--no-router` | goal |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        bare = "" if r.no_router_median_s is None else f"{r.no_router_median_s:.2f} s"
        inproc = f"{statistics.median(r.in_process_ms):.0f} ms" if r.in_process_ms else "-"
        bare_inproc = f"{statistics.median(r.no_router_in_process_ms):.0f} ms" if r.no_router_in_process_ms else ""
        goal = "" if r.goal_s is None else f"≤ {r.goal_s:.1f} s {'✓' if r.met else '✗'}"
        lines.append(f"| {r.case} | {r.router} | {r.median_s:.2f} s | {bare} | {inproc} | {bare_inproc} | {goal} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per case and per column (default 5)")
    parser.add_argument("--quick", action="store_true", help="three cases, for a smoke run")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every run as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 50:
        parser.error("--runs must be within 1..50")
    todo = cases(args.quick)
    need_upnp = any(c.router == "miniupnpd" for c in todo)
    missing = miniupnpd_missing() if need_upnp else None
    if missing is not None:
        print(f"benchmarks.check: {missing}", file=sys.stderr)
        return 2
    rows: list[Row] = []
    try:
        with _lab() as (lab, _stack):
            for router in ("silent", "miniupnpd"):
                selected = [c for c in todo if c.router == router]
                if not selected:
                    continue
                with ExitStack() as daemon:
                    if router == "miniupnpd":
                        daemon.enter_context(Miniupnpd(lab))
                    for case in selected:
                        rows.append(_measure(lab, case, args.runs))
                        print(f"  {case.name} ({router}): {rows[-1].median_s:.2f} s", file=sys.stderr)
    except LabError as exc:
        print(f"benchmarks.check: the lab could not be built: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("benchmarks.check: interrupted; the lab was torn down", file=sys.stderr)
        return 130
    print(_table(rows))
    silent = {(r.case, r.router): r for r in rows}
    allowance_ok = all(
        r.no_router_median_s is None or r.median_s - r.no_router_median_s <= SILENT_ROUTER_ALLOWANCE_S
        for r in rows if r.router == "silent"
    )
    print(f"\na silent router adds at most {SILENT_ROUTER_ALLOWANCE_S * 1000:.0f} ms: "
          f"{'met' if allowance_ok else 'not met'} ({len(silent)} cases)")
    if args.json is not None:
        args.json.write_text(json.dumps({"one_way_delay_ms": ONE_WAY_DELAY_MS, "runs": args.runs,
                                         "rows": [asdict(r) for r in rows]}, indent=2))
    return 0 if allowance_ok and all(r.met is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
