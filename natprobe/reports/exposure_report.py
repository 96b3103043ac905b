"""The report of ``natprobe exposure``: what the Internet sees of this network, port by port.

Like every report it carries decisions (each port's :class:`~natprobe.verdicts.exposure_grading.Grade`
codes) and, attached after the measurement, its findings in words
(:func:`natprobe.findings.exposure_findings.explain_exposure`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from natprobe.addressing import IPAddress, IpFamily
from natprobe.contract.exposure_route import PortState, ScannedPort, ScanProtocol
from natprobe.reports.doctor_report import LIMITS, Limit, limits_to_list
from natprobe.reports.family_result import FAMILY_RESULT_PROPERTIES, FamilyResult
from natprobe.reports.finding import Finding
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
from natprobe.verdicts.exposure_grading import ExposedPort, Level

__all__ = (
    "EXPOSURE_SCHEMA",
    "EXPOSURE_SCHEMA_ID",
    "EXPOSURE_VERSION",
    "ExposureFamily",
    "ExposureReport",
    "PortFinding",
    "port_details",
)

EXPOSURE_SCHEMA_ID = "natprobe/exposure"
EXPOSURE_VERSION = 3
"""2: one scan per address family: each port and scanned entry carries its ``family``, and
``families`` says per family whether it was scanned, from and at which address, or why not.
3: ``limits`` lists the facilities this machine lacked that limited the conclusions, as the
check report does (:data:`~natprobe.reports.doctor_report.LIMIT`): today the IPv6 address flags,
without which the address scanned over IPv6 may be a temporary privacy address."""
BAD_SEVERITIES = frozenset({"problem"})


@dataclass(frozen=True, slots=True)
class PortFinding:
    """One of a port's findings as the JSON report shows it: the grade's code beside the words."""

    code: str
    """The grade's code (:class:`~natprobe.verdicts.exposure_grading.Code`), without the
    ``exposure-`` prefix the same finding's :attr:`Finding.code` has."""
    severity: str
    """``ok``, ``info``, ``warning`` or ``problem`` (graded bad)."""
    title: str
    detail: str
    advice: tuple[str, ...]


def port_details(scanned: ScannedPort) -> dict[str, Any]:
    """What answered: the scan's record less the fields shown at the top level, ``None``s dropped."""
    # Through JSON, so tuples come back as lists: the dict is what --json prints.
    data: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(scanned))
    for key in ("port", "protocol", "state", "service"):
        data.pop(key, None)
    return {key: value for key, value in data.items() if value is not None}


@dataclass(frozen=True, slots=True)
class ExposureFamily(FamilyResult):
    """One address family's :class:`FamilyResult`, with the echo server's scanning address and
    what it scanned (``public_ip`` is the address scanned: the request's own source)."""

    scanned_from: str | None = None
    """The echo server's scanning address."""
    scanned: tuple[ScannedPort, ...] = ()
    """Every port scanned over this family (closed and filtered included)."""

    @classmethod
    def of(cls, status: FamilyResult, scanned_from: str | None = None,
           scanned: tuple[ScannedPort, ...] = ()) -> ExposureFamily:
        return cls(status.family, status.tested, status.local_ip, status.public_ip, status.temporary_address,
                   status.note, scanned_from, scanned)


@dataclass(frozen=True, slots=True)
class ExposureReport:
    server: str
    expect: tuple[str, ...] | None
    """The ports the user meant to expose (``80/tcp``...), or ``None`` when not said."""
    ports: tuple[ExposedPort, ...]
    """Open ports and expected ports, in scan order, family after family, with their grades."""
    families: tuple[ExposureFamily, ...]
    """Per address family: scanned or not, and why; at least one was scanned."""
    duration_s: float
    findings: tuple[Finding, ...] = ()
    """What the grades mean and what to do: one finding per grade, port after port in the order
    of ``ports`` (:func:`natprobe.findings.exposure_findings.explain_exposure`, attached by
    :func:`natprobe.scan_exposure`); :attr:`port_findings` groups them per port."""
    limits: tuple[Limit, ...] = ()
    """Facilities this machine lacked that limited the conclusions (what ``natprobe doctor`` lists)."""

    def __post_init__(self) -> None:
        graded = sum(len(p.grades) for p in self.ports)
        if self.findings and len(self.findings) != graded:
            raise ValueError(f"{len(self.findings)} findings for {graded} grades: one finding per grade")

    @property
    def first(self) -> ExposureFamily:
        """The first family scanned (the top-level ``public_ip`` of the JSON)."""
        return next(f for f in self.families if f.tested)

    @property
    def public_ip(self) -> IPAddress | None:
        return self.first.public_ip

    @property
    def scanned(self) -> tuple[tuple[IpFamily, ScannedPort], ...]:
        """Every port scanned, with its family."""
        return tuple((f.family, s) for f in self.families for s in f.scanned)

    @property
    def bad(self) -> bool:
        """Something is graded bad over any family (exit code 1)."""
        return any(g.level is Level.BAD for p in self.ports for g in p.grades)

    @property
    def port_findings(self) -> tuple[tuple[PortFinding, ...], ...]:
        """Each port's findings (none before the findings are attached), in the order of ``ports``."""
        grouped: list[tuple[PortFinding, ...]] = []
        words = iter(self.findings)
        for port in self.ports:
            pairs = zip(port.grades, words) if self.findings else ()
            grouped.append(tuple(PortFinding(grade.code.value, f.severity.value, f.title, f.detail, f.advice)
                                 for grade, f in pairs))  # fmt: skip
        return tuple(grouped)

    def count(self, state: PortState, family: IpFamily | None = None) -> int:
        return sum(1 for fam, p in self.scanned if p.state is state and family in (None, fam))

    def to_dict(self) -> dict[str, Any]:
        first = self.first
        return {
            "schema": EXPOSURE_SCHEMA_ID,
            "schema_version": EXPOSURE_VERSION,
            "server": self.server,
            "family": first.family.value,
            "public_ip": str(first.public_ip),
            "local_ip": None if first.local_ip is None else str(first.local_ip),
            "scanned_from": first.scanned_from,
            "expect": None if self.expect is None else list(self.expect),
            "summary": {state.value: self.count(state) for state in PortState},
            "families": [
                {
                    **f.to_dict(),
                    "scanned_from": f.scanned_from,
                    "summary": {state.value: self.count(state, f.family) for state in PortState},
                }
                for f in self.families
            ],
            "ports": [
                {
                    "family": p.family.value,
                    "port": p.scanned.port,
                    "protocol": p.scanned.protocol.value,
                    "state": p.scanned.state.value,
                    "service": p.scanned.service,
                    "expected": p.expected,
                    "details": port_details(p.scanned),
                    "findings": [
                        {"code": f.code, "severity": f.severity, "title": f.title, "detail": f.detail,
                         "advice": list(f.advice)}
                        for f in findings
                    ],
                }
                for p, findings in zip(self.ports, self.port_findings)
            ],
            "scanned": [
                {"family": family.value, "port": s.port, "protocol": s.protocol.value, "state": s.state.value,
                 "service": s.service}
                for family, s in self.scanned
            ],
            "bad": self.bad,
            "limits": limits_to_list(self.limits),
            "duration_ms": round(self.duration_s * 1000, 1),
        }  # fmt: skip


_SUMMARY: JsonSchema = obj({state.value: {"type": "integer", "minimum": 0} for state in PortState})

_SCANNED: dict[str, JsonSchema] = {
    "family": enum_of(IpFamily),
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
        # The first family scanned (IPv4 when it was): its addresses; ``families`` has each one's.
        "family": enum_of(IpFamily),
        "public_ip": {"type": "string"},
        "local_ip": STRING_OR_NULL,
        "scanned_from": {"type": "string"},
        "expect": nullable(STRING_LIST),
        "summary": _SUMMARY,
        "families": {
            "type": "array",
            "items": obj(
                {
                    **FAMILY_RESULT_PROPERTIES,
                    "scanned_from": STRING_OR_NULL,
                    "summary": _SUMMARY,
                }
            ),
        },
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
        "limits": LIMITS,
        "duration_ms": {"type": "number"},
    },
)
