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
    from natprobe.addressing import HostPortError, split_host_port
    from natprobe_cli.host_port import host_port_message
    from natprobe.measure.discovery import DiscoveryOptions, discover_nat

    if not (args.json or args.share):
        preload("natprobe_cli.render_nat")

    try:
        if args.server is not None:
            args.server = _stun_from_url(args.server, args.json)
            split_host_port(args.server, DEFAULT_PORT)
    except ValueError as exc:
        error = host_port_message(exc) if isinstance(exc, HostPortError) else exc
        print(_("natprobe nat: {error}", error=error), file=sys.stderr)
        print(_("usage: natprobe nat --server HOST[:PORT] (a STUN server) or --server http://HOST:PORT (your "
                "echo server: its STUN service on port {default} is asked)", default=DEFAULT_PORT), file=sys.stderr)
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
        server = _own_echo_server(args.json)
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
    answered = report.mapped is not None or report.nat_type.value is ClassicNatType.UDP_BLOCKED
    if not answered and not args.json:
        # Nothing to report on: a table of "unknown" and advice about RFC 5780 would hide that.
        print(_("natprobe nat: nothing answered at {server}: {reason}.", server=report.server,
                reason=report.nat_type.reason), file=sys.stderr)
        print(_("natprobe nat: check the address and port (natprobe serve answers STUN on port {default}), that "
                "the server runs, and that its firewall lets UDP in", default=DEFAULT_PORT), file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    elif args.share:
        from natprobe_cli.render_share import share_nat

        print(share_nat(report, names=[split_host_port(args.server, DEFAULT_PORT)[0]] if args.server else []))
    else:
        from natprobe_cli.render_nat import render_nat_report

        print(render_nat_report(report, style_for(sys.stdout, os.environ)))
    if not answered:
        return ExitCode.COULD_NOT_TEST
    if report.nat_type.value is ClassicNatType.UDP_BLOCKED:
        return ExitCode.NOT_REACHABLE  # measured: the server answers over TCP, never over UDP
    return ExitCode.OK


def _stun_from_url(text: str, quiet: bool) -> str:
    """``--server`` as ``check`` takes it (``http://HOST:PORT``, the echo server's HTTP API) →
    ``HOST:3478``, its STUN service; anything else unchanged. ``ValueError`` for other schemes."""
    from urllib.parse import urlsplit

    if "://" not in text:
        return text
    try:
        parts = urlsplit(text.strip())
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not host:
        raise ValueError(_("{value!r} is neither HOST[:PORT] nor an echo server URL http://HOST:PORT", value=text))
    stun = f"[{host}]:{DEFAULT_PORT}" if ":" in host else f"{host}:{DEFAULT_PORT}"
    if not quiet:
        print(_("{url} is an echo server's HTTP API: asking its STUN service at {stun}", url=text, stun=stun),
              file=sys.stderr)
    return stun


def _own_echo_server(quiet: bool) -> TransportAddress | ExitCode | None:
    """The STUN service of the user's own echo server ($NATPROBE_SERVER or the config file), when
    it answers as an RFC 5780 server; None (after saying why) to fall back to the STUN list."""
    from natprobe_cli.user_config import UserConfigError, resolve_server
    from natprobe.measure.stun_servers import validate_stun_server

    try:
        setting = resolve_server(None)
    except UserConfigError as exc:
        print(_("natprobe nat: {error}", error=exc), file=sys.stderr)
        return ExitCode.USAGE
    if setting is None:
        return None
    stun = _stun_from_url(setting.value, quiet=True)
    if not quiet:
        print(_("No --server given: asking the STUN service of your echo server at {stun} (from {origin}) ...",
                stun=stun, origin=setting.origin), file=sys.stderr)
    candidate = asyncio.run(validate_stun_server(stun))
    if candidate.problem is None:
        return candidate.address
    print(_("natprobe nat: your echo server's STUN service at {stun} cannot be used: {problem}", stun=stun,
            problem=candidate.problem), file=sys.stderr)
    return None


def _pick_public_server(quiet: bool) -> TransportAddress | ExitCode:
    """The first usable server of the configured (or built-in) list, or the exit code after saying why not."""
    from natprobe_cli.user_config import UserConfigError, resolve_stun_servers
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
