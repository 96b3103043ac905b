"""``natprobe serve``: run the echo server (same options as ``python -m natprobe_server``)."""

from __future__ import annotations

import argparse

from natprobe_server.deploy import add_arguments, run_from_args


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the echo server (STUN, RFC 5780 with two addresses, UDP echo, probe-back HTTP API)",
        description=(
            "Serve STUN on primary:N and primary:N+1 (and alternate:N, alternate:N+1 with "
            "--alternate: a full RFC 5780 server), STUN over TCP on the same ports, a plain "
            "UDP echo on N+2 and, with --http-port, the HTTP API that natprobe check uses to probe "
            "back to the requester. Prints one 'listening ...' line when ready; stops on Ctrl-C or SIGTERM."
        ),
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return run_from_args(args, "natprobe serve")
