"""``natprobe check``: is this port reachable from the Internet? If not, why, and what to do."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import time
from typing import TYPE_CHECKING

from natprobe_cli.exit_codes import ExitCode
from natprobe.addressing import IpFamily
from natprobe_cli.terminal import style_for
from natprobe.i18n import _
from natprobe.errors import NatprobeError, ServerError
from natprobe.contract.terms import TransportProtocol
from natprobe.verdicts.port_spec import SERVICE_BY_NAME, PortSpec, PortSpecError, PortSpecProblem

if TYPE_CHECKING:
    from natprobe.adapters.kept_mappings import KeptMappings
    from natprobe.measure.check import CheckOptions
    from natprobe.reports.router_report import MappedCheck
    from natprobe.reports.check_report import CheckReport


def parse_port_list(text: str, protocol: TransportProtocol) -> list[PortSpec]:
    """``"22124"``, ``"80,443"``, ``"8443:https"`` → port specs; ``ValueError`` with a clear message."""
    specs = []
    for item in text.split(","):
        item = item.strip()
        port_text, _colon, service = item.partition(":")
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(
                _("invalid {protocol} port {value!r}: expected 1-65535, optionally PORT:SERVICE",
                  protocol=protocol.value, value=item)
            )
        specs.append(port_spec(protocol, int(port_text), service or None))
    return specs


def port_spec(protocol: TransportProtocol, port: int, service: str | None, host: str | None = None) -> PortSpec:
    """A :class:`PortSpec`; ``ValueError`` saying what is wrong in the user's language."""
    try:
        return PortSpec(protocol, port, service, host)
    except PortSpecError as exc:
        spec = exc.spec
        if exc.problem is PortSpecProblem.PORT_OUT_OF_RANGE:
            message = _("port out of range: {value}", value=spec.port)
        elif exc.problem is PortSpecProblem.UNKNOWN_SERVICE:
            message = _("unknown service {service!r}; known: {known}",
                        service=spec.service, known=", ".join(sorted(SERVICE_BY_NAME)))
        else:
            message = _("service {service} runs over {protocol}, not {other}", service=spec.service,
                        protocol=SERVICE_BY_NAME[spec.service or ""][0].value, other=spec.protocol.value)
        raise ValueError(message) from None


async def _run_mapped(args: argparse.Namespace, server: str, specs: list[PortSpec], options: "CheckOptions",
                      kept: "KeptMappings | None") -> "MappedCheck":
    from natprobe.measure.mapped_check import check_ports_with_mapping

    return await check_ports_with_mapping(server, specs, options, keep=args.keep, lease_s=args.lease, kept=kept)


async def _run_with_router(server: str, specs: list[PortSpec], options: "CheckOptions") -> "CheckReport":
    from natprobe.measure.mapped_check import check_ports_with_router

    report, _ = await check_ports_with_router(server, specs, options)
    return report


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    services = ", ".join(sorted(SERVICE_BY_NAME))
    parser = subparsers.add_parser(
        "check",
        help=_("prove from outside that a forwarded port works, and say why not"),
        description=_(
            "Ask a natprobe echo server (natprobe serve --http-port N, on a public host) to reach back "
            "to this network's public address on each port. A free port is proven end to end with a "
            "one-time token natprobe listens for; a port held by a service is tested by speaking its "
            "protocol ({services}).",
            services=services,
        ),
        epilog=_("examples:") + " natprobe check --udp 22124    (" + _("with a server set by natprobe config set server URL")
               + ")\n"
               "          natprobe check --udp 22124 --server http://vps.example.org:8080\n"
               "          natprobe check --tcp 443:https --host cloud.example.org --server http://vps.example.org:8080",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--server", metavar="URL",
                        help=_("echo server HTTP API, e.g. http://HOST:8080 (default: $NATPROBE_SERVER, else "
                               "'server' in the config file, see natprobe config)"))
    parser.add_argument("--udp", action="append", default=[], metavar="PORT[,PORT][:SERVICE]", help=_("UDP port(s) to check"))
    parser.add_argument("--tcp", action="append", default=[], metavar="PORT[,PORT][:SERVICE]", help=_("TCP port(s) to check"))
    parser.add_argument("--host", metavar="NAME",
                        help=_("host name for HTTP Host and TLS SNI (name-based virtual hosts); its A/AAAA "
                               "records are also checked against the public addresses"))
    parser.add_argument("--token", metavar="TOKEN",
                        help=_("the echo server's shared token, if it requires one (default: $NATPROBE_TOKEN, "
                               "else 'token' in the config file)"))
    parser.add_argument("--hairpin", action="store_true",
                        help=_("also test reaching this host through its own public address (NAT loopback)"))
    parser.add_argument("--no-trace", action="store_true", help=_("skip the hop trace used to detect carrier-grade NAT"))
    parser.add_argument("--timeout", type=float, default=2.0, metavar="SECONDS", help=_("per-probe timeout (0.5-5, default 2)"))
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--ipv4", action="store_true",
                      help=_("check over IPv4 only (default: IPv4, and IPv6 when this host has a global IPv6 "
                             "address)"))
    only.add_argument("--ipv6", action="store_true", help=_("check over IPv6 only (from this host's stable address)"))
    parser.add_argument("--no-router", action="store_true",
                        help=_("do not ask the router (UPnP, NAT-PMP, PCP) for its external address"))
    parser.add_argument("--map", action="store_true",
                        help=_("for each port not reachable, ask the router (PCP, NAT-PMP, then UPnP) for a mapping "
                               "to this host, prove it from outside, then remove it"))
    parser.add_argument("--keep", action="store_true", help=_("with --map: keep the mappings (for their lease) instead"))
    parser.add_argument("--lease", type=int, default=600, metavar="SECONDS",
                        help=_("with --map: the mapping's lease (60-86400, default 600); never permanent"))
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help=_("print the report as JSON"))
    output.add_argument("--share", action="store_true",
                        help=_("print a Markdown summary to post on a forum (public addresses masked, names removed)"))
    parser.set_defaults(handler=run)


def _bad_host(text: str) -> str | None:
    """Why ``--host`` is no host name (checked here, as ``natprobe dns`` does, before anything
    is sent), with the name to give when it is a URL; None when it is fine."""
    from urllib.parse import urlsplit

    from natprobe.verdicts.dns_verdicts import validate_name

    try:
        validate_name(text)
    except ValueError as exc:
        try:
            name = urlsplit(text).hostname if "://" in text else None
        except ValueError:
            name = None
        if name:
            return _("{value!r} is a URL: give the host name alone (--host {name})", value=text, name=name)
        return str(exc)
    return None


def _no_server(args: argparse.Namespace, specs: list[PortSpec], families: tuple[IpFamily, ...]) -> int:
    """No server anywhere: explain, report what is known from inside, exit 3 (could not test).
    With ``--json`` or ``--share`` the report (every port not tested, and why) is printed on
    stdout as always, and the rest goes to stderr."""
    from natprobe.adapters.interfaces import read_local_context
    from natprobe.measure.check import not_tested_report
    from natprobe.reports.family_result import FamilyResult
    from natprobe_cli.no_server import inside_report, no_server_message

    print(no_server_message("natprobe check"), file=sys.stderr)
    print(file=sys.stderr)
    if not (args.json or args.share):
        print(inside_report())
        return ExitCode.COULD_NOT_TEST
    reason = _("no echo server is configured: nothing could be proven from outside")
    report = not_tested_report(None, specs, reason,
                               families=[FamilyResult(family, False, None, None, False, reason) for family in families],
                               local_ip=read_local_context().primary_address_v4)
    _print_report(args, report, None, None)
    print(inside_report(), file=sys.stderr)
    return ExitCode.COULD_NOT_TEST


def _print_report(args: argparse.Namespace, report: "CheckReport", mapped: "MappedCheck | None",
                  token: str | None) -> None:
    """The report as ``--json``, ``--share`` or text on stdout."""
    if args.json:
        data = report.to_dict() if mapped is None else mapped.to_dict()
        print(json.dumps(data, indent=2))
    elif args.share:
        from natprobe_cli.render_share import share_check

        print(share_check(report, names=[args.host], tokens=[token]))
    else:
        from natprobe_cli.render_check import render_check_report

        print(render_check_report(report, style_for(sys.stdout, os.environ)))


def run(args: argparse.Namespace) -> int:
    # The client side loads only when a check runs: `natprobe --help` stays quick.
    from natprobe_cli.user_config import UserConfigError, resolve_server, resolve_token
    from natprobe.measure.check import CheckOptions, check_ports

    try:
        specs = [s for text in args.udp for s in parse_port_list(text, TransportProtocol.UDP)]
        specs += [s for text in args.tcp for s in parse_port_list(text, TransportProtocol.TCP)]
        if args.host:
            specs = [port_spec(s.protocol, s.port, s.service, args.host) for s in specs]
    except ValueError as exc:
        print(_("natprobe check: {error}", error=exc), file=sys.stderr)
        return ExitCode.USAGE
    if not specs:
        print(_("natprobe check: name at least one port with --udp or --tcp"), file=sys.stderr)
        return ExitCode.USAGE
    # A port named twice (--tcp 443 --tcp 80,443) is tested once, as first named.
    unique: dict[tuple[TransportProtocol, int], PortSpec] = {}
    for spec in specs:
        unique.setdefault((spec.protocol, spec.port), spec)
    specs = list(unique.values())
    if args.host is not None and (problem := _bad_host(args.host)) is not None:
        print(_("natprobe check: --host: {error}", error=problem), file=sys.stderr)
        return ExitCode.USAGE
    if not 0.5 <= args.timeout <= 5.0:
        print(_("natprobe check: --timeout must be between 0.5 and 5 seconds"), file=sys.stderr)
        return ExitCode.USAGE
    if args.map and args.no_router:
        print(_("natprobe check: --map asks the router; it cannot be combined with --no-router"), file=sys.stderr)
        return ExitCode.USAGE
    if args.keep and not args.map:
        print(_("natprobe check: --keep only makes sense with --map"), file=sys.stderr)
        return ExitCode.USAGE
    if not 60 <= args.lease <= 86400:
        print(_("natprobe check: --lease must be between 60 and 86400 seconds"), file=sys.stderr)
        return ExitCode.USAGE
    if not args.no_router:
        from natprobe.adapters.interfaces import gateway_from_environment

        try:
            gateway_from_environment()  # a bad $NATPROBE_GATEWAY is a setting error, like a bad config
        except NatprobeError as exc:
            print(_("natprobe check: {error}", error=exc), file=sys.stderr)
            return ExitCode.USAGE
    from natprobe_cli.settings import chosen_families, client_settings

    resolved = client_settings("natprobe check", args.server, args.token)
    if isinstance(resolved, ExitCode):
        return resolved
    setting, token = resolved
    families = chosen_families(args.ipv4, args.ipv6)
    if setting is None:
        if args.host:
            from natprobe_cli.relay_from_here import relay_from_here

            return relay_from_here(args, specs)
        return _no_server(args, specs, families)
    server = setting.value
    if not (args.json or args.share):
        if setting.origin == "--server":
            print(_("Checking {count} port(s) through {server} ...", count=len(specs), server=server), file=sys.stderr)
        else:
            print(_("Checking {count} port(s) through {server} (from {origin}) ...", count=len(specs), server=server,
                    origin=setting.origin), file=sys.stderr)
    # Nothing is preloaded here: a thread started now would compete with the imports and the
    # connect that lead to the first packet; the check loads its own decisions and words once
    # its connection is under way (natprobe.measure.check.LOADED_AFTER_CONNECT).
    mapped = None
    kept = None
    if args.keep:  # the record of what --keep leaves on the router, for natprobe router --unmap
        from natprobe.adapters.kept_mappings import KeptMappings

        kept = KeptMappings()
    started = time.monotonic()
    try:
        options = CheckOptions(token=token, hairpin=args.hairpin, trace=not args.no_trace, probe_timeout=args.timeout,
                               families=families, name=args.host)
        if args.map:
            mapped = asyncio.run(_run_mapped(args, server, specs, options, kept))
            report = mapped.report
        elif args.no_router:
            report = asyncio.run(check_ports(server, specs, options))
        else:
            report = asyncio.run(_run_with_router(server, specs, options))
    except ServerError as exc:
        print(_("natprobe check: {error}", error=exc), file=sys.stderr)
        print(_("natprobe check: nothing could be tested; is the echo server running and reachable?"), file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    except (NatprobeError, ValueError) as exc:
        print(_("natprobe check: {error}", error=exc), file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    # "took" is the whole run the user waited for: the router's questions and --map's mapping,
    # second check and removal too, not only the first check's probes.
    report = dataclasses.replace(report, duration_s=max(report.duration_s, time.monotonic() - started))
    if mapped is not None:
        mapped = dataclasses.replace(mapped, report=report)
    for problem in kept.problems if kept is not None else ():
        print(_("natprobe check: {error}", error=problem), file=sys.stderr)
    if not report.server_reached:
        # Nothing could be tested: the report (every port not tested, and why) for programs
        # and forums; for people, the reason in one place instead of a picture of nothing.
        if args.json or args.share:
            _print_report(args, report, mapped, token)
        else:
            print(_("natprobe check: {error}", error="; ".join(dict.fromkeys(p.reason for p in report.ports))),
                  file=sys.stderr)
            print(_("natprobe check: nothing could be tested; is the echo server running and reachable?"),
                  file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    if mapped is not None and not (args.json or args.share):
        from natprobe.findings.router_findings import describe_mapping

        if not mapped.router.any_answered:
            print(_("natprobe check --map: the router answers none of UPnP, NAT-PMP and PCP: nothing was mapped"),
                  file=sys.stderr)
        for outcome in mapped.mappings:
            print(_("Router mapping: {mapping}", mapping=describe_mapping(outcome)), file=sys.stderr)
        if any(outcome.kept for outcome in mapped.mappings):
            print(_("To remove a kept mapping before its lease ends: natprobe router --unmap PORT"), file=sys.stderr)
    _print_report(args, report, mapped, token)
    if not report.any_tested:
        return ExitCode.COULD_NOT_TEST
    # A failing resolver is no finding about the name: only a wrong record changes the status.
    names_ok = report.dns is None or not report.dns.any_problem
    return ExitCode.OK if report.all_reachable and names_ok else ExitCode.NOT_REACHABLE
