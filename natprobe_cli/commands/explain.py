"""``natprobe explain TOPIC``: measure and explain one question in plain language.

``natprobe explain jamulus --server URL`` shows, on this network, why a Jamulus server in
public mode (registered with a directory) needs no port forward while one in private mode
does: natprobe registers from the Jamulus port with the echo server's directory emulation,
acts as the Jamulus server while the echo server plays the directory's hole punch, and
compares that with an unsolicited probe of the port.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from natprobe_cli.exit_codes import ExitCode
from natprobe_cli.terminal import style_for, help_text
from natprobe.i18n import _
from natprobe_cli.progress import ProgressLine, lifetime_line
from natprobe_cli.commands.nat import DEFAULT_LIFETIME_MAX_S  # the same default as natprobe nat
from natprobe.errors import NatprobeError, ServerError
from natprobe.jamulus.messages import DEFAULT_PORT as DEFAULT_JAMULUS_PORT
from natprobe.jamulus.messages import DIRECTORY_PORT as DEFAULT_DIRECTORY_PORT
from natprobe.stun.types import DEFAULT_PORT as DEFAULT_STUN_PORT

if TYPE_CHECKING:
    from natprobe.measure.lifetime import LifetimeProgress


__all__ = ("register",)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("not a port number: {value!r}", value=text)) from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(_("port out of range: {value}", value=value))
    return value


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "explain",
        help=_("measure one question on this network and explain it in plain language (jamulus)"),
        description=help_text(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    topics = parser.add_subparsers(dest="topic", metavar="TOPIC")
    jamulus = topics.add_parser(
        "jamulus",
        help=_("why Jamulus public mode needs no port forward and private mode does, measured here"),
        description=_(
            "Measure, through your natprobe echo server (natprobe serve --http-port N, which plays a "
            "Jamulus directory on UDP 22224), whether a Jamulus server on this host is reachable in "
            "private mode (unregistered: needs a port forward) and in public mode (registered: the "
            "registration, 59 s keep-alives and the directory's hole punch open the NAT), and why. "
            "The Jamulus port must be free for a measurement of that port itself."
        ),
        epilog=_("example:") + " natprobe explain jamulus --server http://vps.example.org:8080 --lifetime",
    )
    jamulus.add_argument("--server", metavar="URL",
                         help=_("echo server HTTP API, e.g. http://HOST:8080 (default: $NATPROBE_SERVER, else "
                                "'server' in the config file)"))
    jamulus.add_argument("--port", type=_port, default=DEFAULT_JAMULUS_PORT, metavar="PORT",
                         help=_("the Jamulus server port (default {default})", default=DEFAULT_JAMULUS_PORT))
    jamulus.add_argument("--jamulus-port", type=_port, default=DEFAULT_DIRECTORY_PORT, metavar="PORT",
                         help=_("the echo server's Jamulus directory port (default {default})", default=DEFAULT_DIRECTORY_PORT))
    jamulus.add_argument("--stun-port", type=_port, default=DEFAULT_STUN_PORT, metavar="PORT",
                         help=_("the echo server's STUN port, for --lifetime (default {default})", default=DEFAULT_STUN_PORT))
    jamulus.add_argument("--token", metavar="TOKEN",
                         help=_("the echo server's shared token (default: $NATPROBE_TOKEN, else the config file)"))
    jamulus.add_argument("--lifetime", action="store_true",
                         help=_("also measure how long an idle UDP mapping lives, against Jamulus' 59 s keep-alive"))
    jamulus.add_argument("--lifetime-max", type=float, default=DEFAULT_LIFETIME_MAX_S, metavar="SECONDS",
                         help=_("longest idle time tested with --lifetime (default {default:g})", default=DEFAULT_LIFETIME_MAX_S))
    jamulus.add_argument("--no-trace", action="store_true", help=_("skip the hop trace used to detect carrier-grade NAT"))
    output = jamulus.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help=_("print the report as JSON"))
    output.add_argument("--share", action="store_true",
                        help=_("print a Markdown summary to post on a forum (public addresses masked, names removed)"))
    jamulus.set_defaults(handler=run_jamulus)
    parser.set_defaults(handler=_no_topic(parser))


def _no_topic(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE

    return handler


def run_jamulus(args: argparse.Namespace) -> int:
    # The measurement (aiohttp, the check) loads only when it runs: `natprobe --help` stays quick.
    from natprobe_cli.render_jamulus import render_jamulus_report
    from natprobe.measure.jamulus_modes import JamulusModesOptions, measure_jamulus_modes


    if args.lifetime and not 2 <= args.lifetime_max <= 3600:
        print(_("natprobe explain jamulus: --lifetime-max must be between 2 and 3600 seconds"), file=sys.stderr)
        return ExitCode.USAGE
    from natprobe_cli.settings import required_server

    resolved = required_server("natprobe explain jamulus", args.server, args.token)
    if isinstance(resolved, ExitCode):
        return resolved
    server, token = resolved
    progress = ProgressLine(every_s=10.0, enabled=not (args.json or args.share))

    def on_lifetime(state: LifetimeProgress) -> None:
        progress.update(lifetime_line(state))

    try:
        report = asyncio.run(
            measure_jamulus_modes(
                server,
                JamulusModesOptions(
                    port=args.port,
                    token=token,
                    lifetime_max_s=args.lifetime_max if args.lifetime else None,
                    directory_port=args.jamulus_port,
                    stun_port=args.stun_port,
                    trace=not args.no_trace,
                ),
                progress=progress.update,
                lifetime_progress=on_lifetime,
            )
        )
    except ServerError as exc:
        progress.done()
        print(_("natprobe explain jamulus: {error}", error=exc), file=sys.stderr)
        print(_("natprobe explain jamulus: nothing could be measured; is the echo server running and reachable?"),
              file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    except (NatprobeError, ValueError) as exc:
        progress.done()
        print(_("natprobe explain jamulus: {error}", error=exc), file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    progress.done()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    elif args.share:
        from natprobe_cli.render_share import share_jamulus

        print(share_jamulus(report, tokens=[token]))
    else:
        print(render_jamulus_report(report, style_for(sys.stdout, os.environ)))
    verdicts = (report.public_mode.works, report.private_mode.works)
    if True in verdicts:
        return ExitCode.OK
    if False in verdicts:
        return ExitCode.NOT_REACHABLE
    return ExitCode.COULD_NOT_TEST
