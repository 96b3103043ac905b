"""Text rendering of a name check (``natprobe dns`` and the name part of ``natprobe check --host``)."""

from __future__ import annotations

import textwrap

from natprobe.addressing import IpFamily
from natprobe.reports.dns_report import DnsReport
from natprobe.verdicts.dns_verdicts import FamilyLookup, LookupStatus, record_type

_WIDTH = 88


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, _WIDTH, initial_indent=indent, subsequent_indent=" " * len(indent))


def _records(lookup: FamilyLookup | None) -> str:
    if lookup is None:
        return "not asked"
    if lookup.status is LookupStatus.ANSWERED:
        return ", ".join(str(a) for a in lookup.addresses) or "no record"
    return lookup.status.value + (f" ({lookup.detail})" if lookup.detail else "")


def render_dns_report(report: DnsReport) -> str:
    lines = [f"Name               {report.name}"]
    if report.valid:
        for family in IpFamily:
            rr = record_type(family)
            local = report.local[family] if report.local is not None else None
            outside = report.outside[family] if report.outside is not None else None
            public = report.public_ips.get(family)
            lines.append(f"{rr + ' from here':<19}{_records(local)}")
            if report.server is not None:
                lines.append(f"{rr + ' from outside':<19}{_records(outside)}")
                lines.append(f"{'IPv' + str(family.version) + ' public':<19}{public or 'unknown'}")
    for note in report.notes:
        lines.extend(_wrap(note, "Note               "))
    for verdict in report.verdicts:
        mark = "OK" if verdict.ok else "PROBLEM"
        lines.append(f"{record_type(verdict.family)} record: {mark} ({verdict.verdict.value})")
        lines.extend(_wrap(verdict.reason, "    why: "))
        for advice in verdict.advice:
            lines.extend(_wrap(advice, "    → "))
    return "\n".join(lines)
