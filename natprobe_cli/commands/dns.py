"""``natprobe dns NAME``: does the name lead here, per family, from inside and from outside?"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from natprobe_cli.exit_codes import ExitCode
from natprobe.i18n import _


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "dns",
        help=_("check a name's A/AAAA records against this network's public addresses"),
        description=_(
            "Look up NAME's A and AAAA records with this host's resolver and with the echo server's "
            "(the outside view), and compare them with the public address the echo server sees over each "
            "family: a stale dynamic-DNS record, a LAN or CGNAT address, a temporary IPv6 address, a "
            "missing record or an AAAA record while IPv6 does not work. Without an echo server only this "
            "host's view is checked."
        ),
        epilog=_("example: {command}", command="natprobe dns cloud.example.org --server http://vps.example.org:8080"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", metavar="NAME", help=_("the name visitors type, e.g. cloud.example.org"))
    parser.add_argument("--server", metavar="URL",
                        help=_("echo server HTTP API for the outside view (default: $NATPROBE_SERVER, else "
                               "'server' in the config file, see natprobe config; none: this host's view only)"))
    parser.add_argument("--token", metavar="TOKEN",
                        help=_("the echo server's shared token, if it requires one (default: $NATPROBE_TOKEN, "
                               "else 'token' in the config file)"))
    parser.add_argument("--resolver", action="append", default=[], metavar="IP",
                        help=_("ask this name server for the local view instead of /etc/resolv.conf (repeatable)"))
    parser.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                        help=_("bound of each lookup (0.5-10, default 3)"))
    parser.add_argument("--json", action="store_true", help=_("print the report as JSON"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import ipaddress

    from natprobe_cli.render_dns import render_dns_report
    from natprobe.measure.name_check import NameCheckOptions, check_name
    from natprobe.findings.dns_words import invalid_name_text
    from natprobe.verdicts.dns_verdicts import InvalidName, validate_name

    try:
        validate_name(args.name)
    except InvalidName as exc:
        if args.json:  # scripts still get a report (valid: false); check_name does no I/O for it
            print(json.dumps(asyncio.run(check_name(args.name)).to_dict(), indent=2))
        print(f"natprobe dns: {invalid_name_text(exc)}", file=sys.stderr)
        return ExitCode.USAGE
    if not 0.5 <= args.timeout <= 10.0:
        print("natprobe dns: " + _("--timeout must be between 0.5 and 10 seconds"), file=sys.stderr)
        return ExitCode.USAGE
    for resolver in args.resolver:
        try:
            ipaddress.ip_address(resolver)
        except ValueError:
            print("natprobe dns: " + _("--resolver {value!r} is not an IP address", value=resolver), file=sys.stderr)
            return ExitCode.USAGE
    from natprobe_cli.settings import client_settings

    resolved = client_settings("natprobe dns", args.server, args.token)
    if isinstance(resolved, ExitCode):
        return resolved
    setting, token = resolved
    server = None if setting is None else setting.value
    options = NameCheckOptions(server=server, token=token, nameservers=tuple(args.resolver) or None,
                               lifetime=args.timeout)
    report = asyncio.run(check_name(args.name, options))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        from natprobe_cli.render import render_limits

        # Here, not in render_dns_report: inside a check the check's own limits speak for the run.
        print("\n".join([render_dns_report(report), *render_limits(report.limits)]))
    if report.any_problem:
        return ExitCode.NOT_REACHABLE
    return ExitCode.OK if report.ok else ExitCode.COULD_NOT_TEST  # only the resolvers failed
