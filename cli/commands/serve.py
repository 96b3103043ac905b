"""``natprobe serve``: run the echo server (same options as ``python -m echo_server``)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from natprobe.errors import NetworkError

from cli.exit_codes import ExitCode
from echo_server.config import add_arguments, config_from_args
from echo_server.server import print_ready, serve_until_signalled


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the echo server (STUN on N and N+1, RFC 5780 with two addresses, UDP echo)",
        description=(
            "Serve STUN on primary:N and primary:N+1 (and alternate:N, alternate:N+1 with "
            "--alternate: a full RFC 5780 server), STUN over TCP on the same ports, and a plain "
            "UDP echo on N+2. Prints one 'listening ...' line when ready; stops on Ctrl-C or SIGTERM."
        ),
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"natprobe serve: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        asyncio.run(serve_until_signalled(config, on_ready=print_ready))
    except NetworkError as exc:
        print(f"natprobe serve: {exc}", file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    return ExitCode.OK
