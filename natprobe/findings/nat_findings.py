"""Plain-language findings and advice from reports (pure: reports in, sentences out).

Each finding says what was measured, what it means for someone running a service or a
peer-to-peer application, and what to do. The CLI renders these; library users get the same
records.
"""

from __future__ import annotations

from natprobe.i18n import N_, _
from natprobe.reports.finding import Finding, Severity
from natprobe.jamulus import JAMULUS_KEEPALIVE_S
from natprobe.reports.lifetime_report import LifetimeReport
from natprobe.reports.nat_report import NatReport
from natprobe.verdicts.behavior import ClassicNatType, FilteringBehavior, MappingBehavior

_TYPE_MEANING: dict[ClassicNatType, tuple[Severity, str, tuple[str, ...]]] = {
    ClassicNatType.OPEN_INTERNET: (
        Severity.OK,
        N_("This host has a public address and nothing filters inbound UDP: any service it runs is "
        "reachable directly, so protect what you expose (firewall, strong passwords, updates)."),
        (),
    ),
    ClassicNatType.FULL_CONE: (
        Severity.OK,
        N_("Once this host has sent a packet from a port, anyone on the Internet can reach that port: "
        "peer-to-peer works easily. Servers still need a port forward (or UPnP) to be reachable "
        "before they send anything."),
        (),
    ),
    ClassicNatType.RESTRICTED_CONE: (
        Severity.INFO,
        N_("The NAT keeps one public port per local port, and only lets in hosts this one has sent "
        "to. Hole punching works; a server that must accept strangers needs a port forward."),
        (N_("For a server: forward its port on the router to this host's LAN address."),),
    ),
    ClassicNatType.PORT_RESTRICTED_CONE: (
        Severity.INFO,
        N_("The NAT keeps one public port per local port, and only lets in the exact address and "
        "port this host sent to. Hole punching works when both sides send; a server that must "
        "accept strangers needs a port forward."),
        (N_("For a server: forward its port on the router to this host's LAN address."),),
    ),
    ClassicNatType.SYMMETRIC: (
        Severity.WARNING,
        N_("The NAT gives every destination a different public port, so the port a directory or "
        "peer learns is not the one others can use: hole punching usually fails and peer-to-peer "
        "traffic needs a relay (TURN)."),
        (
            N_("For a server: a port forward still works, since it does not depend on mappings."),
            N_("If the router has an option such as 'full-cone' or 'endpoint-independent' NAT, or "
            "'disable port randomization', enable it."),
        ),
    ),
    ClassicNatType.UDP_BLOCKED: (
        Severity.PROBLEM,
        N_("UDP does not get out of this network at all (the server answered over TCP only). "
        "UDP services, VoIP, games, Jamulus and most VPNs cannot work from here."),
        (N_("Check the firewall of this host and of the network for outbound UDP rules."),),
    ),
    ClassicNatType.SYMMETRIC_UDP_FIREWALL: (
        Severity.INFO,
        N_("This host has a public address, but a firewall only lets in replies to what it sent. "
        "Services need an inbound firewall rule for their port."),
        (N_("Open the service's port in the host or network firewall."),),
    ),
    ClassicNatType.INCONCLUSIVE: (
        Severity.WARNING,
        N_("The tests did not decide the NAT type; see the reasons above."),
        (N_("Run again; if it persists, check that the server supports RFC 5780 (two IP addresses)."),),
    ),
}


def explain_nat(report: NatReport) -> tuple[Finding, ...]:
    """Findings for a NAT behaviour report, most important first."""
    findings: list[Finding] = []
    nat_type = report.nat_type.value
    severity, meaning, advice = _TYPE_MEANING[nat_type]
    findings.append(
        Finding(
            severity,
            _("NAT type: {nat_type}", nat_type=nat_type.value),
            _(meaning),
            tuple(_(a) for a in advice),
            code=f"nat-type-{nat_type.value}",
        )
    )
    if report.mapping.value is MappingBehavior.INCONCLUSIVE or report.filtering.value is FilteringBehavior.INCONCLUSIVE:
        reasons = [v.reason for v in (report.mapping, report.filtering) if v.value.value == "inconclusive"]
        findings.append(
            Finding(Severity.WARNING, _("Some tests were inconclusive"), "; ".join(reasons), code="nat-tests-inconclusive")
        )
    if report.hairpinning.value is False:
        findings.append(
            Finding(
                Severity.WARNING,
                _("No hairpinning (NAT loopback)"),
                _(
                    "Packets from this network to its own public address do not come back in: devices on "
                    "your LAN cannot reach your server by its public name or address."
                ),
                (
                    _(
                        "Use the server's LAN address from inside the LAN, or set up split DNS so the "
                        "public name resolves to the LAN address locally."
                    ),
                ),
                code="nat-no-hairpinning",
            )
        )
    if report.port_preservation is False and report.mapping.value is MappingBehavior.ENDPOINT_INDEPENDENT:
        findings.append(
            Finding(
                Severity.INFO,
                _("Ports are not preserved"),
                _(
                    "The NAT translates the local port to a different public port. Software that "
                    "advertises its own local port (a Jamulus server registering as 22124) will "
                    "be listed under the translated port instead."
                ),
                code="nat-port-not-preserved",
            )
        )
    if report.lifetime is not None:
        findings.append(explain_lifetime(report.lifetime))
    return tuple(findings)


def explain_lifetime(lifetime: LifetimeReport) -> Finding:
    """Whether idle UDP mappings live long enough (RFC 4787 REQ-5: at least 120 s)."""
    if lifetime.at_most_s is None:
        if lifetime.at_least_s is None:
            return Finding(Severity.WARNING, _("Mapping lifetime unknown"), lifetime.reason, code="lifetime-unknown")
        return Finding(
            Severity.OK,
            _("Idle UDP mappings survive at least {seconds:g} s", seconds=lifetime.at_least_s),
            lifetime.reason,
            code="lifetime-at-least",
        )
    short = lifetime.at_most_s < JAMULUS_KEEPALIVE_S
    detail = (
        _(
            "{reason}. That is shorter than the {keepalive:g} s keep-alive of Jamulus (and shorter than "
            "the 120 s RFC 4787 requires), so a registered server's mapping can expire between keep-alives.",
            reason=lifetime.reason,
            keepalive=JAMULUS_KEEPALIVE_S,
        )
        if short
        else lifetime.reason
    )
    return Finding(
        Severity.WARNING if short or lifetime.at_most_s < 120 else Severity.OK,
        _(
            "Idle UDP mappings expire after {at_least:g}–{at_most:g} s",
            at_least=lifetime.at_least_s or 0,
            at_most=lifetime.at_most_s,
        ),
        detail,
        (_("Applications must send keep-alives more often than that, or use a port forward."),) if short else (),
        code="lifetime-shorter-than-keepalive" if short else "lifetime-bracketed",
    )
