"""Network namespaces for the lab: naming, creation, removal, processes, and :class:`Host`.

Every namespace is named ``np-<creator pid>-<random>-<role>``. The creator's PID in the
name lets :func:`cleanup_stale_namespaces` tell a namespace left behind by a killed test
run (its creator is gone) from one that another live run is using.

All commands go through :func:`run`: a timeout on every call and a :class:`LabError`
carrying the command and its stderr on any failure. Namespaces are entered in-process
with ``setns(2)`` on the *calling thread* only (:meth:`Host.entered`), which is how tests
create sockets inside a namespace without a subprocess.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from natprobe.errors import LabError

__all__ = (
    "NETNS_DIR",
    "PREFIX",
    "Host",
    "run",
    "new_run_id",
    "namespace_exists",
    "create_namespaces",
    "delete_namespaces",
    "write_sysctls",
    "pids_in_namespaces",
    "terminate_pids",
    "stop_process",
    "require_lab",
    "cleanup_stale_namespaces",
)

logger = logging.getLogger(__name__)

NETNS_DIR = Path("/run/netns")
PREFIX = "np-"
_NAME_RE = re.compile(r"^np-(?P<pid>[0-9]+)-(?P<rand>[0-9a-f]+)-(?P<role>[a-z0-9]+)$")
_CLONE_NEWNET = 0x40000000
_TERM_GRACE_S = 2.0


def namespace_environment() -> dict[str, str]:
    """The environment for a command run inside a lab namespace: this one, without
    ``$NATPROBE_GATEWAY``. Outside the lab the tests point natprobe's router probe at loopback;
    inside a namespace the default gateway is the lab's own router, which is the one to ask."""
    return {name: value for name, value in os.environ.items() if name != "NATPROBE_GATEWAY"}


def run(
    argv: Sequence[str],
    *,
    input: str | None = None,
    check: bool = True,
    timeout: float = 10.0,
    **kw: Any,
) -> subprocess.CompletedProcess[str]:
    """Run a command with a timeout; failures raise :class:`LabError` with its stderr."""
    cmd = " ".join(argv)
    if "stdout" not in kw and "stderr" not in kw:
        kw["capture_output"] = True
    try:
        done: subprocess.CompletedProcess[str] = subprocess.run(
            list(argv), input=input, timeout=timeout, text=True, check=False, **kw
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout:g} s: {cmd}") from exc
    except OSError as exc:
        raise LabError(f"cannot run {cmd}: {exc}") from exc
    if check and done.returncode != 0:
        err = (done.stderr or "").strip() if isinstance(done.stderr, str) else ""
        raise LabError(f"{cmd} failed with exit status {done.returncode}: {err or '(no stderr)'}")
    return done


def new_run_id() -> str:
    """``<pid>-<4 hex>``: unique per lab, and says which process made it."""
    return f"{os.getpid()}-{secrets.token_hex(2)}"


def namespace_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def create_namespaces(names: Iterable[str]) -> None:
    """Create the named namespaces with one ``ip -batch`` call."""
    script = "".join(f"netns add {n}\n" for n in names)
    if script:
        run(["ip", "-batch", "-"], input=script)


def delete_namespaces(names: Iterable[str]) -> None:
    """Delete those of the named namespaces that exist; raise if any is left."""
    present = [n for n in names if namespace_exists(n)]
    if not present:
        return
    script = "".join(f"netns del {n}\n" for n in present)
    # -force: go on after a failed line, so one stuck namespace does not keep the others.
    done = run(["ip", "-force", "-batch", "-"], input=script, check=False)
    left = [n for n in present if namespace_exists(n)]
    if left:
        raise LabError(f"could not delete namespaces {left}: {done.stderr.strip()}")


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _setns(fd: int, what: str) -> None:
    if _libc().setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise LabError(f"setns({what}) failed: {os.strerror(errno)}")


@contextlib.contextmanager
def _entered(name: str) -> Iterator[None]:
    try:
        target = os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise LabError(f"cannot open namespace {name}: {exc}") from exc
    try:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        os.close(target)
        raise LabError(f"cannot open this thread's namespace: {exc}") from exc
    try:
        _setns(target, name)
        try:
            yield
        finally:
            _setns(home, "back to the original namespace")
    finally:
        os.close(target)
        os.close(home)


def write_sysctls(name: str, values: Mapping[str, str]) -> None:
    """Write ``/proc/sys`` keys (``net/ipv4/ip_forward`` style) inside namespace ``name``.

    ``/proc/sys/net`` shows the namespace of the thread that opens the file, so this
    needs no subprocess.
    """
    with _entered(name):
        for key, value in values.items():
            try:
                Path("/proc/sys", key).write_text(value)
            except OSError as exc:
                raise LabError(f"sysctl {key}={value} in {name} failed: {exc}") from exc


def pids_in_namespaces(names: Iterable[str]) -> dict[str, list[int]]:
    """PIDs (other than this process) whose network namespace is one of ``names``."""
    wanted: dict[tuple[int, int], str] = {}
    for n in names:
        try:
            st = os.stat(NETNS_DIR / n)
        except OSError:
            continue
        wanted[(st.st_dev, st.st_ino)] = n
    found: dict[str, list[int]] = {n: [] for n in wanted.values()}
    if not wanted:
        return found
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            st = os.stat(f"/proc/{entry.name}/ns/net")
        except OSError:
            continue  # gone, or a kernel thread
        ns = wanted.get((st.st_dev, st.st_ino))
        if ns is not None:
            found[ns].append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the parenthesised command name, which may contain spaces.
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] != "Z"


def terminate_pids(pids: Iterable[int], grace_s: float = _TERM_GRACE_S) -> None:
    """SIGTERM each PID, wait up to ``grace_s`` for all, then SIGKILL what is left."""
    pending = [p for p in pids if p != os.getpid()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pending:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while pending and time.monotonic() < deadline:
            pending = [p for p in pending if _alive(p)]
            if pending:
                time.sleep(0.02)
        if not pending:
            return
    logger.warning("processes still alive after SIGKILL: %s", pending)


def stop_process(proc: subprocess.Popen[Any], grace_s: float = _TERM_GRACE_S) -> None:
    """SIGTERM one started process (its PID only), wait up to ``grace_s``, then SIGKILL it and
    wait as long again; nothing when it has already ended."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace_s)


class Host:
    """One network namespace: a host, a router or the Internet core."""

    def __init__(self, name: str, ip: IPv4Address, role: str) -> None:
        self.name = name
        self.ip = ip
        self.role = role
        self._procs: list[subprocess.Popen[Any]] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.role} {self.name} {self.ip}>"

    @property
    def path(self) -> Path:
        """The bind mount that names this namespace."""
        return NETNS_DIR / self.name

    def exec(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        timeout: float = 30,
        **kw: Any,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside this namespace and wait for it (text mode, captured)."""
        kw.setdefault("env", namespace_environment())
        return run(["ip", "netns", "exec", self.name, *argv], check=check, timeout=timeout, **kw)

    def spawn(self, argv: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        """Start a long-running command inside this namespace.

        The process gets its own session (so its children can be signalled with it) and
        is killed, TERM then KILL, when the lab is torn down. ``ip netns exec`` execs the
        command in place, so ``Popen.pid`` is the command's own PID.
        """
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("start_new_session", True)
        kw.setdefault("env", namespace_environment())
        argv = ["ip", "netns", "exec", self.name, *argv]
        try:
            proc: subprocess.Popen[Any] = subprocess.Popen(argv, **kw)
        except OSError as exc:
            raise LabError(f"cannot start {' '.join(argv)}: {exc}") from exc
        self._procs.append(proc)
        logger.debug("spawned pid %d in %s: %s", proc.pid, self.name, " ".join(argv))
        return proc

    @property
    def processes(self) -> tuple[subprocess.Popen[Any], ...]:
        """The processes :meth:`spawn` started here and not yet reaped by teardown."""
        return tuple(self._procs)

    def kill_processes(self, grace_s: float = _TERM_GRACE_S) -> None:
        """TERM, then KILL, every spawned process (and its process group) still running."""
        running = [p for p in self._procs if p.poll() is None]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for proc in running:
                _signal_proc(proc, sig)
            deadline = time.monotonic() + grace_s
            for proc in running:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(max(0.0, deadline - time.monotonic()))
            running = [p for p in running if p.poll() is None]
            if not running:
                break
        for proc in self._procs:
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        if running:
            logger.warning("%s: processes survived SIGKILL: %s", self.name, [p.pid for p in running])
        self._procs = running

    def entered(self) -> contextlib.AbstractContextManager[None]:
        """Switch the *calling thread* into this namespace until the block ends.

        Sockets created inside keep living in this namespace afterwards, and can be used
        from any thread. Threads started inside inherit the namespace; threads that
        already existed (e.g. an executor's) do not.
        """
        return _entered(self.name)


def _signal_proc(proc: subprocess.Popen[Any], sig: signal.Signals) -> None:
    # The PID is still ours (not reaped), so a group it leads is the one spawn() made.
    if proc.poll() is not None:
        return
    try:
        if os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


_PROBE_RULESET = """table ip nplab_probe {
  map m { type inet_service : ipv4_addr . inet_service; flags dynamic, timeout; timeout 10s; }
  chain pre { type nat hook prerouting priority dstnat; policy accept;
    udp dport 9 dnat ip to udp dport map @m
  }
  chain post { type nat hook postrouting priority srcnat; policy accept;
    oifname "lo" masquerade fully-random
  }
}
"""


@functools.cache
def require_lab() -> str | None:
    """None if this machine can build the lab, else why not (for ``pytest.skip``).

    Needs root, ``ip netns``, nftables with NAT and dynamic maps, and conntrack-tools;
    the check builds and removes a throw-away namespace. The answer is cached.
    """
    if os.geteuid() != 0:
        return f"the NAT lab needs root (network namespaces, nftables); running as uid {os.geteuid()}"
    for tool, package in (("ip", "iproute2"), ("nft", "nftables"), ("conntrack", "conntrack")):
        if shutil.which(tool) is None:
            return f"the NAT lab needs `{tool}` (apt-get install {package})"
    name = f"{PREFIX}{new_run_id()}-probe"
    try:
        create_namespaces([name])
        run(["ip", "netns", "exec", name, "nft", "-f", "-"], input=_PROBE_RULESET)
    except LabError as exc:
        return f"cannot build a namespace with nftables NAT here: {exc}"
    finally:
        try:
            delete_namespaces([name])
        except LabError as exc:
            logger.warning("probe namespace not removed: %s", exc)
    return None


def cleanup_stale_namespaces() -> list[str]:
    """Remove lab namespaces whose creating process is gone; return their names.

    Processes still running inside them (a wire, a server of a killed run) are ended
    first, by PID. Namespaces of live processes (another test run) are left alone.
    """
    try:
        entries = sorted(p.name for p in NETNS_DIR.iterdir())
    except OSError:
        return []
    stale = []
    for name in entries:
        m = _NAME_RE.match(name)
        if m is None:
            continue
        pid = int(m["pid"])
        if pid == os.getpid() or _alive(pid):
            continue
        stale.append(name)
    if not stale:
        return []
    for pids in pids_in_namespaces(stale).values():
        terminate_pids(pids)
    try:
        delete_namespaces(stale)
    except LabError as exc:
        logger.warning("stale lab namespaces not removed: %s", exc)
    removed = [n for n in stale if not namespace_exists(n)]
    if removed:
        logger.info("removed stale lab namespaces: %s", removed)
    return removed
