"""The report of ``natprobe exposure``: what the Internet sees of this network, port by port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from natprobe.addressing import IPAddress
from natprobe.contract.exposure_route import PortState, ScannedPort, ScanProtocol
from natprobe.reports.json_schema import (
    FINDING,
    PORT,
    STRING_LIST,
    STRING_OR_NULL,
    JsonSchema,
    enum_of,
    nullable,
    obj,
    report_schema,
)

__all__ = (
    "EXPOSURE_SCHEMA",
    "EXPOSURE_SCHEMA_ID",
    "EXPOSURE_VERSION",
    "ExposedPort",
    "ExposureReport",
    "PortFinding",
)

EXPOSURE_SCHEMA_ID = "natprobe/exposure"
EXPOSURE_VERSION = 1
BAD_SEVERITIES = frozenset({"problem"})


@dataclass(frozen=True, slots=True)
class PortFinding:
    code: str
    severity: str
    """``ok``, ``info``, ``warning`` or ``problem`` (graded bad)."""
    title: str
    detail: str
    advice: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExposedPort:
    scanned: ScannedPort
    expected: bool
    findings: tuple[PortFinding, ...]

    @property
    def details(self) -> dict[str, Any]:
        """What answered: the scan's record less the fields shown at the top level, ``None``s dropped."""
        # Through JSON, so tuples come back as lists: the dict is what --json prints.
        data: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self.scanned))
        for key in ("port", "protocol", "state", "service"):
            data.pop(key, None)
        return {key: value for key, value in data.items() if value is not None}


@dataclass(frozen=True, slots=True)
class ExposureReport:
    server: str
    public_ip: IPAddress
    """The scanned address: one report per address family (the family the request travelled over)."""
    local_ip: IPAddress | None
    scanned_from: str
    expect: tuple[str, ...] | None
    """The ports the user meant to expose (``80/tcp``...), or ``None`` when not said."""
    ports: tuple[ExposedPort, ...]
    """Open ports and expected ports, in scan order."""
    scanned: tuple[ScannedPort, ...]
    """Every port scanned (closed and filtered included)."""
    duration_s: float

    @property
    def bad(self) -> bool:
        return any(f.severity in BAD_SEVERITIES for p in self.ports for f in p.findings)

    def count(self, state: PortState) -> int:
        return sum(1 for p in self.scanned if p.state is state)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": EXPOSURE_SCHEMA_ID,
            "schema_version": EXPOSURE_VERSION,
            "server": self.server,
            "family": f"ipv{self.public_ip.version}",
            "public_ip": str(self.public_ip),
            "local_ip": None if self.local_ip is None else str(self.local_ip),
            "scanned_from": self.scanned_from,
            "expect": None if self.expect is None else list(self.expect),
            "summary": {state.value: self.count(state) for state in PortState},
            "ports": [
                {
                    "port": p.scanned.port,
                    "protocol": p.scanned.protocol.value,
                    "state": p.scanned.state.value,
                    "service": p.scanned.service,
                    "expected": p.expected,
                    "details": p.details,
                    "findings": [
                        {"code": f.code, "severity": f.severity, "title": f.title, "detail": f.detail,
                         "advice": list(f.advice)}
                        for f in p.findings
                    ],
                }
                for p in self.ports
            ],
            "scanned": [
                {"port": s.port, "protocol": s.protocol.value, "state": s.state.value, "service": s.service}
                for s in self.scanned
            ],
            "bad": self.bad,
            "duration_ms": round(self.duration_s * 1000, 1),
        }  # fmt: skip


_SCANNED: dict[str, JsonSchema] = {
    "port": PORT,
    "protocol": enum_of(ScanProtocol),
    "state": enum_of(PortState),
    "service": STRING_OR_NULL,
}

EXPOSURE_SCHEMA: JsonSchema = report_schema(
    EXPOSURE_SCHEMA_ID,
    EXPOSURE_VERSION,
    "What the Internet sees of this network, port by port (natprobe exposure)",
    {
        "server": {"type": "string"},
        "family": {"enum": ["ipv4", "ipv6"]},
        "public_ip": {"type": "string"},
        "local_ip": STRING_OR_NULL,
        "scanned_from": {"type": "string"},
        "expect": nullable(STRING_LIST),
        "summary": obj({state.value: {"type": "integer", "minimum": 0} for state in PortState}),
        "ports": {
            "type": "array",
            "items": obj(
                {
                    **_SCANNED,
                    "expected": {"type": "boolean"},
                    # The echo server's scan record for the port (POST /v1/exposure's ScannedPort,
                    # described in its OpenAPI document) less the keys above and its nulls.
                    "details": {"type": "object"},
                    "findings": {"type": "array", "items": FINDING},
                }
            ),
        },
        "scanned": {"type": "array", "items": obj(_SCANNED)},
        "bad": {"type": "boolean"},
        "duration_ms": {"type": "number"},
    },
)
