"""``python -m natprobe_server --primary IP [--alternate IP] [--port N] [--echo-port M] [--http-port P] [--log-level L]``.

Prints one ``listening ...`` line on stdout once every socket is bound (flushed, so a parent
process can wait for it), serves until SIGINT/SIGTERM, then exits 0. Exit status 3 when a
socket cannot be bound (address not on this host, port in use), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from natprobe_server.deploy import add_arguments, run_from_args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m natprobe_server",
        description=(
            "natprobe echo server: STUN (RFC 8489/5780) on N and N+1, UDP echo on N+2, and with "
            "--http-port the probe-back HTTP API."
        ),
    )
    add_arguments(parser)  # includes --log-level (default WARNING here) and --config
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return run_from_args(args, "natprobe_server")


if __name__ == "__main__":
    sys.exit(main())
