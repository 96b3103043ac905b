"""The NAT behaviour report (``natprobe nat``), its versioned JSON form and its JSON Schema."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Any

from natprobe.verdicts.classify import Verdict
from natprobe.verdicts.behavior import ClassicNatType, FilteringBehavior, MappingBehavior
from natprobe.observations import Observation, Probe
from natprobe.addressing import TransportAddress
from natprobe.reports.json_schema import (
    ADDRESS,
    BOOL_OR_NULL,
    FINDING,
    INT_OR_NULL,
    NUMBER_OR_NULL,
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

__all__ = ("NAT_SCHEMA", "NAT_SCHEMA_ID", "NAT_VERSION", "NatReport", "address_dict", "verdict_dict")

NAT_SCHEMA_ID = "natprobe/nat"
NAT_VERSION = 5
"""2: the id was ``natprobe/nat-report``; each verdict is one object (``mapping.value``), no
longer a bare ``mapping`` string plus ``verdicts.mapping``.
3: ``ipv6`` says whether this host has global IPv6 (``global``) and its stable ``address``.
4: ``findings`` (what the verdicts mean, most important first, as ``natprobe nat`` prints them)
is added: every report carries its findings the same way.
5: ``limits`` lists the facilities this machine lacked that limited the conclusions, as the
check report does (:data:`~natprobe.reports.doctor_report.LIMIT`): today the IPv6 address flags,
without which ``ipv6.address`` may be a temporary privacy address."""


def address_dict(address: TransportAddress | None) -> dict[str, Any] | None:
    """``{"ip": "192.0.2.1", "port": 3478}`` or ``None``."""
    if address is None:
        return None
    return {"ip": str(address.ip), "port": address.port}


def verdict_dict(verdict: Verdict[Any]) -> dict[str, Any]:
    value = verdict.value
    return {
        "value": value.value if hasattr(value, "value") else value,
        "confidence": round(verdict.confidence, 6),
        "reason": verdict.reason,
        "evidence": list(verdict.evidence),
    }


def observation_dict(observation: Observation) -> dict[str, Any]:
    return {
        "test": observation.probe.value,
        "local": address_dict(observation.local),
        "destination": address_dict(observation.destination),
        "sends": observation.sends,
        "answered": observation.answered,
        "response_source": address_dict(observation.response_source),
        "expected_source": address_dict(observation.expected_source),
        "mapped": address_dict(observation.mapped),
        "other_address": address_dict(observation.other_address),
        "error_code": observation.error_code,
        "rtt_ms": None if observation.rtt is None else round(observation.rtt * 1000, 3),
    }


@dataclass(frozen=True, slots=True)
class NatReport:
    """Everything NAT behaviour discovery found, with its evidence."""

    server: TransportAddress
    server_alternate: TransportAddress | None
    local: TransportAddress | None
    mapped: TransportAddress | None
    mapping: Verdict[MappingBehavior]
    filtering: Verdict[FilteringBehavior]
    nat_type: Verdict[ClassicNatType]
    hairpinning: Verdict[bool | None]
    port_preservation: bool | None
    mapping_varies_by_destination: bool | None
    rtt_s: float | None
    round_trip_loss: float
    duration_s: float
    observations: tuple[Observation, ...]
    lifetime: LifetimeReport | None = None
    ipv6_address: IPv6Address | None = None
    """This host's stable global IPv6 address (None: it has none, or IPv6 was not looked at)."""
    has_global_ipv6: bool | None = None
    """Whether this host has a global IPv6 address: over IPv6 there is no NAT, only a firewall."""
    findings: tuple[Finding, ...] = ()
    """What the verdicts mean (:func:`natprobe.nat.explain_nat`, attached by :func:`natprobe.discover_nat`)."""
    limits: tuple[Limit, ...] = ()
    """Facilities this machine lacked that limited the conclusions (what ``natprobe doctor`` lists)."""

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON form (``natprobe nat --json``)."""
        return {
            "schema": NAT_SCHEMA_ID,
            "schema_version": NAT_VERSION,
            "server": address_dict(self.server),
            "server_alternate": address_dict(self.server_alternate),
            "local": address_dict(self.local),
            "mapped": address_dict(self.mapped),
            "mapping": verdict_dict(self.mapping),
            "filtering": verdict_dict(self.filtering),
            "nat_type": verdict_dict(self.nat_type),
            "hairpinning": verdict_dict(self.hairpinning),
            "port_preservation": self.port_preservation,
            "mapping_varies_by_destination": self.mapping_varies_by_destination,
            "rtt_ms": None if self.rtt_s is None else round(self.rtt_s * 1000, 3),
            "round_trip_loss": round(self.round_trip_loss, 4),
            "duration_ms": round(self.duration_s * 1000, 1),
            "tests": [observation_dict(o) for o in self.observations],
            "lifetime": None if self.lifetime is None else self.lifetime.to_dict(),
            "ipv6": {
                "global": self.has_global_ipv6,
                "address": None if self.ipv6_address is None else str(self.ipv6_address),
            },
            "findings": [f.to_dict() for f in self.findings],
            "limits": limits_to_list(self.limits),
        }


def _verdict_schema(value: JsonSchema) -> JsonSchema:
    return obj(
        {
            "value": value,
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "reason": {"type": "string"},
            "evidence": STRING_LIST,
        }
    )


_OBSERVATION: JsonSchema = obj(
    {
        "test": enum_of(Probe),
        "local": ADDRESS,
        "destination": ADDRESS,
        "sends": {"type": "integer", "minimum": 0},
        "answered": {"type": "boolean"},
        "response_source": nullable(ADDRESS),
        "expected_source": nullable(ADDRESS),
        "mapped": nullable(ADDRESS),
        "other_address": nullable(ADDRESS),
        "error_code": INT_OR_NULL,
        "rtt_ms": NUMBER_OR_NULL,
    }
)

NAT_SCHEMA: JsonSchema = report_schema(
    NAT_SCHEMA_ID,
    NAT_VERSION,
    "NAT behaviour discovery (natprobe nat)",
    {
        "server": ADDRESS,
        "server_alternate": nullable(ADDRESS),
        "local": nullable(ADDRESS),
        "mapped": nullable(ADDRESS),
        "mapping": _verdict_schema(enum_of(MappingBehavior)),
        "filtering": _verdict_schema(enum_of(FilteringBehavior)),
        "nat_type": _verdict_schema(enum_of(ClassicNatType)),
        "hairpinning": _verdict_schema(BOOL_OR_NULL),
        "port_preservation": BOOL_OR_NULL,
        "mapping_varies_by_destination": BOOL_OR_NULL,
        "rtt_ms": NUMBER_OR_NULL,
        "round_trip_loss": {"type": "number", "minimum": 0, "maximum": 1},
        "duration_ms": {"type": "number"},
        "tests": {"type": "array", "items": _OBSERVATION},
        "lifetime": nullable(embedded(LIFETIME_SCHEMA)),
        "ipv6": obj({"global": BOOL_OR_NULL, "address": STRING_OR_NULL}),
        "findings": {"type": "array", "items": FINDING},
        "limits": LIMITS,
    },
)
