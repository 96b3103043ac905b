"""``natprobe exposure``: what does the Internet see of this network, and what should I do about it?"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING

from natprobe_cli.exit_codes import ExitCode
from natprobe.i18n import N_, _
from natprobe.contract.exposure_route import DEFAULT_PORTS, MAX_EXTRA_PORTS, PortRef, PortState, ScanProtocol, valid_host
from natprobe.errors import NatprobeError, ServerError

if TYPE_CHECKING:
    from natprobe.reports.exposure_report import PortFinding
    from natprobe.verdicts.exposure_grading import ExposedPort

_MARK = {"ok": N_("ok"), "info": N_("info"), "warning": N_("WARN"), "problem": N_("BAD")}


def parse_expect(text: str) -> list[PortRef]:
    """``"80,443,22124/udp"`` → port refs (TCP unless ``/udp``); ``ValueError`` with a clear message."""
    refs: list[PortRef] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        port_text, _slash, protocol_text = item.partition("/")
        protocol_text = protocol_text.lower() or "tcp"
        if protocol_text not in ("tcp", "udp"):
            raise ValueError(_("invalid port {item!r}: the protocol after '/' is tcp or udp", item=item))
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(_("invalid port {item!r}: expected 1-65535, optionally followed by /tcp or /udp", item=item))
        ref = PortRef(int(port_text), ScanProtocol(protocol_text))
        if ref not in refs:
            refs.append(ref)
    return refs


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    standard = ", ".join(f"{p}" + ("/udp" if proto is ScanProtocol.UDP else "") for p, proto, _name in DEFAULT_PORTS)
    parser = subparsers.add_parser(
        "exposure",
        help=_("what the Internet sees of this network: open ports, what answers, and what to do"),
        description=_(
            "Ask a natprobe echo server to scan this network's own public address (it cannot scan any "
            "other) on the ports home networks most often expose ({standard}) plus the ports you name, "
            "then grade each open port with the self-hosting guides' advice. Nothing logs in: SSH, TLS "
            "and HTTP exchanges stop before any authentication. One scan every few minutes.",
            standard=standard,
        ),
        epilog=_("example:") + " natprobe exposure --expect 80,443,22124/udp --server http://vps.example.org:8080",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--server",
        metavar="URL",
        help=_("echo server HTTP API, e.g. http://HOST:8080 (default: $NATPROBE_SERVER, then the user config file)"),
    )
    parser.add_argument("--expect", action="append", default=None, metavar="PORT[/udp][,...]",
                        help=_("the ports you mean to expose (TCP unless /udp); any other open port is questioned"))  # fmt: skip
    parser.add_argument("--host", metavar="NAME", help=_("your site's name: TLS SNI, HTTP Host and the certificate name check"))
    parser.add_argument("--token", metavar="TOKEN", help=_("the echo server's shared token, if it requires one (default: $NATPROBE_TOKEN, "
                               "else 'token' in the config file)"))
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--ipv4", action="store_true",
                      help=_("scan over IPv4 only (default: IPv4, and IPv6 when this host has a global IPv6 address)"))
    only.add_argument("--ipv6", action="store_true", help=_("scan over IPv6 only (this host's stable address)"))
    parser.add_argument("--json", action="store_true", help=_("print the report as JSON"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from natprobe.measure.exposure import ExposureOptions, scan_exposure  # aiohttp loads only when a scan runs

    try:
        expect = None if args.expect is None else [r for text in args.expect for r in parse_expect(text)]
    except ValueError as exc:
        print(_("natprobe exposure: {error}", error=exc), file=sys.stderr)
        return ExitCode.USAGE
    if args.host is not None and not valid_host(args.host):
        print(_("natprobe exposure: --host must be a DNS name such as cloud.example.org, got {value!r}", value=args.host),
              file=sys.stderr)
        return ExitCode.USAGE
    standard = {(p, proto) for p, proto, _name in DEFAULT_PORTS}
    if expect is not None and len([r for r in expect if (r.port, r.protocol) not in standard]) > MAX_EXTRA_PORTS:
        print(_("natprobe exposure: at most {count} ports outside the standard list", count=MAX_EXTRA_PORTS), file=sys.stderr)
        return ExitCode.USAGE
    from natprobe_cli.settings import chosen_families, required_server

    resolved = required_server("natprobe exposure", args.server, args.token)
    if isinstance(resolved, ExitCode):
        return resolved
    server, token = resolved
    if not args.json:
        print(_("Asking {server} to scan this network's public address (up to 15 s) ...", server=server), file=sys.stderr)
    families = chosen_families(args.ipv4, args.ipv6)
    try:
        options = ExposureOptions(expect=None if expect is None else tuple(expect), host=args.host, token=token,
                                  families=families)  # fmt: skip
        report = asyncio.run(scan_exposure(server, options))
    except ServerError as exc:
        print(_("natprobe exposure: {error}", error=exc), file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    except (NatprobeError, ValueError) as exc:
        print(_("natprobe exposure: {error}", error=exc), file=sys.stderr)
        return ExitCode.COULD_NOT_TEST
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(render(report))
    return ExitCode.NOT_REACHABLE if report.bad else ExitCode.OK


def render(report: object) -> str:
    from natprobe.reports.exposure_report import ExposureReport

    if not isinstance(report, ExposureReport):
        raise TypeError("render() takes an ExposureReport")
    lines: list[str] = []
    marks = {severity: _(mark) for severity, mark in _MARK.items()}
    size = max(len(mark) for mark in marks.values())
    for family in report.families:
        if lines:
            lines.append("")
        if not family.tested:
            lines.append(family.note)
            continue
        lines.append(_(
            "Public address {address} as seen from {source}: {scanned} ports scanned, {open} open, {closed} closed, "
            "{filtered} filtered (no answer).",
            address=family.public_ip,
            source=family.scanned_from,
            scanned=len(family.scanned),
            open=report.count(PortState.OPEN, family.family),
            closed=report.count(PortState.CLOSED, family.family),
            filtered=report.count(PortState.FILTERED, family.family),
        ))  # fmt: skip
        ports = [(p, f) for p, f in zip(report.ports, report.port_findings) if p.family is family.family]
        if not ports:
            lines.append(_("Nothing answers on the scanned ports."))
        for port, findings in ports:
            lines.extend(_render_port(port, findings, marks, size))
    lines.append("")
    lines.append(_("Something needs fixing (see BAD above).") if report.bad else _("Nothing graded bad."))
    from natprobe_cli.render import render_limits

    lines.extend(render_limits(report.limits))
    return "\n".join(lines)


def _render_port(port: "ExposedPort", findings: "tuple[PortFinding, ...]", marks: dict[str, str], size: int) -> list[str]:
    scanned = port.scanned
    what = scanned.service or _("unknown")
    about = []
    if scanned.ssh is not None and scanned.ssh.version:
        about.append(scanned.ssh.version)
    elif scanned.banner:
        about.append(scanned.banner)
    if scanned.http is not None:
        about.append(f"HTTP {scanned.http.status}" + (f", Server: {scanned.http.server}" if scanned.http.server else ""))
    if scanned.tls is not None:
        names = ", ".join(scanned.tls.san) or scanned.tls.subject_cn or "?"
        about.append(_("certificate for {names}, until {date}", names=names, date=scanned.tls.not_after or "?"))
    if scanned.jamulus_version:
        about.append(f"Jamulus {scanned.jamulus_version}")
    if port.expected:
        what = _("{service} (expected)", service=what)
    lines = [""]
    lines.append(_("{protocol} {port}: {state}, {service}", protocol=scanned.protocol.value.upper(),
                   port=scanned.port, state=scanned.state.value, service=what)
                 + (f" — {'; '.join(about)}" if about else ""))  # fmt: skip
    indent = " " * (size + 5)
    for finding in findings:
        lines.append(f"  [{marks.get(finding.severity, finding.severity):<{size}}] {finding.title}")
        if finding.detail and finding.severity != "ok":
            lines.append(f"{indent}{finding.detail}")
        for advice in finding.advice:
            lines.append(f"{indent}- {advice}")
    return lines
