"""A real WireGuard endpoint in a lab namespace: Debian's ``wireguard-go`` + ``wg``.

``wireguard-go`` is the userspace implementation (no kernel module needed, only /dev/net/tun);
it listens on UDP for both families and answers nothing without a valid handshake from a
known key: the silent service ``natprobe check`` must prove by the token's arrival alone.
The interface gets a unique name, because wireguard-go's control socket lives in the shared
``/var/run/wireguard/``; the lab kills the process (by PID) at teardown.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from natprobe.errors import LabError
from natprobe.lab.netns import Host

__all__ = ("WireGuard", "start_wireguard", "wireguard_missing")

READY_TIMEOUT_S = 10.0


def wireguard_missing() -> str | None:
    """Why a WireGuard lab cannot run here, or None."""
    for program in ("wireguard-go", "wg"):
        if shutil.which(program) is None:
            return f"{program} is not installed (scripts/setup.sh installs wireguard-go and wireguard-tools)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing"
    return None


@dataclass
class WireGuard:
    interface: str
    port: int
    process: subprocess.Popen[Any]


def start_wireguard(host: Host, port: int) -> WireGuard:
    """Run ``wireguard-go`` in ``host`` listening on UDP ``port``, up and ready (bounded wait)."""
    name = "wgnp" + secrets.token_hex(4)
    env = {"WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD": "1"}
    proc = host.spawn(["env", *(f"{k}={v}" for k, v in env.items()), "wireguard-go", "-f", name],
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"wireguard-go exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        if host.exec(["ip", "link", "show", name], check=False).returncode == 0:
            break
        time.sleep(0.05)  # lab setup polling a process's start, bounded by the deadline
    else:
        raise LabError(f"wireguard-go did not create {name} within {READY_TIMEOUT_S:g} s")
    key = subprocess.run(["wg", "genkey"], capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    with tempfile.NamedTemporaryFile("w", prefix="natprobe-wg-", delete=True) as handle:
        os.chmod(handle.name, 0o600)
        handle.write(key + "\n")
        handle.flush()
        host.exec(["wg", "set", name, "listen-port", str(port), "private-key", handle.name])
    host.exec(["ip", "link", "set", name, "up"])
    return WireGuard(name, port, proc)
