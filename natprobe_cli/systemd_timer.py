"""``natprobe watch --systemd-timer user|system``: a hardened oneshot service and its timer.

The service runs ``natprobe watch --once``: a timer (not a long-running loop) is what systemd
schedules best — no process between runs, ``Persistent=`` catches a run missed while the
machine slept, ``RandomizedDelaySec=`` spreads watches started by the same calendar.

Secrets (the token, Apprise URLs, the ``--exec`` command) stay out of the unit, which any user
can read with ``systemctl cat``: the service reads them from the ``[watch]`` table of the
config file. The system service runs as a throw-away user (``DynamicUser``) whose history
lives in ``/var/lib/natprobe`` (``StateDirectory``) and whose config is
``/etc/natprobe/config.toml``; the sandbox is every natprobe unit's
(:mod:`natprobe.systemd_sandbox`, the echo server's too), with the network families a check
needs (IP, plus Netlink for the interfaces and Unix for logging).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from natprobe.systemd_sandbox import hidden_paths, installed_script, sandbox_directives

__all__ = ("executable", "hidden_from_units", "watch_units")

# IP for the checks, Netlink for the interfaces, Unix for logging.
_FAMILIES = ("AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK")


def executable() -> list[str]:
    """This installation's ``natprobe`` script, else ``python -m natprobe_cli``."""
    script = installed_script()
    if script is not None:
        return [str(script)]
    return [sys.executable, "-m", "natprobe_cli"]


def hidden_from_units(kind: str, command: list[str] | None = None) -> list[Path]:
    """The program and this installation's code, where the ``kind`` service's sandbox hides
    them (a virtualenv under /tmp, or under /home for the system service): such a service cannot start."""
    needed = [Path((command or executable())[0]), Path(__file__).resolve().parent]
    return hidden_paths(needed, system=kind == "system")


def _timespan(seconds: float) -> str:
    return f"{max(1, round(seconds))}s"


def watch_units(kind: str, every_s: float, options: list[str], *, state_dir: Path | None = None,
                textfile: Path | None = None, command: list[str] | None = None) -> str:
    """The service and the timer, one after the other, each headed by the file name to save it as.

    ``options`` are the non-secret ``natprobe watch`` options to run with (``--udp 22124``...)."""
    if kind not in ("user", "system"):
        raise ValueError("kind must be 'user' or 'system'")
    argv = [*(command or executable()), "watch", "--once", *options]
    lines = ["[Unit]", "Description=natprobe watch: reachability checks, history and messages",
             "Documentation=https://pypi.org/project/natprobe/", "Wants=network-online.target",
             "After=network-online.target", "", "[Service]", "Type=oneshot"]
    writable: list[str] = []
    if kind == "system":
        argv += ["--state-dir", str(state_dir or "/var/lib/natprobe")]
        lines += ["DynamicUser=yes", "StateDirectory=natprobe", "StateDirectoryMode=0700",
                  "Environment=XDG_CONFIG_HOME=/etc"]
        if state_dir is not None:
            writable.append(str(state_dir))
    else:
        if state_dir is not None:
            argv += ["--state-dir", str(state_dir)]
        # StateDirectory= is ~/.local/state/natprobe: natprobe's default history folder, writable.
        lines.append("StateDirectory=natprobe" if state_dir is None else f"ReadWritePaths={state_dir}")
    if textfile is not None:
        writable.append(str(textfile.parent))
    if writable:
        lines.append("ReadWritePaths=" + " ".join(writable))
    lines.append("ExecStart=" + shlex.join(argv))
    lines.append("TimeoutStartSec=5min")
    lines += sandbox_directives(address_families=_FAMILIES, system=kind == "system")
    service = "\n".join(lines) + "\n"
    timer = "\n".join([
        "[Unit]", "Description=Run natprobe watch on a schedule", "", "[Timer]",
        "OnBootSec=2min", f"OnUnitActiveSec={_timespan(every_s)}",
        f"RandomizedDelaySec={_timespan(every_s * 0.1)}", "Persistent=true", "",
        "[Install]", "WantedBy=timers.target", "",
    ])
    where = "~/.config/systemd/user/" if kind == "user" else "/etc/systemd/system/"
    enable = "systemctl --user enable --now natprobe-watch.timer" if kind == "user" else \
        "systemctl enable --now natprobe-watch.timer"
    return (f"# {where}natprobe-watch.service\n{service}\n"
            f"# {where}natprobe-watch.timer\n{timer}\n"
            f"# then: {enable}\n")
