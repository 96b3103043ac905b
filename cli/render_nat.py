"""Text rendering of a NAT behaviour report."""

from __future__ import annotations

from cli.render import render_findings, render_path
from cli.terminal import Style
from natprobe.findings.nat_findings import explain_nat
from natprobe.findings.path_picture import nat_path
from natprobe.reports.nat_report import NatReport


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def render_nat_report(report: NatReport, style: Style = Style()) -> str:
    dash = "—" if style.unicode else "-"
    lines = [
        render_path(nat_path(report), style),
        "",
        f"STUN server        {report.server}" + (f" (alternate {report.server_alternate})" if report.server_alternate else ""),
        f"Local address      {report.local or 'unknown'}",
        f"Public address     {report.mapped or 'unknown (no answer)'}",
        f"NAT type           {report.nat_type.value.value}",
        f"Mapping            {report.mapping.value.value}  {dash} {report.mapping.reason}",
        f"Filtering          {report.filtering.value.value}  {dash} {report.filtering.reason}",
        f"Hairpinning        {_yes_no(report.hairpinning.value)}  {dash} {report.hairpinning.reason}",
        f"Port preserved     {_yes_no(report.port_preservation)}",
    ]
    if report.lifetime is not None:
        lines.append(f"Mapping lifetime   {report.lifetime.reason}")
    rtt = f"{report.rtt_s * 1000:.1f} ms" if report.rtt_s is not None else "unknown"
    lines.append(f"Round trip         {rtt}, loss {report.round_trip_loss:.0%}, took {report.duration_s:.2f} s")
    lines.append("")
    lines.append(render_findings(explain_nat(report), style=style))
    return "\n".join(lines)
