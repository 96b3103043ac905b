"""The report of the relay check (``natprobe check --host NAME`` when NAME leads to a relay)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from natprobe.addressing import IPAddress
from natprobe.contract import TransportProtocol
from natprobe.reports.doctor_report import LIMITS, Limit, limits_to_list
from natprobe.reports.finding import Finding
from natprobe.reports.json_schema import (
    BOOL_OR_NULL,
    FINDING,
    STRING_LIST,
    STRING_OR_NULL,
    JsonSchema,
    enum_of,
    nullable,
    obj,
    report_schema,
)
from natprobe.verdicts.relay_verdicts import ClientAddress, ProxyProtocol, RelayPortVerdict, RelayStatus, RelayVia

__all__ = ("RELAY_SCHEMA", "RELAY_SCHEMA_ID", "RELAY_VERSION", "RelayReport")

RELAY_SCHEMA_ID = "natprobe/relay"
RELAY_VERSION = 2
"""2: ``limits`` lists the facilities this machine lacked that limited the conclusions (today the
arrival watch, without which a TCP token that never completed is ``not-tested``, not a dead tunnel),
as the check report does. Inside a check report the ``relay`` object has none: the check's own
``limits`` speak for the whole run."""


@dataclass(frozen=True, slots=True)
class RelayReport:
    name: str
    relay_ips: tuple[IPAddress, ...]
    via: RelayVia
    ports: tuple[RelayPortVerdict, ...]
    duration_s: float
    findings: tuple[Finding, ...] = ()
    limits: tuple[Limit, ...] = ()
    """Facilities this machine lacked that limited the conclusions (what ``natprobe doctor`` lists)."""

    @property
    def all_reachable(self) -> bool:
        return bool(self.ports) and all(p.reachable for p in self.ports)

    def reachable_ports(self) -> set[tuple[TransportProtocol, int]]:
        return {(p.protocol, p.port) for p in self.ports if p.reachable}

    def body(self) -> dict[str, Any]:
        """The JSON form without ``schema``/``schema_version``/``duration_ms`` (as embedded in a check)."""
        return {
            "name": self.name,
            "relay_ips": [str(ip) for ip in self.relay_ips],
            "via": self.via.value,
            "ports": [
                {
                    "port": p.port,
                    "protocol": p.protocol.value,
                    "relay_ip": str(p.relay_ip),
                    "via": p.via.value,
                    "reachable": p.reachable,
                    "status": p.status.value,
                    "client_address": p.client_address.value,
                    "evidence": p.evidence,
                    "proxy_protocol": None if p.proxy_protocol is None else p.proxy_protocol.value,
                    "forwarded_for": p.forwarded_for,
                    "record": p.record,
                }
                for p in self.ports
            ],
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_dict(self) -> dict[str, Any]:
        return {"schema": RELAY_SCHEMA_ID, "schema_version": RELAY_VERSION, **self.body(),
                "limits": limits_to_list(self.limits), "duration_ms": round(self.duration_s * 1000, 1)}


RELAY_BODY: dict[str, JsonSchema] = {
    "name": {"type": "string"},
    "relay_ips": STRING_LIST,
    "via": enum_of(RelayVia),
    "ports": {
        "type": "array",
        "items": obj({
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "protocol": enum_of(TransportProtocol),
            "relay_ip": {"type": "string"},
            "via": enum_of(RelayVia),
            "reachable": BOOL_OR_NULL,
            "status": enum_of(RelayStatus),
            "client_address": enum_of(ClientAddress),
            "evidence": {"type": "string"},
            "proxy_protocol": nullable(enum_of(ProxyProtocol)),
            "forwarded_for": STRING_OR_NULL,
            "record": STRING_OR_NULL,
        }),
    },
    "findings": {"type": "array", "items": FINDING},
}

RELAY_SCHEMA: JsonSchema = report_schema(
    RELAY_SCHEMA_ID, RELAY_VERSION, "A service reached through a relay or tunnel, proven with a token (natprobe check --host)",
    {**RELAY_BODY, "limits": LIMITS, "duration_ms": {"type": "number"}},
)
