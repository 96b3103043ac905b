"""``POST /v1/explain``: the CLI's verdicts, findings and ``--share`` text for what the web page measured.

The page (:mod:`natprobe_server.web`) probes through ``POST /v1/probe`` and ``POST /v1/dns``
like the CLI, then sends the answers here, so every sentence it shows comes from the same
functions as ``natprobe check``, ``natprobe dns`` and ``natprobe explain jamulus``
(:func:`~natprobe.findings.port_words.assess_port`, the findings modules, the catalog). The
route computes only: nothing is sent anywhere, and nothing the client claims reaches an
``assert``. It spends no probe budget (it is cheap and bounded by the body cap and
:data:`~natprobe.contract.explain.MAX_PORTS`), but keeps the token rule.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from collections.abc import Iterator

from aiohttp import web

from natprobe.addressing import IPAddress, IpFamily, TransportAddress
from natprobe.contract.base import encode, parse_ip
from natprobe.contract.explain import (
    MAX_BODY_BYTES,
    PATH,
    DnsText,
    ExplainRequest,
    ExplainResponse,
    FindingText,
    MappingText,
    PortText,
    decode_explain_request,
    exposure_response,
    probe_responses,
)
from natprobe.contract.terms import ProbeMode, TransportProtocol
from natprobe.errors import DecodeError
from natprobe.findings.exposure_findings import explain_exposure
from natprobe.findings.browser_findings import explain_browser_mapping, silent_udp_port
from natprobe.findings.jamulus_findings import explain_jamulus_browser, jamulus_check_findings
from natprobe.findings.path_picture import check_path, draw_path
from natprobe.findings.share import share_check
from natprobe.i18n import current_language, use_language
from natprobe.jamulus.messages import DEFAULT_PORT as JAMULUS_PORT
from natprobe.measure.name_check import outside_view
from natprobe.reports.check_report import CheckReport
from natprobe.reports.exposure_report import ExposureFamily, ExposureReport
from natprobe.reports.finding import Finding
from natprobe.verdicts.behavior import MappingBehavior
from natprobe.verdicts.browser_mapping import UNKNOWN_MAPPING, BrowserStunTest, StunTargets, mapping_from_browser
from natprobe.verdicts.classify import Verdict
from natprobe.verdicts.dns_verdicts import decide_family
from natprobe.verdicts.exposure_grading import grade_scan
from natprobe.verdicts.nat_layers import Confidence, NatLayers, TopologyVerdict
from natprobe.findings.behavior_words import word_verdict
from natprobe.findings.dns_words import word_dns
from natprobe.findings.port_words import assess_port
from natprobe.observations import PortObservation
from natprobe.verdicts.reachability import Context, PortVerdict
from natprobe.verdicts.port_spec import PortSpec

from natprobe_server.api.guards import ApiError, ErrorCode, accept

__all__ = ("STUN_TARGETS_KEY", "explain", "explain_measurements", "language", "register")

STUN_TARGETS_KEY = web.AppKey("natprobe_stun_targets", StunTargets)
"""The STUN endpoints the page's WebRTC test uses (set by the web page's installer)."""


def register(app: web.Application) -> None:
    app.router.add_post(PATH, explain)


@contextlib.contextmanager
def language(lang: str) -> Iterator[None]:
    """Translate into ``lang`` for one synchronous computation (the event loop runs one at a time)."""
    before = current_language()
    use_language(lang)
    try:
        yield
    finally:
        use_language(before)


def _mapping(request: ExplainRequest, stun: StunTargets | None) -> tuple[Verdict[MappingBehavior] | None, bool]:
    observation = request.mapping
    if observation is None or stun is None:
        return None, False
    seen: dict[BrowserStunTest, TransportAddress] = {}
    for candidate in observation.candidates:
        seen[BrowserStunTest(candidate.test)] = TransportAddress(parse_ip(candidate.ip), candidate.port)
    failed = {BrowserStunTest(test) for test in observation.failed}
    decision = mapping_from_browser(stun, seen, failed)
    return (None if decision is None else word_verdict(decision)), observation.webrtc


def _finding(finding: Finding) -> FindingText:
    return FindingText(finding.code, finding.severity.value, finding.title, finding.detail, finding.advice)


def _port(verdict: PortVerdict) -> PortText:
    return PortText(verdict.protocol, verdict.port, verdict.family.value, verdict.status.value,
                    verdict.reachable, verdict.reason, verdict.advice, verdict.proof)


def _exposure_findings(request: ExplainRequest, server: str, now: datetime) -> list[Finding]:
    """``natprobe exposure``'s grades and findings for a scan the page ran (no expected ports):
    the same report, explained the same way (:func:`explain_exposure`)."""
    scan = exposure_response(request)
    if scan is None:
        return []
    target = parse_ip(scan.target)
    family = IpFamily.of(target)
    context = Context(None, target, NatLayers.UNKNOWN, family)
    scanned = ExposureFamily(family, True, None, target, False, "", scan.source, scan.ports)
    report = ExposureReport(server, None, grade_scan(scan.ports, expect=None, context=context, host=None, now=now),
                            (scanned,), scan.elapsed_ms / 1000)  # fmt: skip
    return list(explain_exposure(report))


def explain_measurements(request: ExplainRequest, *, server: str, peer: IPAddress,
                         stun: StunTargets | None, now: datetime) -> ExplainResponse:
    """The answer, in the language in use; :class:`DecodeError` when a probe or scan answer is malformed.

    ``now`` judges certificate expiry in an exposure scan."""
    publics: dict[IpFamily, IPAddress] = {}
    for text in request.public:
        ip = parse_ip(text)
        publics.setdefault(IpFamily.of(ip), ip)
    answers = probe_responses(request)
    for answer in answers:  # the address each probe went to is the visitor's, as the server saw it
        publics.setdefault(IpFamily.of(answer.target.address.ip), answer.target.address.ip)
    publics.setdefault(IpFamily.of(peer), peer)
    specs: list[PortSpec] = []
    verdicts: list[PortVerdict] = []
    for answer in answers:
        target = answer.target.address
        context = Context(local_ip=None, public_ip=target.ip, layers=NatLayers.UNKNOWN, family=IpFamily.of(target.ip))
        observation = PortObservation(answer.protocol, target.port, answer.mode, listening=False,
                                      server_result=answer.result)
        specs.append(PortSpec(answer.protocol, target.port, "jamulus" if answer.mode is ProbeMode.JAMULUS else None))
        verdicts.append(assess_port(observation, context))
    family = IpFamily.of(answers[0].target.address.ip) if answers else IpFamily.of(peer)
    for untested in request.untested:
        verdicts.append(silent_udp_port(untested.port, family, server))
    mapping, webrtc = _mapping(request, stun)
    findings: list[Finding] = []
    if request.jamulus:
        mapping_value = None if mapping is None else mapping.value
        for spec, verdict in zip(specs, verdicts):
            if spec.service == "jamulus" or (spec.protocol is TransportProtocol.UDP and spec.port == JAMULUS_PORT):
                findings += explain_jamulus_browser(verdict, mapping_value)
    else:
        findings += jamulus_check_findings(specs, verdicts[: len(specs)], NatLayers.UNKNOWN)
    mapping_finding = None
    if request.mapping is not None:
        mapping_finding = explain_browser_mapping(mapping, webrtc)
        findings.append(mapping_finding)
    findings += _exposure_findings(request, server, now)
    # A finding about the network (the mapping, public mode) comes once, however many ports led to it.
    unique: dict[tuple[str, str, str], Finding] = {}
    for finding in findings:
        unique.setdefault((finding.code, finding.title, finding.detail), finding)
    findings = list(unique.values())
    dns: list[DnsText] = []
    if request.dns is not None:
        view = outside_view(request.dns)
        for fam in IpFamily:
            verdict_dns = word_dns(decide_family(request.dns.name, fam, view[fam], view[fam], publics.get(fam)))
            dns.append(DnsText(fam.value, verdict_dns.verdict.value, verdict_dns.ok,
                               verdict_dns.reason, verdict_dns.advice))
    report = CheckReport(
        server=server,
        public_ip=publics[family],
        local_ip=None,
        topology=TopologyVerdict(NatLayers.UNKNOWN, (), Confidence.LOW),
        hops=(),
        ports=tuple(verdicts),
        hairpin=(),
        duration_s=0.0,
        findings=tuple(findings),
    )
    mapping_text = None
    if mapping is not None:
        mapping_text = MappingText(mapping.value.value, mapping.reason)
    elif mapping_finding is not None:
        mapping_text = MappingText(UNKNOWN_MAPPING, mapping_finding.detail)
    return ExplainResponse(
        lang=request.lang,
        ports=tuple(_port(v) for v in verdicts),
        mapping=mapping_text,
        dns=tuple(dns),
        findings=tuple(_finding(f) for f in findings),
        share=share_check(report, names=[request.dns.name if request.dns is not None else None]),
        path=draw_path(check_path(report)),
    )


def _server_url(request: web.Request) -> str:
    """The URL the visitor used for this server (for the CLI command the page offers)."""
    return f"{request.scheme}://{request.host}"


async def explain(request: web.Request) -> web.Response:
    """``POST /v1/explain``."""
    # The page's measurements take more room than a probe request: the route's own cap at least.
    accepted = await accept(request, decode_explain_request, body_at_least=MAX_BODY_BYTES)
    spec = accepted.request
    try:
        with language(spec.lang):
            answer = explain_measurements(spec, server=_server_url(request), peer=accepted.peer.ip,
                                          stun=request.app.get(STUN_TARGETS_KEY), now=datetime.now(timezone.utc))
    except (DecodeError, ValueError) as exc:
        raise ApiError(400, ErrorCode.BAD_REQUEST, str(exc)) from None
    return web.Response(body=encode(answer), content_type="application/json")
