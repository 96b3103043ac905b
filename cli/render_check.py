"""Text rendering of a port check."""

from __future__ import annotations

import textwrap
from collections.abc import Collection

from cli.render import arrow, render_findings, render_path
from cli.terminal import Colour, Style
from natprobe.reports.check_report import CheckReport
from natprobe.findings.finding import Finding
from natprobe.findings.jamulus_findings import explain_jamulus_port
from natprobe.findings.path_picture import check_path
from natprobe.verdicts.reachability import Protocol

_WIDTH = 88


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, _WIDTH, initial_indent=indent, subsequent_indent=" " * len(indent))


def jamulus_findings(report: CheckReport, jamulus_ports: Collection[int]) -> tuple[Finding, ...]:
    """What the verdict of each Jamulus UDP port means for Jamulus' public and private mode."""
    return tuple(
        finding
        for port in report.ports
        if port.protocol is Protocol.UDP and port.port in jamulus_ports
        for finding in explain_jamulus_port(port, report.topology.layers)
    )


def render_check_report(report: CheckReport, *, jamulus_ports: Collection[int] = (), style: Style = Style()) -> str:
    """The check as text, the drawn path first; ``jamulus_ports`` (UDP) also get what the
    verdict means for Jamulus."""
    lines = [
        render_path(check_path(report), style),
        "",
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
        mark = style.paint(mark, {True: Colour.GREEN, False: Colour.RED, None: Colour.YELLOW}[port.reachable])
        lines.append(f"{port.protocol.value.upper()} {port.port}: {mark} ({port.status.value})")
        lines.extend(_wrap(port.reason, "    why: "))
        if port.proof:
            lines.extend(_wrap(port.proof, "    proof: "))
        for advice in port.advice:
            lines.extend(_wrap(advice, f"    {arrow(style)} "))
    for result in report.hairpin:
        state = {True: "works", False: "does not work", None: "not tested"}[result.works]
        lines.append(f"Hairpin {result.protocol.value.upper()} {result.port}: {state}")
        lines.extend(_wrap(result.reason, "    why: "))
        for advice in result.advice:
            lines.extend(_wrap(advice, f"    {arrow(style)} "))
    findings = jamulus_findings(report, jamulus_ports)
    if findings:
        lines += ["", render_findings(findings, style=style)]
    lines.append(f"\n(took {report.duration_s:.1f} s)")
    return "\n".join(lines)
