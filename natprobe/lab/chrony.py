"""A real NTP server in a lab namespace: Debian's ``chronyd``, serving its own clock.

The configuration names no upstream server (``local stratum 10``: chronyd serves its own
clock as stratum 10), allows every client, opens no command port, and keeps its pid and drift
files in the lab's ``directory``; ``-x`` leaves the system clock alone and ``-d`` keeps it in
the foreground, so :meth:`Host.spawn` owns the process and the lab ends it by PID. The system's
chrony service is never involved (scripts/setup.sh keeps the one it installs from starting).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from natprobe.errors import LabError
from natprobe.lab.netns import Host
from natprobe.lab.services import wait_udp_bound

__all__ = ("chrony_missing", "chrony_config", "start_chrony")

READY_TIMEOUT_S = 10.0
CHRONYD = "/usr/sbin/chronyd"


def chrony_missing() -> str | None:
    if not Path(CHRONYD).is_file():
        return "chrony is not installed (scripts/setup.sh installs it)"
    return None


def chrony_config(port: int, directory: Path) -> str:
    """chronyd's whole configuration: serve NTP on UDP ``port`` to anyone, from no upstream."""
    return (
        f"port {port}\n"
        "allow all\n"
        "local stratum 10\n"
        "cmdport 0\n"
        f"pidfile {directory / 'chronyd.pid'}\n"
        f"driftfile {directory / 'chrony.drift'}\n"
    )


def start_chrony(host: Host, port: int, directory: Path) -> subprocess.Popen[Any]:
    """Run chronyd in ``host`` serving NTP on UDP ``port`` (all addresses), until it is bound."""
    reason = chrony_missing()
    if reason:
        raise LabError(reason)
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "chrony.conf"
    config.write_text(chrony_config(port, directory))
    log = directory / "chronyd.log"
    with log.open("wb") as handle:  # a file, not a pipe nobody reads
        # -u root: the lab's files belong to root, and the namespace is the lab's own.
        proc = host.spawn([CHRONYD, "-d", "-x", "-u", "root", "-f", str(config)],
                          stdout=handle, stderr=subprocess.STDOUT)
    wait_udp_bound(host, proc, port, log, "chronyd", READY_TIMEOUT_S)
    return proc
