"""``natprobe nat``: what NAT is this host behind? (RFC 5780 behaviour discovery)."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import sys
from typing import TYPE_CHECKING

from natprobe_cli.exit_codes import ExitCode
from natprobe_cli.terminal import style_for
from natprobe.i18n import _
from natprobe_cli.preload import preload
from natprobe_cli.progress import ProgressLine, lifetime_line
from natprobe.verdicts.behavior import ClassicNatType
from natprobe.errors import NatprobeError
from natprobe.stun.types import DEFAULT_PORT

if TYPE_CHECKING:
    from natprobe.addressing import TransportAddress
    from natprobe.measure.lifetime import LifetimeProgress

DEFAULT_LIFETIME_MAX_S = 120.0


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "nat",
        help=_("discover the NAT between this host and a STUN server (mapping, filtering, hairpinning)"),
        description=_(
            "Discover the NAT between this host and an RFC 5780 STUN server (natprobe's own echo "
            "server or coturn): mapping and filtering behaviour (RFC 4787), the classic NAT type "
            "(RFC 3489), hairpinning, port preservation and, with --lifetime, how long an idle UDP "
            "mapping survives."
        ),
    )
    parser.add_argument("--server", metavar="HOST[:PORT]",
                        help=_("STUN server; port defaults to {default}. Without it, the first usable server of "
                               "$NATPROBE_STUN_SERVERS, the config file's stun_servers or a built-in list of public "
                               "RFC 5780 servers", default=DEFAULT_PORT))
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help=_("print the report as JSON"))
    output.add_argument("--share", action="store_true",
                        help=_("print a Markdown summary to post on a forum (public addresses masked, names removed)"))
    parser.add_argument("--bind", default="0.0.0.0", metavar="IP", help=_("local address to send from"))
    parser.add_argument("--no-hairpin", action="store_true", help=_("skip the hairpinning test"))
    parser.add_argument("--lifetime", action="store_true",
                        help=_("also measure how long an idle UDP mapping survives (takes up to --lifetime-max)"))
    parser.add_argument("--lifetime-max", type=float, default=DEFAULT_LIFETIME_MAX_S, metavar="SECONDS",
                        help=_("longest idle time to test with --lifetime (default {default:g})", default=DEFAULT_LIFETIME_MAX_S))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Sockets, netifaces and the classifier load only when discovery runs; the text renderer
    # loads while discovery waits on the network.
    from natprobe.measure.discovery import DiscoveryOptions, discover_nat, split_host_port

    if not (args.json or args.share):
        preload("natprobe_cli.render_nat")

    try:
        if args.server is not None:
            split_host_port(args.server, DEFAULT_PORT)
    except ValueError as exc:
        print(_("natprobe nat: {error}", error=exc), file=sys.stderr)
        return ExitCode.USAGE
    try:
        bind_ip = ipaddress.ip_address(args.bind)
    except ValueError:
        print(_("natprobe nat: --bind needs a local IP address, not {value!r}", value=args.bind), file=sys.stderr)
        return ExitCode.USAGE
    if args.lifetime and not 2 <= args.lifetime_max <= 3600:
        print(_("natprobe nat: --lifetime-max must be between 2 and 3600 seconds"), file=sys.stderr)
        return ExitCode.USAGE
    options = DiscoveryOptions(
        bind_ip=bind_ip,
        hairpin=not args.no_hairpin,
        lifetime_max_s=args.lifetime_max if args.lifetime else None,
    )
    progress = ProgressLine(every_s=10.0)

    def on_progress(state: LifetimeProgress) -> None:
        progress.update(lifetime_line(state))

    server = args.server
    if server is None:
        server = _pick_public_server(args.json)
        if isinstance(server, ExitCode):
            return server
    try:
        report = asyncio.run(discover_nat(server, options=options, lifetime_progress=on_progress))
    except NatprobeError as exc:
        progress.done()
        print(_("natprobe nat: {error}", error=exc), file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    progress.done()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    elif args.share:
        from natprobe_cli.render_share import share_nat

        print(share_nat(report, names=[split_host_port(args.server, DEFAULT_PORT)[0]] if args.server else []))
    else:
        from natprobe_cli.render_nat import render_nat_report

        print(render_nat_report(report, style_for(sys.stdout, os.environ)))
    if report.mapped is None and report.nat_type.value is not ClassicNatType.UDP_BLOCKED:
        return ExitCode.COULD_NOT_TEST
    return ExitCode.OK


def _pick_public_server(quiet: bool) -> TransportAddress | ExitCode:
    """The first usable server of the configured (or built-in) list, or the exit code after saying why not."""
    from natprobe.adapters.user_config import UserConfigError, resolve_stun_servers
    from natprobe.measure.stun_servers import PUBLIC_STUN_SERVERS, pick_stun_server

    try:
        names, origin = resolve_stun_servers(PUBLIC_STUN_SERVERS)
    except UserConfigError as exc:
        print(_("natprobe nat: {error}", error=exc), file=sys.stderr)
        return ExitCode.USAGE
    if not quiet:
        print(_("No --server given: trying {count} public STUN server(s) from {origin} ...", count=len(names), origin=origin),
              file=sys.stderr)
    address, tried = asyncio.run(pick_stun_server(names))
    if address is not None:
        return address
    print(_("natprobe nat: none of the STUN servers from {origin} could be used:", origin=origin), file=sys.stderr)
    for candidate in tried:
        print(f"  {candidate.name}: {candidate.problem}", file=sys.stderr)
    print(_("natprobe nat: name one with --server HOST[:PORT] (your own 'natprobe serve' with two addresses "
            "is best), or list servers under stun_servers in the config file"), file=sys.stderr)
    return ExitCode.COULD_NOT_TEST
