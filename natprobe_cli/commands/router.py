"""``natprobe router``: what does the default gateway say about port mapping?"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from natprobe_cli.exit_codes import ExitCode
from natprobe_cli.terminal import Style, style_for
from natprobe.i18n import _

if TYPE_CHECKING:
    from natprobe.measure.portmapping import RouterSession
    from natprobe.reports.finding import Finding
    from natprobe.reports.router_report import RouterReport


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "router",
        help=_("ask the router about UPnP IGD, NAT-PMP and PCP, its external address and mappings"),
        description=_(
            "Ask the default gateway, concurrently, whether it speaks UPnP IGD, NAT-PMP (RFC 6886) and PCP "
            "(RFC 6887); show the external address it reports and what that means (public, another NAT, "
            "carrier-grade NAT), and the port mappings it lists. Changes nothing on the router."
        ),
        epilog=_("example:") + " natprobe router --json",
    )
    parser.add_argument("--gateway", metavar="IP", help=_("ask this router instead of the default gateway"))
    parser.add_argument("--timeout", type=float, default=2.0, metavar="SECONDS", help=_("answer window (0.5-10, default 2)"))
    parser.add_argument("--json", action="store_true", help=_("print the report as JSON"))
    parser.add_argument("--unmap", type=int, metavar="PORT",
                        help=_("remove this host's UDP and TCP mappings of PORT (e.g. left by check --map --keep); "
                               "mappings to other machines are never touched"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ipaddress import IPv4Address

    from natprobe.errors import NatprobeError
    from natprobe.measure.portmapping import probe_router

    if not 0.5 <= args.timeout <= 10.0:
        print(_("natprobe router: --timeout must be between 0.5 and 10 seconds"), file=sys.stderr)
        return ExitCode.USAGE
    gateway = None
    if args.gateway:
        try:
            gateway = IPv4Address(args.gateway)
        except ValueError:
            print(_("natprobe router: --gateway {value!r} is not an IPv4 address", value=args.gateway), file=sys.stderr)
            return ExitCode.USAGE
    if args.unmap is not None and not 1 <= args.unmap <= 65535:
        print(_("natprobe router: --unmap needs a port 1-65535, not {value}", value=args.unmap), file=sys.stderr)
        return ExitCode.USAGE
    if args.unmap is not None and args.json:
        print(_("natprobe router: --unmap prints what it removed, not a report: leave out --json"), file=sys.stderr)
        return ExitCode.USAGE
    try:
        if gateway is None:
            from natprobe.adapters.interfaces import gateway_from_environment

            gateway_from_environment()  # a bad $NATPROBE_GATEWAY is a setting error: exit 2, below
    except NatprobeError as exc:
        print(_("natprobe router: {error}", error=exc), file=sys.stderr)
        return ExitCode.USAGE
    try:
        session = asyncio.run(probe_router(gateway=gateway, timeout=args.timeout))
    except NatprobeError as exc:
        print(_("natprobe router: {error}", error=exc), file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    if args.unmap is not None:
        return _unmap(session, args.unmap)
    from natprobe.adapters.kept_mappings import KeptMappings

    kept = KeptMappings()
    report = dataclasses.replace(session.report, kept=kept.load())
    for problem in kept.problems:
        print(_("natprobe router: {error}", error=problem), file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(render_router(report, report.findings, style_for(sys.stdout, os.environ)))
    if report.gateway is None:
        return ExitCode.COULD_NOT_TEST
    return ExitCode.OK if report.any_answered else ExitCode.NOT_REACHABLE


def _unmap(session: "RouterSession", port: int) -> int:
    """Remove this host's mappings of ``port``, say what happened to each: 0 done, 1 a removal
    failed, 3 no router to ask."""
    from natprobe.adapters.kept_mappings import KeptMappings
    from natprobe.measure.unmap import UnmapResult, kept_on, unmap_port

    kept = KeptMappings()
    records = kept.load()
    recorded = [r for proto in ("udp", "tcp") for r in kept_on(session, records, port, proto)]
    if session.report.gateway is None or (session.igd is None and not session.natpmp_ok and not recorded):
        for problem in kept.problems:
            print(_("natprobe router: {error}", error=problem), file=sys.stderr)
        print(_("natprobe router: the router answers neither UPnP nor NAT-PMP, and natprobe kept no PCP mapping of "
                "this port on it, so nothing could be removed (another program's PCP mapping expires at the end of "
                "its lease)"), file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    outcomes = asyncio.run(unmap_port(session, port, kept=kept))
    for problem in dict.fromkeys(kept.problems):  # the file was read twice: each warning once
        print(_("natprobe router: {error}", error=problem), file=sys.stderr)
    for outcome in outcomes:
        what = f"{outcome.protocol.upper()} {outcome.port} ({outcome.via.label})"
        text = {
            UnmapResult.REMOVED: _("{what}: this host's mapping removed", what=what),
            UnmapResult.CLEARED: _("{what}: the router confirms no mapping of it to this host remains", what=what),
            UnmapResult.NONE_HERE: _("{what}: the router lists no mapping of it", what=what),
            UnmapResult.OTHER_HOST: _("{what}: the router's mapping points to another machine ({target}): not "
                                      "touched", what=what, target=outcome.detail),
            UnmapResult.FAILED: _("{what}: could not remove it: {error}", what=what, error=outcome.detail),
        }[outcome.result]
        print(text)
    return ExitCode.NOT_REACHABLE if any(o.result is UnmapResult.FAILED for o in outcomes) else ExitCode.OK


def render_router(report: RouterReport, findings: Sequence[Finding], style: Style = Style()) -> str:
    from natprobe.observations import Facility
    from natprobe_cli.render import render_findings, render_limits

    if report.gateway is None and any(limit.facility is Facility.INTERFACES for limit in report.limits):
        lines = [_("Gateway: not known (this host's interfaces could not be read)")]
    elif report.gateway is None:
        lines = [_("Gateway: none")]
    elif report.local_ip is not None:
        lines = [_("Gateway: {gateway} (this host: {address})", gateway=report.gateway, address=report.local_ip)]
    else:
        lines = [_("Gateway: {gateway}", gateway=report.gateway)]
    for answer in report.answers:
        # One table row per protocol: its name, then comma-separated cells.
        cells = [_("answers") if answer.answered else _("no answer")]
        if answer.detail and answer.answered:
            cells[0] += f" ({answer.detail})"
        if answer.external_address:
            cells.append(_("external address {address}", address=answer.external_address))
        more = f" [{answer.result}]" if answer.result else ""
        lines.append(f"  {answer.protocol.label:8} {', '.join(cells)}{more}")
    if report.has_global_ipv6 is not None:
        # Over IPv6 nothing is mapped: say so next to the mapping protocols, so nobody looks for a
        # port forward there.
        lines.append(
            _("IPv6: {address}, a global address: no NAT over IPv6, a service needs an IPv6 pinhole on the "
              "router, not a mapping", address=report.ipv6_address)
            if report.ipv6_address is not None
            else _("IPv6: this host has no global IPv6 address")
        )
    if report.mappings:
        lines.append(_("Mappings the router lists:"))
        for m in report.mappings:
            lease = _("lease {lease} s", lease=m.lease_s) if m.lease_s else _("permanent")
            mark = "  " + _("<- this host") if m.points_here else ""
            lines.append(f"  {m.protocol} {m.external_port} -> {m.internal_client}:{m.internal_port}"
                         f" '{m.description}', {lease}{mark}")
    if report.kept:
        lines.append(_("Mappings natprobe kept (check --map --keep; natprobe router --unmap PORT removes one):"))
        now = time.time()
        for k in report.kept:
            lines.append("  " + _("{protocol} {external_port} -> this host:{internal_port} with {via} on {gateway}, "
                                  "expires in {seconds} s", protocol=k.protocol.upper(), external_port=k.external_port,
                                  internal_port=k.internal_port, via=k.via.label, gateway=k.gateway,
                                  seconds=max(0, round(k.expires_at - now))))
    if findings:
        lines.append(render_findings(findings, style=style))
    lines.extend(render_limits(report.limits))
    return "\n".join(lines)
