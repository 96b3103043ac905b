"""Structured reports and their versioned JSON form.

Discovery and checks produce these frozen records; the CLI renders them as text or as JSON
(``to_dict``), and library users read them directly. The JSON keys and the outcome strings
are a stable interface: new keys may be added, existing ones keep their meaning.
``schema_version`` changes only when a key changes meaning or disappears.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Any

from natprobe.verdicts.classify import Verdict
from natprobe.verdicts.behavior import ClassicNatType, Filtering, Mapping, Observation
from natprobe.addressing import TransportAddress
from natprobe.reports.lifetime_report import LifetimeReport

NAT_REPORT_SCHEMA = "natprobe/nat-report"
NAT_REPORT_VERSION = 1


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
    mapping: Verdict[Mapping]
    filtering: Verdict[Filtering]
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

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON form (``natprobe nat --json``)."""
        return {
            "schema": NAT_REPORT_SCHEMA,
            "schema_version": NAT_REPORT_VERSION,
            "server": address_dict(self.server),
            "server_alternate": address_dict(self.server_alternate),
            "local": address_dict(self.local),
            "mapped": address_dict(self.mapped),
            "mapping": self.mapping.value.value,
            "filtering": self.filtering.value.value,
            "nat_type": self.nat_type.value.value,
            "hairpinning": self.hairpinning.value,
            "port_preservation": self.port_preservation,
            "mapping_varies_by_destination": self.mapping_varies_by_destination,
            "rtt_ms": None if self.rtt_s is None else round(self.rtt_s * 1000, 3),
            "round_trip_loss": round(self.round_trip_loss, 4),
            "duration_ms": round(self.duration_s * 1000, 1),
            "verdicts": {
                "mapping": verdict_dict(self.mapping),
                "filtering": verdict_dict(self.filtering),
                "nat_type": verdict_dict(self.nat_type),
                "hairpinning": verdict_dict(self.hairpinning),
            },
            "tests": [observation_dict(o) for o in self.observations],
            "lifetime": None if self.lifetime is None else self.lifetime.to_dict(),
            "ipv6": {
                "global": self.has_global_ipv6,
                "address": None if self.ipv6_address is None else str(self.ipv6_address),
            },
        }
