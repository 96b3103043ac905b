"""``natprobe serve --systemd-unit``: a hardened systemd service for the echo server.

The settings follow the usual conventions for a small network daemon (facts/self-hosting.md):
a throw-away user (``DynamicUser``), the sandbox every natprobe unit runs in
(:mod:`natprobe.systemd_sandbox`: no privilege gain, a read-only system, no home directories,
a private /tmp) with only the IP (and Unix, for logging) socket families, a restart on failure. No capability is granted: 3478-3480, 22224 and an HTTP port above 1024 need none.
The token is a systemd credential (``LoadCredential``): the file stays readable by root only
and the dynamic user reads its copy from ``$CREDENTIALS_DIRECTORY``.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from natprobe.systemd_sandbox import hidden_directories, hidden_paths, installed_script, sandbox_directives

__all__ = ("DEFAULT_CONFIG_PATH", "DEFAULT_TOKEN_PATH", "HIDDEN_DIRECTORIES", "executable", "hidden_from_unit",
           "systemd_unit")

DEFAULT_CONFIG_PATH = Path("/etc/natprobe/serve.toml")
DEFAULT_TOKEN_PATH = Path("/etc/natprobe/token")
HIDDEN_DIRECTORIES = hidden_directories(system=True)
"""What the unit's ``PrivateTmp=yes`` and ``ProtectHome=yes`` hide from the service (systemd.exec(5))."""
_SANDBOX = "\n".join(sandbox_directives(address_families=("AF_INET", "AF_INET6", "AF_UNIX"), system=True))


def executable() -> list[str]:
    """How to start this very installation: its ``natprobe`` script, else ``python -m natprobe_server``."""
    script = installed_script()
    if script is not None:
        return [str(script), "serve"]
    return [sys.executable, "-m", "natprobe_server"]


def hidden_from_unit(config: Path, token: Path | None, command: list[str] | None = None) -> list[Path]:
    """The paths the unit needs that its sandbox would hide: the program, this installation's
    code (a virtualenv or a clone under /home, say), the configuration and the token. A unit
    naming any of them cannot start, so ``--systemd-unit`` refuses to print it."""
    needed = [Path((command or executable())[0]), Path(__file__).resolve().parent, config, *([token] if token else [])]
    return hidden_paths(needed, system=True)


def systemd_unit(
    config: Path = DEFAULT_CONFIG_PATH,
    *,
    command: list[str] | None = None,
    token: Path | None = DEFAULT_TOKEN_PATH,
) -> str:
    """The unit's text. ``command`` defaults to :func:`executable`; ``token=None`` leaves the
    credential out (a server without a token)."""
    argv = [*(command or executable()), "--config", str(config.absolute()), "--log-level", "INFO"]
    credential = f"LoadCredential=token:{token.absolute()}\n" if token is not None else ""
    return f"""[Unit]
Description=natprobe echo server (STUN, UDP echo, probe-back HTTP API)
# Documentation: natprobe serve --help, and the README of the natprobe clone this was installed from
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
ExecStart={shlex.join(argv)}
{credential}Restart=on-failure
RestartSec=5s
DynamicUser=yes
{_SANDBOX}
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
"""
