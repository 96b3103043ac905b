"""Plain-language findings for Jamulus: public vs private mode, and a ``check`` of UDP 22124 (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from natprobe.addressing import IPAddress
from natprobe.reports.finding import Finding, Severity
from natprobe.jamulus import JAMULUS_KEEPALIVE_S
from natprobe.jamulus.messages import DEFAULT_PORT as JAMULUS_PORT
from natprobe.reports.jamulus_report import JamulusModesReport
from natprobe.verdicts.jamulus_verdicts import ModeStatus, keepalive_outlives
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.contract.terms import TransportProtocol
from natprobe.verdicts.reachability import PortSpec, PortStatus, PortVerdict

__all__ = ("explain_jamulus", "explain_jamulus_port", "jamulus_check_findings")

def _clause(text: str) -> str:
    """``text`` without its final full stop, to embed it in a sentence."""
    return text.rstrip().rstrip(".")


def _sentence(text: str) -> str:
    """``text`` ending in exactly one full stop."""
    return _clause(text) + "."


# --- findings ----------------------------------------------------------------------------------


def _forward_advice(port: int, local_ip: IPAddress | None) -> str:
    host = str(local_ip) if local_ip is not None else "the Jamulus server's LAN address"
    return (
        f"On the router, forward UDP port {port} to {host}, port {port} (and give that host a fixed LAN "
        "address with a DHCP reservation)."
    )


_CGNAT_ADVICE = (
    "Ask your ISP for a public IPv4 address (often called 'disable CGNAT' or a static IP option): "
    "Jamulus directories and clients are IPv4.",
    "Or run the Jamulus server on a VPS or any host with a public address, and connect to it from home.",
)

_SYMMETRIC_ADVICE = (
    "If the router offers 'endpoint-independent', 'full-cone' or 'consistent' NAT, or an option to "
    "stop randomising source ports, turn it on: then public mode works without a forward.",
)


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
            "Public mode works without a port forward",
            f"{_sentence(verdict.reason)} A registered Jamulus server on UDP {port} here can be listed by a directory "
            "and reached by its clients.",
        )
    if verdict.works is None:
        return Finding(Severity.WARNING, "Public mode was not measured", _sentence(verdict.reason), _public_advice(report))
    return Finding(Severity.PROBLEM, "Public mode fails here", _sentence(verdict.reason), _public_advice(report))


def _public_advice(report: JamulusModesReport) -> tuple[str, ...]:
    status = report.public_mode.status
    forward = _forward_advice(report.port, report.local_ip)
    if report.nat_layers is NatLayers.CGNAT and status is not ModeStatus.WORKS:
        return _CGNAT_ADVICE
    if status is ModeStatus.SYMMETRIC_NAT:
        return (
            *_SYMMETRIC_ADVICE,
            forward + " Then share your address and port so people connect directly (private mode): "
            "with this NAT even a forwarded server is listed under a random port.",
        )
    if status is ModeStatus.MAPPING_TOO_SHORT:
        return (
            "Raise the router's UDP session timeout to 120 s or more (RFC 4787 asks for at least 120 s); "
            "Jamulus' 59 s keep-alive cannot be changed.",
            forward + " A forward does not expire.",
        )
    if status in (ModeStatus.NO_HOLE_PUNCH, ModeStatus.FILTERED):
        return (forward, "Check firewall rules on this host and the router that filter outbound UDP.")
    if status is ModeStatus.DIRECTORY_UNREACHABLE:
        return (
            "Check that the echo server runs its Jamulus directory (natprobe serve --http-port N "
            "--jamulus-port 22224) and that outbound UDP to it is allowed.",
        )
    if status is ModeStatus.NOT_MEASURED and report.port_in_use and report.measured_port is None:
        return (f"Stop the program on UDP {report.port} and run again, or pass --port with a free port.",)
    return ()


def _private_finding(report: JamulusModesReport) -> Finding:
    verdict = report.private_mode
    port = report.port
    if verdict.works:
        return Finding(
            Severity.OK,
            "Private mode works: the port is reachable without registering",
            f"{_sentence(verdict.reason)} Clients can connect straight to {report.public_ip}:{port}.",
        )
    if verdict.works is None:
        return Finding(Severity.WARNING, "Private mode was not measured", _sentence(verdict.reason))
    if verdict.status is ModeStatus.CGNAT:
        return Finding(
            Severity.PROBLEM,
            "Private mode is impossible behind carrier-grade NAT",
            _sentence(verdict.reason) + " A forward on your own router cannot help: the public address belongs to your ISP.",
            _CGNAT_ADVICE,
        )
    if verdict.status is ModeStatus.HOST_FIREWALL:
        return Finding(
            Severity.PROBLEM,
            "Private mode is blocked by this host's firewall",
            _sentence(verdict.reason),
            (f"Allow inbound UDP port {port} in this host's firewall (nftables/iptables, ufw, firewalld).",),
        )
    return Finding(
        Severity.PROBLEM,
        "Private mode needs a port forward",
        _sentence(verdict.reason),
        (_forward_advice(port, report.local_ip),),
    )


def _why_findings(report: JamulusModesReport) -> list[Finding]:
    findings: list[Finding] = []
    port = report.port
    punch = report.hole_punch
    if punch is not None:
        local = report.measured_port if report.measured_port is not None else port
        stranger = (
            "was answered too (a port forward or a full-cone NAT admits anyone)"
            if punch.unsolicited_answered
            else "was dropped"
        )
        if punch.punch_source is None:
            punched = "the empty message never reached the new client"
        elif punch.punch_source == punch.published:
            punched = (
                f"the empty message left through {punch.punch_source}, the listed address, so the NAT now "
                "admits that client"
            )
        else:
            punched = (
                f"the empty message left through {punch.punch_source}, not the listed {punch.published}"
            )
        answered = "was answered" if punch.punched_ping_answered else "was dropped"
        mapping = (
            f"reached the directory from {punch.published} (this host has a public address, so there is no "
            "NAT mapping to create; a firewall that admits replies works alike)"
            if report.nat_layers is NatLayers.NO_NAT
            else f"created the NAT mapping {punch.published}"
        )
        title = (
            "Why public mode needs no port forward"
            if report.public_mode.works
            else "How public mode gets through a NAT, and where it failed here"
        )
        findings.append(
            Finding(
                Severity.INFO,
                title,
                f"A registered server sends first. natprobe's test registration from local UDP port {local} "
                f"{mapping}: that is the address a directory lists. The server "
                f"and the directory each send a keep-alive every {JAMULUS_KEEPALIVE_S:g} s to keep it open. "
                f"A stranger's ping to {punch.published} before any punch {stranger}. When a client asks the "
                "directory for the list, the directory tells the server to send an empty message to that "
                f"client: {punched}; the client's ping to the listed address {answered}.",
            )
        )
    if report.private_mode.works is False:
        public = f"{report.public_ip}:{port}" if report.public_ip is not None else f"UDP {port}"
        findings.append(
            Finding(
                Severity.INFO,
                "Why private mode needs a port forward",
                "An unregistered (private) server sends nothing until a client has reached it, so the NAT "
                f"has no mapping for it and drops every client's first packet to {public}; natprobe's "
                "unsolicited probe, sent before anything had left the port, was dropped the same way. Only "
                "a port forward (or a public address) admits it.",
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
                "The NAT does not preserve the port",
                f"The registration from local port {report.measured_port} left as {punch.published}, so a "
                f"directory lists the server at port {punch.published.port}, not {report.measured_port}. "
                "Clients that pick it from the list are fine; people who type your address with port "
                f"{report.port} reach nothing unless that port is forwarded, and the listed port changes "
                "whenever the mapping is renewed.",
                (
                    "Let people find the server in the directory's list rather than by address and port, or "
                    + _forward_advice(report.port, report.local_ip)[0].lower()
                    + _forward_advice(report.port, report.local_ip)[1:],
                ),
            )
        )
    findings.append(_lifetime_finding(report))
    if report.nat_layers is NatLayers.CGNAT and report.public_mode.works:
        findings.append(
            Finding(
                Severity.WARNING,
                "Behind carrier-grade NAT",
                "Public mode works through your ISP's NAT today, but carrier NATs are shared and their "
                "behaviour (port allocation, timeouts) can change without notice; private mode is impossible.",
                _CGNAT_ADVICE[:1],
            )
        )
    for note in report.notes:
        findings.append(Finding(Severity.INFO, "Note", note))
    return findings


def _lifetime_finding(report: JamulusModesReport) -> Finding:
    lifetime = report.lifetime
    keepalive = f"{JAMULUS_KEEPALIVE_S:g} s"
    if lifetime is None:
        return Finding(
            Severity.INFO,
            "Keep-alive against mapping lifetime: not measured",
            f"Public mode also needs the NAT to keep an idle UDP mapping longer than Jamulus' {keepalive} "
            "keep-alive. Run again with --lifetime (it takes about the lifetime, up to --lifetime-max seconds).",
        )
    outlives = keepalive_outlives(lifetime)
    if outlives is True:
        return Finding(
            Severity.OK,
            f"Idle mappings outlive Jamulus' {keepalive} keep-alive",
            f"{_clause(lifetime.reason)}: the keep-alives keep a registered server's mapping open.",
        )
    if outlives is False:
        return Finding(
            Severity.PROBLEM,
            f"Idle mappings expire before Jamulus' {keepalive} keep-alive",
            f"{_sentence(lifetime.reason)} A registered server's mapping disappears between two keep-alives, so the "
            "directory's hole punches stop reaching it and public mode drops out for most of each minute.",
            (
                "Raise the router's UDP session timeout to 120 s or more, or forward the port.",
            ),
        )
    return Finding(
        Severity.WARNING,
        f"Mapping lifetime against the {keepalive} keep-alive: undecided",
        f"{_sentence(lifetime.reason)} That does not settle whether a mapping survives {keepalive} idle; run again "
        "with --lifetime-max 70 or more.",
    )


def explain_jamulus_port(verdict: PortVerdict, nat_layers: NatLayers) -> tuple[Finding, ...]:
    """What ``natprobe check --udp 22124`` means for Jamulus' two modes (no directory measurement)."""
    port = verdict.port
    measure = (
        "Run 'natprobe explain jamulus --server URL' to measure public mode (registration, keep-alive "
        "and hole punch) on this network."
    )
    if verdict.reachable:
        return (
            Finding(
                Severity.OK,
                "Jamulus: private mode will work",
                f"UDP {port} is reachable from outside, so clients can connect to this server by address "
                "without it registering with a directory; registered (public) servers are reachable too.",
            ),
        )
    if verdict.reachable is None:
        return (Finding(Severity.INFO, "Jamulus: modes not assessed", _sentence(verdict.reason), (measure,)),)
    if nat_layers is NatLayers.CGNAT or verdict.status is PortStatus.CGNAT:
        return (
            Finding(
                Severity.PROBLEM,
                "Jamulus: private mode cannot work behind carrier-grade NAT",
                "Nothing from outside reaches an unregistered server here, and no forward on your router can "
                "change that. Public mode (registering with a directory) may still work if your ISP's NAT "
                "keeps one port per server and lets idle mappings live longer than 59 s.",
                (measure, *_CGNAT_ADVICE),
            ),
        )
    return (
        Finding(
            Severity.INFO,
            "Jamulus: private mode needs a port forward; public mode may not",
            f"An unregistered server sends nothing until a client reaches it, so the NAT has no mapping and "
            f"drops the first packet to UDP {port}, as it dropped this probe. A registered server sends first: "
            "its registration creates the mapping a directory lists, 59 s keep-alives refresh it, and the "
            "directory makes the server send a packet to each client, which opens the NAT for that client. "
            "That works without a forward unless the NAT is symmetric, is carrier-grade, or forgets idle "
            "mappings in under 59 s.",
            (measure, *verdict.advice[:1]),
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
