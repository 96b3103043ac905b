"""The Jamulus reports: public vs private mode (``natprobe explain jamulus``), and the
ping and directory-list results of ``natprobe jamulus ping|list``."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any

from natprobe.addressing import IPAddress, TransportAddress
from natprobe.jamulus import JAMULUS_KEEPALIVE_S, OsType
from natprobe.jamulus.probe import ListedServer, PingOutcome
from natprobe.reports.json_schema import (
    ADDRESS,
    BOOL_OR_NULL,
    FINDING,
    INT_OR_NULL,
    NUMBER_OR_NULL,
    PORT,
    STRING_LIST,
    STRING_OR_NULL,
    JsonSchema,
    embedded,
    enum_of,
    nullable,
    obj,
    report_schema,
)
from natprobe.reports.doctor_report import LIMITS, Limit, limits_to_list
from natprobe.reports.finding import Finding
from natprobe.reports.lifetime_report import LIFETIME_SCHEMA, LifetimeReport
from natprobe.reports.nat_report import address_dict
from natprobe.verdicts.jamulus_verdicts import ModeStatus, ModeVerdict, keepalive_outlives
from natprobe.observations import HolePunchObservation
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.verdicts.reachability import PortStatus, PortVerdict

__all__ = (
    "JAMULUS_LIST_SCHEMA",
    "JAMULUS_LIST_SCHEMA_ID",
    "JAMULUS_LIST_VERSION",
    "JAMULUS_MODES_SCHEMA",
    "JAMULUS_MODES_SCHEMA_ID",
    "JAMULUS_MODES_VERSION",
    "JAMULUS_PING_SCHEMA",
    "JAMULUS_PING_SCHEMA_ID",
    "JAMULUS_PING_VERSION",
    "JamulusModesReport",
    "JamulusPingResult",
    "JamulusServerEntry",
    "JamulusServerList",
)

JAMULUS_MODES_SCHEMA_ID = "natprobe/jamulus-modes"
JAMULUS_MODES_VERSION = 4
"""2: ``private_mode_reachable`` is gone (it repeated ``private_check.reachable``).
3: ``findings`` (what the verdicts mean, as ``natprobe explain jamulus`` prints them) is added:
every report carries its findings the same way.
4: ``limits`` lists the facilities this machine lacked that limited the conclusions (those of the
private-mode check, as the check report lists them: :data:`~natprobe.reports.doctor_report.LIMIT`)."""
JAMULUS_PING_SCHEMA_ID = "natprobe/jamulus-ping"
JAMULUS_PING_VERSION = 2
"""2: the id was ``natprobe.jamulus.ping``."""
JAMULUS_LIST_SCHEMA_ID = "natprobe/jamulus-list"
JAMULUS_LIST_VERSION = 2
"""2: the id was ``natprobe.jamulus.list``."""


@dataclass(frozen=True, slots=True)
class JamulusModesReport:
    """Public mode versus private mode, measured from the user's own network."""

    server: str
    port: int
    """The Jamulus port asked about (22124 unless told otherwise)."""
    measured_port: int | None
    """The local UDP port the registration left from (``port``, or an ephemeral one when
    ``port`` was held by another program); None when public mode was not measured."""
    port_in_use: bool
    local_ip: IPAddress | None
    public_ip: IPAddress | None
    nat_layers: NatLayers
    private_check: PortVerdict | None
    """The unsolicited-probe verdict for ``port``, taken before anything left it."""
    directory: TransportAddress | None
    registered: bool | None
    """The directory answered the registration with status 0 (None: not attempted)."""
    registration_status: int | None
    hole_punch: HolePunchObservation | None
    hole_punch_error: str | None
    punches_sent: int
    """``CLM_EMPTY_MESSAGE`` natprobe sent because the directory asked (the server half of the punch)."""
    lifetime: LifetimeReport | None
    private_mode: ModeVerdict
    public_mode: ModeVerdict
    notes: tuple[str, ...]
    duration_s: float
    findings: tuple[Finding, ...] = ()
    """What the verdicts mean for each mode (:func:`natprobe.jamulus_check.explain_jamulus`, attached when the
    report is assessed)."""
    limits: tuple[Limit, ...] = ()
    """Facilities this machine lacked that limited the conclusions (the private-mode check's)."""

    # --- the named observations of the brief --------------------------------------------------

    @property
    def private_mode_reachable(self) -> bool | None:
        return None if self.private_check is None else self.private_check.reachable

    @property
    def published_address(self) -> TransportAddress | None:
        return None if self.hole_punch is None else self.hole_punch.published

    @property
    def port_preserved(self) -> bool | None:
        if self.hole_punch is None or self.measured_port is None:
            return None
        return self.hole_punch.published.port == self.measured_port

    @property
    def unsolicited_from_new_peer_admitted(self) -> bool | None:
        return None if self.hole_punch is None else self.hole_punch.unsolicited_answered

    @property
    def punch_sent_from_port(self) -> int | None:
        punch = self.hole_punch
        return None if punch is None or punch.punch_source is None else punch.punch_source.port

    @property
    def punched_ping_answered(self) -> bool | None:
        return None if self.hole_punch is None else self.hole_punch.punched_ping_answered

    @property
    def keepalive_outlives_mapping(self) -> bool | None:
        """Does the NAT keep an idle mapping longer than Jamulus' 59 s keep-alive? (None: unknown)."""
        return keepalive_outlives(self.lifetime)

    def to_dict(self) -> dict[str, Any]:
        punch = self.hole_punch
        return {
            "schema": JAMULUS_MODES_SCHEMA_ID,
            "schema_version": JAMULUS_MODES_VERSION,
            "server": self.server,
            "port": self.port,
            "measured_port": self.measured_port,
            "port_in_use": self.port_in_use,
            "local_ip": None if self.local_ip is None else str(self.local_ip),
            "public_ip": None if self.public_ip is None else str(self.public_ip),
            "nat_layers": self.nat_layers.value,
            "private_mode": _verdict_dict(self.private_mode),
            "public_mode": _verdict_dict(self.public_mode),
            "private_check": None
            if self.private_check is None
            else {
                "status": self.private_check.status.value,
                "reachable": self.private_check.reachable,
                "reason": self.private_check.reason,
            },
            "directory": address_dict(self.directory),
            "registered": self.registered,
            "registration_status": self.registration_status,
            "published_address": address_dict(self.published_address),
            "port_preserved": self.port_preserved,
            "unsolicited_from_new_peer_admitted": self.unsolicited_from_new_peer_admitted,
            "hole_punch_received": None if punch is None else punch.punch_received,
            "punch_sent_from_port": self.punch_sent_from_port,
            "punched_ping_answered": self.punched_ping_answered,
            "punched_ping_rtt_ms": None if punch is None else punch.punched_rtt_ms,
            "hole_punch_error": self.hole_punch_error,
            "punches_sent": self.punches_sent,
            "keepalive_s": JAMULUS_KEEPALIVE_S,
            "keepalive_outlives_mapping": self.keepalive_outlives_mapping,
            "lifetime": None if self.lifetime is None else self.lifetime.to_dict(),
            "notes": list(self.notes),
            "duration_ms": round(self.duration_s * 1000.0, 1),
            "findings": [f.to_dict() for f in self.findings],
            "limits": limits_to_list(self.limits),
        }


def _verdict_dict(verdict: ModeVerdict) -> dict[str, Any]:
    return {"works": verdict.works, "status": verdict.status.value, "reason": verdict.reason}



# --- natprobe jamulus ping | list ----------------------------------------------------------


def _os_label(os: OsType | int | None) -> str | None:
    if os is None:
        return None
    return os.label if isinstance(os, OsType) else f"unknown OS ({os})"


def _os_known_label(os: OsType | int | None) -> str | None:
    """The JSON ``os``: a known system's name, else ``None`` (``os_code`` keeps the number)."""
    return os.label if isinstance(os, OsType) else None


@dataclass(frozen=True, slots=True)
class JamulusPingResult:
    """What pinging one Jamulus server found. ``rtt_ms`` is ``None`` when nothing answered."""

    host: str
    """The name or address as the caller gave it."""
    address: IPAddress
    port: int
    rtt_ms: float | None
    num_clients: int | None
    version: str | None
    os: OsType | int | None
    is_directory: bool | None
    """True: answered ``CLM_REQ_SERVER_LIST``; False: answered pings, not the list; None: unknown."""
    pings_sent: int
    listed_servers: int | None
    """How many entries a directory listed (``None`` when it is not one, or no list came)."""
    local_port: int
    """The local UDP port the probe used."""

    @property
    def answered(self) -> bool:
        return self.rtt_ms is not None

    @property
    def os_name(self) -> str | None:
        return _os_label(self.os)

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON form of ``natprobe jamulus ping --json`` (:data:`JAMULUS_PING_SCHEMA`)."""
        return {
            "schema": JAMULUS_PING_SCHEMA_ID,
            "schema_version": JAMULUS_PING_VERSION,
            "host": self.host,
            "ip": str(self.address),
            "port": self.port,
            "answered": self.answered,
            "rtt_ms": None if self.rtt_ms is None else round(self.rtt_ms, 3),
            "num_clients": self.num_clients,
            "version": self.version,
            "os": _os_known_label(self.os),
            "os_code": None if self.os is None else int(self.os),
            "is_directory": self.is_directory,
            "listed_servers": self.listed_servers,
            "pings_sent": self.pings_sent,
            "local_port": self.local_port,
        }


@dataclass(frozen=True, slots=True)
class JamulusServerEntry(ListedServer):
    """One server of a directory's list (:class:`~natprobe.jamulus.probe.ListedServer`),
    pinged as the Jamulus connect dialog does."""

    rtt_ms: float | None = None
    """``None``: the listed address did not answer (or was not pingable, e.g. 0.0.0.0)."""
    num_clients: int | None = None
    version: str | None = None
    os: OsType | int | None = None
    hole_punched: bool = False
    """A ``CLM_EMPTY_MESSAGE`` came from this ip:port (the directory's hole punch worked)."""

    @classmethod
    def of(cls, listed: ListedServer, ping: PingOutcome | None, hole_punched: bool) -> JamulusServerEntry:
        """The listed server with its ping's answer (``None``: not pinged)."""
        return cls(
            listed.name, listed.ip, listed.port, listed.is_directory, listed.city, listed.country,
            listed.max_clients, listed.permanent,
            rtt_ms=None if ping is None or ping.rtt is None else ping.rtt * 1000.0,
            num_clients=None if ping is None else ping.num_clients,
            version=None if ping is None else ping.version,
            os=None if ping is None else ping.os,
            hole_punched=hole_punched,
        )

    @property
    def os_name(self) -> str | None:
        return _os_label(self.os)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ip": str(self.ip),
            "port": self.port,
            "rtt_ms": None if self.rtt_ms is None else round(self.rtt_ms, 3),
            "num_clients": self.num_clients,
            "max_clients": self.max_clients,
            "city": self.city,
            "country": self.country,
            "version": self.version,
            "os": _os_known_label(self.os),
            "os_code": None if self.os is None else int(self.os),
            "is_directory": self.is_directory,
            "permanent": self.permanent,
            "hole_punched": self.hole_punched,
        }


@dataclass(frozen=True, slots=True)
class JamulusServerList:
    """A directory's list and the ping of every entry."""

    host: str
    address: IPv4Address
    port: int
    answered: bool
    """The directory sent at least the reduced list."""
    complete: bool
    """The full ``CLM_SERVER_LIST`` arrived (otherwise only ``CLM_RED_SERVER_LIST``: no city, country, max)."""
    requests_sent: int
    local_port: int
    """The local UDP port that asked for the list and pinged the servers."""
    servers: tuple[JamulusServerEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON form of ``natprobe jamulus list --json`` (:data:`JAMULUS_LIST_SCHEMA`)."""
        return {
            "schema": JAMULUS_LIST_SCHEMA_ID,
            "schema_version": JAMULUS_LIST_VERSION,
            "directory": {"host": self.host, "ip": str(self.address), "port": self.port},
            "answered": self.answered,
            "complete": self.complete,
            "requests_sent": self.requests_sent,
            "local_port": self.local_port,
            "servers": [server.to_dict() for server in self.servers],
        }


# --- JSON Schemas --------------------------------------------------------------------------

_MODE_VERDICT: JsonSchema = obj({"works": BOOL_OR_NULL, "status": enum_of(ModeStatus), "reason": {"type": "string"}})

JAMULUS_MODES_SCHEMA: JsonSchema = report_schema(
    JAMULUS_MODES_SCHEMA_ID,
    JAMULUS_MODES_VERSION,
    "Jamulus public mode against private mode, measured (natprobe explain jamulus)",
    {
        "server": {"type": "string"},
        "port": PORT,
        "measured_port": INT_OR_NULL,
        "port_in_use": {"type": "boolean"},
        "local_ip": STRING_OR_NULL,
        "public_ip": STRING_OR_NULL,
        "nat_layers": enum_of(NatLayers),
        "private_mode": _MODE_VERDICT,
        "public_mode": _MODE_VERDICT,
        "private_check": nullable(
            obj({"status": enum_of(PortStatus), "reachable": BOOL_OR_NULL, "reason": {"type": "string"}})
        ),
        "directory": nullable(ADDRESS),
        "registered": BOOL_OR_NULL,
        "registration_status": INT_OR_NULL,
        "published_address": nullable(ADDRESS),
        "port_preserved": BOOL_OR_NULL,
        "unsolicited_from_new_peer_admitted": BOOL_OR_NULL,
        "hole_punch_received": BOOL_OR_NULL,
        "punch_sent_from_port": INT_OR_NULL,
        "punched_ping_answered": BOOL_OR_NULL,
        "punched_ping_rtt_ms": NUMBER_OR_NULL,
        "hole_punch_error": STRING_OR_NULL,
        "punches_sent": {"type": "integer", "minimum": 0},
        "keepalive_s": {"type": "number"},
        "keepalive_outlives_mapping": BOOL_OR_NULL,
        "lifetime": nullable(embedded(LIFETIME_SCHEMA)),
        "notes": STRING_LIST,
        "duration_ms": {"type": "number"},
        "findings": {"type": "array", "items": FINDING},
        "limits": LIMITS,
    },
)

_OS = {"os": STRING_OR_NULL, "os_code": INT_OR_NULL}

JAMULUS_PING_SCHEMA: JsonSchema = report_schema(
    JAMULUS_PING_SCHEMA_ID,
    JAMULUS_PING_VERSION,
    "One Jamulus server pinged (natprobe jamulus ping)",
    {
        "host": {"type": "string"},
        "ip": {"type": "string"},
        "port": PORT,
        "answered": {"type": "boolean"},
        "rtt_ms": NUMBER_OR_NULL,
        "num_clients": INT_OR_NULL,
        "version": STRING_OR_NULL,
        **_OS,
        "is_directory": BOOL_OR_NULL,
        "listed_servers": INT_OR_NULL,
        "pings_sent": {"type": "integer", "minimum": 0},
        "local_port": PORT,
    },
)

JAMULUS_LIST_SCHEMA: JsonSchema = report_schema(
    JAMULUS_LIST_SCHEMA_ID,
    JAMULUS_LIST_VERSION,
    "A Jamulus directory's list, every server pinged (natprobe jamulus list)",
    {
        "directory": obj({"host": {"type": "string"}, "ip": {"type": "string"}, "port": PORT}),
        "answered": {"type": "boolean"},
        "complete": {"type": "boolean"},
        "requests_sent": {"type": "integer", "minimum": 0},
        "local_port": PORT,
        "servers": {
            "type": "array",
            "items": obj(
                {
                    "name": {"type": "string"},
                    "ip": {"type": "string"},
                    "port": PORT,
                    "rtt_ms": NUMBER_OR_NULL,
                    "num_clients": INT_OR_NULL,
                    "max_clients": INT_OR_NULL,
                    "city": STRING_OR_NULL,
                    "country": INT_OR_NULL,
                    "version": STRING_OR_NULL,
                    **_OS,
                    "is_directory": {"type": "boolean"},
                    "permanent": BOOL_OR_NULL,
                    "hole_punched": {"type": "boolean"},
                }
            ),
        },
    },
)
