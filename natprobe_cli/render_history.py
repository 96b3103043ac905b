"""``natprobe history``'s renderings: the timeline (text, colour on a terminal), the change list, an SVG."""

from __future__ import annotations

from datetime import datetime, timezone
from xml.sax.saxutils import escape

from natprobe_cli.terminal import Colour, Style
from natprobe.findings.watch_findings import item_label
from natprobe.i18n import _
from natprobe.reports.watch_report import HistoryReport
from natprobe.verdicts.watch_changes import Health, ItemState

__all__ = ("render_history", "render_svg")

MAX_COLUMNS = 96
_CELL_COLOUR = {Health.OK: Colour.GREEN, Health.PROBLEM: Colour.RED, Health.UNKNOWN: Colour.YELLOW}
_SVG_FILL = {Health.OK: "#2e9d4a", Health.PROBLEM: "#d0342c", Health.INFO: "#9aa5b1", Health.UNKNOWN: "#e0b000"}
_SVG_CHANGED = "#3b6fd4"


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M")


def _cells(report: HistoryReport, columns: int) -> tuple[list[float], list[tuple[str, list[tuple[ItemState | None, bool]]]]]:
    """The last ``columns`` runs' times, and per row its label and cells (state, value changed)."""
    runs = report.runs[-columns:] if columns > 0 else report.runs
    earlier = report.runs[: len(report.runs) - len(runs)]
    rows = []
    for key, latest in report.rows():
        previous: str | None = None
        for run in earlier:
            for item in run.items:
                if item.key == key:
                    previous = item.value
        cells: list[tuple[ItemState | None, bool]] = []
        for run in runs:
            found = next((i for i in run.items if i.key == key), None)
            changed = found is not None and previous is not None and found.value != previous
            cells.append((found, changed))
            if found is not None:
                previous = found.value
        rows.append((item_label(latest), cells))
    return [r.started for r in runs], rows


def _glyph(item: ItemState | None, changed: bool, style: Style) -> str:
    if item is None:
        return " "
    if item.health is Health.INFO:
        return style.paint("◆" if style.unicode else "*", Colour.YELLOW) if changed else \
            style.paint("·" if style.unicode else ".", Colour.DIM)
    glyph = {Health.OK: "●" if style.unicode else "+", Health.PROBLEM: "✗" if style.unicode else "x",
             Health.UNKNOWN: "?"}[item.health]
    return style.paint(glyph, _CELL_COLOUR[item.health])


def render_history(report: HistoryReport, style: Style, width: int = 100) -> str:
    """The timeline (one row per item, one cell per run), then the changes with their causes."""
    if not report.runs:
        return _("No runs in the history yet ({database}). Start one with: natprobe watch --once",
                 database=report.database)
    labels = [label for label, _cells in _cells(report, 1)[1]]
    label_width = min(max((len(label) for label in labels), default=10), 48)
    columns = max(8, min(MAX_COLUMNS, width - label_width - 3))
    times, rows = _cells(report, columns)
    out = [style.paint(_("natprobe history: {runs} run(s), {first} to {last} (UTC)", runs=len(report.runs),
                         first=_time(report.runs[0].started), last=_time(report.runs[-1].started)), Colour.BOLD)]
    if len(times) < len(report.runs):
        out.append(_("(the last {count} runs shown)", count=len(times)))
    out.append("")
    for label, cells in rows:
        out.append(f"{label[:label_width]:<{label_width}}  " + "".join(_glyph(i, c, style) for i, c in cells))
    ok, bad, info = ("●", "✗", "·") if style.unicode else ("+", "x", ".")
    changed = "◆" if style.unicode else "*"
    out.append("")
    out.append(_("{ok} fine  {bad} problem  {info} same value  {changed} new value  ? undecided", ok=ok, bad=bad,
                 info=info, changed=changed))
    latest = report.runs[-1]
    for label, cells in rows:
        item = cells[-1][0] if cells else None
        if item is not None and item.health is Health.INFO:
            out.append(f"  {label}: {item.value}")
    if latest.errors:
        out.append(_("The last run could not measure: {errors}", errors="; ".join(latest.errors)))
    out.append("")
    if report.changes:
        out.append(style.paint(_("Changes:"), Colour.BOLD))
        for change in report.changes:
            out.append(f"  {_time(change.at)}  {change.text}")
            if change.causes:
                out.append("      " + _("likely cause: {cause}", cause="; ".join(change.causes)))
    else:
        out.append(_("No changes in this period."))
    failed = [d for d in report.deliveries if not d.delivered]
    sent = len(report.deliveries) - len(failed)
    if report.deliveries:
        out.append("")
        out.append(_("Messages: {sent} delivered, {failed} not delivered", sent=sent, failed=len(failed)))
        for delivery in failed[-5:]:
            out.append(f"  {_time(delivery.created)}  {delivery.target}: {delivery.error or '?'} "
                       f"({delivery.attempts})")
    return "\n".join(out)


def render_svg(report: HistoryReport, columns: int = MAX_COLUMNS) -> str:
    """A picture of the timeline and the last changes, to paste in a forum post or an issue."""
    times, rows = _cells(report, columns)
    cell, gap, label_w, top = 12, 2, 260, 48
    grid_w = len(times) * (cell + gap)
    changes = report.changes[-12:]
    height = top + len(rows) * (cell + gap) + 30 + len(changes) * 16 + 20
    width = max(label_w + grid_w + 20, 640)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(_("natprobe history"))}</text>',
    ]
    if times:
        parts.append(f'<text x="10" y="36" fill="#555">{escape(_time(times[0]))} → {escape(_time(times[-1]))} UTC</text>')
    for index, (label, cells) in enumerate(rows):
        y = top + index * (cell + gap)
        parts.append(f'<text x="10" y="{y + cell - 2}">{escape(label[:44])}</text>')
        for column, (item, changed) in enumerate(cells):
            if item is None:
                continue
            fill = _SVG_CHANGED if changed and item.health is Health.INFO else _SVG_FILL[item.health]
            x = label_w + column * (cell + gap)
            parts.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" rx="2" fill="{fill}">'
                         f'<title>{escape(item.key)}: {escape(item.value)}</title></rect>')
    y = top + len(rows) * (cell + gap) + 24
    if changes:
        parts.append(f'<text x="10" y="{y}" font-weight="bold">{escape(_("Changes:"))}</text>')
    for change in changes:
        y += 16
        text = f"{_time(change.at)}  {change.text}"
        if change.causes:
            text += "  (" + _("likely cause: {cause}", cause="; ".join(change.causes)) + ")"
        parts.append(f'<text x="14" y="{y}">{escape(text[:160])}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
