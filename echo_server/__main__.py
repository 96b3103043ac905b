"""``python -m echo_server --primary IP [--alternate IP] [--port N] [--echo-port M] [--log-level L]``.

Prints one ``listening ...`` line on stdout once every socket is bound (flushed, so a parent
process can wait for it), serves until SIGINT/SIGTERM, then exits 0. Exit status 3 when a
socket cannot be bound (address not on this host, port in use), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from natprobe.errors import NetworkError

from echo_server.config import add_arguments, config_from_args
from echo_server.server import print_ready, serve_until_signalled

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_CANNOT_BIND = 3
"""Same value as ``natprobe``'s ``ExitCode.COULD_NOT_TEST``."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m echo_server",
        description="natprobe echo server: STUN (RFC 8489/5780) on N and N+1, UDP echo on N+2.",
    )
    add_arguments(parser)
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="logging level (default %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        asyncio.run(serve_until_signalled(config, on_ready=print_ready))
    except NetworkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_BIND
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
