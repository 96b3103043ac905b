"""Find the program holding a local UDP port (Linux): ``/proc/net/udp{,6}`` + ``/proc/*/fd``,
then ``ss -p``, then ``wg show`` for kernel WireGuard.

Each step is bounded (a cap on processes and descriptors read, a timeout on each command)
and any failure only makes the answer less precise: an ordinary user cannot read other
users' ``/proc/<pid>/fd``, ``ss -p`` then names nothing either, and the holder is reported
as unknown. Returns ``None`` when nothing here is seen to hold the port (another OS, or the
port is held in another network namespace).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from natprobe.verdicts.port_holder import classify_program, parse_proc_net_udp, parse_ss_processes, parse_wg_listen_ports
from natprobe.observations import HolderKind, PortHolder

__all__ = ("find_udp_holder", "port_in_use")

logger = logging.getLogger(__name__)

MAX_PROCESSES = 20_000
MAX_FDS_PER_PROCESS = 4_096
COMMAND_TIMEOUT_S = 3.0
_PROC_NET = ("/proc/thread-self/net", "/proc/self/net")  # thread-self: this thread's namespace


def _read_proc_net(name: str) -> str | None:
    for base in _PROC_NET:
        try:
            return Path(base, name).read_text()
        except OSError:
            continue
    return None


def _inodes_for(port: int) -> tuple[set[int], bool]:
    """Socket inodes bound to UDP ``port`` here, and whether ``/proc/net/udp`` could be read."""
    inodes: set[int] = set()
    readable = False
    for name in ("udp", "udp6"):
        text = _read_proc_net(name)
        if text is None:
            continue
        readable = True
        inodes |= {s.inode for s in parse_proc_net_udp(text) if s.port == port}
    return inodes, readable


def _process_of(inodes: set[int]) -> tuple[str, int] | None:
    """``(comm, pid)`` of a process with one of ``inodes`` open, scanning ``/proc/*/fd`` (bounded)."""
    wanted = {f"socket:[{inode}]" for inode in inodes if inode}
    if not wanted:
        return None
    try:
        pids = [entry for entry in os.listdir("/proc") if entry.isdigit()][:MAX_PROCESSES]
    except OSError:
        return None
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)[:MAX_FDS_PER_PROCESS]
        except OSError:  # gone, or another user's (not root)
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") in wanted:
                    return Path(f"/proc/{pid}/comm").read_text().strip(), int(pid)
            except OSError:
                continue
    return None


def _run(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("%s failed: %s", argv[0], exc)
        return None
    return done.stdout if done.returncode == 0 else None


def _wireguard_ports() -> set[int]:
    """Listen ports of this namespace's WireGuard interfaces (``wg show``; needs root)."""
    text = _run(["wg", "show", "all", "listen-port"])
    return set(parse_wg_listen_ports(text).values()) if text else set()


def find_udp_holder(port: int) -> PortHolder | None:
    """The program holding UDP ``port`` here, as well as this process may know it."""
    inodes, readable = _inodes_for(port)
    if readable and not inodes:
        return None
    found = _process_of(inodes)
    evidence = "/proc"
    if found is None:
        text = _run(["ss", "-H", "-u", "-a", "-n", "-p"])
        processes = parse_ss_processes(text, port) if text else ()
        found = processes[0] if processes else None
        evidence = "ss -p"
    wireguard = port in _wireguard_ports()
    if found is None:
        # A kernel socket (inode 0) with a WireGuard listen port is kernel WireGuard.
        kind = classify_program(None, wireguard_port=wireguard)
        return PortHolder(kind, None, None, "wg show" if kind is HolderKind.WIREGUARD else "")
    program, pid = found
    return PortHolder(classify_program(program, wireguard_port=wireguard), program, pid, evidence)


_LISTEN = 0x0A  # TCP_LISTEN in /proc/net/tcp's "st" column
_UNCONNECTED = 0x07  # TCP_CLOSE: an unconnected (bound) UDP socket


def port_in_use(protocol: str, port: int) -> bool | None:
    """Does a socket here listen on (TCP) or hold (UDP) ``port``? ``None``: cannot tell
    (no ``/proc/net``: not Linux)."""
    names = ("tcp", "tcp6") if protocol == "tcp" else ("udp", "udp6")
    state = _LISTEN if protocol == "tcp" else _UNCONNECTED
    readable = False
    for name in names:
        text = _read_proc_net(name)
        if text is None:
            continue
        readable = True
        if any(s.port == port and s.state == state for s in parse_proc_net_udp(text)):
            return True
    return False if readable else None
