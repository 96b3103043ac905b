"""Text rendering of a port check."""

from __future__ import annotations

import textwrap

from cli.render import render_findings
from natprobe.reports.check_report import CheckReport

_WIDTH = 88


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, _WIDTH, initial_indent=indent, subsequent_indent=" " * len(indent))


def render_check_report(report: CheckReport) -> str:
    """The check as text, then its findings."""
    lines = [
        f"Echo server        {report.server}",
        f"This host          {report.local_ip or 'unknown'}",
        f"Public address     {report.public_ip} (as the echo server saw it)",
        f"NAT layers         {report.topology.layers.value} ({report.topology.confidence.value} confidence)",
    ]
    for sentence in report.topology.evidence:
        lines.extend(_wrap(sentence, "                   - "))
    lines.append("")
    for port in report.ports:
        mark = {True: "REACHABLE", False: "NOT REACHABLE", None: "NOT TESTED"}[port.reachable]
        lines.append(f"{port.protocol.value.upper()} {port.port}: {mark} ({port.status.value})")
        lines.extend(_wrap(port.reason, "    why: "))
        if port.proof:
            lines.extend(_wrap(port.proof, "    proof: "))
        for advice in port.advice:
            lines.extend(_wrap(advice, "    → "))
    for result in report.hairpin:
        state = {True: "works", False: "does not work", None: "not tested"}[result.works]
        lines.append(f"Hairpin {result.protocol.value.upper()} {result.port}: {state}")
        lines.extend(_wrap(result.reason, "    why: "))
        for advice in result.advice:
            lines.extend(_wrap(advice, "    → "))
    if report.findings:
        lines += ["", render_findings(report.findings)]
    lines.append(f"\n(took {report.duration_s:.1f} s)")
    return "\n".join(lines)
