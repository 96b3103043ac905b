"""``natprobe jamulus``: ping a Jamulus server, list a Jamulus directory.

``natprobe jamulus ping HOST[:PORT]`` answers "does my Jamulus server answer, how fast,
which version, is it a directory?". ``natprobe jamulus list DIRECTORY[:PORT]`` shows what
a Jamulus client's connect dialog shows: the registered servers, each pinged from the
socket that asked the directory (so the directory's NAT hole punch applies to it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from natprobe_cli.exit_codes import ExitCode
from natprobe.addressing import HostPortError, split_host_port
from natprobe_cli.host_port import host_port_message
from natprobe.i18n import _, ngettext
from natprobe.errors import NetworkError
from natprobe.jamulus.messages import DEFAULT_PORT
from natprobe.reports.jamulus_report import JamulusPingResult, JamulusServerList
from natprobe.measure.jamulus_query import list_servers, ping

__all__ = ("register", "parse_host_port")


def parse_host_port(text: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """Split ``HOST[:PORT]`` (``[v6]:PORT`` or a bare IPv6 literal too); ``ArgumentTypeError`` if malformed."""
    try:
        return split_host_port(text, default_port)
    except HostPortError as exc:
        raise argparse.ArgumentTypeError(host_port_message(exc)) from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("{text!r} is not a number of seconds", text=text)) from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(_("{text!r}: give a number of seconds above 0 and at most 60", text=text))
    return value


def _attempts(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 20:
        raise argparse.ArgumentTypeError(_("{text!r}: give a whole number from 1 to 20", text=text))
    return int(text)


def _local_port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(_("{text!r}: give a port from 0 to 65535 (0: any)", text=text))
    return int(text)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "jamulus",
        help=_("ping a Jamulus server or list a Jamulus directory"),
        description=_("Talk to Jamulus servers (UDP, default port 22124) with their own connection-less messages."),
    )
    parser.set_defaults(handler=lambda args: _usage(parser))
    commands = parser.add_subparsers(dest="jamulus_command", metavar="ACTION")

    ping_parser = commands.add_parser(
        "ping",
        help=_("ping time, musicians, version; is it a directory?"),
        description=_(
            "Ping a Jamulus server as the Jamulus client does: ping time, number of connected musicians, "
            "version and OS, and whether it is a directory. Exit status 0 if it answered, 1 if not."
        ),
    )
    ping_parser.add_argument("address", metavar="HOST[:PORT]", type=parse_host_port, help=_("server (port 22124 if omitted)"))
    ping_parser.add_argument("--timeout", type=_positive_float, default=2.0, metavar="S", help=_("give up after S seconds (2)"))
    ping_parser.add_argument("--attempts", type=_attempts, default=3, metavar="N", help=_("ping rounds within the timeout (3)"))
    ping_parser.add_argument("--local-port", type=_local_port, default=None, metavar="P", help=_("send from local UDP port P"))
    ping_parser.add_argument("--json", action="store_true", help=_("print one JSON object"))
    ping_parser.set_defaults(handler=_ping_command)

    list_parser = commands.add_parser(
        "list",
        help=_("the servers a directory lists, each pinged"),
        description=_(
            "Ask a Jamulus directory for its server list and ping every server from the same socket, as the "
            "Jamulus client's connect dialog does. Exit status 0 if the directory answered, 1 if not."
        ),
    )
    list_parser.add_argument("address", metavar="DIRECTORY[:PORT]", type=parse_host_port, help=_("directory (port 22124 if omitted)"))
    list_parser.add_argument(
        "--timeout", type=_positive_float, default=5.0, metavar="S", help=_("wait S seconds for the directory's list (5)")
    )
    list_parser.add_argument(
        "--ping-timeout", type=_positive_float, default=2.0, metavar="S", help=_("wait S seconds for each server (2)")
    )
    list_parser.add_argument("--local-port", type=_local_port, default=None, metavar="P", help=_("use local UDP port P"))
    list_parser.add_argument("--json", action="store_true", help=_("print one JSON object"))
    list_parser.set_defaults(handler=_list_command)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return int(ExitCode.USAGE)


def _fail(message: str, code: ExitCode) -> int:
    print(_("natprobe jamulus: {message}", message=message), file=sys.stderr)
    return int(code)


def _where(host: str, ip: object, port: int) -> str:
    shown = f"[{ip}]" if ":" in str(ip) else str(ip)
    return f"{shown}:{port}" if host == str(ip) else f"{host} ({shown}):{port}"


# --- ping ----------------------------------------------------------------------------


_Result = TypeVar("_Result", JamulusPingResult, JamulusServerList)


def _run_and_show(args: argparse.Namespace, call: Coroutine[Any, Any, _Result],
                  render: Callable[[_Result, float], str]) -> int:
    """Run one exchange and print it (JSON or text); OK when the peer answered, else NOT_REACHABLE."""
    try:
        result = asyncio.run(call)
    except NetworkError as exc:
        return _fail(_("could not run the test: {error}", error=exc), ExitCode.COULD_NOT_TEST)
    except ValueError as exc:
        return _fail(str(exc), ExitCode.USAGE)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(render(result, args.timeout))
    return int(ExitCode.OK if result.answered else ExitCode.NOT_REACHABLE)


def _ping_command(args: argparse.Namespace) -> int:
    host, port = args.address
    call = ping(host, port, timeout=args.timeout, attempts=args.attempts, local_port=args.local_port)
    return _run_and_show(args, call, _render_ping)


def _render_ping(result: JamulusPingResult, timeout: float) -> str:
    where = _where(result.host, result.address, result.port)
    if not result.answered:
        return "\n".join(
            (
                ngettext(
                    "No answer from {where}: {count} ping round within {timeout:g} s.",
                    "No answer from {where}: {count} ping rounds within {timeout:g} s.",
                    result.pings_sent, where=where, timeout=timeout,
                ),
                _("Either no Jamulus server runs there, the address or port is wrong, or a firewall or NAT "
                  "drops UDP to port {port}.", port=result.port),
                _("If this is your own server behind a router: forward UDP port {port} to it, or run it "
                  "as a registered server (-e DIRECTORY), whose outgoing traffic opens the NAT.", port=result.port),
            )
        )
    if result.rtt_ms is None:  # answered always comes with a round-trip time
        return _("Jamulus server at {where} answered.", where=where)
    if result.version is None:
        version = _("unknown (no answer to the version request)")
    elif result.os_name:
        version = _("{version} on {os}", version=result.version, os=result.os_name)
    else:
        version = result.version
    if result.is_directory is True:
        directory = ngettext(
            "yes, it lists {count} server (natprobe jamulus list)",
            "yes, it lists {count} servers (natprobe jamulus list)",
            result.listed_servers or 0,
        )
    elif result.is_directory is False:
        directory = _("no, a plain server (it ignored a server-list request)")
    else:
        directory = _("unknown (the ping answered too late to wait for a server list)")
    rows = [
        (_("Ping time:"), _("{ms:.1f} ms", ms=result.rtt_ms)),
        (_("Musicians:"), _("unknown") if result.num_clients is None else str(result.num_clients)),
        (_("Version:"), version),
        (_("Directory:"), directory),
    ]
    width = max(len(label) for label, _value in rows) + 2
    lines = [_("Jamulus server at {where} answered.", where=where)]
    lines += [f"  {label:<{width}}{value}" for label, value in rows]
    return "\n".join(lines)


# --- list ----------------------------------------------------------------------------


def _list_command(args: argparse.Namespace) -> int:
    host, port = args.address
    show_progress = not args.json and sys.stderr.isatty()
    if show_progress:
        print(_("Asking the directory {host}:{port} for its list, then pinging every server...", host=host, port=port),
              file=sys.stderr)
    call = list_servers(host, port, timeout=args.timeout, ping_timeout=args.ping_timeout, local_port=args.local_port)
    return _run_and_show(args, call, _render_list)


def _render_list(listing: JamulusServerList, timeout: float) -> str:
    where = _where(listing.host, listing.address, listing.port)
    if not listing.answered:
        return "\n".join(
            (
                ngettext(
                    "No answer from the directory {where} within {timeout:g} s ({count} list request).",
                    "No answer from the directory {where} within {timeout:g} s ({count} list requests).",
                    listing.requests_sent, where=where, timeout=timeout,
                ),
                _("Check the address and port; a plain Jamulus server (not a directory) never answers a list "
                  "request (natprobe jamulus ping tells which it is)."),
            )
        )
    count = len(listing.servers)
    if listing.complete:
        head = ngettext("Directory {where}: {count} server", "Directory {where}: {count} servers", count, where=where)
    else:
        head = ngettext(
            "Directory {where}: {count} server (only the short list arrived: no city, country or size)",
            "Directory {where}: {count} servers (only the short list arrived: no city, country or size)",
            count, where=where,
        )
    header = (_("Name"), _("Address"), _("Ping"), _("Musicians"), _("Location"), _("Version"))
    rows = [header]
    for s in listing.servers:
        name = _("{name} (directory)", name=s.name) if s.is_directory else s.name
        ping_text = "-" if s.rtt_ms is None else f"{s.rtt_ms:.0f} ms" if s.rtt_ms >= 10 else f"{s.rtt_ms:.1f} ms"
        if s.num_clients is None:
            musicians = "-" if s.max_clients is None else f"?/{s.max_clients}"
        else:
            musicians = f"{s.num_clients}/{'?' if s.max_clients is None else s.max_clients}"
        version = "-" if s.version is None else s.version + (f" ({s.os_name})" if s.os_name else "")
        rows.append((name, f"{s.ip}:{s.port}", ping_text, musicians, s.city or "-", version))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [head, ""]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    silent = sum(1 for s in listing.servers if s.rtt_ms is None)
    if silent:
        lines.append("")
        lines.append(
            ngettext(
                "{count} server did not answer a ping ('-'): offline, or behind a NAT the directory's hole punch "
                "could not open.",
                "{count} servers did not answer a ping ('-'): offline, or behind a NAT the directory's hole punch "
                "could not open.",
                silent,
            )
        )
    return "\n".join(lines)
