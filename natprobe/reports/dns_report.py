"""The report of a name check (``natprobe dns NAME``, and the ``dns`` part of ``natprobe check
--host NAME``): the records per vantage point and family, and the verdict per family."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from natprobe.addressing import IPAddress, IpFamily
from natprobe.reports.json_schema import (
    STRING_LIST,
    STRING_OR_NULL,
    JsonSchema,
    enum_of,
    nullable,
    obj,
    report_schema,
)
from natprobe.reports.doctor_report import LIMITS, Limit, limits_to_list
from natprobe.verdicts.dns_verdicts import DnsVerdict, FamilyDnsVerdict
from natprobe.observations import FamilyLookup, LookupStatus

__all__ = ("DNS_SCHEMA", "DNS_SCHEMA_ID", "DNS_VERSION", "DnsReport")

DNS_SCHEMA_ID = "natprobe/dns"
DNS_VERSION = 3
"""2: the verdict ``via-relay`` (a record that leads to this host through a relay).
3: ``limits`` lists the facilities this machine lacked that limited the conclusions, as the
check report does (:data:`~natprobe.reports.doctor_report.LIMIT`): today the IPv6 address flags,
without which an AAAA record naming a temporary privacy address is not recognised. Inside a
check report the ``dns`` object has none: the check's own ``limits`` speak for the whole run."""


def _lookups(view: Mapping[IpFamily, FamilyLookup] | None) -> dict[str, Any] | None:
    if view is None:
        return None
    return {
        family.value: {
            "status": lookup.status.value,
            "addresses": [str(a) for a in lookup.addresses],
            "detail": lookup.detail,
        }
        for family, lookup in view.items()
    }


@dataclass(frozen=True, slots=True)
class DnsReport:
    name: str
    """The name as given (``valid`` says whether it is a host name at all)."""
    valid: bool
    server: str | None
    """The echo server asked for the outside view and the public addresses (None: local view only)."""
    local: Mapping[IpFamily, FamilyLookup] | None
    """This host's resolver (None: not asked, the name is invalid)."""
    outside: Mapping[IpFamily, FamilyLookup] | None
    """The echo server's resolver (None: not asked or it failed; ``notes`` says why)."""
    public_ips: Mapping[IpFamily, IPAddress | None]
    verdicts: tuple[FamilyDnsVerdict, ...]
    notes: tuple[str, ...] = ()
    duration_s: float = 0.0
    temporary_addresses: tuple[IPAddress, ...] = field(default=())
    limits: tuple[Limit, ...] = ()
    """Facilities this machine lacked that limited the conclusions (what ``natprobe doctor`` lists)."""

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)

    @property
    def any_problem(self) -> bool:
        """A record was found wrong (a failing resolver alone is not a finding)."""
        return any(v.problem for v in self.verdicts)

    def body(self) -> dict[str, Any]:
        """The report without its schema id (the ``dns`` object inside a check report)."""
        return {
            "name": self.name,
            "valid": self.valid,
            "server": self.server,
            "records": {"local": _lookups(self.local), "outside": _lookups(self.outside)},
            "public_ips": {
                f.value: None if (ip := self.public_ips.get(f)) is None else str(ip) for f in IpFamily
            },
            "verdicts": {
                v.family.value: {"verdict": v.verdict.value, "reason": v.reason, "advice": list(v.advice)}
                for v in self.verdicts
            },
            "notes": list(self.notes),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": DNS_SCHEMA_ID,
            "schema_version": DNS_VERSION,
            **self.body(),
            "limits": limits_to_list(self.limits),
            "duration_ms": round(self.duration_s * 1000, 1),
        }


_LOOKUP: JsonSchema = obj({"status": enum_of(LookupStatus), "addresses": STRING_LIST, "detail": {"type": "string"}})
_VIEW: JsonSchema = nullable(obj({family.value: _LOOKUP for family in IpFamily}))

DNS_SCHEMA: JsonSchema = report_schema(
    DNS_SCHEMA_ID,
    DNS_VERSION,
    "A name's A/AAAA records against this network's public addresses (natprobe dns, check --host)",
    {
        "name": {"type": "string"},
        "valid": {"type": "boolean"},
        "server": STRING_OR_NULL,
        "records": obj({"local": _VIEW, "outside": _VIEW}),
        "public_ips": obj({family.value: STRING_OR_NULL for family in IpFamily}),
        "verdicts": obj(
            {
                family.value: obj({"verdict": enum_of(DnsVerdict), "reason": {"type": "string"}, "advice": STRING_LIST})
                for family in IpFamily
            }
        ),
        "notes": STRING_LIST,
        "limits": LIMITS,
        "duration_ms": {"type": "number"},
    },
)
