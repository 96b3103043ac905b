"""The systemd sandbox natprobe's units run in: its directives, and the paths it hides (pure).

natprobe prints two units: the echo server's service (``natprobe serve --systemd-unit``) and
the watch's oneshot service (``natprobe watch --systemd-timer``). Both run in the same sandbox,
the usual one for a small network program (facts/self-hosting.md, systemd.exec(5)): no
privilege gain, a read-only system, a private /tmp and /dev, the kernel and control groups out
of reach, no capability, only the socket families the program needs. This module is its one
home: each unit adds only what is its own (its socket families; a system service also hides the
home directories and drops every capability).

A sandbox that hides the program it starts makes a unit that cannot start: :func:`hidden_paths`
says which of the paths a unit names lie where it cannot see them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

__all__ = (
    "PRIVATE_TMP_HIDES",
    "PROTECT_HOME_HIDES",
    "hidden_directories",
    "hidden_paths",
    "installed_script",
    "sandbox_directives",
)

PRIVATE_TMP_HIDES = (Path("/tmp"), Path("/var/tmp"))
"""What ``PrivateTmp=yes`` replaces with an empty directory of the service's own."""
PROTECT_HOME_HIDES = (Path("/home"), Path("/root"), Path("/run/user"))
"""What ``ProtectHome=yes`` makes inaccessible."""

# Every unit's: the kernel, devices, clocks and namespaces out of reach (in this order in both units).
_KERNEL_AND_DEVICES = (
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "SystemCallArchitectures=native",
)


def sandbox_directives(*, address_families: Iterable[str], system: bool) -> tuple[str, ...]:
    """The ``[Service]`` lines of the sandbox, one directive each.

    ``address_families``: the socket families the program uses (``AF_INET``...). ``system``: a
    system service, which also hides the home directories (:data:`PROTECT_HOME_HIDES`) and
    drops every capability; a user's own service (``systemctl --user``) has no capability to
    drop and keeps its home, where its state lives."""
    families = tuple(address_families)
    if not families:
        raise ValueError("a unit needs at least one address family")
    return (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        *(("ProtectHome=yes",) if system else ()),
        "PrivateTmp=yes",
        *_KERNEL_AND_DEVICES,
        *(("CapabilityBoundingSet=",) if system else ()),
        "RestrictAddressFamilies=" + " ".join(families),
    )


def hidden_directories(*, system: bool) -> tuple[Path, ...]:
    """What the sandbox of :func:`sandbox_directives` hides from the service."""
    return PRIVATE_TMP_HIDES + (PROTECT_HOME_HIDES if system else ())


def hidden_paths(paths: Iterable[Path], *, system: bool) -> list[Path]:
    """Those of ``paths`` (made absolute) that the sandbox hides from the service, in order."""
    hidden = hidden_directories(system=system)
    return [path for path in paths if any(path.absolute().is_relative_to(directory) for directory in hidden)]


def installed_script() -> Path | None:
    """This installation's ``natprobe`` script, beside its Python (``None``: not installed as a script)."""
    script = Path(sys.executable).parent / "natprobe"
    return script if script.is_file() else None
