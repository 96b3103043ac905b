"""Start-up: from launching ``natprobe`` to its first packet, and what the imports cost.

    python -m benchmarks.startup [--runs N] [--json FILE]

For ``check`` the first packet is the TCP connection to the echo server; for ``nat`` the first
STUN request. Each scenario launches the real CLI (``python -m natprobe_cli``) against a socket this
process opened on 127.0.0.1, and measures the time from launch until that socket sees the
packet; the child is then ended by its PID. ``-X importtime`` of the same command gives the
import total and the costliest top-level imports. The children run with a bytecode cache (in a
directory of this run), as an installed natprobe does, after one uncounted warm-up launch.
Nothing leaves loopback.

The goal (issue #19): at most 120 ms to the first packet. Exit status 0 when every median is
within it, 1 when one is not (a shared, loaded machine can miss it: the numbers say by how much).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

GOAL_S = 0.120
WAIT_S = 10.0
"""Bound on one launch: a CLI that sends nothing within it is a failed run."""


@dataclass(frozen=True)
class Result:
    name: str
    command: str
    runs_s: list[float]
    median_s: float
    imports_ms: float
    top_imports: list[tuple[str, float]]
    within_goal: bool


_PYCACHE: list[str] = []


def with_bytecode(env: dict[str, str]) -> dict[str, str]:
    """``env`` with Python's bytecode cache on, in a directory of this run (not the source tree):
    an installed natprobe has its ``.pyc`` files, and an environment that sets
    ``PYTHONDONTWRITEBYTECODE`` would otherwise time the compiler, not natprobe."""
    if not _PYCACHE:
        _PYCACHE.append(tempfile.mkdtemp(prefix="natprobe-bench-pycache-"))
        atexit.register(shutil.rmtree, _PYCACHE[0], True)
    env = dict(env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = _PYCACHE[0]
    return env


def _env() -> dict[str, str]:
    env = with_bytecode(dict(os.environ))
    env["NATPROBE_GATEWAY"] = "127.0.0.1"  # the router query stays on loopback
    env.pop("NATPROBE_SERVER", None)
    return env


def _launch(args: list[str], extra: list[str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *(extra or []), "-m", "natprobe_cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE if extra else subprocess.DEVNULL, env=_env())


def _end(proc: subprocess.Popen[bytes]) -> bytes:
    proc.kill()  # by its own PID: only the child this benchmark started
    _out, err = proc.communicate(timeout=WAIT_S)
    return err or b""


def _first_tcp(args_for: Callable[[int], list[str]]) -> float:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        server.settimeout(WAIT_S)
        started = time.perf_counter()
        proc = _launch(args_for(server.getsockname()[1]))
        try:
            conn, _addr = server.accept()
            elapsed = time.perf_counter() - started
            conn.close()
        finally:
            _end(proc)
    return elapsed


def _first_udp(args_for: Callable[[int], list[str]]) -> float:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(WAIT_S)
        started = time.perf_counter()
        proc = _launch(args_for(server.getsockname()[1]))
        try:
            server.recvfrom(2048)
            elapsed = time.perf_counter() - started
        finally:
            _end(proc)
    return elapsed


def _check_args(port: int) -> list[str]:
    return ["check", "--udp", "22124", "--ipv4", "--server", f"http://127.0.0.1:{port}", "--json"]


def _nat_args(port: int) -> list[str]:
    return ["nat", "--server", f"127.0.0.1:{port}", "--json"]


SCENARIOS: list[tuple[str, Callable[[Callable[[int], list[str]]], float], Callable[[int], list[str]]]] = [
    ("check", _first_tcp, _check_args),
    ("nat", _first_udp, _nat_args),
]


def import_profile(args: list[str]) -> tuple[float, list[tuple[str, float]]]:
    """Total ms of the top-level imports of ``python -X importtime -m natprobe_cli ARGS``, and the costliest."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: the command fails fast
        proc = _launch(args[:-1] + [args[-1].replace("{port}", str(closed.getsockname()[1]))], ["-X", "importtime"])
        try:
            _out, err = proc.communicate(timeout=WAIT_S * 3)
        except subprocess.TimeoutExpired:
            err = _end(proc)
    top: list[tuple[str, float]] = []
    for line in err.decode(errors="replace").splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        _self, cumulative, name = line.split(":", 1)[1].split("|")
        if name.startswith(" ") and not name.startswith("  "):  # a top-level import
            top.append((name.strip(), int(cumulative) / 1000))
    return sum(ms for _n, ms in top), sorted(top, key=lambda item: -item[1])[:6]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="launches per command (default 9)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 100:
        parser.error("--runs must be within 1..100")
    results = []
    for name, first_packet, args_for in SCENARIOS:
        first_packet(args_for)  # warm-up, not counted: fills the bytecode cache
        runs = [first_packet(args_for) for _ in range(args.runs)]
        template = args_for(0)
        template[template.index("--server") + 1] = template[template.index("--server") + 1].replace(":0", ":{port}")
        imports_ms, top = import_profile(template)
        median = statistics.median(runs)
        results.append(Result(name, "natprobe " + " ".join(args_for(0)), runs, median, imports_ms, top, median <= GOAL_S))
    print(f"{'command':<8} {'first packet (median)':>22} {'imports':>9}  costliest imports")
    for r in results:
        costly = ", ".join(f"{n} {ms:.0f}" for n, ms in r.top_imports[:4])
        print(f"{r.name:<8} {r.median_s * 1000:>19.0f} ms {r.imports_ms:>6.0f} ms  {costly}")
    print(f"goal: first packet within {GOAL_S * 1000:.0f} ms")
    if args.json is not None:
        args.json.write_text(json.dumps({"goal_s": GOAL_S, "results": [asdict(r) for r in results]}, indent=2))
    return 0 if all(r.within_goal for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
