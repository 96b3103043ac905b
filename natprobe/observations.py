"""What natprobe saw, before anything is concluded: the observation records verdicts decide on.

Pure records (no I/O, no wording): what this host lets natprobe measure (each :class:`Facility`
and its :class:`Availability`, in a :class:`CapabilitySet`), which program holds a port
(:class:`PortHolder`), a STUN probe's answer (:class:`Observation`, per
:class:`Probe` of RFC 5780), a port probe's (:class:`PortObservation`), the echo server's
Jamulus hole punch (:class:`HolePunchObservation`), one resolver's answer for one address
family (:class:`FamilyLookup`). Measurement fills them in; :mod:`natprobe.verdicts` decides.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from natprobe.addressing import IPAddress, TransportAddress
from natprobe.contract.terms import ProbeMode, TransportProtocol
from natprobe.jamulus.constants import JAMULUS_KEEPALIVE_S

if TYPE_CHECKING:
    # Only a type here: the record codec (msgspec) stays unloaded in a STUN-only echo server.
    from natprobe.contract import ProbeResult

__all__ = (
    "Availability",
    "CapabilitySet",
    "FACILITIES_OFF_VARIABLE",
    "Facility",
    "FamilyLookup",
    "HolderKind",
    "HolePunchObservation",
    "LookupStatus",
    "Missing",
    "OFF_BY_VARIABLE",
    "Observation",
    "PortHolder",
    "PortObservation",
    "Probe",
    "parse_facilities",
)


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
    LOW_PORTS = "bind-below-1024"
    """Listening on a port below 1024 (root or ``CAP_NET_BIND_SERVICE`` on Linux; any user on
    macOS and Windows): testing a free port there with natprobe's own listener."""


FACILITIES_OFF_VARIABLE = "NATPROBE_FACILITIES_OFF"
"""The environment variable that switches facilities off for a whole run
(:func:`natprobe.adapters.capabilities.probe_capabilities` reads it)."""
OFF_BY_VARIABLE = f"switched off by {FACILITIES_OFF_VARIABLE}"
"""The :attr:`Availability.detail` of a facility that variable switched off."""


def parse_facilities(text: str) -> tuple[Facility, ...]:
    """Facility names separated by commas (``hop-trace,arrival-watch``; blanks ignored), each
    once, in the order given. Raises :class:`ValueError` naming an unknown one and the known ones."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in Facility._value2member_map_]
    if unknown:
        raise ValueError(f"unknown facility {unknown[0]!r}; known: {', '.join(f.value for f in Facility)}")
    return tuple(dict.fromkeys(Facility(name) for name in names))


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

    def without(self, *facilities: Facility, by: str = "switched off") -> CapabilitySet:
        """A copy with ``facilities`` switched off (``Missing.DISABLED``): what a machine without
        them sees. ``by``: who switched them off (the entry's detail, shown by ``natprobe doctor``)."""
        return replace(self, entries=tuple(
            Availability(e.facility, False, None, Missing.DISABLED, by) if e.facility in facilities else e
            for e in self.entries
        ))

    @property
    def missing(self) -> tuple[Availability, ...]:
        return tuple(entry for entry in self.entries if not entry.available)


class HolderKind(enum.StrEnum):
    """The kinds of service natprobe words its advice for."""

    WIREGUARD = "wireguard"
    OPENVPN = "openvpn"
    JAMULUS = "jamulus"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class PortHolder:
    """The program holding a port, as far as natprobe could tell."""

    kind: HolderKind
    program: str | None
    """The process name (``wireguard-go``, ``openvpn``), or ``None`` (a kernel socket, or not visible)."""
    pid: int | None = None
    evidence: str = ""
    """How it was identified (``/proc``, ``ss``, ``wg show``); not translated."""

    @property
    def label(self) -> str:
        """A short name for sentences: ``WireGuard (wireguard-go)``, ``OpenVPN``, the program's name."""
        names = {HolderKind.WIREGUARD: "WireGuard", HolderKind.OPENVPN: "OpenVPN", HolderKind.JAMULUS: "Jamulus"}
        if self.kind in names:
            base = names[self.kind]
            return f"{base} ({self.program})" if self.program and self.program.lower() != base.lower() else base
        return self.program or "?"


class Probe(enum.StrEnum):
    """The tests discovery runs (RFC 5780 sections 3.4, 4.3 and 4.4)."""

    MAPPING_PRIMARY = "mapping-primary"
    """Test I: Binding to the primary address (also filtering test I)."""
    MAPPING_ALTERNATE_IP = "mapping-alternate-ip"
    """Mapping test II: same socket, to the alternate IP and primary port."""
    MAPPING_ALTERNATE_BOTH = "mapping-alternate-ip-port"
    """Mapping test III: same socket, to the alternate IP and alternate port."""
    FILTERING_CHANGE_IP_PORT = "filtering-change-ip-port"
    """Filtering test II: fresh socket, ask for the answer from the alternate IP and port."""
    FILTERING_CHANGE_PORT = "filtering-change-port"
    """Filtering test III: fresh socket, ask for the answer from the primary IP, alternate port."""
    HAIRPIN = "hairpin"
    """RFC 5780 3.4: a fresh socket sends to the mapped address of the test I socket."""


@dataclass(frozen=True, slots=True)
class Observation:
    """What one probe saw. ``answered`` False means every send went unanswered."""

    probe: Probe
    local: TransportAddress
    destination: TransportAddress
    sends: int
    answered: bool
    response_source: TransportAddress | None = None
    mapped: TransportAddress | None = None
    other_address: TransportAddress | None = None
    response_origin: TransportAddress | None = None
    error_code: int | None = None
    rtt: float | None = None
    expected_source: TransportAddress | None = None
    """Where a correct server answers from (RFC 5780 Table 1); ``None`` when not checked."""

    @property
    def from_expected_source(self) -> bool:
        return self.expected_source is None or self.response_source == self.expected_source


@dataclass(frozen=True, slots=True)
class PortObservation:
    """Everything observed for one port."""

    protocol: TransportProtocol
    port: int
    mode: ProbeMode
    listening: bool
    """natprobe held the port itself and listened for the nonce."""
    nonce_received: bool | None = None
    """The nonce arrived on natprobe's own socket (None: natprobe was not listening)."""
    seen_on_interface: bool | None = None
    """The probe reached this host's network interface (None: no capture was possible)."""
    server_result: ProbeResult | None = None
    """The echo server's ``result`` record for this probe (None: it did not run)."""
    service: str | None = None
    """The service natprobe expected on the port, when it was held by one."""
    error: str | None = None
    """Why the probe could not run (e.g. the echo server refused it)."""
    local_listener: bool | None = None
    """A program (natprobe or the service) listens on the TCP port on this host (None: not known)."""
    host: str | None = None
    """The name asked for (HTTP Host, TLS SNI), when one was given."""
    holder: PortHolder | None = None
    """The program holding the port, when natprobe could not listen on it and could name it."""
    watch_missing: Availability | None = None
    """The arrival watch could not run (why, and what would allow it); None: it ran or was not needed."""
    bind_missing: Availability | None = None
    """natprobe could not listen on this free port below 1024 (why, and what would allow it)."""


@dataclass(frozen=True, slots=True)
class HolePunchObservation:
    """What the echo server's directory emulation saw during its hole punch."""

    published: TransportAddress
    """The registration's source address at the directory: what a directory lists."""
    unsolicited_answered: bool
    """A stranger's ping to the published address came back (before any punch)."""
    punch_received: bool
    """The server's ``CLM_EMPTY_MESSAGE`` reached the new peer."""
    punch_source: TransportAddress | None
    punched_ping_answered: bool
    """The new peer's ping to the published address came back after the punch."""
    punched_rtt_ms: float | None = None
    keepalive_s: float = JAMULUS_KEEPALIVE_S


class LookupStatus(enum.StrEnum):
    """How one resolver answered one question (RFC 1035 section 4.1.1 RCODEs, RFC 2308)."""

    ANSWERED = "answered"
    """NOERROR; ``addresses`` may be empty (NODATA: the name exists, not this type)."""
    NXDOMAIN = "nxdomain"
    """RCODE 3: the name does not exist."""
    SERVFAIL = "servfail"
    """RCODE 2 (or every server refused): the resolver could not get an answer."""
    TIMEOUT = "timeout"
    """No answer within the bound."""
    ERROR = "error"
    """Anything else (no resolver configured, a malformed answer)."""


@dataclass(frozen=True, slots=True)
class FamilyLookup:
    """One resolver's answer for one family of a name."""

    status: LookupStatus
    addresses: tuple[IPAddress, ...] = ()
    detail: str = ""
