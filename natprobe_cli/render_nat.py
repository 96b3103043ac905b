"""Text rendering of a NAT behaviour report."""

from __future__ import annotations

from natprobe_cli.render import label_rows, render_findings, render_limits, render_path
from natprobe_cli.terminal import Style
from natprobe.findings.path_picture import nat_path
from natprobe.i18n import _
from natprobe.reports.nat_report import NatReport


def _yes_no(value: bool | None) -> str:
    return _("unknown") if value is None else (_("yes") if value else _("no"))


def render_nat_report(report: NatReport, style: Style = Style()) -> str:
    dash = "—" if style.unicode else "-"
    server = str(report.server)
    if report.server_alternate:
        server = _("{server} (alternate {alternate})", server=report.server, alternate=report.server_alternate)
    rows = [
        (_("STUN server"), server),
        (_("Local address"), str(report.local or _("unknown"))),
        (_("Public address"), str(report.mapped or _("unknown (no answer)"))),
        (_("NAT type"), report.nat_type.value.value),
        (_("Mapping"), f"{report.mapping.value.value}  {dash} {report.mapping.reason}"),
        (_("Filtering"), f"{report.filtering.value.value}  {dash} {report.filtering.reason}"),
        (_("Hairpinning"), f"{_yes_no(report.hairpinning.value)}  {dash} {report.hairpinning.reason}"),
        (_("Port preserved"), _yes_no(report.port_preservation)),
    ]
    if report.lifetime is not None:
        rows.append((_("Mapping lifetime"), report.lifetime.reason))
    if report.has_global_ipv6 is not None:
        rows.append((
            "IPv6",
            _("{address} (global: no NAT over IPv6, only firewalls to open)", address=report.ipv6_address)
            if report.ipv6_address is not None
            else _("none (this host has no global IPv6 address)"),
        ))
    rtt = _("{ms:.1f} ms", ms=report.rtt_s * 1000) if report.rtt_s is not None else _("unknown")
    rows.append(
        (
            _("Round trip"),
            _("{rtt}, loss {loss:.0%}, took {seconds:.2f} s", rtt=rtt, loss=report.round_trip_loss, seconds=report.duration_s),
        )
    )
    lines = [render_path(nat_path(report), style), "", *label_rows(rows), ""]
    lines.append(render_findings(report.findings, style=style))
    lines.extend(render_limits(report.limits))
    return "\n".join(lines)
