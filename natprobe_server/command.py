"""The echo server's command line: ``python -m natprobe_server`` and ``natprobe serve``.

``python -m natprobe_server --primary IP [--alternate IP] [--port N] [--echo-port M] [--http-port P] [--log-level L]``
prints one ``listening ...`` line on stdout once every socket is bound (flushed, so a parent
process can wait for it), serves until SIGINT/SIGTERM, then exits 0. Exit status 3 when a
socket cannot be bound (address not on this host, port in use), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import sys
from collections.abc import Sequence

from natprobe.errors import NetworkError
from natprobe.i18n import _

from natprobe_server.config.options import add_arguments, resolve_args, settings_from_args
from natprobe_server.config.systemd_unit import (
    DEFAULT_CONFIG_PATH,
    DEFAULT_TOKEN_PATH,
    HIDDEN_DIRECTORIES,
    hidden_from_unit,
    systemd_unit,
)
from natprobe_server.deploy import print_ready, serve_until_signalled

__all__ = ("add_arguments", "build_parser", "main", "run_from_args")


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


def run_from_args(args: argparse.Namespace, prog: str) -> int:
    """Shared by ``python -m natprobe_server`` and ``natprobe serve``: 0 after a signal, 2 bad options, 3 bind failure."""
    try:
        args = resolve_args(args, prog)
    except ValueError as exc:
        print(_("{prog}: {error}", prog=prog, error=exc), file=sys.stderr)
        return 2
    if args.systemd_unit:
        # The credential line only when the token file exists: systemd refuses to start a
        # unit whose LoadCredential= source is missing.
        token = DEFAULT_TOKEN_PATH if DEFAULT_TOKEN_PATH.exists() else None
        config = args.config or DEFAULT_CONFIG_PATH
        hidden = hidden_from_unit(config, token)
        if hidden:
            print(_("{prog}: this unit could not start: {paths} lies under {hidden}, which the unit hides from the "
                    "service (PrivateTmp=yes, ProtectHome=yes). Install natprobe for the service outside them, e.g. "
                    "python3 -m venv /opt/natprobe && /opt/natprobe/bin/pip install '/path/to/natprobe-clone[server]', "
                    "put the configuration in /etc/natprobe/, then run /opt/natprobe/bin/natprobe serve --systemd-unit",
                    prog=prog, paths=", ".join(str(p) for p in hidden),
                    hidden=", ".join(str(d) for d in HIDDEN_DIRECTORIES)), file=sys.stderr)
            return 2
        print(systemd_unit(config, token=token), end="")
        return 0
    if args.log_level is not None:
        logging.getLogger().setLevel(args.log_level)
    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        print(_("{prog}: {error}", prog=prog, error=exc), file=sys.stderr)
        return 2
    missing = [name for name in ("cryptography", "asyncssh") if importlib.util.find_spec(name) is None]
    if settings.http_port is not None and missing:
        print(_("{prog}: the HTTP API (--http-port) needs the server extra ({missing}): pip install '.[server]' "
                "in the natprobe clone (natprobe is not on PyPI)", prog=prog, missing=", ".join(missing)),
              file=sys.stderr)
        return 2
    try:
        asyncio.run(
            serve_until_signalled(
                settings.config,
                http=settings.http,
                http_port=settings.http_port,
                jamulus=settings.jamulus,
                jamulus_required=settings.jamulus_required,
                on_ready=print_ready,
                other_families=settings.other_families,
                web_page=settings.web_page,
            )
        )
    except NetworkError as exc:
        print(_("{prog}: error: {error}", prog=prog, error=exc), file=sys.stderr)
        return 3
    return 0
