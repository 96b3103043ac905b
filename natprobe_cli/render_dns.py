"""Text rendering of a name check (``natprobe dns`` and the name part of ``natprobe check --host``)."""

from __future__ import annotations

import textwrap

from natprobe.addressing import IpFamily
from natprobe.i18n import _
from natprobe.reports.dns_report import DnsReport
from natprobe.verdicts.dns_verdicts import record_type
from natprobe.observations import FamilyLookup, LookupStatus

_WIDTH = 88


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, _WIDTH, initial_indent=indent, subsequent_indent=" " * len(indent))


def _records(lookup: FamilyLookup | None) -> str:
    if lookup is None:
        return _("not asked")
    if lookup.status is LookupStatus.ANSWERED:
        return ", ".join(str(a) for a in lookup.addresses) or _("no record")
    return lookup.status.value + (f" ({lookup.detail})" if lookup.detail else "")


def _label(text: str) -> str:
    """A left-column label padded to the value column (20 columns: the longest French label fits)."""
    return f"{text:<19} "


def render_dns_report(report: DnsReport) -> str:
    lines = [_label(_("Name")) + report.name]
    if report.valid:
        for family in IpFamily:
            rr = record_type(family)
            local = report.local[family] if report.local is not None else None
            outside = report.outside[family] if report.outside is not None else None
            public = report.public_ips.get(family)
            lines.append(_label(_("{rr} from here", rr=rr)) + _records(local))
            if report.server is not None:
                lines.append(_label(_("{rr} from outside", rr=rr)) + _records(outside))
                lines.append(_label(_("IPv{version} public", version=family.version))
                             + (str(public) if public is not None else _("unknown")))
    for note in report.notes:
        lines.extend(_wrap(note, _label(_("Note"))))
    for verdict in report.verdicts:
        rr = record_type(verdict.family)
        if verdict.ok:
            lines.append(_("{rr} record: OK ({verdict})", rr=rr, verdict=verdict.verdict.value))
        else:
            lines.append(_("{rr} record: PROBLEM ({verdict})", rr=rr, verdict=verdict.verdict.value))
        lines.extend(_wrap(verdict.reason, "    " + _("why:") + " "))
        for advice in verdict.advice:
            lines.extend(_wrap(advice, "    → "))
    return "\n".join(lines)
