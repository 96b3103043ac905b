"""What this machine can measure: platform and privilege facilities as values (pure).

natprobe leans on facilities that differ per platform and privilege: a hop trace (Linux
``IP_RECVERR``; a macOS ICMP datagram socket; Windows ``IcmpSendEcho2``), port-unreachable
reports on a connected UDP socket, a packet watch for arrivals (Linux ``AF_PACKET``, needs
CAP_NET_RAW), the interface and gateway list, and stable-versus-temporary IPv6 flags. They are
probed once (:mod:`natprobe.adapters.capabilities`) into a :class:`CapabilitySet`, which the
measurements take as an argument: a missing facility makes a conclusion ``inconclusive`` and
names itself, never a crash or a guess. Tests inject a set with facilities switched off
(:meth:`CapabilitySet.without`) instead of patching internals.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from natprobe.i18n import _

__all__ = ("Availability", "CapabilitySet", "Facility", "Missing", "limit_sentence")


class Facility(enum.StrEnum):
    """A platform facility natprobe measures with; the stable names of ``natprobe doctor``."""

    HOP_TRACE = "hop-trace"
    """The routers on the way (tells carrier-grade NAT apart)."""
    PORT_UNREACHABLE = "port-unreachable"
    """ICMP port-unreachable seen by a connected UDP socket (``ECONNREFUSED``/``WSAECONNRESET``)."""
    ARRIVAL_WATCH = "arrival-watch"
    """Seeing a probe reach this host's interface (a held port, a host firewall)."""
    INTERFACES = "interfaces"
    """This host's addresses and default gateways."""
    IPV6_TEMPORARY = "ipv6-temporary"
    """Telling a stable IPv6 address from a temporary privacy address."""


class Missing(enum.StrEnum):
    """Why a facility is not available."""

    PERMISSION = "permission"
    """It exists here but needs a privilege this process lacks (CAP_NET_RAW, root)."""
    UNSUPPORTED = "unsupported"
    """This platform has no such facility, or natprobe has no implementation of it here."""
    DISABLED = "disabled"
    """Switched off on purpose (an injected capability set, a test)."""
    FAILED = "failed"
    """It should exist, but probing it failed (the detail says how)."""


@dataclass(frozen=True, slots=True)
class Availability:
    facility: Facility
    available: bool
    method: str | None
    """How natprobe does it here (``"AF_PACKET + BPF"``, ``"IP_RECVERR"``), when available."""
    missing: Missing | None = None
    detail: str | None = None
    """The underlying error or platform, for the curious (not translated)."""
    remedy: str | None = None
    """The one command that would make it available, when one exists (``sudo …``, ``setcap …``)."""


@dataclass(frozen=True, slots=True)
class CapabilitySet:
    """Every :class:`Facility` with its availability on this machine (one entry each)."""

    platform: str
    """``sys.platform`` when probed (``linux``, ``darwin``, ``win32``)."""
    entries: tuple[Availability, ...]
    privileged: bool = False
    """The process runs as root (or holds CAP_NET_RAW)."""

    def __post_init__(self) -> None:
        facilities = [entry.facility for entry in self.entries]
        if sorted(facilities) != sorted(Facility):
            raise ValueError(f"a capability set lists each facility once, got {facilities}")

    def __getitem__(self, facility: Facility) -> Availability:
        return next(entry for entry in self.entries if entry.facility is facility)

    def has(self, facility: Facility) -> bool:
        return self[facility].available

    def without(self, *facilities: Facility) -> CapabilitySet:
        """A copy with ``facilities`` switched off (``Missing.DISABLED``): what a machine without them sees."""
        return replace(self, entries=tuple(
            Availability(e.facility, False, None, Missing.DISABLED, "switched off") if e.facility in facilities else e
            for e in self.entries
        ))

    @property
    def missing(self) -> tuple[Availability, ...]:
        return tuple(entry for entry in self.entries if not entry.available)


def _what(facility: Facility) -> str:
    if facility is Facility.HOP_TRACE:
        return _("trace the routers on the way (needed to tell carrier-grade NAT apart)")
    if facility is Facility.PORT_UNREACHABLE:
        return _("see ICMP port-unreachable answers")
    if facility is Facility.ARRIVAL_WATCH:
        return _("watch this host's interfaces for the echo server's probe (needed to test a port another "
                 "program holds, and to tell this host's firewall apart)")
    if facility is Facility.INTERFACES:
        return _("list this host's interfaces and gateway")
    return _("tell a stable IPv6 address from a temporary privacy address")


def limit_sentence(entry: Availability) -> str:
    """One sentence: what natprobe could not do here, why, and the command that would let it."""
    what = _what(entry.facility)
    if entry.missing is Missing.PERMISSION:
        text = _("natprobe could not {what}: it needs a privilege this user does not have.", what=what)
    elif entry.missing is Missing.DISABLED:
        text = _("natprobe did not {what}: the facility was switched off.", what=what)
    elif entry.missing is Missing.FAILED:
        text = _("natprobe could not {what}: probing it failed ({detail}).", what=what, detail=entry.detail or "?")
    else:
        text = _("natprobe cannot {what} on this platform ({platform}).", what=what, platform=entry.detail or "?")
    if entry.remedy:
        text += " " + _("To allow it: {command}", command=entry.remedy)
    return text
