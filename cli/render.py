"""Shared text rendering helpers."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from natprobe.reports.finding import Finding, Severity

_MARKS = {Severity.OK: "OK  ", Severity.INFO: "INFO", Severity.WARNING: "WARN", Severity.PROBLEM: "FAIL"}


def render_findings(findings: Iterable[Finding], width: int = 88) -> str:
    out: list[str] = []
    for finding in findings:
        out.append(f"[{_MARKS[finding.severity]}] {finding.title}")
        out.extend(textwrap.wrap(finding.detail, width, initial_indent="       ", subsequent_indent="       "))
        for advice in finding.advice:
            out.extend(textwrap.wrap(advice, width, initial_indent="       → ", subsequent_indent="         "))
    return "\n".join(out)
