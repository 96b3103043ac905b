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
from ipaddress import IPv6Address, ip_address

from cli.exit_codes import ExitCode
from natprobe.errors import NetworkError
from natprobe.jamulus.messages import DEFAULT_PORT
from natprobe.reports.jamulus_report import JamulusPingResult, JamulusServerList
from natprobe.adapters.jamulus_socket import list_servers, ping

__all__ = ("register", "parse_host_port")


def parse_host_port(text: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """Split ``HOST[:PORT]`` (``[v6]:PORT`` or a bare IPv6 literal too); ``ArgumentTypeError`` if malformed."""
    value = text.strip()
    if not value:
        raise argparse.ArgumentTypeError("empty address: give HOST or HOST:PORT, e.g. jam.example.org:22124")
    port_text: str | None = None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise argparse.ArgumentTypeError(f"{text!r}: missing ']' after the IPv6 address")
        host, rest = value[1:end], value[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise argparse.ArgumentTypeError(f"{text!r}: expected ':PORT' after ']'")
            port_text = rest[1:]
        if not _is_ipv6(host):
            raise argparse.ArgumentTypeError(f"{text!r}: {host!r} between brackets is not an IPv6 address")
    elif value.count(":") > 1:
        if not _is_ipv6(value):
            raise argparse.ArgumentTypeError(
                f"{text!r} is neither HOST:PORT nor an IPv6 address (write [IPv6]:PORT to give a port)"
            )
        host = value
    elif ":" in value:
        host, port_text = value.split(":")
    else:
        host = value
    if not host:
        raise argparse.ArgumentTypeError(f"{text!r}: the host is missing")
    if any(c.isspace() or c in "/\\@?#[]" for c in host):
        raise argparse.ArgumentTypeError(f"{text!r}: {host!r} is not a host name or address")
    if port_text is None:
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: port {port_text!r} is not a number from 1 to 65535")
    return host, int(port_text)


def _is_ipv6(text: str) -> bool:
    try:
        return isinstance(ip_address(text), IPv6Address)
    except ValueError:
        return False


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0 and at most 60")
    return value


def _attempts(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 20:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number from 1 to 20")
    return int(text)


def _local_port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: give a port from 0 to 65535 (0: any)")
    return int(text)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "jamulus",
        help="ping a Jamulus server or list a Jamulus directory",
        description="Talk to Jamulus servers (UDP, default port 22124) with their own connection-less messages.",
    )
    parser.set_defaults(handler=lambda args: _usage(parser))
    commands = parser.add_subparsers(dest="jamulus_command", metavar="ACTION")

    ping_parser = commands.add_parser(
        "ping",
        help="ping time, musicians, version; is it a directory?",
        description=(
            "Ping a Jamulus server as the Jamulus client does: ping time, number of connected musicians, "
            "version and OS, and whether it is a directory. Exit status 0 if it answered, 1 if not."
        ),
    )
    ping_parser.add_argument("address", metavar="HOST[:PORT]", type=parse_host_port, help="server (port 22124 if omitted)")
    ping_parser.add_argument("--timeout", type=_positive_float, default=2.0, metavar="S", help="give up after S seconds (2)")
    ping_parser.add_argument("--attempts", type=_attempts, default=3, metavar="N", help="ping rounds within the timeout (3)")
    ping_parser.add_argument("--local-port", type=_local_port, default=None, metavar="P", help="send from local UDP port P")
    ping_parser.add_argument("--json", action="store_true", help="print one JSON object")
    ping_parser.set_defaults(handler=_ping_command)

    list_parser = commands.add_parser(
        "list",
        help="the servers a directory lists, each pinged",
        description=(
            "Ask a Jamulus directory for its server list and ping every server from the same socket, as the "
            "Jamulus client's connect dialog does. Exit status 0 if the directory answered, 1 if not."
        ),
    )
    list_parser.add_argument("address", metavar="DIRECTORY[:PORT]", type=parse_host_port, help="directory (port 22124 if omitted)")
    list_parser.add_argument(
        "--timeout", type=_positive_float, default=5.0, metavar="S", help="wait S seconds for the directory's list (5)"
    )
    list_parser.add_argument(
        "--ping-timeout", type=_positive_float, default=2.0, metavar="S", help="wait S seconds for each server (2)"
    )
    list_parser.add_argument("--local-port", type=_local_port, default=None, metavar="P", help="use local UDP port P")
    list_parser.add_argument("--json", action="store_true", help="print one JSON object")
    list_parser.set_defaults(handler=_list_command)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return int(ExitCode.USAGE)


def _fail(message: str, code: ExitCode) -> int:
    print(f"natprobe jamulus: {message}", file=sys.stderr)
    return int(code)


def _where(host: str, ip: object, port: int) -> str:
    shown = f"[{ip}]" if ":" in str(ip) else str(ip)
    return f"{shown}:{port}" if host == str(ip) else f"{host} ({shown}):{port}"


# --- ping ----------------------------------------------------------------------------


def _ping_command(args: argparse.Namespace) -> int:
    host, port = args.address
    try:
        result = asyncio.run(
            ping(host, port, timeout=args.timeout, attempts=args.attempts, local_port=args.local_port)
        )
    except NetworkError as exc:
        return _fail(f"could not run the test: {exc}", ExitCode.COULD_NOT_TEST)
    except ValueError as exc:
        return _fail(str(exc), ExitCode.USAGE)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(_render_ping(result, args.timeout))
    return int(ExitCode.OK if result.answered else ExitCode.NOT_REACHABLE)


def _render_ping(result: JamulusPingResult, timeout: float) -> str:
    where = _where(result.host, result.address, result.port)
    if not result.answered:
        plural = "s" if result.pings_sent != 1 else ""
        return "\n".join(
            (
                f"No answer from {where}: {result.pings_sent} ping round{plural} within {timeout:g} s.",
                "Either no Jamulus server runs there, the address or port is wrong, or a firewall or NAT "
                f"drops UDP to port {result.port}.",
                f"If this is your own server behind a router: forward UDP port {result.port} to it, or run it "
                "as a registered server (-e DIRECTORY), whose outgoing traffic opens the NAT.",
            )
        )
    assert result.rtt_ms is not None
    lines = [f"Jamulus server at {where} answered."]
    lines.append(f"  Ping time:  {result.rtt_ms:.1f} ms")
    lines.append(f"  Musicians:  {'unknown' if result.num_clients is None else result.num_clients}")
    if result.version is None:
        lines.append("  Version:    unknown (no answer to the version request)")
    else:
        lines.append(f"  Version:    {result.version}" + (f" on {result.os_name}" if result.os_name else ""))
    if result.is_directory is True:
        count = result.listed_servers or 0
        lines.append(f"  Directory:  yes, it lists {count} server{'s' if count != 1 else ''} (natprobe jamulus list)")
    elif result.is_directory is False:
        lines.append("  Directory:  no, a plain server (it ignored a server-list request)")
    else:
        lines.append("  Directory:  unknown (the ping answered too late to wait for a server list)")
    return "\n".join(lines)


# --- list ----------------------------------------------------------------------------


def _list_command(args: argparse.Namespace) -> int:
    host, port = args.address
    show_progress = not args.json and sys.stderr.isatty()
    if show_progress:
        print(f"Asking the directory {host}:{port} for its list, then pinging every server...", file=sys.stderr)
    try:
        listing = asyncio.run(
            list_servers(host, port, timeout=args.timeout, ping_timeout=args.ping_timeout, local_port=args.local_port)
        )
    except NetworkError as exc:
        return _fail(f"could not run the test: {exc}", ExitCode.COULD_NOT_TEST)
    except ValueError as exc:
        return _fail(str(exc), ExitCode.USAGE)
    if args.json:
        print(json.dumps(listing.to_dict(), indent=2))
    else:
        print(_render_list(listing, args.timeout))
    return int(ExitCode.OK if listing.answered else ExitCode.NOT_REACHABLE)


def _render_list(listing: JamulusServerList, timeout: float) -> str:
    where = _where(listing.host, listing.address, listing.port)
    if not listing.answered:
        return "\n".join(
            (
                f"No answer from the directory {where} within {timeout:g} s "
                f"({listing.requests_sent} list request{'s' if listing.requests_sent != 1 else ''}).",
                "Check the address and port; a plain Jamulus server (not a directory) never answers a list request "
                "(natprobe jamulus ping tells which it is).",
            )
        )
    count = len(listing.servers)
    head = f"Directory {where}: {count} server{'s' if count != 1 else ''}"
    if not listing.complete:
        head += " (only the short list arrived: no city, country or size)"
    header = ("Name", "Address", "Ping", "Musicians", "Location", "Version")
    rows = [header]
    for s in listing.servers:
        name = s.name + (" (directory)" if s.is_directory else "")
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
            f"{silent} server{'s' if silent != 1 else ''} did not answer a ping ('-'): offline, or behind a NAT "
            "the directory's hole punch could not open."
        )
    return "\n".join(lines)
