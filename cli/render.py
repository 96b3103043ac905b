"""Shared text rendering helpers: findings, the drawn path, colour."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence

from cli.terminal import Colour, Style
from natprobe.findings.finding import Finding, Severity
from natprobe.findings.path_picture import PathNode, draw_path
from natprobe.i18n import _

_MARKS = {Severity.OK: "OK  ", Severity.INFO: "INFO", Severity.WARNING: "WARN", Severity.PROBLEM: "FAIL"}
_COLOURS = {Severity.OK: Colour.GREEN, Severity.INFO: None, Severity.WARNING: Colour.YELLOW, Severity.PROBLEM: Colour.RED}


def arrow(style: Style) -> str:
    return "→" if style.unicode else "->"


def render_findings(findings: Iterable[Finding], width: int = 88, style: Style = Style()) -> str:
    out: list[str] = []
    for finding in findings:
        mark = style.paint(f"[{_MARKS[finding.severity]}]", _COLOURS[finding.severity])
        out.append(f"{mark} {style.paint(finding.title, Colour.BOLD)}")
        out.extend(textwrap.wrap(finding.detail, width, initial_indent="       ", subsequent_indent="       "))
        for advice in finding.advice:
            out.extend(
                textwrap.wrap(advice, width, initial_indent=f"       {arrow(style)} ", subsequent_indent="         ")
            )
    return "\n".join(out)


def label_rows(rows: Sequence[tuple[str, str]]) -> list[str]:
    """``label   value`` lines, the values aligned after the longest (translated) label."""
    width = max(len(label) for label, _value in rows) + 3
    return [f"{label:<{width}}{value}" for label, value in rows]


def render_path(nodes: Sequence[PathNode], style: Style = Style()) -> str:
    """The drawn path, its marks green (got through) or red (stopped) on a colour terminal."""

    def paint(passed: bool | None, text: str) -> str:
        return style.paint(text, {True: Colour.GREEN, False: Colour.RED, None: Colour.DIM}[passed])

    heading = style.paint(_("The path from this host to the echo server"), Colour.BOLD)
    return heading + "\n" + draw_path(nodes, unicode=style.unicode, paint=paint)
