"""``natprobe history``: what ``natprobe watch`` saw, at a glance, and what changed when."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from natprobe_cli.exit_codes import ExitCode
from natprobe.i18n import _

__all__ = ("parse_since", "register")


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "history",
        help=_("show what natprobe watch saw: a timeline per item and the changes with their causes"),
        description=_("One row per watched item, one cell per run (colour on a terminal, plain in a pipe), "
                      "then every change with its likely cause, and the messages sent."),
        epilog=_("examples:") + " natprobe history --since 2d\n"
               "          natprobe history --json | jq '.changes'\n"
               "          natprobe history --svg history.svg",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--state-dir", metavar="DIR", help=_("the history's folder (default: $XDG_STATE_HOME/natprobe)"))
    parser.add_argument("--since", metavar="WHEN",
                        help=_("only runs since WHEN: a duration back from now (2d, 12h) or a date (2026-01-31)"))
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help=_("print the history as JSON (natprobe schema history)"))
    output.add_argument("--svg", metavar="FILE", help=_("write the timeline as an SVG picture to FILE"))
    parser.add_argument("--reports", action="store_true",
                        help=_("with --json: include each run's full reports (as their --json prints them)"))
    parser.set_defaults(handler=run)


def parse_since(text: str, now: float) -> float:
    """A duration back from ``now`` (``2d``) or an ISO date/time (UTC unless it says); ``ValueError``."""
    from natprobe.verdicts.watch_changes import parse_duration

    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(_("--since {value!r}: expected a duration (2d, 12h) or a date (2026-01-31)",
                           value=text)) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def run(args: argparse.Namespace) -> int:
    from natprobe_cli.render_history import render_history, render_svg
    from natprobe_cli.terminal import style_for
    from natprobe.adapters.history_store import DATABASE_NAME, HistoryStore, default_state_dir
    from natprobe_cli.user_config import UserConfigError, config_path, load_user_config
    from natprobe.errors import HistoryError

    try:
        since = parse_since(args.since, time.time()) if args.since else None
        table = load_user_config(config_path()).watch or {}
    except (ValueError, UserConfigError) as exc:
        print(_("natprobe history: {error}", error=exc), file=sys.stderr)
        return ExitCode.USAGE
    configured = table.get("state_dir")
    state_dir = Path(args.state_dir or (str(configured) if configured else "") or default_state_dir()).expanduser()
    database = state_dir / DATABASE_NAME
    if not database.is_file():
        print(_("natprobe history: no history in {folder} yet; run natprobe watch --once first", folder=state_dir),
              file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    try:
        with HistoryStore(database) as store:
            report = store.report(since, with_reports=args.reports)
    except HistoryError as exc:
        print(_("natprobe history: {error}", error=exc), file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    elif args.svg:
        try:
            Path(args.svg).write_text(render_svg(report), encoding="utf-8")
        except OSError as exc:
            print(_("natprobe history: {error}", error=exc), file=sys.stderr)
            return ExitCode.COULD_NOT_TEST
        print(_("natprobe history: wrote {file}", file=args.svg), file=sys.stderr)
    else:
        width = shutil.get_terminal_size((100, 24)).columns
        print(render_history(report, style_for(sys.stdout, os.environ), width))
    return ExitCode.OK
