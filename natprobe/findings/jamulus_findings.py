"""Plain-language findings for Jamulus: public vs private mode, and a ``check`` of UDP 22124 (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from natprobe.addressing import IPAddress, IpFamily
from natprobe.i18n import N_, _
from natprobe.reports.finding import Finding, Severity
from natprobe.jamulus import JAMULUS_KEEPALIVE_S
from natprobe.jamulus.messages import DEFAULT_PORT as JAMULUS_PORT
from natprobe.reports.jamulus_report import JamulusModesReport
from natprobe.verdicts.behavior import MappingBehavior
from natprobe.verdicts.jamulus_verdicts import ModeStatus, keepalive_outlives
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.contract.terms import TransportProtocol
from natprobe.verdicts.reachability import PortStatus, PortVerdict
from natprobe.verdicts.port_spec import PortSpec

__all__ = (
    "explain_jamulus",
    "explain_jamulus_browser",
    "explain_jamulus_ipv6",
    "explain_jamulus_port",
    "jamulus_check_findings",
)

def _clause(text: str) -> str:
    """``text`` without its final full stop, to embed it in a sentence."""
    return text.rstrip().rstrip(".")


def _sentence(text: str) -> str:
    """``text`` ending in exactly one full stop."""
    return _clause(text) + "."


# --- findings ----------------------------------------------------------------------------------


def _lan_host(local_ip: IPAddress | None) -> str:
    return str(local_ip) if local_ip is not None else _("the Jamulus server's LAN address")


def _forward_advice(port: int, local_ip: IPAddress | None) -> str:
    return _(
        "On the router, forward UDP port {port} to {host}, port {port} (and give that host a fixed LAN "
        "address with a DHCP reservation).",
        port=port,
        host=_lan_host(local_ip),
    )


_CGNAT_ADVICE = (
    N_(
        "Ask your ISP for a public IPv4 address (often called 'disable CGNAT' or a static IP option): "
        "Jamulus directories and clients are IPv4."
    ),
    N_("Or run the Jamulus server on a VPS or any host with a public address, and connect to it from home."),
)

_SYMMETRIC_ADVICE = N_(
    "If the router offers 'endpoint-independent', 'full-cone' or 'consistent' NAT, or an option to "
    "stop randomising source ports, turn it on: then public mode works without a forward."
)


def _cgnat_advice() -> tuple[str, ...]:
    return tuple(_(advice) for advice in _CGNAT_ADVICE)


def explain_jamulus(report: JamulusModesReport) -> tuple[Finding, ...]:
    """Findings for ``natprobe explain jamulus``, most important first, with the measured numbers."""
    findings = [_public_finding(report), _private_finding(report)]
    findings += _why_findings(report)
    findings += _detail_findings(report)
    return tuple(findings)


def _public_finding(report: JamulusModesReport) -> Finding:
    verdict = report.public_mode
    port = report.port
    if verdict.works:
        return Finding(
            Severity.OK,
            _("Public mode works without a port forward"),
            _(
                "{reason} A registered Jamulus server on UDP {port} here can be listed by a directory "
                "and reached by its clients.",
                reason=_sentence(verdict.reason),
                port=port,
            ),
            code="jamulus-public-works",
        )
    if verdict.works is None:
        return Finding(
            Severity.WARNING,
            _("Public mode was not measured"),
            _sentence(verdict.reason),
            _public_advice(report),
            code="jamulus-public-not-measured",
        )
    return Finding(
        Severity.PROBLEM,
        _("Public mode fails here"),
        _sentence(verdict.reason),
        _public_advice(report),
        code=f"jamulus-public-{verdict.status.value}",
    )


def _public_advice(report: JamulusModesReport) -> tuple[str, ...]:
    status = report.public_mode.status
    forward = _forward_advice(report.port, report.local_ip)
    if report.nat_layers is NatLayers.CGNAT and status is not ModeStatus.WORKS:
        return _cgnat_advice()
    if status is ModeStatus.SYMMETRIC_NAT:
        return (
            _(_SYMMETRIC_ADVICE),
            _(
                "On the router, forward UDP port {port} to {host}, port {port}, then share your address and port "
                "so people connect directly (private mode): with this NAT even a forwarded server is listed "
                "under a random port.",
                port=report.port,
                host=_lan_host(report.local_ip),
            ),
        )
    if status is ModeStatus.MAPPING_TOO_SHORT:
        return (
            _(
                "Raise the router's UDP session timeout to 120 s or more (RFC 4787 asks for at least 120 s); "
                "Jamulus' 59 s keep-alive cannot be changed."
            ),
            _(
                "Or, on the router, forward UDP port {port} to {host}, port {port}: a forward does not expire.",
                port=report.port,
                host=_lan_host(report.local_ip),
            ),
        )
    if status in (ModeStatus.NO_HOLE_PUNCH, ModeStatus.FILTERED):
        return (forward, _("Check firewall rules on this host and the router that filter outbound UDP."))
    if status is ModeStatus.DIRECTORY_UNREACHABLE:
        return (
            _(
                "Check that the echo server runs its Jamulus directory (natprobe serve --http-port N "
                "--jamulus-port 22224) and that outbound UDP to it is allowed."
            ),
        )
    if status is ModeStatus.NOT_MEASURED and report.port_in_use and report.measured_port is None:
        return (_("Stop the program on UDP {port} and run again, or pass --port with a free port.", port=report.port),)
    return ()


def _private_finding(report: JamulusModesReport) -> Finding:
    verdict = report.private_mode
    port = report.port
    if verdict.works:
        return Finding(
            Severity.OK,
            _("Private mode works: the port is reachable without registering"),
            _(
                "{reason} Clients can connect straight to {address}:{port}.",
                reason=_sentence(verdict.reason),
                address=report.public_ip,
                port=port,
            ),
            code="jamulus-private-works",
        )
    if verdict.works is None:
        return Finding(
            Severity.WARNING, _("Private mode was not measured"), _sentence(verdict.reason),
            code="jamulus-private-not-measured",
        )
    if verdict.status is ModeStatus.CGNAT:
        return Finding(
            Severity.PROBLEM,
            _("Private mode is impossible behind carrier-grade NAT"),
            _(
                "{reason} A forward on your own router cannot help: the public address belongs to your ISP.",
                reason=_sentence(verdict.reason),
            ),
            _cgnat_advice(),
            code="jamulus-private-behind-cgnat",
        )
    if verdict.status is ModeStatus.HOST_FIREWALL:
        return Finding(
            Severity.PROBLEM,
            _("Private mode is blocked by this host's firewall"),
            _sentence(verdict.reason),
            (_("Allow inbound UDP port {port} in this host's firewall (nftables/iptables, ufw, firewalld).", port=port),),
            code="jamulus-private-host-firewall",
        )
    return Finding(
        Severity.PROBLEM,
        _("Private mode needs a port forward"),
        _sentence(verdict.reason),
        (_forward_advice(port, report.local_ip),),
        code="jamulus-private-needs-port-forward",
    )


def _why_findings(report: JamulusModesReport) -> list[Finding]:
    findings: list[Finding] = []
    port = report.port
    punch = report.hole_punch
    if punch is not None:
        local = report.measured_port if report.measured_port is not None else port
        published = punch.published
        # Whole sentences, each translated on its own, joined: no sentence is built from pieces.
        sentences = [_("A registered server sends first.")]
        if report.nat_layers is NatLayers.NO_NAT:
            sentences.append(
                _(
                    "natprobe's test registration from local UDP port {local} reached the directory from "
                    "{published} (this host has a public address, so there is no NAT mapping to create; a "
                    "firewall that admits replies works alike): that is the address a directory lists.",
                    local=local,
                    published=published,
                )
            )
        else:
            sentences.append(
                _(
                    "natprobe's test registration from local UDP port {local} created the NAT mapping "
                    "{published}: that is the address a directory lists.",
                    local=local,
                    published=published,
                )
            )
        sentences.append(
            _(
                "The server and the directory each send a keep-alive every {keepalive:g} s to keep it open.",
                keepalive=JAMULUS_KEEPALIVE_S,
            )
        )
        if punch.unsolicited_answered:
            sentences.append(
                _(
                    "A stranger's ping to {published} before any punch was answered too (a port forward or a "
                    "full-cone NAT admits anyone).",
                    published=published,
                )
            )
        else:
            sentences.append(_("A stranger's ping to {published} before any punch was dropped.", published=published))
        sentences.append(
            _(
                "When a client asks the directory for the list, the directory tells the server to send an "
                "empty message to that client."
            )
        )
        if punch.punch_source is None:
            sentences.append(_("The empty message never reached the new client."))
        elif punch.punch_source == published:
            sentences.append(
                _(
                    "The empty message left through {source}, the listed address, so the NAT now admits that "
                    "client.",
                    source=punch.punch_source,
                )
            )
        else:
            sentences.append(
                _(
                    "The empty message left through {source}, not the listed {published}.",
                    source=punch.punch_source,
                    published=published,
                )
            )
        if punch.punched_ping_answered:
            sentences.append(_("The client's ping to the listed address was answered."))
        else:
            sentences.append(_("The client's ping to the listed address was dropped."))
        title = (
            _("Why public mode needs no port forward")
            if report.public_mode.works
            else _("How public mode gets through a NAT, and where it failed here")
        )
        findings.append(Finding(Severity.INFO, title, " ".join(sentences), code="jamulus-why-public"))
    if report.private_mode.works is False:
        if report.public_ip is not None:
            public = _("{address}:{port}", address=report.public_ip, port=port)
        else:
            public = _("UDP {port}", port=port)
        findings.append(
            Finding(
                Severity.INFO,
                _("Why private mode needs a port forward"),
                _(
                    "An unregistered (private) server sends nothing until a client has reached it, so the NAT "
                    "has no mapping for it and drops every client's first packet to {public}; natprobe's "
                    "unsolicited probe, sent before anything had left the port, was dropped the same way. Only "
                    "a port forward (or a public address) admits it.",
                    public=public,
                ),
                code="jamulus-why-private",
            )
        )
    return findings


def _detail_findings(report: JamulusModesReport) -> list[Finding]:
    findings: list[Finding] = []
    punch = report.hole_punch
    if punch is not None and report.port_preserved is False:
        findings.append(
            Finding(
                Severity.WARNING if report.public_mode.status is not ModeStatus.WORKS else Severity.INFO,
                _("The NAT does not preserve the port"),
                _(
                    "The registration from local port {local} left as {published}, so a directory lists the "
                    "server at port {public_port}, not {local}. Clients that pick it from the list are fine; "
                    "people who type your address with port {port} reach nothing unless that port is "
                    "forwarded, and the listed port changes whenever the mapping is renewed.",
                    local=report.measured_port,
                    published=punch.published,
                    public_port=punch.published.port,
                    port=report.port,
                ),
                (
                    _(
                        "Let people find the server in the directory's list rather than by address and port, or "
                        "on the router forward UDP port {port} to {host}, port {port} (and give that host a fixed "
                        "LAN address with a DHCP reservation).",
                        port=report.port,
                        host=_lan_host(report.local_ip),
                    ),
                ),
                code="jamulus-port-not-preserved",
            )
        )
    findings.append(_lifetime_finding(report))
    if report.nat_layers is NatLayers.CGNAT and report.public_mode.works:
        findings.append(
            Finding(
                Severity.WARNING,
                _("Behind carrier-grade NAT"),
                _(
                    "Public mode works through your ISP's NAT today, but carrier NATs are shared and their "
                    "behaviour (port allocation, timeouts) can change without notice; private mode is impossible."
                ),
                _cgnat_advice()[:1],
                code="jamulus-behind-cgnat",
            )
        )
    for note in report.notes:
        findings.append(Finding(Severity.INFO, _("Note"), note, code="jamulus-note"))
    return findings


def _lifetime_finding(report: JamulusModesReport) -> Finding:
    lifetime = report.lifetime
    keepalive = JAMULUS_KEEPALIVE_S
    if lifetime is None:
        return Finding(
            Severity.INFO,
            _("Keep-alive against mapping lifetime: not measured"),
            _(
                "Public mode also needs the NAT to keep an idle UDP mapping longer than Jamulus' {keepalive:g} s "
                "keep-alive. Run again with --lifetime (it takes about the lifetime, up to --lifetime-max seconds).",
                keepalive=keepalive,
            ),
            code="jamulus-lifetime-not-measured",
        )
    outlives = keepalive_outlives(lifetime)
    if outlives is True:
        return Finding(
            Severity.OK,
            _("Idle mappings outlive Jamulus' {keepalive:g} s keep-alive", keepalive=keepalive),
            _(
                "{reason}: the keep-alives keep a registered server's mapping open.",
                reason=_clause(lifetime.reason),
            ),
            code="jamulus-lifetime-outlives-keepalive",
        )
    if outlives is False:
        return Finding(
            Severity.PROBLEM,
            _("Idle mappings expire before Jamulus' {keepalive:g} s keep-alive", keepalive=keepalive),
            _(
                "{reason} A registered server's mapping disappears between two keep-alives, so the "
                "directory's hole punches stop reaching it and public mode drops out for most of each minute.",
                reason=_sentence(lifetime.reason),
            ),
            (_("Raise the router's UDP session timeout to 120 s or more, or forward the port."),),
            code="jamulus-lifetime-shorter-than-keepalive",
        )
    return Finding(
        Severity.WARNING,
        _("Mapping lifetime against the {keepalive:g} s keep-alive: undecided", keepalive=keepalive),
        _(
            "{reason} That does not settle whether a mapping survives {keepalive:g} s idle; run again "
            "with --lifetime-max 70 or more.",
            reason=_sentence(lifetime.reason),
            keepalive=keepalive,
        ),
        code="jamulus-lifetime-undecided",
    )


def explain_jamulus_ipv6(verdict: PortVerdict) -> tuple[Finding, ...]:
    """What an IPv6 result for the Jamulus port changes: direct connections only (``-6``);
    Jamulus directories are IPv4, so public mode stays an IPv4 question (jamulus #1938, #3809)."""
    port = verdict.port
    directories = (
        _("Jamulus directories are IPv4 only: public mode (being listed) depends on the IPv4 result."),
    )
    if verdict.reachable:
        return (
            Finding(
                Severity.OK,
                _("Jamulus over IPv6: direct connections will work"),
                _("UDP {port} is reachable over IPv6. Start the server and the clients with -6 (--enableipv6) "
                  "and connect to this server's IPv6 address or a name with an AAAA record; this also works "
                  "behind carrier-grade NAT or DS-Lite, where IPv4 cannot be reached.", port=port),
                directories,
                code="jamulus-ipv6-direct-works",
            ),
        )
    if verdict.reachable is None:
        return ()
    return (
        Finding(
            Severity.INFO,
            _("Jamulus over IPv6: direct connections blocked"),
            _("UDP {port} is not reachable over IPv6: clients using -6 cannot connect by address until the "
              "IPv6 firewall lets it in.", port=port),
            (*verdict.advice[:1], *directories),
            code="jamulus-ipv6-direct-blocked",
        ),
    )


def explain_jamulus_port(verdict: PortVerdict, nat_layers: NatLayers) -> tuple[Finding, ...]:
    """What ``natprobe check --udp 22124`` means for Jamulus' two modes (no directory measurement)."""
    if verdict.family is IpFamily.IPV6:
        return explain_jamulus_ipv6(verdict)
    port = verdict.port
    measure = _(
        "Run 'natprobe explain jamulus --server URL' to measure public mode (registration, keep-alive "
        "and hole punch) on this network."
    )
    if verdict.reachable:
        return (
            Finding(
                Severity.OK,
                _("Jamulus: private mode will work"),
                _(
                    "UDP {port} is reachable from outside, so clients can connect to this server by address "
                    "without it registering with a directory; registered (public) servers are reachable too.",
                    port=port,
                ),
                code="jamulus-port-private-works",
            ),
        )
    if verdict.reachable is None:
        return (
            Finding(
                Severity.INFO, _("Jamulus: modes not assessed"), _sentence(verdict.reason), (measure,),
                code="jamulus-port-not-assessed",
            ),
        )
    if nat_layers is NatLayers.CGNAT or verdict.status is PortStatus.CGNAT:
        return (
            Finding(
                Severity.PROBLEM,
                _("Jamulus: private mode cannot work behind carrier-grade NAT"),
                _(
                    "Nothing from outside reaches an unregistered server here, and no forward on your router can "
                    "change that. Public mode (registering with a directory) may still work if your ISP's NAT "
                    "keeps one port per server and lets idle mappings live longer than 59 s."
                ),
                (measure, *_cgnat_advice()),
                code="jamulus-port-behind-cgnat",
            ),
        )
    return (
        Finding(
            Severity.INFO,
            _("Jamulus: private mode needs a port forward; public mode may not"),
            _(
                "An unregistered server sends nothing until a client reaches it, so the NAT has no mapping and "
                "drops the first packet to UDP {port}, as it dropped this probe. A registered server sends first: "
                "its registration creates the mapping a directory lists, 59 s keep-alives refresh it, and the "
                "directory makes the server send a packet to each client, which opens the NAT for that client. "
                "That works without a forward unless the NAT is symmetric, is carrier-grade, or forgets idle "
                "mappings in under 59 s.",
                port=port,
            ),
            (measure, *verdict.advice[:1]),
            code="jamulus-port-needs-port-forward",
        ),
    )


def jamulus_check_findings(
    specs: Sequence[PortSpec], verdicts: Sequence[PortVerdict], nat_layers: NatLayers
) -> tuple[Finding, ...]:
    """What each checked Jamulus port (UDP 22124, or ``PORT:jamulus``) means for Jamulus' two modes.

    ``specs`` and ``verdicts`` pair up by position, as :func:`~natprobe.measure.check.check_ports`
    returns them.
    """
    return tuple(
        finding
        for spec, verdict in zip(specs, verdicts)
        if spec.protocol is TransportProtocol.UDP and (spec.service == "jamulus" or spec.port == JAMULUS_PORT)
        for finding in explain_jamulus_port(verdict, nat_layers)
    )


def explain_jamulus_browser(verdict: PortVerdict, mapping: MappingBehavior | None) -> tuple[Finding, ...]:
    """The web page's "Is my Jamulus server reachable?": private mode from the Jamulus ping of the
    port (:func:`explain_jamulus_port`), public mode from the mapping behaviour the browser
    measured with WebRTC (``None``: not measured). The page cannot register from the Jamulus
    port, so public mode is judged from the mapping alone: the cause ``explain jamulus`` finds
    behind a failed hole punch (:attr:`ModeStatus.SYMMETRIC_NAT`)."""
    findings = list(explain_jamulus_port(verdict, NatLayers.UNKNOWN))
    if verdict.family is IpFamily.IPV6:
        return tuple(findings)
    port = verdict.port
    if mapping is MappingBehavior.ENDPOINT_INDEPENDENT:
        findings.append(Finding(
            Severity.OK,
            _("Public mode should work without a port forward"),
            _("This NAT keeps one public port per local port whatever the destination (endpoint-independent "
              "mapping), so a registered server keeps the address a directory lists, and the directory's hole "
              "punch lets each client in. It also needs idle mappings to outlive the {keepalive:g} s "
              "keep-alive: 'natprobe explain jamulus --lifetime' measures that.", keepalive=JAMULUS_KEEPALIVE_S),
            code="jamulus-public-mapping-endpoint-independent",
        ))
    elif mapping in (MappingBehavior.ADDRESS_DEPENDENT, MappingBehavior.ADDRESS_AND_PORT_DEPENDENT):
        findings.append(Finding(
            Severity.PROBLEM,
            _("Public mode fails here"),
            _("This NAT gives every destination its own public port ({mapping} mapping), so the directory's "
              "hole punch leaves from another port than the one it lists, and clients reach nothing.",
              mapping=mapping.value),
            (
                _(_SYMMETRIC_ADVICE),
                _(
                    "On the router, forward UDP port {port} to {host}, port {port}, then share your address and port "
                    "so people connect directly (private mode): with this NAT even a forwarded server is listed "
                    "under a random port.",
                    port=port,
                    host=_lan_host(None),
                ),
            ),
            code=f"jamulus-public-{ModeStatus.SYMMETRIC_NAT.value}",
        ))
    else:
        findings.append(Finding(
            Severity.WARNING,
            _("Public mode was not measured"),
            _("The browser could not measure the NAT's mapping behaviour, on which public mode depends."),
            (_("Run 'natprobe explain jamulus --server URL' to measure public mode (registration, keep-alive "
               "and hole punch) on this network."),),
            code="jamulus-public-not-measured",
        ))
    return tuple(findings)
