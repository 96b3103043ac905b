"""Text rendering of ``natprobe explain jamulus`` (public mode versus private mode)."""

from __future__ import annotations

import textwrap

from cli.render import render_findings, render_path
from cli.terminal import Colour, Style
from natprobe.reports.jamulus_report import JamulusModesReport
from natprobe.verdicts.jamulus_verdicts import ModeVerdict
from natprobe.findings.jamulus_findings import explain_jamulus
from natprobe.findings.path_picture import jamulus_path

_WIDTH = 88
_LABEL = 46


def _mark(verdict: ModeVerdict) -> str:
    if verdict.works is None:
        return "NOT MEASURED" if verdict.status.value == "not-measured" else "UNDECIDED"
    return "WORKS" if verdict.works else "FAILS"


def _seen(value: bool | None, yes: str, no: str, unknown: str = "not measured") -> str:
    return unknown if value is None else (yes if value else no)


def _row(label: str, value: str) -> list[str]:
    return textwrap.wrap(
        value, _WIDTH, initial_indent=f"  {label:<{_LABEL - 1}} ", subsequent_indent=" " * (_LABEL + 2)
    ) or [f"  {label}"]


def render_jamulus_report(report: JamulusModesReport, style: Style = Style()) -> str:
    """The drawn path, the measurement, the two verdicts, then the findings."""
    measured = report.measured_port
    via = "" if measured in (None, report.port) else f" (public mode measured from UDP {measured})"
    lines = [
        render_path(jamulus_path(report), style),
        "",
        f"Echo server        {report.server}",
        f"This host          {report.local_ip or 'unknown'}",
        f"Public address     {report.public_ip or 'unknown'} (NAT layers: {report.nat_layers.value})",
        f"Jamulus port       UDP {report.port}{via}",
        "",
    ]
    for title, verdict in (("Private mode (unregistered)", report.private_mode), ("Public mode (registered)", report.public_mode)):
        colour = {True: Colour.GREEN, False: Colour.RED, None: Colour.YELLOW}[verdict.works]
        lines.append(f"{title:<28} {style.paint(_mark(verdict), colour)} ({verdict.status.value})")
        lines.extend(textwrap.wrap(verdict.reason, _WIDTH, initial_indent="    why: ", subsequent_indent="         "))
    lines += ["", "What was measured"]
    lines += _row("unsolicited probe, before anything was sent", _seen(report.private_mode_reachable, "arrived", "dropped"))
    directory = f"registration with {report.directory}" if report.directory is not None else "registration"
    status = "" if report.registration_status is None else f" (status {report.registration_status})"
    lines += _row(directory, _seen(report.registered, f"registered{status}", f"no answer{status}", "not attempted"))
    published = report.published_address
    if published is not None:
        preserved = _seen(report.port_preserved, "port preserved", f"port NOT preserved: local port was {measured}")
        lines += _row("published address (what a directory lists)", f"{published} ({preserved})")
    lines += _row(
        "stranger's ping to it, before any punch",
        _seen(report.unsolicited_from_new_peer_admitted, "answered (forward or full-cone NAT)", "dropped"),
    )
    punch = report.hole_punch
    if punch is None:
        punched = "not measured"
    elif punch.punch_source is None:
        punched = "never arrived"
    else:
        same = "the listed address" if punch.punch_source == punch.published else "NOT the listed address"
        punched = f"arrived from {punch.punch_source} ({same})"
    lines += _row("hole punch toward a new client", punched)
    rtt = "" if punch is None or punch.punched_rtt_ms is None else f" in {punch.punched_rtt_ms:g} ms"
    lines += _row("new client's ping after the punch", _seen(report.punched_ping_answered, f"answered{rtt}", "dropped"))
    lifetime = report.lifetime
    lines += _row("idle mapping lifetime", lifetime.reason if lifetime is not None else "not measured (--lifetime)")
    if report.hole_punch_error:
        lines += _row("hole punch error", report.hole_punch_error)
    lines += ["", render_findings(explain_jamulus(report), style=style), f"\n(took {report.duration_s:.1f} s)"]
    return "\n".join(lines)
