"""Text rendering of a port check."""

from __future__ import annotations

import textwrap

from natprobe_cli.render import arrow, label_rows, render_findings, render_limits, render_path
from natprobe.findings.share import confidence_words
from natprobe_cli.terminal import Colour, Style
from natprobe.addressing import IpFamily
from natprobe.reports.check_report import CheckReport
from natprobe.reports.relay_report import RelayReport
from natprobe.verdicts.relay_verdicts import RelayVia
from natprobe.findings.path_picture import check_path
from natprobe.i18n import _
from natprobe.verdicts.reachability import PortStatus

_WIDTH = 88


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, _WIDTH, initial_indent=indent, subsequent_indent=" " * len(indent))


def render_relay_section(relay: RelayReport, style: Style = Style()) -> str:
    """The relay check: one line per port through the relay, then its findings."""
    via = (_("sent by the echo server") if relay.via is RelayVia.ECHO_SERVER
           else _("sent from this host through the relay's public address (no echo server)"))
    lines = [style.paint(_("Through the relay {name} leads to ({relays}): {via}", name=relay.name,
                           relays=", ".join(map(str, relay.relay_ips)), via=via), Colour.BOLD)]
    for port in relay.ports:
        lines.append(f"{port.protocol.value.upper()} {port.port} via {port.relay_ip}: {port.status.value}"
                     f" (client_address: {port.client_address.value})")
    lines.append(render_findings(relay.findings, style=style))
    return "\n".join(lines)


def render_check_report(report: CheckReport, style: Style = Style()) -> str:
    """The check as text: the drawn path first, then the verdicts and the findings."""
    rows = label_rows(
        [
            (_("Echo server"), report.server or _("no echo server")),
            (_("This host"), str(report.local_ip or _("unknown"))),
            (_("Public address"), _("{address} (as the echo server saw it)", address=report.public_ip)
             if report.public_ip is not None else _("unknown")),
            (
                _("NAT layers"),
                _(
                    "{layers} ({confidence} confidence)",
                    layers=report.topology.layers.value,
                    confidence=confidence_words(report.topology.confidence),
                ),
            ),
        ]
    )
    indent = " " * (len(rows[0]) - len(report.server or _("no echo server")))
    lines = [render_path(check_path(report), style), "", *rows]
    for sentence in report.topology.evidence:
        lines.extend(_wrap(sentence, indent + "- "))
    for family in report.families:
        lines.extend(_wrap(family.note, f"{'IPv' + str(family.family.version):<19}"))
    lines.append("")
    several = len({p.family for p in report.ports}) > 1 or any(p.family is IpFamily.IPV6 for p in report.ports)
    why, proof = _("why: "), _("proof: ")
    for port in report.ports:
        mark = {True: _("REACHABLE"), False: _("NOT REACHABLE"), None: _("NOT TESTED")}[port.reachable]
        if port.status is PortStatus.ARRIVED_SILENT:
            mark = _("ARRIVED, SERVICE SILENT")
        mark = style.paint(mark, {True: Colour.GREEN, False: Colour.RED, None: Colour.YELLOW}[port.reachable])
        lines.append(
            _(
                "{protocol} {port}: {verdict} ({status})",
                protocol=port.protocol.value.upper(),
                port=_("{port} over IPv{version}", port=port.port, version=port.family.version) if several
                else port.port,
                verdict=mark,
                status=port.status.value,
            )
        )
        lines.extend(_wrap(port.reason, "    " + why))
        if port.proof:
            lines.extend(_wrap(port.proof, "    " + proof))
        for advice in port.advice:
            lines.extend(_wrap(advice, f"    {arrow(style)} "))
    for result in report.hairpin:
        state = {True: _("works"), False: _("does not work"), None: _("not tested")}[result.works]
        lines.append(
            _("Hairpin {protocol} {port}: {state}", protocol=result.protocol.value.upper(), port=result.port, state=state)
        )
        lines.extend(_wrap(result.reason, "    " + why))
        for advice in result.advice:
            lines.extend(_wrap(advice, f"    {arrow(style)} "))
    if report.dns is not None:
        from natprobe_cli.render_dns import render_dns_report

        lines += ["", render_dns_report(report.dns)]
    if report.relay is not None:
        lines += ["", render_relay_section(report.relay, style)]
    if report.findings:
        lines += ["", render_findings(report.findings, style=style)]
    lines.extend(render_limits(report.limits))
    if report.advice:
        lines += ["", style.paint(_("A port forward cannot work here. What can, in order:"), Colour.BOLD),
                  render_findings(report.advice, style=style)]
    lines.append("\n" + _("(took {seconds:.1f} s)", seconds=report.duration_s))
    return "\n".join(lines)
