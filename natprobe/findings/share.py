"""``--share`` (and the web page's "copy for a forum post"): a Markdown summary to paste into a forum post, safe to publish.

What forum helpers ask first (the verdicts, the NAT type, how many NATs, which ports answered
and what answered, the advice) without what identifies the poster: every public address is
masked to its first octet (IPv4) or its /32 prefix (IPv6) and labelled public or CGNAT, host
names and tokens are removed, and LAN addresses are kept (they help, and identify nobody).
Masking works on the final text, so a reason or an advice that quotes an address is masked
too, whichever report it came from.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from natprobe.version import __version__
from natprobe.contract import ConnectResult, HttpResult, HttpsResult, JamulusResult, SshResult
from natprobe.addressing import AddressScope, IPAddress, classify, unmap
from natprobe.findings.path_picture import PathNode, check_path, draw_path, jamulus_path, nat_path
from natprobe.findings.scope_words import shared_label
from natprobe.i18n import N_, _
from natprobe.reports.check_report import CheckReport
from natprobe.reports.dns_report import DnsReport
from natprobe.reports.finding import Finding
from natprobe.reports.jamulus_report import JamulusModesReport
from natprobe.reports.nat_report import NatReport
from natprobe.reports.relay_report import RelayReport
from natprobe.verdicts.dns_verdicts import record_type
from natprobe.verdicts.nat_layers import Confidence
from natprobe.verdicts.reachability import PortVerdict
from natprobe.verdicts.relay_verdicts import RelayVia

__all__ = ("Scrubber", "confidence_words", "mask_address", "share_check", "share_jamulus", "share_nat")

# Addresses that identify nobody: kept as they are (the LAN address helps the helpers most).
_KEPT = frozenset(
    {AddressScope.PRIVATE, AddressScope.UNIQUE_LOCAL, AddressScope.LINK_LOCAL, AddressScope.LOOPBACK,
     AddressScope.UNSPECIFIED}
)
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])")
# A DNS name: two or more labels, the last alphabetic (so versions like 3.9.1 and masked
# addresses like 203.x.x.x are left alone).
_HOST_NAME = re.compile(r"(?<![\w.-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![\w-])")


_CONFIDENCE = {Confidence.HIGH: N_("high"), Confidence.MEDIUM: N_("medium"), Confidence.LOW: N_("low")}


def confidence_words(confidence: Confidence) -> str:
    """How sure a verdict is, in words of the language in use."""
    return _(_CONFIDENCE[confidence])


def _is_kept(ip: IPAddress) -> bool:
    return classify(unmap(ip)) in _KEPT


def mask_address(ip: IPAddress) -> str:
    """``203.x.x.x`` / ``2001:db8:x:x:x:x:x:x``; LAN, loopback and link-local addresses unchanged."""
    ip = unmap(ip)
    if _is_kept(ip):
        return str(ip)
    if isinstance(ip, ipaddress.IPv4Address):
        return f"{str(ip).split('.')[0]}.x.x.x"
    groups = ip.exploded.split(":")
    return ":".join([format(int(groups[0], 16), "x"), format(int(groups[1], 16), "x")] + ["x"] * 6)


def _scope_label(ip: IPAddress | None) -> str:
    return shared_label(ip, kept=ip is not None and _is_kept(ip))


class Scrubber:
    """Masks public addresses and removes the given names, tokens and any DNS name from text."""

    def __init__(self, names: Iterable[str | None] = (), tokens: Iterable[str | None] = ()) -> None:
        self._names = sorted({n for n in names if n}, key=len, reverse=True)
        self._tokens = sorted({t for t in tokens if t}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for token in self._tokens:
            text = text.replace(token, "<token>")
        text = _IPV6.sub(self._mask_match, text)
        text = _IPV4.sub(self._mask_match, text)
        for name in self._names:
            text = re.sub(re.escape(name), "<host>", text, flags=re.IGNORECASE)
        return _HOST_NAME.sub("<host>", text)

    @staticmethod
    def _mask_match(match: re.Match[str]) -> str:
        try:
            return mask_address(ipaddress.ip_address(match.group(0)))
        except ValueError:
            return match.group(0)

    def nodes(self, nodes: Sequence[PathNode]) -> tuple[PathNode, ...]:
        return tuple(
            replace(
                node,
                address=None if node.address is None else self(node.address),
                behaviour=None if node.behaviour is None else self(node.behaviour),
                marks=tuple(replace(mark, text=self(mark.text)) for mark in node.marks),
            )
            for node in nodes
        )


def _url_host(url: str | None) -> str | None:
    if url is None:
        return None
    return urlsplit(url if "//" in url else f"//{url}").hostname


def _path_block(nodes: Sequence[PathNode], scrub: Scrubber) -> list[str]:
    return ["", _("**The path**"), "", "```text", draw_path(scrub.nodes(nodes)), "```"]


def _findings_block(findings: Sequence[Finding], scrub: Scrubber) -> list[str]:
    if not findings:
        return []
    return ["", _("**What it means**"), "", *_findings_lines(findings, scrub)]


def _findings_lines(findings: Sequence[Finding], scrub: Scrubber) -> list[str]:
    lines = []
    for finding in findings:
        lines.append(f"- **{scrub(finding.title)}** ({finding.severity.value}): {scrub(finding.detail)}")
        lines += [f"  - {scrub(advice)}" for advice in finding.advice]
    return lines


def _footer() -> list[str]:
    return ["", _("_natprobe {version}: public addresses masked, host names and tokens removed._", version=__version__)]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _answered(verdict: PortVerdict) -> str:
    """What answered on the port, from the echo server's result (no names: those are scrubbed)."""
    result = verdict.details
    if verdict.reachable is None and result is None:
        return _("not tested")
    if isinstance(result, JamulusResult) and result.answered:
        return _("Jamulus {version}", version=result.version) if result.version else _("Jamulus")
    if isinstance(result, (HttpResult, HttpsResult)) and result.status is not None:
        server = f" ({result.server_header})" if result.server_header else ""
        return _("web server{server}, HTTP {status}", server=server, status=result.status)
    if isinstance(result, SshResult) and result.banner:
        return _("SSH ({banner})", banner=result.banner)
    if verdict.reachable and verdict.proof is not None and not isinstance(result, (ConnectResult, HttpResult)):
        return _("natprobe's one-time token arrived")
    if isinstance(result, (ConnectResult, HttpResult, HttpsResult, SshResult)) and result.connected:
        return _("a TCP connection was accepted")
    return _("natprobe's one-time token arrived") if verdict.reachable else _("nothing")


def share_check(report: CheckReport, *, names: Iterable[str | None] = (), tokens: Iterable[str | None] = ()) -> str:
    """The Markdown summary of ``natprobe check``."""
    tls_names: list[str | None] = []
    for port in report.ports:
        if isinstance(port.details, HttpsResult) and port.details.tls is not None:
            tls_names += [port.details.tls.subject_cn, *port.details.tls.san]
    scrub = Scrubber([*names, _url_host(report.server), *tls_names], tokens)
    reachable = sum(1 for p in report.ports if p.reachable)
    if not report.server_reached:
        title = _("### natprobe check: nothing could be tested (no echo server reached)")
    else:
        title = _("### natprobe check: {reachable} of {total} port(s) reachable", reachable=reachable,
                  total=len(report.ports))
    if report.dns is not None and report.dns.any_problem:
        # The terminal and the exit status count the name's records: the headline does too.
        title += _("; the name's DNS records have a problem")
    lines = [
        title,
        "",
        _("- NAT layers: `{layers}` ({confidence} confidence)", layers=report.topology.layers.value,
          confidence=confidence_words(report.topology.confidence)),
        _("- This host: {address} ({label})", address=scrub(str(report.local_ip or "?")), label=_scope_label(report.local_ip)),
        _("- Public address: {address} ({label})", address=scrub(str(report.public_ip or "?")),
          label=_scope_label(report.public_ip)),
        "",
        _("| Port | Verdict | What answered |"),
        "|---|---|---|",
    ]
    for port in report.ports:
        mark = {True: "✓", False: "✗", None: "?"}[port.reachable]
        lines.append(
            f"| {port.protocol.value.upper()} {port.port} | {mark} `{port.status.value}` | {_cell(scrub(_answered(port)))} |"
        )
    if report.server_reached:  # else there is no path to draw: nothing went out and came back
        lines += _path_block(check_path(report), scrub)
    lines += ["", _("**Why, and what to do**"), ""]
    for port in report.ports:
        lines.append(f"- {port.protocol.value.upper()} {port.port}: {scrub(port.reason)}")
        lines += [f"  - {scrub(advice)}" for advice in port.advice]
    for hairpin in report.hairpin:
        state = {True: _("works"), False: _("does not work"), None: _("not tested")}[hairpin.works]
        lines.append(_("- Hairpin {protocol} {port}: {state}; {reason}", protocol=hairpin.protocol.value.upper(),
                       port=hairpin.port, state=state, reason=scrub(hairpin.reason)))
        lines += [f"  - {scrub(advice)}" for advice in hairpin.advice]
    if report.dns is not None:
        lines += _dns_block(report.dns, scrub)
    if report.relay is not None:
        lines += _relay_block(report.relay, scrub)
    lines += _findings_block(report.findings, scrub)
    if report.limits:
        lines += ["", _("**What this machine could not measure**"), ""]
        lines += [f"- {scrub(limit.text)}" for limit in report.limits]
    if report.advice:
        lines += ["", _("**A port forward cannot work here. What can, in order:**"), ""]
        lines += _findings_lines(report.advice, scrub)
    lines += _footer()
    return "\n".join(lines)


def _relay_block(relay: RelayReport, scrub: Scrubber) -> list[str]:
    """The check through the relay the ``--host`` name leads to, as the terminal shows it (the
    name removed, the relay's public addresses masked)."""
    via = (_("sent by the echo server") if relay.via is RelayVia.ECHO_SERVER
           else _("sent from this host through the relay's public address (no echo server)"))
    lines = ["", _("**Through the relay** ({via})", via=via), ""]
    for port in relay.ports:
        mark = {True: "✓", False: "✗", None: "?"}[port.reachable]
        lines.append(_("- {protocol} {port} via {relay}: {mark} `{status}` (the service sees: `{client_address}`)",
                       protocol=port.protocol.value.upper(), port=port.port, relay=scrub(str(port.relay_ip)),
                       mark=mark, status=port.status.value, client_address=port.client_address.value))
    lines += _findings_lines(relay.findings, scrub)
    return lines


def _dns_block(dns: DnsReport, scrub: Scrubber) -> list[str]:
    """The ``--host`` name's verdicts (the name itself removed), as the terminal shows them."""
    lines = ["", _("**The name's DNS records**"), ""]
    for note in dns.notes:
        lines.append(f"- {scrub(note)}")
    for verdict in dns.verdicts:
        mark = "✓" if verdict.ok else "✗"
        lines.append(f"- {record_type(verdict.family)}: {mark} `{verdict.verdict.value}`: {scrub(verdict.reason)}")
        lines += [f"  - {scrub(advice)}" for advice in verdict.advice]
    return lines


def share_nat(report: NatReport, *, names: Iterable[str | None] = ()) -> str:
    """The Markdown summary of ``natprobe nat``."""
    scrub = Scrubber(names)
    public = report.mapped.ip if report.mapped is not None else None
    local = report.local.ip if report.local is not None else None

    def yes_no(value: bool | None) -> str:
        return {True: _("yes"), False: _("no"), None: _("unknown")}[value]

    lines = [
        _("### natprobe nat: NAT type `{nat_type}`", nat_type=report.nat_type.value.value),
        "",
        _("- Mapping: `{value}`: {reason}", value=report.mapping.value.value, reason=scrub(report.mapping.reason)),
        _("- Filtering: `{value}`: {reason}", value=report.filtering.value.value, reason=scrub(report.filtering.reason)),
        _("- Hairpinning: {value}", value=yes_no(report.hairpinning.value)),
        _("- Port preserved: {value}", value=yes_no(report.port_preservation)),
        _("- This host: {address} ({label})", address=scrub(str(local or "?")), label=_scope_label(local)),
        _("- Public address: {address} ({label})", address=scrub(str(public or "?")), label=_scope_label(public)),
    ]
    if report.lifetime is not None:
        lines.append(_("- Mapping lifetime: {reason}", reason=scrub(report.lifetime.reason)))
    lines += _path_block(nat_path(report), scrub)
    lines += _findings_block(report.findings, scrub)
    lines += _footer()
    return "\n".join(lines)


def share_jamulus(report: JamulusModesReport, *, names: Iterable[str | None] = (), tokens: Iterable[str | None] = ()) -> str:
    """The Markdown summary of ``natprobe explain jamulus``."""
    scrub = Scrubber([*names, _url_host(report.server)], tokens)

    def works(value: bool | None) -> str:
        return {True: _("works"), False: _("fails"), None: _("not decided")}[value]

    lines = [
        _("### natprobe explain jamulus: UDP {port}", port=report.port),
        "",
        _("- Private mode (unregistered): {works} (`{status}`): {reason}", works=works(report.private_mode.works),
          status=report.private_mode.status.value, reason=scrub(report.private_mode.reason)),
        _("- Public mode (registered): {works} (`{status}`): {reason}", works=works(report.public_mode.works),
          status=report.public_mode.status.value, reason=scrub(report.public_mode.reason)),
        _("- NAT layers: `{layers}`", layers=report.nat_layers.value),
        _("- This host: {address} ({label})", address=scrub(str(report.local_ip or "?")), label=_scope_label(report.local_ip)),
        _("- Public address: {address} ({label})", address=scrub(str(report.public_ip or "?")),
          label=_scope_label(report.public_ip)),
    ]
    lines += _path_block(jamulus_path(report), scrub)
    lines += _findings_block(report.findings, scrub)
    lines += _footer()
    return "\n".join(lines)
