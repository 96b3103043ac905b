"""Echo-server throughput: natprobe's echo server vs coturn, measured in one run on loopback.

::

    python -m benchmarks.echo_server [--seconds S] [--rounds R] [--inflight K] [--json FILE] [--quick]

What it does, in order:

1. Compiles ``benchmarks/stunload.c`` (a C load generator, sendmmsg/recvmmsg) with ``gcc``
   into a temporary directory.
2. Measures the reply to one plain 20-byte Binding request from each server in single-address
   and two-address (RFC 5780) mode, plus natprobe's UDP echo: the amplification factor.
3. Runs R interleaved rounds. In each round every target gets a *fresh* server process pinned
   to one core (``taskset``), and the generator, pinned to the other core, first saturates it
   for S seconds with K requests in flight, then sends a paced 10 k requests/s for S seconds.
   Targets: natprobe's STUN, coturn's STUN, natprobe's UDP echo (the bare datagram path, the
   ceiling for its STUN path), and natprobe's STUN with ``--udp-poll-interval 0`` (a loop
   wake-up per datagram at moderate load, the reference for timed draining). The order of the targets rotates every round, so neither server
   always runs first on a VM whose speed drifts.
4. Prints Markdown tables: medians with the round-to-round spread (min-max), the ratios
   natprobe/coturn (of the medians, and paired round by round), memory, reply sizes, where
   the two cores' time went (other tenants and hypervisor steal on a shared VM), validation.

How to read it: on a shared VM responses/s swings by 2-4x between rounds, because the server
rarely gets its core to itself; CPU time per response is what the server itself spends, and is
steady to ~10-20 %. Compare that, and only against coturn measured in the same run.

Every response is validated by the generator (transaction id in flight, Binding success,
XOR-MAPPED-ADDRESS equal to the generator's own address and port; for echo: the same bytes),
so a server cannot look fast by answering wrongly. Server CPU time comes from
``/proc/PID/stat`` (utime + stime of the whole process, all threads) around each load phase;
memory from ``/proc/PID/status`` (VmRSS right after saturation, VmHWM = the peak over the
process's life). Both servers run as an operator would run them on a one-core box: natprobe
with its rate limiter still in the path but its limits raised out of the way (100/s per
source would otherwise cap one generator), coturn ``--stun-only`` with ``--relay-threads 1``
(coturn's default is one thread per CPU, so 1 on a one-core box).

Safety: only loopback (127.0.0.1/127.0.0.2) is ever addressed; every process started here is
stopped by its PID in a ``finally``; every wait and every loop is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import platform
import random
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from natprobe.errors import DecodeError, LabError
from natprobe.stun import AttributeType, MessageClass, binding_request, decode, encode

__all__ = (
    "AddressMode",
    "CoreShare",
    "LoadResult",
    "ReplySize",
    "Sample",
    "Spread",
    "Target",
    "Usage",
    "build_generator",
    "main",
    "measure_reply_sizes",
    "read_core_times",
    "read_usage",
    "render",
    "run_generator",
    "run_rounds",
    "summarize",
)

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
GENERATOR_SOURCE = Path(__file__).resolve().with_name("stunload.c")

PRIMARY = "127.0.0.1"
ALTERNATE = "127.0.0.2"
"""Both on loopback (all of 127.0.0.0/8 is local on Linux), so no configuration is needed."""

PACED_RATE = 10_000.0
"""Requests/s of the paced phase: the CPU cost per request at a load both servers carry easily
(facts/udp-server-performance.md compares servers at this rate), and latency without queueing."""

READY_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
_COTURN_PORTS = (40000, 59998)
_PORT_ATTEMPTS = 50
_PROBES = 3
"""Requests per reply-size measurement; every reply must have the same size."""

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_MIB = 1024.0 * 1024.0


class Target(StrEnum):
    """What one load phase is aimed at."""

    NATPROBE = "natprobe"
    """natprobe's echo server, STUN on N (``python -m natprobe_server``)."""
    COTURN = "coturn"
    """coturn's ``turnserver --stun-only``."""
    NATPROBE_ECHO = "natprobe-echo"
    """natprobe's echo server, its plain UDP echo on N+2: the bare datagram path."""
    NATPROBE_EPOLL = "natprobe-epoll"
    """natprobe's STUN with ``--udp-poll-interval 0``: a loop wake-up per readiness, as
    before issue #9 (the same-run reference for what timed draining saves at 10 k/s)."""


class AddressMode(StrEnum):
    """How many addresses a server listens on (RFC 5780 needs two)."""

    SINGLE = "single-address"
    RFC5780 = "rfc5780"


# ---------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class LoadResult:
    """One generator run, as ``stunload`` reported it."""

    mode: str
    seconds: float
    inflight: int
    rate_target: float
    sent: int
    ok: int
    """Responses that passed validation."""
    bad: int
    """Responses that failed validation (``first_bad`` says why)."""
    first_bad: str
    unknown: int
    """Well-formed responses to ids no longer in flight (late or duplicated)."""
    lost: int
    """Requests unanswered within the generator's timeout."""
    refused: int
    responses_per_s: float
    p50_us: float
    p99_us: float
    max_us: float
    request_bytes: int
    reply_min: int
    reply_max: int

    @classmethod
    def from_json(cls, text: str) -> LoadResult:
        data = json.loads(text)
        return cls(
            mode=str(data["mode"]),
            seconds=float(data["elapsed_s"]),
            inflight=int(data["inflight"]),
            rate_target=float(data["rate_target"]),
            sent=int(data["sent"]),
            ok=int(data["ok"]),
            bad=int(data["bad"]),
            first_bad=str(data["first_bad"]),
            unknown=int(data["unknown"]),
            lost=int(data["lost"]),
            refused=int(data["refused"]),
            responses_per_s=float(data["responses_per_s"]),
            p50_us=float(data["p50_us"]),
            p99_us=float(data["p99_us"]),
            max_us=float(data["max_us"]),
            request_bytes=int(data["request_bytes"]),
            reply_min=int(data["reply_min"]),
            reply_max=int(data["reply_max"]),
        )


@dataclass(frozen=True, slots=True)
class Usage:
    """A process's resource counters at one moment (``/proc/PID/stat`` and ``status``)."""

    cpu_s: float
    """utime + stime of every thread, seconds (clock-tick resolution, 10 ms here)."""
    rss_kib: int
    hwm_kib: int
    """Peak resident set size over the process's life."""
    threads: int


@dataclass(frozen=True, slots=True)
class CoreShare:
    """Where one core's time went during a phase, as fractions (``/proc/stat``; they sum to ~1).

    The machine is a shared VM: other people's processes and the hypervisor (steal) take turns
    on "our" cores, which is what makes single rounds swing. This shows how much they took.
    """

    tasks: float
    """User + system time of every task on the core (the server itself included)."""
    irq: float
    """Hard and soft interrupts: on loopback, much of the UDP receive path runs here."""
    steal: float
    """Time the hypervisor gave to another guest."""
    idle: float

    @classmethod
    def between(cls, before: Sequence[int], after: Sequence[int]) -> CoreShare:
        delta = [b - a for a, b in zip(before, after)]
        # user nice system idle iowait irq softirq steal (guest time is inside user already)
        total = sum(delta[:8]) or 1
        return cls(
            tasks=(delta[0] + delta[1] + delta[2]) / total,
            irq=(delta[5] + delta[6]) / total,
            steal=delta[7] / total,
            idle=(delta[3] + delta[4]) / total,
        )


def read_core_times(cpu: int | None) -> tuple[int, ...]:
    """The ``/proc/stat`` counters (clock ticks) of one CPU, or of all CPUs for ``None``."""
    name = "cpu" if cpu is None else f"cpu{cpu}"
    for line in Path("/proc/stat").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == name:
            return tuple(int(f) for f in fields[1:9])
    raise LabError(f"{name} is not in /proc/stat")


@dataclass(frozen=True, slots=True)
class Sample:
    """One target in one round: a fresh server, a saturation phase, then a paced phase."""

    target: str
    round: int
    address_mode: str
    saturated: LoadResult
    paced: LoadResult
    cpu_s_saturated: float
    cpu_s_paced: float
    rss_kib: int
    """VmRSS right after the saturation phase."""
    hwm_kib: int
    """VmHWM at the end (the peak, start-up included)."""
    threads: int
    server_core: CoreShare
    """The server's core during saturation."""
    generator_core: CoreShare
    """The generator's core during saturation."""

    @property
    def server_share(self) -> float:
        """Fraction of the saturation phase the server process was on a CPU."""
        return self.cpu_s_saturated / self.saturated.seconds if self.saturated.seconds > 0 else float("nan")

    @property
    def cpu_us_per_response(self) -> float:
        return _per_response_us(self.cpu_s_saturated, self.saturated.ok)

    @property
    def cpu_us_per_response_paced(self) -> float:
        return _per_response_us(self.cpu_s_paced, self.paced.ok)

    @property
    def valid(self) -> bool:
        """Both phases got validated responses and no invalid one."""
        return self.saturated.ok > 0 and self.paced.ok > 0 and self.saturated.bad == 0 and self.paced.bad == 0


def _per_response_us(cpu_s: float, responses: int) -> float:
    return cpu_s / responses * 1e6 if responses > 0 else float("nan")


@dataclass(frozen=True, slots=True)
class ReplySize:
    """The reply to one plain request: bytes and attributes (STUN) or echoed bytes (echo)."""

    server: str
    address_mode: str
    service: str
    """``stun`` or ``echo``."""
    request_bytes: int
    reply_bytes: int
    attributes: tuple[str, ...]

    @property
    def amplification(self) -> float:
        return self.reply_bytes / self.request_bytes


@dataclass(frozen=True, slots=True)
class Spread:
    """Median and range of one figure over the rounds."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        finite = [v for v in values if v == v]  # drop NaN (a phase without responses)
        if not finite:
            return cls(float("nan"), float("nan"), float("nan"), 0)
        return cls(statistics.median(finite), min(finite), max(finite), len(finite))


# ---------------------------------------------------------------------------- the generator


def build_generator(workdir: Path) -> Path:
    """Compile ``stunload.c`` into ``workdir``; :class:`LabError` if there is no compiler or it fails."""
    compiler = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise LabError("no C compiler: install gcc (apt-get install gcc)")
    binary = workdir / "stunload"
    argv = [compiler, "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-o", str(binary), str(GENERATOR_SOURCE), "-lm"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"compiling the load generator failed: {exc}") from exc
    if done.returncode != 0:
        raise LabError(f"compiling the load generator failed:\n{done.stderr.strip()}")
    return binary


def run_generator(
    binary: Path,
    port: int,
    *,
    seconds: float,
    inflight: int,
    rate: float = 0.0,
    mode: str = "stun",
    cpu: int | None = None,
) -> LoadResult:
    """Run ``stunload`` against ``127.0.0.1:port`` for ``seconds`` (pinned to ``cpu``) and parse its report."""
    argv = [str(binary), "--target", PRIMARY, "--port", str(port), "--seconds", f"{seconds:g}",
            "--inflight", str(inflight), "--mode", mode]
    if rate > 0:
        argv += ["--rate", f"{rate:g}"]
    if cpu is not None:
        argv = [_taskset(), "-c", str(cpu), *argv]
    try:
        # subprocess.run kills the generator if it overruns (it cannot: it stops itself after
        # `seconds`, but a bound is a bound).
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 15.0, check=False)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"the load generator did not finish within {seconds + 15.0:g} s") from exc
    if done.returncode != 0:
        raise LabError(f"the load generator failed (exit {done.returncode}): {done.stderr.strip()}")
    try:
        return LoadResult.from_json(done.stdout)
    except (ValueError, KeyError) as exc:
        raise LabError(f"unreadable load generator output: {done.stdout!r}") from exc


# ---------------------------------------------------------------------------- servers


@dataclass(frozen=True, slots=True)
class _Server:
    """A started server process and the port the load goes to."""

    target: Target
    process: subprocess.Popen[bytes]
    port: int
    """STUN port N (natprobe, coturn) or the echo port (natprobe-echo)."""
    stun_port: int
    echo_port: int | None
    log: Path


def _taskset() -> str:
    binary = shutil.which("taskset")
    if binary is None:
        raise LabError("taskset is missing (util-linux)")
    return binary


def _pinned(argv: list[str], cpu: int | None) -> list[str]:
    # taskset sets the affinity and then execs the server: same PID, and every thread the
    # server creates later inherits the one core.
    return argv if cpu is None else [_taskset(), "-c", str(cpu), *argv]


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:].strip()
    except OSError:
        return ""


def _read_ready_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    """The first stdout line containing ``listening``, within ``timeout`` seconds."""
    stream = process.stdout
    assert stream is not None
    deadline = time.monotonic() + timeout
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(min(left, 0.5)):
                if process.poll() is not None:
                    break
                continue
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            for line in buffer.decode(errors="replace").splitlines():
                if "listening" in line:
                    return line
            if len(buffer) > 65536:
                break
    raise LabError(f"natprobe's echo server was not ready within {timeout:g} s (output: {buffer[-500:]!r})")


def _start_natprobe(target: Target, mode: AddressMode, cpu: int | None, workdir: Path) -> _Server:
    argv = [sys.executable, "-m", "natprobe_server", "--primary", PRIMARY, "--port", "0",
            # The limiter still runs for every datagram; only its limits are out of the way.
            "--rate", "1e12", "--burst", "1e12"]
    if target is Target.NATPROBE_EPOLL:
        argv += ["--udp-poll-interval", "0"]
    if mode is AddressMode.RFC5780:
        argv += ["--alternate", ALTERNATE]
    log = workdir / f"natprobe-{time.monotonic_ns()}.log"
    with log.open("wb") as err:
        process = subprocess.Popen(_pinned(argv, cpu), cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=err,
                                   env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        line = _read_ready_line(process, READY_TIMEOUT_S)
        port_match = re.search(r"\bport=(\d+)", line)
        echo_match = re.search(r"\becho_udp=[^\s:]+:(\d+)", line)
        if port_match is None:
            raise LabError(f"cannot read the port from {line!r}")
        stun_port = int(port_match.group(1))
        echo_port = int(echo_match.group(1)) if echo_match else None
        if target is Target.NATPROBE_ECHO and echo_port is None:
            raise LabError(f"the echo server reports no UDP echo port: {line!r}")
        port = echo_port if target is Target.NATPROBE_ECHO and echo_port is not None else stun_port
        return _Server(target, process, port, stun_port, echo_port, log)
    except BaseException:
        _stop(process)
        raise


def _ports_free(port: int, hosts: Sequence[str]) -> bool:
    """True if UDP and TCP ``port`` and ``port + 1`` can be bound on every host address."""
    for host in hosts:
        for number in (port, port + 1):
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(socket.AF_INET, kind) as probe:
                    try:
                        probe.bind((host, number))
                    except OSError:
                        return False
    return True


def _stun_exchange(port: int, timeout: float, attempts: int) -> bytes | None:
    """Send a plain Binding request to 127.0.0.1:port up to ``attempts`` times; the first reply that decodes."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((PRIMARY, 0))
        sock.settimeout(timeout)
        for _ in range(attempts):
            request = binding_request()
            sock.sendto(encode(request), (PRIMARY, port))
            try:
                data = sock.recv(2048)
            except (TimeoutError, ConnectionRefusedError):
                continue
            try:
                reply = decode(data)
            except DecodeError:
                continue
            if reply.transaction_id == request.transaction_id:
                return data
    return None


def _start_coturn(mode: AddressMode, cpu: int | None, workdir: Path) -> _Server:
    binary = shutil.which("turnserver")
    if binary is None:
        raise LabError("coturn's turnserver is not installed (scripts/setup.sh installs it)")
    hosts = [PRIMARY, ALTERNATE] if mode is AddressMode.RFC5780 else [PRIMARY]
    # coturn binds with SO_REUSEADDR/SO_REUSEPORT and would share a busy port silently, so look
    # for a free pair first (bounded); validation would catch a wrong responder anyway.
    for _ in range(_PORT_ATTEMPTS):
        port = random.randrange(*_COTURN_PORTS, 2)
        if _ports_free(port, hosts):
            break
    else:
        raise LabError(f"no free port pair for coturn in {_PORT_ATTEMPTS} attempts")
    argv = [binary, "-n", "--stun-only", "--no-auth", "--no-cli", "--no-tls", "--no-dtls",
            "--relay-threads", "1", "--listening-port", str(port),
            "--log-file", "stdout", "--simple-log", "--pidfile", str(workdir / f"coturn-{port}.pid")]
    for host in hosts:
        argv += ["-L", host]
    log = workdir / f"coturn-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(_pinned(argv, cpu), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LabError(f"coturn exited with {process.returncode}: {_tail(log)}")
            if _stun_exchange(port, 0.2, 1) is not None:
                return _Server(Target.COTURN, process, port, port, None, log)
        raise LabError(f"coturn did not answer STUN on {PRIMARY}:{port} within {READY_TIMEOUT_S:g} s")
    except BaseException:
        _stop(process)
        raise


def _start(target: Target, mode: AddressMode, cpu: int | None, workdir: Path) -> _Server:
    if target is Target.COTURN:
        return _start_coturn(mode, cpu, workdir)
    return _start_natprobe(target, mode, cpu, workdir)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM this PID, SIGKILL it if it does not exit within a bound; reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


@contextlib.contextmanager
def _running(target: Target, mode: AddressMode, cpu: int | None, workdir: Path) -> Iterator[_Server]:
    server = _start(target, mode, cpu, workdir)
    try:
        yield server
    finally:
        _stop(server.process)


def read_usage(pid: int) -> Usage:
    """CPU seconds (all threads), VmRSS, VmHWM and thread count of ``pid``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError as exc:
        raise LabError(f"process {pid} is gone: {exc}") from exc
    # Fields after the command name (which may contain spaces and parentheses): utime is
    # field 14 and stime 15 of the whole line, i.e. 11 and 12 after the closing parenthesis.
    fields = stat.rsplit(")", 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    values: dict[str, int] = {}
    for line in status.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            values[key] = int(rest.split()[0])
    return Usage(cpu_s, values.get("VmRSS", 0), values.get("VmHWM", 0), values.get("Threads", 0))


# ---------------------------------------------------------------------------- measurements


def _attribute_name(attribute_type: int) -> str:
    try:
        return AttributeType(attribute_type).name.replace("_", "-")
    except ValueError:
        return f"0x{attribute_type:04x}"


def _echo_exchange(port: int, payload: bytes, timeout: float, attempts: int) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((PRIMARY, 0))
        sock.settimeout(timeout)
        for _ in range(attempts):
            sock.sendto(payload, (PRIMARY, port))
            try:
                data = sock.recv(2048)
            except (TimeoutError, ConnectionRefusedError):
                continue
            if data == payload:
                return data
    return None


def _stun_reply_size(server: Target, mode: AddressMode, port: int) -> ReplySize:
    sizes: set[int] = set()
    attributes: tuple[str, ...] = ()
    for _ in range(_PROBES):
        data = _stun_exchange(port, 1.0, 3)
        if data is None:
            raise LabError(f"{server} ({mode}) did not answer a plain Binding request")
        reply = decode(data)
        if reply.message_class is not MessageClass.SUCCESS_RESPONSE:
            raise LabError(f"{server} ({mode}) answered a plain Binding request with {reply.message_class}")
        sizes.add(len(data))
        attributes = tuple(_attribute_name(int(a.type)) for a in reply.attributes)
    if len(sizes) != 1:
        raise LabError(f"{server} ({mode}) replied with varying sizes {sorted(sizes)}")
    return ReplySize(str(server), str(mode), "stun", 20, sizes.pop(), attributes)


def measure_reply_sizes(workdir: Path, cpu: int | None = None) -> list[ReplySize]:
    """Reply sizes to a plain 20-byte Binding request (both servers, both modes) and to a 20-byte echo."""
    sizes: list[ReplySize] = []
    for mode in AddressMode:
        for target in (Target.NATPROBE, Target.COTURN):
            with _running(target, mode, cpu, workdir) as server:
                sizes.append(_stun_reply_size(target, mode, server.stun_port))
                if target is Target.NATPROBE and mode is AddressMode.SINGLE and server.echo_port is not None:
                    payload = os.urandom(20)
                    echoed = _echo_exchange(server.echo_port, payload, 1.0, 3)
                    if echoed is None:
                        raise LabError("natprobe's UDP echo did not echo a 20-byte datagram")
                    sizes.append(ReplySize(str(Target.NATPROBE_ECHO), str(mode), "echo", len(payload), len(echoed), ()))
    return sizes


def _measure(
    binary: Path,
    target: Target,
    mode: AddressMode,
    round_index: int,
    *,
    seconds: float,
    paced_seconds: float,
    inflight: int,
    server_cpu: int | None,
    generator_cpu: int | None,
    workdir: Path,
) -> Sample:
    load_mode = "echo" if target is Target.NATPROBE_ECHO else "stun"
    with _running(target, mode, server_cpu, workdir) as server:
        pid = server.process.pid
        before = read_usage(pid)
        cores_before = read_core_times(server_cpu), read_core_times(generator_cpu)
        saturated = run_generator(binary, server.port, seconds=seconds, inflight=inflight, mode=load_mode,
                                  cpu=generator_cpu)
        cores_after = read_core_times(server_cpu), read_core_times(generator_cpu)
        after_saturation = read_usage(pid)
        paced = run_generator(binary, server.port, seconds=paced_seconds, inflight=inflight, rate=PACED_RATE,
                              mode=load_mode, cpu=generator_cpu)
        after_paced = read_usage(pid)
        if server.process.poll() is not None:
            raise LabError(f"{target} exited during the measurement: {_tail(server.log)}")
    return Sample(
        target=str(target),
        round=round_index,
        address_mode=str(mode),
        saturated=saturated,
        paced=paced,
        cpu_s_saturated=after_saturation.cpu_s - before.cpu_s,
        cpu_s_paced=after_paced.cpu_s - after_saturation.cpu_s,
        rss_kib=after_saturation.rss_kib,
        hwm_kib=after_paced.hwm_kib,
        threads=after_paced.threads,
        server_core=CoreShare.between(cores_before[0], cores_after[0]),
        generator_core=CoreShare.between(cores_before[1], cores_after[1]),
    )


def run_rounds(
    binary: Path,
    *,
    rounds: int,
    seconds: float,
    paced_seconds: float,
    inflight: int,
    mode: AddressMode,
    targets: Sequence[Target],
    server_cpu: int | None,
    generator_cpu: int | None,
    workdir: Path,
    on_sample: Callable[[Sample], None] | None = None,
) -> list[Sample]:
    """``rounds`` interleaved rounds over ``targets`` (order rotated each round); one fresh server per sample."""
    samples: list[Sample] = []
    for round_index in range(rounds):
        shift = round_index % len(targets)
        for target in (*targets[shift:], *targets[:shift]):
            sample = _measure(binary, target, mode, round_index, seconds=seconds, paced_seconds=paced_seconds,
                              inflight=inflight, server_cpu=server_cpu, generator_cpu=generator_cpu, workdir=workdir)
            samples.append(sample)
            if on_sample is not None:
                on_sample(sample)
    return samples


# ---------------------------------------------------------------------------- summary


_FIGURES: dict[str, Callable[[Sample], float]] = {
    "responses_per_s": lambda s: s.saturated.responses_per_s,
    "cpu_us_per_response": lambda s: s.cpu_us_per_response,
    "p50_us": lambda s: s.saturated.p50_us,
    "p99_us": lambda s: s.saturated.p99_us,
    "paced_cpu_us_per_response": lambda s: s.cpu_us_per_response_paced,
    "paced_p50_us": lambda s: s.paced.p50_us,
    "paced_p99_us": lambda s: s.paced.p99_us,
    "server_share": lambda s: s.server_share * 100,
    "server_core_tasks": lambda s: s.server_core.tasks * 100,
    "server_core_irq": lambda s: s.server_core.irq * 100,
    "server_core_steal": lambda s: s.server_core.steal * 100,
    "server_core_idle": lambda s: s.server_core.idle * 100,
    "generator_core_tasks": lambda s: s.generator_core.tasks * 100,
    "generator_core_irq": lambda s: s.generator_core.irq * 100,
    "generator_core_steal": lambda s: s.generator_core.steal * 100,
    "generator_core_idle": lambda s: s.generator_core.idle * 100,
    "rss_mib": lambda s: s.rss_kib / 1024.0,
    "peak_rss_mib": lambda s: s.hwm_kib / 1024.0,
}
_RATIO_FIGURES = ("responses_per_s", "cpu_us_per_response", "paced_cpu_us_per_response", "rss_mib", "peak_rss_mib")


def summarize(samples: Sequence[Sample]) -> dict[str, Any]:
    """Per target: every figure's :class:`Spread`, the validation totals; plus natprobe/coturn ratios.

    A ratio is the ratio of the two medians; ``round_ratios`` pairs the two servers round by
    round (same minute of VM weather), whose spread shows how far a single round can mislead.
    """
    by_target: dict[str, list[Sample]] = {}
    for sample in samples:
        by_target.setdefault(sample.target, []).append(sample)
    summary: dict[str, Any] = {"targets": {}, "ratios": {}}
    for target, group in by_target.items():
        summary["targets"][target] = {
            "rounds": len(group),
            **{name: asdict(Spread.of([get(s) for s in group])) for name, get in _FIGURES.items()},
            "threads": max(s.threads for s in group),
            "validated": sum(s.saturated.ok + s.paced.ok for s in group),
            "bad": sum(s.saturated.bad + s.paced.bad for s in group),
            "first_bad": next((r.first_bad for s in group for r in (s.saturated, s.paced) if r.bad), ""),
            "lost": sum(s.saturated.lost + s.paced.lost for s in group),
            "unknown": sum(s.saturated.unknown + s.paced.unknown for s in group),
            "reply_bytes": sorted({s.saturated.reply_max for s in group if s.saturated.ok}),
        }
    for numerator in (Target.NATPROBE, Target.NATPROBE_ECHO, Target.NATPROBE_EPOLL):
        mine, theirs = by_target.get(numerator), by_target.get(Target.COTURN)
        if not mine or not theirs:
            continue
        ratios: dict[str, Any] = {}
        for name in _RATIO_FIGURES:
            get = _FIGURES[name]
            a, b = Spread.of([get(s) for s in mine]).median, Spread.of([get(s) for s in theirs]).median
            paired = [get(x) / get(y) for x in mine for y in theirs if x.round == y.round and get(y) > 0]
            ratios[name] = {"of_medians": a / b if b > 0 else float("nan"), "round_ratios": asdict(Spread.of(paired))}
        summary["ratios"][f"{numerator}/coturn"] = ratios
    return summary


def _num(value: float, digits: int = 1) -> str:
    if value != value:
        return "-"
    if abs(value) >= 10_000:
        return f"{value / 1000:.{digits}f} k"
    return f"{value:.{digits}f}"


def _cell(spread: dict[str, float], digits: int = 1) -> str:
    if spread["n"] == 0:
        return "-"
    if spread["n"] == 1:
        return _num(spread["median"], digits)
    return f"{_num(spread['median'], digits)} ({_num(spread['low'], digits)}–{_num(spread['high'], digits)})"


def _ratio(summary: dict[str, Any], target: str, figure: str) -> str:
    if target == Target.COTURN:
        return "1.00"
    ratios = summary["ratios"].get(f"{target}/coturn")
    if ratios is None:
        return "-"
    value = float(ratios[figure]["of_medians"])
    return "-" if value != value else f"{value:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> list[str]:
    """A Markdown table: the first ``text_columns`` columns left-aligned, the numbers right-aligned."""
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(
            c.ljust(w) if i < text_columns else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    rule = "|" + "|".join("-" * (w + 2) if i < text_columns else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return [line(header), rule, *(line(r) for r in rows)]


def render(summary: dict[str, Any], sizes: Sequence[ReplySize], plan: dict[str, Any]) -> str:
    """The Markdown tables: saturation, paced, memory, reply sizes, validation."""
    order = [t.value for t in Target if t.value in summary["targets"]]
    data = summary["targets"]
    out = [
        f"{plan['rounds']} interleaved round(s); per round and target a fresh server pinned to CPU "
        f"{plan['server_cpu']}, the generator on CPU {plan['generator_cpu']}; {plan['address_mode']} mode; "
        f"saturation {plan['seconds']:g} s with {plan['inflight']} requests in flight, then "
        f"{PACED_RATE / 1000:g} k requests/s for {plan['paced_seconds']:g} s. "
        "Medians, (min–max) across rounds; × coturn = ratio of medians.",
        "",
        "Saturation (closed loop):",
        "",
    ]
    out += _table(
        ["target", "responses/s", "× coturn", "CPU µs/response", "× coturn", "p50 µs", "p99 µs"],
        [[t, _cell(data[t]["responses_per_s"]), _ratio(summary, t, "responses_per_s"),
          _cell(data[t]["cpu_us_per_response"], 2), _ratio(summary, t, "cpu_us_per_response"),
          _cell(data[t]["p50_us"], 0), _cell(data[t]["p99_us"], 0)] for t in order],
    )
    paired = summary["ratios"].get(f"{Target.NATPROBE}/coturn")
    if paired is not None and plan["rounds"] > 1:
        def pair(name: str) -> str:
            r = paired[name]["round_ratios"]
            return f"{r['median']:.2f} ({r['low']:.2f}–{r['high']:.2f})" if r["n"] else "-"
        out += ["", "natprobe/coturn paired round by round, median (min–max): "
                f"responses/s {pair('responses_per_s')}, CPU µs/response {pair('cpu_us_per_response')}, "
                f"at {PACED_RATE / 1000:g} k/s {pair('paced_cpu_us_per_response')}."]
    out += ["", f"Paced at {PACED_RATE / 1000:g} k requests/s:", ""]
    out += _table(
        ["target", "CPU µs/response", "× coturn", "p50 µs", "p99 µs"],
        [[t, _cell(data[t]["paced_cpu_us_per_response"], 2), _ratio(summary, t, "paced_cpu_us_per_response"),
          _cell(data[t]["paced_p50_us"], 0), _cell(data[t]["paced_p99_us"], 0)] for t in order],
    )
    out += ["", "Memory (one process):", ""]
    out += _table(
        ["target", "RSS MiB after load", "× coturn", "peak RSS MiB", "× coturn", "threads"],
        [[t, _cell(data[t]["rss_mib"]), _ratio(summary, t, "rss_mib"), _cell(data[t]["peak_rss_mib"]),
          _ratio(summary, t, "peak_rss_mib"), str(data[t]["threads"])] for t in order],
    )
    if sizes:
        out += ["", "Reply to one plain request (amplification = reply bytes / request bytes):", ""]
        out += _table(
            ["server", "mode", "attributes", "request B", "reply B", "amplification"],
            [[s.server, s.address_mode, ", ".join(s.attributes) or "(the datagram itself)", str(s.request_bytes),
              str(s.reply_bytes), f"{s.amplification:.1f}"] for s in sizes],
            text_columns=3,
        )
    out += ["", "Where the two cores' time went during saturation, % (medians; a shared VM: the server's "
            "own share below ~100 % means it waited for packets, other tasks or the hypervisor):", ""]
    out += _table(
        ["target", "server process", "server core: tasks", "irq", "steal", "idle",
         "generator core: tasks", "irq", "steal", "idle"],
        [[t, *(_cell(data[t][name], 0) for name in (
            "server_share", "server_core_tasks", "server_core_irq", "server_core_steal", "server_core_idle",
            "generator_core_tasks", "generator_core_irq", "generator_core_steal", "generator_core_idle"))]
         for t in order],
    )
    out += ["", "Validation (all phases, all rounds):", ""]
    out += _table(
        ["target", "validated responses", "invalid", "lost", "late/duplicate", "reply B"],
        [[t, str(data[t]["validated"]), str(data[t]["bad"]) + (f" ({data[t]['first_bad']})" if data[t]["bad"] else ""),
          str(data[t]["lost"]), str(data[t]["unknown"]), ",".join(str(b) for b in data[t]["reply_bytes"]) or "-"]
         for t in order],
    )
    return "\n".join(out)


# ---------------------------------------------------------------------------- CLI


def _positive(kind: Callable[[str], float], upper: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not 0 < value <= upper:
            raise argparse.ArgumentTypeError(f"must be > 0 and <= {upper:g}")
        return value
    return parse


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.echo_server",
        description="natprobe's echo server vs coturn on loopback: responses/s, CPU µs per response, latency, "
                    "memory and reply sizes, in one interleaved run.",
    )
    parser.add_argument("--seconds", type=_positive(float, 60), help="saturation phase per sample (default 4; --quick 1)")
    parser.add_argument("--rounds", type=_positive(int, 50), help="interleaved rounds (default 5; --quick 1)")
    parser.add_argument("--inflight", type=_positive(int, 4096), default=64, help="requests in flight (default 64)")
    parser.add_argument("--mode", choices=[m.value for m in AddressMode], default=AddressMode.RFC5780.value,
                        help="server address mode for the load rounds (default %(default)s)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every raw number and the summary here")
    parser.add_argument("--quick", action="store_true", help="smoke run, < 30 s: 1 round of 1 s")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every sample as it finishes")
    return parser.parse_args(argv)


def _cpus() -> tuple[int | None, int | None]:
    """Two distinct CPUs for server and generator, or (None, None) with a warning on a one-CPU box."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        logger.warning("only %d CPU available: server and generator share it, numbers mean less", len(allowed))
        return None, None
    return allowed[0], allowed[1]


def _version(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (done.stdout or done.stderr or "").strip()
    return text.splitlines()[-1] if text else "unknown"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return "unknown"


def _finite(value: Any) -> Any:
    """NaN (a phase without responses) as JSON null: strict JSON has no NaN."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_finite(payload), indent=1, allow_nan=False) + "\n")
    tmp.replace(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every response validated, 1 if not, 2 if it could not run, 130 on Ctrl-C."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    quick = bool(args.quick)
    seconds = float(args.seconds if args.seconds is not None else (1.0 if quick else 4.0))
    rounds = int(args.rounds if args.rounds is not None else (1 if quick else 5))
    plan: dict[str, Any] = {
        "rounds": rounds,
        "seconds": seconds,
        "paced_seconds": seconds,
        "paced_rate": PACED_RATE,
        "inflight": int(args.inflight),
        "address_mode": args.mode,
        "quick": quick,
    }
    missing = [name for name in ("turnserver", "taskset") if shutil.which(name) is None]
    if missing:
        print(f"benchmarks.echo_server: not installed: {', '.join(missing)} (scripts/setup.sh installs them)",
              file=sys.stderr)
        return 2
    server_cpu, generator_cpu = _cpus()
    plan["server_cpu"], plan["generator_cpu"] = server_cpu, generator_cpu
    if generator_cpu is not None:
        os.sched_setaffinity(0, {generator_cpu})  # keep this orchestrator off the server's core
    started = time.monotonic()
    meta: dict[str, Any] = {
        "benchmark": "echo_server",
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "cpu_model": _cpu_model(), "kernel": platform.release(),
                 "python": platform.python_version()},
        "versions": {"coturn": _version(["turnserver", "--version"]),
                     "gcc": _version(["gcc", "-dumpfullversion"])},
        "plan": plan,
    }

    def progress(sample: Sample) -> None:
        if args.verbose:
            print(f"  round {sample.round} {sample.target:<14} {sample.saturated.responses_per_s:>10.0f}/s "
                  f"{sample.cpu_us_per_response:6.2f} µs/resp  paced {sample.cpu_us_per_response_paced:6.2f} µs  "
                  f"RSS {sample.rss_kib / 1024:5.1f} MiB  bad={sample.saturated.bad + sample.paced.bad} "
                  f"lost={sample.saturated.lost + sample.paced.lost}", file=sys.stderr, flush=True)

    try:
        with tempfile.TemporaryDirectory(prefix="natprobe-bench-echo-") as tmp:
            workdir = Path(tmp)
            binary = build_generator(workdir)
            print(f"echo-server benchmark: {rounds} round(s) x {len(Target)} targets, "
                  f"~{rounds * len(Target) * (seconds * 2 + 1.5) + 8:.0f} s", file=sys.stderr, flush=True)
            sizes = measure_reply_sizes(workdir, server_cpu)
            samples = run_rounds(binary, rounds=rounds, seconds=seconds, paced_seconds=seconds,
                                 inflight=int(args.inflight), mode=AddressMode(args.mode), targets=tuple(Target),
                                 server_cpu=server_cpu, generator_cpu=generator_cpu, workdir=workdir,
                                 on_sample=progress)
    except LabError as exc:
        print(f"benchmarks.echo_server: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # every process was already stopped by the finally blocks
        print("benchmarks.echo_server: interrupted", file=sys.stderr)
        return 130
    summary = summarize(samples)
    print(render(summary, sizes, plan))
    if args.json is not None:
        _write_json(args.json, {
            **meta,
            "elapsed_s": round(time.monotonic() - started, 1),
            "samples": [{**asdict(s), "cpu_us_per_response": s.cpu_us_per_response,
                         "cpu_us_per_response_paced": s.cpu_us_per_response_paced, "server_share": s.server_share,
                         "valid": s.valid}
                        for s in samples],
            "reply_sizes": [{**asdict(s), "amplification": s.amplification} for s in sizes],
            "summary": summary,
        })
    invalid = [s for s in samples if not s.valid]
    for sample in invalid:
        print(f"benchmarks.echo_server: {sample.target} round {sample.round}: ok={sample.saturated.ok}+"
              f"{sample.paced.ok}, invalid={sample.saturated.bad}+{sample.paced.bad} "
              f"({sample.saturated.first_bad or sample.paced.first_bad})", file=sys.stderr)
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
