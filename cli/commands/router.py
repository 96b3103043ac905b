"""``natprobe router``: what does the default gateway say about port mapping?"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from natprobe.reports.finding import Finding
    from natprobe.reports.router_report import RouterReport


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "router",
        help="ask the router about UPnP IGD, NAT-PMP and PCP, its external address and mappings",
        description=(
            "Ask the default gateway, concurrently, whether it speaks UPnP IGD, NAT-PMP (RFC 6886) and PCP "
            "(RFC 6887); show the external address it reports and what that means (public, another NAT, "
            "carrier-grade NAT), and the port mappings it lists. Changes nothing on the router."
        ),
        epilog="example: natprobe router --json",
    )
    parser.add_argument("--gateway", metavar="IP", help="ask this router instead of the default gateway")
    parser.add_argument("--timeout", type=float, default=2.0, metavar="SECONDS", help="answer window (0.5-10)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ipaddress import IPv4Address

    from natprobe.errors import NatprobeError
    from natprobe.findings.router_findings import explain_router
    from natprobe.measure.portmapping import probe_router

    if not 0.5 <= args.timeout <= 10.0:
        print("natprobe router: --timeout must be between 0.5 and 10 seconds", file=sys.stderr)
        return ExitCode.USAGE
    gateway = None
    if args.gateway:
        try:
            gateway = IPv4Address(args.gateway)
        except ValueError:
            print(f"natprobe router: --gateway {args.gateway!r} is not an IPv4 address", file=sys.stderr)
            return ExitCode.USAGE
    try:
        session = asyncio.run(probe_router(gateway=gateway, timeout=args.timeout))
    except NatprobeError as exc:
        print(f"natprobe router: {exc}", file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    report = session.report
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(render_router(report, explain_router(report)))
    if report.gateway is None:
        return ExitCode.COULD_NOT_TEST
    return ExitCode.OK if report.any_answered else ExitCode.NOT_REACHABLE


def render_router(report: RouterReport, findings: Sequence[Finding]) -> str:
    lines = [f"Gateway: {report.gateway or 'none'}" + (f" (this host: {report.local_ip})" if report.local_ip else "")]
    for answer in report.answers:
        state = "answers" if answer.answered else "no answer"
        extra = f", external address {answer.external_address}" if answer.external_address else ""
        more = f" [{answer.result}]" if answer.result else ""
        detail = f" ({answer.detail})" if answer.detail and answer.answered else ""
        lines.append(f"  {answer.protocol.value.upper():8} {state}{detail}{extra}{more}")
    if report.mappings:
        lines.append("Mappings the router lists:")
        for m in report.mappings:
            mark = "  <- this host" if m.points_here else ""
            lease = f", lease {m.lease_s} s" if m.lease_s else ", permanent"
            lines.append(f"  {m.protocol} {m.external_port} -> {m.internal_client}:{m.internal_port}"
                         f" '{m.description}'{lease}{mark}")
    for finding in findings:
        lines.append(f"[{finding.severity.value}] {finding.title}")
        if finding.detail:
            lines.append(f"    {finding.detail}")
        lines += [f"    -> {a}" for a in finding.advice]
    return "\n".join(lines)
