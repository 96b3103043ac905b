"""Text rendering of ``natprobe explain jamulus`` (public mode versus private mode)."""

from __future__ import annotations

import textwrap

from natprobe_cli.render import label_rows, render_findings, render_limits, render_path
from natprobe_cli.terminal import Colour, Style
from natprobe.reports.jamulus_report import JamulusModesReport
from natprobe.verdicts.jamulus_verdicts import ModeVerdict
from natprobe.findings.path_picture import jamulus_path
from natprobe.i18n import _

_WIDTH = 88
_LABEL = 46


def _mark(verdict: ModeVerdict) -> str:
    if verdict.works is None:
        return _("NOT MEASURED") if verdict.status.value == "not-measured" else _("UNDECIDED")
    return _("WORKS") if verdict.works else _("FAILS")


def _seen(value: bool | None, yes: str, no: str, unknown: str | None = None) -> str:
    if value is None:
        return unknown if unknown is not None else _("not measured")
    return yes if value else no


def _row(label: str, value: str) -> list[str]:
    return textwrap.wrap(
        value, _WIDTH, initial_indent=f"  {label:<{_LABEL - 1}} ", subsequent_indent=" " * (_LABEL + 2)
    ) or [f"  {label}"]


def render_jamulus_report(report: JamulusModesReport, style: Style = Style()) -> str:
    """The drawn path, the measurement, the two verdicts, then the findings."""
    measured = report.measured_port
    port = _("UDP {port}", port=report.port)
    if measured not in (None, report.port):
        port = _("UDP {port} (public mode measured from UDP {measured})", port=report.port, measured=measured)
    rows = [
        (_("Echo server"), report.server),
        (_("This host"), str(report.local_ip or _("unknown"))),
        (
            _("Public address"),
            _("{address} (NAT layers: {layers})", address=report.public_ip or _("unknown"), layers=report.nat_layers.value),
        ),
        (_("Jamulus port"), port),
    ]
    lines = [render_path(jamulus_path(report), style), "", *label_rows(rows), ""]
    modes = ((_("Private mode (unregistered)"), report.private_mode), (_("Public mode (registered)"), report.public_mode))
    width = max(len(title) for title, _verdict in modes) + 1
    why = _("why: ")
    for title, verdict in modes:
        colour = {True: Colour.GREEN, False: Colour.RED, None: Colour.YELLOW}[verdict.works]
        lines.append(f"{title:<{width}} {style.paint(_mark(verdict), colour)} ({verdict.status.value})")
        lines.extend(
            textwrap.wrap(verdict.reason, _WIDTH, initial_indent="    " + why, subsequent_indent=" " * (4 + len(why)))
        )
    lines += ["", style.paint(_("What was measured"), Colour.BOLD)]
    lines += _row(
        _("unsolicited probe, before anything was sent"),
        _seen(report.private_mode_reachable, _("arrived"), _("dropped")),
    )
    if report.directory is not None:
        directory = _("registration with {directory}", directory=report.directory)
    else:
        directory = _("registration")
    if report.registration_status is None:
        registered, unanswered = _("registered"), _("no answer")
    else:
        registered = _("registered (status {status})", status=report.registration_status)
        unanswered = _("no answer (status {status})", status=report.registration_status)
    lines += _row(directory, _seen(report.registered, registered, unanswered, _("not attempted")))
    published = report.published_address
    if published is not None:
        preserved = _seen(
            report.port_preserved,
            _("port preserved"),
            _("port NOT preserved: local port was {port}", port=measured),
        )
        lines += _row(
            _("published address (what a directory lists)"),
            _("{address} ({preserved})", address=published, preserved=preserved),
        )
    lines += _row(
        _("stranger's ping to it, before any punch"),
        _seen(report.unsolicited_from_new_peer_admitted, _("answered (forward or full-cone NAT)"), _("dropped")),
    )
    punch = report.hole_punch
    if punch is None:
        punched = _("not measured")
    elif punch.punch_source is None:
        punched = _("never arrived")
    elif punch.punch_source == punch.published:
        punched = _("arrived from {source} (the listed address)", source=punch.punch_source)
    else:
        punched = _("arrived from {source} (NOT the listed address)", source=punch.punch_source)
    lines += _row(_("hole punch toward a new client"), punched)
    if punch is None or punch.punched_rtt_ms is None:
        answered = _("answered")
    else:
        answered = _("answered in {ms:g} ms", ms=punch.punched_rtt_ms)
    lines += _row(_("new client's ping after the punch"), _seen(report.punched_ping_answered, answered, _("dropped")))
    lifetime = report.lifetime
    lines += _row(
        _("idle mapping lifetime"), lifetime.reason if lifetime is not None else _("not measured (--lifetime)")
    )
    if report.hole_punch_error:
        lines += _row(_("hole punch error"), report.hole_punch_error)
    lines += [
        "",
        render_findings(report.findings, style=style),
        *render_limits(report.limits),
        "\n" + _("(took {seconds:.1f} s)", seconds=report.duration_s),
    ]
    return "\n".join(lines)
