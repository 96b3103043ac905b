"""``natprobe serve``: run the echo server (same options as ``python -m natprobe_server``)."""

from __future__ import annotations

import argparse

from natprobe.i18n import _
from natprobe_cli.deferred import defer_arguments


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "serve",
        help=_("run the echo server (STUN, RFC 5780 with two addresses, UDP echo, probe-back HTTP API)"),
        description=_(
            "Serve STUN on primary:N and primary:N+1 (and alternate:N, alternate:N+1 with "
            "--alternate: a full RFC 5780 server), STUN over TCP on the same ports, a plain "
            "UDP echo on N+2 and, with --http-port, the HTTP API that natprobe check uses to probe "
            "back to the requester. Prints one 'listening ...' line when ready; stops on Ctrl-C or SIGTERM."
        ),
    )
    # The echo server (aiohttp's server side, the Jamulus directory...) loads only for `serve`.
    defer_arguments(parser, _add_arguments)
    parser.set_defaults(handler=run)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from natprobe_server.command import add_arguments

    add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from natprobe_server.command import run_from_args

    return run_from_args(args, "natprobe serve")
