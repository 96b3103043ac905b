"""The report of ``natprobe check``: each port's verdict, the NAT layers, hairpinning, findings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from natprobe.addressing import IPAddress
from natprobe.recverr import Hop, HopOutcome
from natprobe.reports.finding import Finding
from natprobe.reports.json_schema import (
    BOOL_OR_NULL,
    FINDING,
    STRING_LIST,
    STRING_OR_NULL,
    JsonSchema,
    enum_of,
    obj,
    report_schema,
)
from natprobe.verdicts.nat_layers import Confidence, NatLayers, TopologyVerdict
from natprobe.contract import TransportProtocol, to_json_object
from natprobe.verdicts.reachability import HairpinResult, PortStatus, PortVerdict

__all__ = ("CHECK_SCHEMA", "CHECK_SCHEMA_ID", "CHECK_VERSION", "CheckReport")

CHECK_SCHEMA_ID = "natprobe/check"
CHECK_VERSION = 2
"""2: the id was ``natprobe/check-report``; the NAT layers are only ``topology.layers`` (no
top-level ``nat_layers``); ``findings`` replaces the optional ``jamulus`` list."""


@dataclass(frozen=True, slots=True)
class CheckReport:
    server: str
    public_ip: IPAddress
    local_ip: IPAddress | None
    topology: TopologyVerdict
    hops: tuple[Hop, ...]
    ports: tuple[PortVerdict, ...]
    hairpin: tuple[HairpinResult, ...]
    duration_s: float
    findings: tuple[Finding, ...] = ()
    """What the verdicts mean for the services behind the ports (today: Jamulus on UDP 22124 or
    ``PORT:jamulus``), most important first."""

    @property
    def all_reachable(self) -> bool:
        return all(p.reachable for p in self.ports)

    @property
    def any_tested(self) -> bool:
        return any(p.reachable is not None for p in self.ports)

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON form (:data:`CHECK_SCHEMA`)."""
        return {
            "schema": CHECK_SCHEMA_ID,
            "schema_version": CHECK_VERSION,
            "server": self.server,
            "public_ip": str(self.public_ip),
            "local_ip": None if self.local_ip is None else str(self.local_ip),
            "topology": {
                "layers": self.topology.layers.value,
                "confidence": self.topology.confidence.value,
                "evidence": list(self.topology.evidence),
            },
            "hops": [
                {"ttl": h.ttl, "ip": None if h.address is None else str(h.address), "outcome": h.outcome.value}
                for h in self.hops
            ],
            "ports": [
                {
                    "port": p.port,
                    "protocol": p.protocol.value,
                    "reachable": p.reachable,
                    "status": p.status.value,
                    "reason": p.reason,
                    "advice": list(p.advice),
                    "proof": p.proof,
                    "details": {} if p.details is None else to_json_object(p.details),
                }
                for p in self.ports
            ],
            "hairpin": [
                {"port": h.port, "protocol": h.protocol.value, "works": h.works, "reason": h.reason, "advice": list(h.advice)}
                for h in self.hairpin
            ],
            "findings": [f.to_dict() for f in self.findings],
            "duration_ms": round(self.duration_s * 1000, 1),
        }


_PORT_NUMBER: JsonSchema = {"type": "integer", "minimum": 1, "maximum": 65535}

CHECK_SCHEMA: JsonSchema = report_schema(
    CHECK_SCHEMA_ID,
    CHECK_VERSION,
    "Inbound reachability of ports, proven from outside (natprobe check)",
    {
        "server": {"type": "string"},
        "public_ip": {"type": "string"},
        "local_ip": STRING_OR_NULL,
        "topology": obj(
            {"layers": enum_of(NatLayers), "confidence": enum_of(Confidence), "evidence": STRING_LIST}
        ),
        "hops": {
            "type": "array",
            "items": obj(
                {"ttl": {"type": "integer", "minimum": 1}, "ip": STRING_OR_NULL, "outcome": enum_of(HopOutcome)}
            ),
        },
        "ports": {
            "type": "array",
            "items": obj(
                {
                    "port": _PORT_NUMBER,
                    "protocol": enum_of(TransportProtocol),
                    "reachable": BOOL_OR_NULL,
                    "status": enum_of(PortStatus),
                    "reason": {"type": "string"},
                    "advice": STRING_LIST,
                    "proof": STRING_OR_NULL,
                    "details": {"type": "object"},
                }
            ),
        },
        "hairpin": {
            "type": "array",
            "items": obj(
                {
                    "port": _PORT_NUMBER,
                    "protocol": enum_of(TransportProtocol),
                    "works": BOOL_OR_NULL,
                    "reason": {"type": "string"},
                    "advice": STRING_LIST,
                }
            ),
        },
        "findings": {"type": "array", "items": FINDING},
        "duration_ms": {"type": "number"},
    },
)
