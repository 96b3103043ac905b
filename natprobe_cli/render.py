"""Shared text rendering helpers: findings, the drawn path, colour."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence

from natprobe_cli.terminal import Colour, Style
from natprobe.findings.path_picture import PathNode, draw_path
from natprobe.i18n import N_, _
from natprobe.reports.doctor_report import Limit
from natprobe.reports.finding import Finding, Severity
from natprobe.findings.share import confidence_words

_MARKS = {Severity.OK: N_("OK"), Severity.INFO: N_("INFO"), Severity.WARNING: N_("WARN"), Severity.PROBLEM: N_("FAIL")}
_COLOURS = {Severity.OK: Colour.GREEN, Severity.INFO: None, Severity.WARNING: Colour.YELLOW, Severity.PROBLEM: Colour.RED}


def arrow(style: Style) -> str:
    return "→" if style.unicode else "->"


def render_findings(findings: Iterable[Finding], width: int = 88, style: Style = Style()) -> str:
    out: list[str] = []
    marks = {severity: _(text) for severity, text in _MARKS.items()}
    size = max(len(text) for text in marks.values())
    indent = " " * (size + 3)
    for finding in findings:
        mark = style.paint(f"[{marks[finding.severity]:<{size}}]", _COLOURS[finding.severity])
        out.append(f"{mark} {style.paint(finding.title, Colour.BOLD)}")
        out.extend(textwrap.wrap(finding.detail, width, initial_indent=indent, subsequent_indent=indent))
        for advice in finding.advice:
            out.extend(
                textwrap.wrap(advice, width, initial_indent=f"{indent}{arrow(style)} ", subsequent_indent=indent + "  ")
            )
    return "\n".join(out)


def render_limits(limits: Iterable[Limit], width: int = 88) -> list[str]:
    """Each facility this machine lacked that limited a report's conclusions: ``limited: …``
    lines, the same in every command's output."""
    lines: list[str] = []
    for limit in limits:
        indent = _("limited: ")
        lines.extend(textwrap.wrap(limit.text, width, initial_indent=indent, subsequent_indent=" " * len(indent)))
    return lines


def label_rows(rows: Sequence[tuple[str, str]]) -> list[str]:
    """``label   value`` lines, the values aligned after the longest (translated) label."""
    width = max(19, max(len(label) for label, _value in rows) + 3)  # 19: the English layout
    return [f"{label:<{width}}{value}" for label, value in rows]


def render_path(nodes: Sequence[PathNode], style: Style = Style()) -> str:
    """The drawn path, its marks green (got through) or red (stopped) on a colour terminal."""

    def paint(passed: bool | None, text: str) -> str:
        return style.paint(text, {True: Colour.GREEN, False: Colour.RED, None: Colour.DIM}[passed])

    heading = style.paint(_("The path from this host to the echo server"), Colour.BOLD)
    return heading + "\n" + draw_path(nodes, unicode=style.unicode, paint=paint)
