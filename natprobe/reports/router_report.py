"""The report of ``natprobe router`` and the mapping records of ``natprobe check --map``."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Any

from natprobe.addressing import IPAddress
from natprobe.reports.check_report import CHECK_SCHEMA, CheckReport
from natprobe.reports.doctor_report import LIMITS, Limit, limits_to_list
from natprobe.reports.finding import Finding
from natprobe.reports.json_schema import (
    BOOL_OR_NULL,
    FINDING,
    INT_OR_NULL,
    PORT,
    STRING_OR_NULL,
    JsonSchema,
    embedded,
    enum_of,
    nullable,
    obj,
    report_schema,
)
from natprobe.verdicts.router_verdicts import (
    ExternalMeaning,
    KeptMapping,
    MappingOutcome,
    MappingProtocol,
    RouterMapping,
    mapping_dict,
)

__all__ = (
    "ROUTER_SCHEMA",
    "ROUTER_SCHEMA_ID",
    "ROUTER_VERSION",
    "CHECK_MAP_SCHEMA",
    "CHECK_MAP_SCHEMA_ID",
    "CHECK_MAP_VERSION",
    "MappedCheck",
    "MappingProtocol",
    "ExternalMeaning",
    "ProtocolAnswer",
    "RouterMapping",
    "RouterReport",
    "MappingOutcome",
)


ROUTER_SCHEMA_ID = "natprobe/router"
ROUTER_VERSION = 5
"""2: ``ipv6`` says whether this host has global IPv6 (``global``) and its stable ``address``.
3: ``findings`` (what the router's answers mean, as ``natprobe router`` prints them) is added:
every report carries its findings the same way.
4: ``limits`` lists the facilities this machine lacked that limited the conclusions, as the
check report does (:data:`~natprobe.reports.doctor_report.LIMIT`): the interfaces (without
them the default gateway is not found) and the IPv6 address flags (without them
``ipv6.address`` may be a temporary privacy address).
5: ``kept`` lists the mappings ``check --map --keep`` left whose lease has not ended, as
natprobe recorded them (``natprobe router --unmap PORT`` removes one); without their PCP nonce."""


@dataclass(frozen=True, slots=True)
class ProtocolAnswer:
    """How one protocol fared on the gateway."""

    protocol: MappingProtocol
    answered: bool
    external_address: IPAddress | None = None
    detail: str = ""
    """What answered (e.g. "IGD:2, WANIPConnection:2") or why nothing usable did."""
    result: str | None = None
    """The protocol's result code name when it was not success (e.g. "ADDRESS_MISMATCH")."""


@dataclass(frozen=True, slots=True)
class RouterReport:
    gateway: IPAddress | None
    local_ip: IPAddress | None
    answers: tuple[ProtocolAnswer, ...]
    external_address: IPAddress | None
    meaning: ExternalMeaning
    address_mismatch: bool
    """PCP said ADDRESS_MISMATCH: a NAT sits between this host and the gateway."""
    mappings: tuple[RouterMapping, ...]
    duration_s: float
    ipv6_address: IPv6Address | None = None
    """This host's stable global IPv6 address (temporary if it has no stable one); None: none."""
    has_global_ipv6: bool | None = None
    """Over IPv6 the router forwards nothing: a global address means a pinhole, not a mapping,
    makes a service reachable. None: not looked at."""
    findings: tuple[Finding, ...] = ()
    """What the answers mean (:func:`natprobe.router.explain_router`, attached by :func:`natprobe.probe_router`)."""
    limits: tuple[Limit, ...] = ()
    """Facilities this machine lacked that limited the conclusions (what ``natprobe doctor`` lists)."""
    kept: tuple[KeptMapping, ...] = ()
    """The mappings ``check --map --keep`` left, as natprobe recorded them (attached by ``natprobe
    router``, from :class:`~natprobe.adapters.kept_mappings.KeptMappings`)."""

    @property
    def any_answered(self) -> bool:
        return any(a.answered for a in self.answers)

    def answer(self, protocol: MappingProtocol) -> ProtocolAnswer | None:
        return next((a for a in self.answers if a.protocol is protocol), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": ROUTER_SCHEMA_ID,
            "schema_version": ROUTER_VERSION,
            "gateway": None if self.gateway is None else str(self.gateway),
            "local_ip": None if self.local_ip is None else str(self.local_ip),
            "external_address": None if self.external_address is None else str(self.external_address),
            "external_meaning": self.meaning.value,
            "address_mismatch": self.address_mismatch,
            "protocols": [
                {
                    "protocol": a.protocol.value,
                    "answered": a.answered,
                    "external_address": None if a.external_address is None else str(a.external_address),
                    "detail": a.detail,
                    "result": a.result,
                }
                for a in self.answers
            ],
            "mappings": [mapping_dict(m) for m in self.mappings],
            "ipv6": {
                "global": self.has_global_ipv6,
                "address": None if self.ipv6_address is None else str(self.ipv6_address),
            },
            "duration_ms": round(self.duration_s * 1000, 1),
            "findings": [f.to_dict() for f in self.findings],
            "limits": limits_to_list(self.limits),
            "kept": [k.to_dict() for k in self.kept],
        }




CHECK_MAP_SCHEMA_ID = "natprobe/check-map"
CHECK_MAP_VERSION = 4
"""2: the embedded ``router`` report is :data:`ROUTER_SCHEMA` version 3 (with ``findings``).
3: the embedded ``router`` report is version 4 (with ``limits``), the embedded ``check`` report
version 6 (a limit may be ``bind-below-1024``).
4: the embedded ``check`` is version 7 (``server`` and ``public_ip`` null when nothing could
be tested; nothing is mapped then), the embedded ``router`` version 5 (with ``kept``)."""


@dataclass(frozen=True, slots=True)
class MappedCheck:
    """``natprobe check --map``: the check (verdicts with the router's evidence), what the
    router said, and each mapping natprobe asked for."""

    report: CheckReport
    router: RouterReport
    mappings: tuple[MappingOutcome, ...]
    lease_s: int
    keep: bool

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON form (:data:`CHECK_MAP_SCHEMA`): the check's own document inside."""
        return {
            "schema": CHECK_MAP_SCHEMA_ID,
            "schema_version": CHECK_MAP_VERSION,
            "check": self.report.to_dict(),
            "router": self.router.to_dict(),
            "mappings": [m.to_dict() for m in self.mappings],
            "lease_s": self.lease_s,
            "keep": self.keep,
        }


_ROUTER_MAPPING: JsonSchema = obj({
    "protocol": {"type": "string"}, "external_port": PORT, "internal_client": {"type": "string"},
    "internal_port": PORT, "description": {"type": "string"}, "lease_s": {"type": "integer", "minimum": 0},
    "points_here": {"type": "boolean"},
})

ROUTER_SCHEMA: JsonSchema = report_schema(
    ROUTER_SCHEMA_ID,
    ROUTER_VERSION,
    "What the default gateway says about port mapping: UPnP IGD, NAT-PMP, PCP (natprobe router)",
    {
        "gateway": STRING_OR_NULL,
        "local_ip": STRING_OR_NULL,
        "external_address": STRING_OR_NULL,
        "external_meaning": enum_of(ExternalMeaning),
        "address_mismatch": {"type": "boolean"},
        "protocols": {
            "type": "array",
            "items": obj({
                "protocol": enum_of(MappingProtocol), "answered": {"type": "boolean"},
                "external_address": STRING_OR_NULL, "detail": {"type": "string"}, "result": STRING_OR_NULL,
            }),
        },
        "mappings": {"type": "array", "items": _ROUTER_MAPPING},
        "ipv6": obj({"global": BOOL_OR_NULL, "address": STRING_OR_NULL}),
        "duration_ms": {"type": "number"},
        "findings": {"type": "array", "items": FINDING},
        "limits": LIMITS,
        "kept": {"type": "array", "items": obj({
            "protocol": {"type": "string", "enum": ["udp", "tcp"]}, "internal_port": PORT, "external_port": PORT,
            "gateway": {"type": "string"}, "via": enum_of(MappingProtocol), "expires_at": {"type": "string"},
        })},
    },
)

CHECK_MAP_SCHEMA: JsonSchema = report_schema(
    CHECK_MAP_SCHEMA_ID,
    CHECK_MAP_VERSION,
    "Ports opened through the router for a check, proven from outside, then closed (natprobe check --map)",
    {
        "check": embedded(CHECK_SCHEMA),
        "router": embedded(ROUTER_SCHEMA),
        "mappings": {
            "type": "array",
            "items": obj({
                "protocol": {"type": "string", "enum": ["udp", "tcp"]}, "port": PORT,
                "via": nullable(enum_of(MappingProtocol)), "created": {"type": "boolean"},
                "external_port": INT_OR_NULL, "lease_s": INT_OR_NULL, "external_address": STRING_OR_NULL,
                "refused": STRING_OR_NULL, "conflict": nullable(_ROUTER_MAPPING), "kept": {"type": "boolean"},
                "removed": BOOL_OR_NULL,
            }),
        },
        "lease_s": {"type": "integer", "minimum": 1},
        "keep": {"type": "boolean"},
    },
)
