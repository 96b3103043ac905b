"""Probe, once, which platform facilities this machine and this process have.

Each probe opens and closes one socket or reads one file; nothing is sent. The result is a
:class:`~natprobe.observations.CapabilitySet` the measurements take as an argument
(``CheckOptions.capabilities``), so a test runs the same code with a facility switched off
(``probe_capabilities().without(Facility.ARRIVAL_WATCH)``) instead of patching internals.
``$NATPROBE_FACILITIES_OFF`` does the same for a whole run of the command (a Linux user sees
what a machine without those facilities concludes; the lab tests run the CLI that way).

Importable everywhere: the Linux-only constants are looked up with ``getattr`` and only on
Linux, so ``import natprobe`` on macOS or Windows never touches them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import shlex
import socket
import sys
import threading
from ipaddress import IPv4Address
from pathlib import Path

from natprobe.addressing import IPAddress
from natprobe.errors import NetworkError
from natprobe.recverr import Hop

from natprobe.i18n import _
from natprobe.verdicts.port_spec import PortSpec
from natprobe.observations import (
    FACILITIES_OFF_VARIABLE as ENV_FACILITIES_OFF,
    OFF_BY_VARIABLE,
    Availability,
    CapabilitySet,
    Facility,
    Missing,
    parse_facilities,
)

__all__ = ("ENV_FACILITIES_OFF", "bind_remedy", "bind_unavailable", "facilities_off_from_environment",
           "low_ports_remedy", "probe_capabilities", "raw_capture_remedy", "trace_path", "watch_unavailable")

logger = logging.getLogger(__name__)

_ETH_P_IP = 0x0800
_SOL_IP = 0
_IP_RECVERR = 11  # <linux/in.h>


def _setcap_advice(capability: str) -> str:
    """How to give ``capability`` to a Python used only for natprobe, with its trade-off."""
    python = Path(sys.executable)
    if sys.prefix != sys.base_prefix and not python.is_symlink():  # a virtualenv's own copy
        return _("sudo setcap {capability}+ep {python} (this virtualenv's own copy of Python: every script it runs "
                 "gets the privilege)", capability=capability, python=shlex.quote(str(python)))
    return _("create a virtualenv used only for natprobe with its own copy of Python (python3 -m venv --copies "
             "~/natprobe-venv), install natprobe there, then: sudo setcap {capability}+ep ~/natprobe-venv/bin/python3 "
             "(every script that copy runs gets the privilege; without --copies the virtualenv's python is the "
             "system's, which setcap would change for every program)", capability=capability)


def raw_capture_remedy(argv0: str = "natprobe") -> str:
    """The command that lets natprobe watch for arrivals (packet capture), and the alternative."""
    return _("sudo {program} …, or {setcap}", program=argv0, setcap=_setcap_advice("cap_net_raw"))


def low_ports_remedy(argv0: str = "natprobe") -> str:
    """The command that lets natprobe listen on ports below 1024, and the alternative."""
    return _("sudo {program} …, or {setcap}", program=argv0, setcap=_setcap_advice("cap_net_bind_service"))


def bind_remedy(spec: PortSpec) -> str:
    """The command that lets natprobe listen on a port below 1024 itself, and the alternative."""
    return _("sudo natprobe check --{protocol} {port}, or {setcap}", protocol=spec.protocol.value, port=spec.port,
             setcap=_setcap_advice("cap_net_bind_service"))


def _is_root() -> bool:
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


def _arrival_watch(platform: str) -> Availability:
    facility = Facility.ARRIVAL_WATCH
    if platform != "linux" or not hasattr(socket, "AF_PACKET"):
        return Availability(facility, False, None, Missing.UNSUPPORTED, platform)
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(_ETH_P_IP))
    except PermissionError as exc:
        return Availability(facility, False, None, Missing.PERMISSION, str(exc), raw_capture_remedy())
    except OSError as exc:
        return Availability(facility, False, None, Missing.FAILED, str(exc))
    # Closing a packet socket waits out the kernel's RCU grace period (8-18 ms here), and the
    # probe runs before check's and nat's first packet: the close happens in a thread instead.
    threading.Thread(target=sock.close, name="natprobe-close-probe", daemon=True).start()
    return Availability(facility, True, "AF_PACKET + BPF (IPv4 and IPv6)")


def _hop_trace(platform: str) -> Availability:
    facility = Facility.HOP_TRACE
    if platform == "darwin":  # an unprivileged ICMP datagram socket receives Time Exceeded
        try:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP).close()
        except OSError as exc:
            return Availability(facility, False, None, Missing.FAILED, str(exc))
        return Availability(facility, True, "ICMP datagram socket + IP_TTL")
    if platform == "win32":  # IcmpSendEcho2 needs no administrator
        import ctypes  # here only: ``check`` probes the capabilities before its first packet

        try:
            ctypes.WinDLL("iphlpapi.dll")  # type: ignore[attr-defined,unused-ignore]
        except (OSError, AttributeError) as exc:
            return Availability(facility, False, None, Missing.FAILED, str(exc))
        return Availability(facility, True, "IcmpSendEcho2 (iphlpapi)")
    if platform != "linux":
        return Availability(facility, False, None, Missing.UNSUPPORTED, platform)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(_SOL_IP, _IP_RECVERR, 1)
    except OSError as exc:
        return Availability(facility, False, None, Missing.FAILED, str(exc))
    return Availability(facility, True, "IP_RECVERR (no privilege needed)")


async def trace_path(dest: IPAddress, port: int, capabilities: CapabilitySet, *, max_hops: int = 5,
                     timeout: float = 1.0, until: asyncio.Event | None = None) -> tuple[Hop, ...]:
    """The first routers toward ``dest`` with this platform's hop trace (IPv4 only off Linux).
    ``until``: on Linux, the hops still silent when it is set are "no answer" at once.

    Raises :class:`~natprobe.errors.NetworkError` when the trace cannot run."""
    if not capabilities.has(Facility.HOP_TRACE):
        raise NetworkError("no hop trace on this machine")
    if capabilities.platform == "linux":
        from natprobe.adapters.hops import trace_hops

        return await trace_hops(dest, port, max_hops=max_hops, timeout=timeout, until=until)
    if not isinstance(dest, IPv4Address):
        raise NetworkError("the hop trace off Linux is IPv4 only")
    from natprobe.adapters import icmp_hops

    if capabilities.platform == "win32":
        return await icmp_hops.trace_hops_windows(dest, max_hops=max_hops, timeout=timeout)
    return await icmp_hops.trace_hops_icmp_datagram(dest, max_hops=max_hops, timeout=timeout)


_CAP_NET_BIND_SERVICE = 10  # <linux/capability.h>


def _low_ports(platform: str) -> Availability:
    facility = Facility.LOW_PORTS
    if platform == "darwin":  # since macOS 10.14 any user may bind a port below 1024
        return Availability(facility, True, "any user may (macOS)")
    if platform == "win32":
        return Availability(facility, True, "any user may (Windows has no privileged ports)")
    if platform != "linux":
        return Availability(facility, False, None, Missing.UNSUPPORTED, platform)
    if _is_root():
        return Availability(facility, True, "root")
    try:
        status = Path("/proc/self/status").read_text()
        effective = next((int(line.split()[1], 16) for line in status.splitlines() if line.startswith("CapEff:")), 0)
    except (OSError, ValueError, IndexError):
        effective = 0
    if effective >> _CAP_NET_BIND_SERVICE & 1:
        return Availability(facility, True, "CAP_NET_BIND_SERVICE")
    try:  # per network namespace; 1024 unless lowered
        start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        start = 1024
    if start <= 1:
        return Availability(facility, True, f"ip_unprivileged_port_start = {start}")
    return Availability(facility, False, None, Missing.PERMISSION,
                        f"ip_unprivileged_port_start = {start}", low_ports_remedy())


def bind_unavailable(capabilities: CapabilitySet) -> Availability:
    """Why natprobe could not listen on a free port below 1024 (the probed facility's entry,
    or a permission failure when the probe expected it to work)."""
    entry = capabilities[Facility.LOW_PORTS]
    if not entry.available:
        return entry
    return Availability(entry.facility, False, None, Missing.PERMISSION, "EACCES", low_ports_remedy())


def _port_unreachable(platform: str) -> Availability:
    method = "WSAECONNRESET on a connected UDP socket" if platform == "win32" else "ECONNREFUSED on a connected UDP socket"
    return Availability(Facility.PORT_UNREACHABLE, True, method)


def _interfaces() -> Availability:
    try:
        import netifaces  # noqa: F401  (a compiled module: its absence is a broken install)
    except ImportError as exc:
        return Availability(Facility.INTERFACES, False, None, Missing.FAILED, str(exc))
    return Availability(Facility.INTERFACES, True, "netifaces")


def _ipv6_temporary(platform: str) -> Availability:
    facility = Facility.IPV6_TEMPORARY
    if platform != "linux":
        return Availability(facility, False, None, Missing.UNSUPPORTED, platform)
    for path in ("/proc/thread-self/net/if_inet6", "/proc/net/if_inet6"):
        if os.access(path, os.R_OK):
            return Availability(facility, True, "/proc/net/if_inet6 (IFA_F_TEMPORARY)")
    return Availability(facility, False, None, Missing.FAILED, "/proc/net/if_inet6 is not readable")


def facilities_off_from_environment(environ: dict[str, str] | None = None) -> tuple[Facility, ...]:
    """The facilities ``$NATPROBE_FACILITIES_OFF`` switches off (none when unset). An unknown
    name is refused with :class:`ValueError` rather than ignored: a typo would otherwise run
    with the facility on while the user believes it off."""
    text = (os.environ if environ is None else environ).get(ENV_FACILITIES_OFF, "")
    try:
        return parse_facilities(text)
    except ValueError as exc:
        raise ValueError(f"${ENV_FACILITIES_OFF}: {exc}") from None


def probe_capabilities(platform: str | None = None) -> CapabilitySet:
    """What this machine can measure (``platform`` defaults to ``sys.platform``; the probes are
    cached per platform), less what ``$NATPROBE_FACILITIES_OFF`` switches off (read at each call).

    Raises :class:`ValueError` when that variable names an unknown facility."""
    probed = _probe(platform or sys.platform)
    off = facilities_off_from_environment()
    return probed.without(*off, by=OFF_BY_VARIABLE) if off else probed


@functools.cache
def _probe(platform: str) -> CapabilitySet:
    entries = (
        _hop_trace(platform),
        _port_unreachable(platform),
        _arrival_watch(platform),
        _interfaces(),
        _ipv6_temporary(platform),
        _low_ports(platform),
    )
    logger.debug("capabilities on %s: %s", platform, entries)
    return CapabilitySet(platform, entries, privileged=_is_root())


def watch_unavailable(why: str, capabilities: CapabilitySet) -> Availability:
    """The arrival watch's availability after an attempt failed with ``why``
    (:attr:`~natprobe.adapters.sniff.ArrivalWatcher.unavailable`)."""
    entry = capabilities[Facility.ARRIVAL_WATCH]
    if not entry.available:
        return entry
    if why == "permission":
        return Availability(entry.facility, False, None, Missing.PERMISSION, why, raw_capture_remedy())
    if why == "disabled":
        return Availability(entry.facility, False, None, Missing.DISABLED, why)
    return Availability(entry.facility, False, None, Missing.FAILED, why)
