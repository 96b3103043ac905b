"""``natprobe serve --systemd-unit``: a hardened systemd service for the echo server.

The settings follow the usual conventions for a small network daemon (facts/self-hosting.md):
a throw-away user (``DynamicUser``), no privilege gain, a read-only system, no home
directories, a private /tmp, only the IP (and Unix, for logging) socket families, a restart
on failure. No capability is granted: 3478-3480, 22224 and an HTTP port above 1024 need none.
The token is a systemd credential (``LoadCredential``): the file stays readable by root only
and the dynamic user reads its copy from ``$CREDENTIALS_DIRECTORY``.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

__all__ = ("DEFAULT_CONFIG_PATH", "DEFAULT_TOKEN_PATH", "executable", "systemd_unit")

DEFAULT_CONFIG_PATH = Path("/etc/natprobe/serve.toml")
DEFAULT_TOKEN_PATH = Path("/etc/natprobe/token")


def executable() -> list[str]:
    """How to start this very installation: its ``natprobe`` script, else ``python -m natprobe_server``."""
    script = Path(sys.executable).parent / "natprobe"
    if script.is_file():
        return [str(script), "serve"]
    return [sys.executable, "-m", "natprobe_server"]


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
Documentation=https://pypi.org/project/natprobe/
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
ExecStart={shlex.join(argv)}
{credential}Restart=on-failure
RestartSec=5s
DynamicUser=yes
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
CapabilityBoundingSet=
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
"""
