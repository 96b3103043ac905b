"""Entry point of the ``natprobe`` command: ``main(argv) -> int``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from cli.exit_codes import ExitCode
from natprobe import __version__

# Subcommand modules, in the order ``natprobe --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "check", "nat", "router", "explain", "serve", "config", "jamulus", "exposure", "demo", "schema",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="natprobe",
        description=(
            "Can the Internet reach my service? NAT behaviour discovery (STUN, RFC 5780), "
            "port-forward verification from outside, and a self-hosted echo server."
        ),
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    parser.add_argument("--version", action="version", version=f"natprobe {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"cli.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``natprobe`` with ``argv`` (without the program name); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return int(exc.code) if isinstance(exc.code, int) else int(ExitCode.USAGE)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return int(ExitCode.USAGE)
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main(sys.argv[1:]))
