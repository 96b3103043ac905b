"""What the router said, in plain language: ``natprobe router`` and ``check --map``."""

from __future__ import annotations

from natprobe.i18n import _, ngettext
from natprobe.observations import Facility
from natprobe.reports.finding import Finding, Severity
from natprobe.reports.router_report import RouterReport
from natprobe.findings.port_words import cgnat_advice
from natprobe.verdicts.router_verdicts import ExternalMeaning, MappingOutcome

__all__ = ("explain_router", "describe_mapping", "router_silent")

def router_silent(waited_s: float) -> Finding:
    """The router was asked beside the probes and had not answered when they were done."""
    return Finding(
        Severity.INFO, _("The router did not answer within {ms} ms", ms=round(waited_s * 1000)),
        _("natprobe asked the router for its external address (PCP, NAT-PMP, UPnP) while the probes ran and did "
          "not wait for it after them: a router that speaks these protocols answers within a LAN round trip. Many "
          "home routers have them switched off; the verdicts above rest on the probes alone."),
        code="router-silent")


def explain_router(report: RouterReport) -> tuple[Finding, ...]:
    """The findings of a :class:`RouterReport`, most important first."""
    if report.gateway is None and any(limit.facility is Facility.INTERFACES for limit in report.limits):
        # Not read is not absent: the limit says why, the advice how to ask a router all the same.
        return (Finding(Severity.INFO, _("The default gateway is not known"),
                        _("natprobe could not read this host's interfaces, so it does not know which router to ask."),
                        (_("Name the router: natprobe router --gateway IP"),), code="router-gateway-unknown"),)
    if report.gateway is None:
        return (Finding(Severity.PROBLEM, _("No default gateway"),
                        _("This host has no IPv4 default route, so there is no router to ask."), code="router-no-gateway"),)
    findings: list[Finding] = []
    gateway = report.gateway
    if not report.any_answered:
        findings.append(Finding(
            Severity.PROBLEM, _("The router {gateway} answers none of UPnP, NAT-PMP and PCP", gateway=gateway),
            _("Either it does not offer automatic port mapping or the feature is switched off."),
            (_("Enable UPnP IGD or NAT-PMP/PCP in the router's settings, or forward the port by hand."),),
            code="router-no-port-mapping"))
        return tuple(findings)
    names = ", ".join(a.protocol.label for a in report.answers if a.answered and a.result is None)
    if names:
        findings.append(Finding(Severity.OK, _("The router {gateway} offers port mapping: {protocols}",
                                               gateway=gateway, protocols=names),
                                _("natprobe check --map can open a port through it for a test."),
                                code="router-offers-port-mapping"))
    if report.address_mismatch:
        findings.append(Finding(
            Severity.PROBLEM, _("PCP says ADDRESS_MISMATCH: another NAT sits between this host and the gateway"),
            _("The gateway saw another source address than this host's. Mappings it creates point at that NAT, "
              "not at this host."),
            (_("Connect this host to the router directly, or forward the port on the device in between."),),
            code="router-address-mismatch"))
    external = report.external_address
    if report.meaning is ExternalMeaning.CGNAT:
        findings.append(Finding(
            Severity.PROBLEM,
            _("The router's external address {address} is carrier-grade NAT space (100.64.0.0/10)", address=external),
            _("Your ISP's NAT is in front of the router: a port it maps, by hand or automatically, cannot be "
              "reached from the Internet."),
            cgnat_advice(), code="router-external-cgnat"))
    elif report.meaning is ExternalMeaning.ANOTHER_NAT:
        findings.append(Finding(
            Severity.PROBLEM, _("The router's external address {address} is not public", address=external),
            _("Another router or modem NATs in front of it (double NAT): a mapping on this router alone is not "
              "reachable from the Internet."),
            (_("Forward the port on the upstream device too, or put the modem in bridge mode."),),
            code="router-external-behind-another-nat"))
    elif report.meaning is ExternalMeaning.PUBLIC:
        findings.append(Finding(
            Severity.INFO, _("The router reports the external address {address}", address=external),
            _("On its own that proves nothing: natprobe check --map proves a mapping from outside."),
            code="router-external-public"))
    elif report.meaning is ExternalMeaning.NONE:
        findings.append(Finding(Severity.WARNING, _("The router reports no usable external address"),
                                _("It has no WAN address of its own yet, or it refuses to say (often behind "
                                  "another NAT)."), code="router-external-none"))
    for answer in report.answers:
        if answer.answered and answer.result and answer.result != "ADDRESS_MISMATCH":
            # The result is the protocol's own code (or the router's words): shown as it came.
            findings.append(Finding(Severity.INFO, _("{protocol}: {result}", protocol=answer.protocol.label,
                                                     result=answer.result), answer.detail,
                                    code="router-protocol-result"))
    elsewhere = [m for m in report.mappings if not m.points_here]
    if elsewhere:
        rules = "; ".join(
            f"{m.protocol} {m.external_port} -> {m.internal_client}:{m.internal_port}"
            + (f" ({m.description})" if m.description else "") for m in elsewhere)
        findings.append(Finding(
            Severity.INFO,
            ngettext("{count} mapping points at another LAN host", "{count} mappings point at other LAN hosts",
                     len(elsewhere)),
            rules, code="router-mappings-elsewhere"))
    return tuple(findings)


def describe_mapping(outcome: MappingOutcome) -> str:
    """One line about a mapping ``check --map`` asked for."""
    proto = outcome.protocol.upper()
    if outcome.conflict is not None:
        c = outcome.conflict
        if c.description:
            return _("{protocol} {port}: not mapped: the router already forwards it to {client}:{client_port} "
                     "('{description}')", protocol=proto, port=outcome.port, client=c.internal_client,
                     client_port=c.internal_port, description=c.description)
        return _("{protocol} {port}: not mapped: the router already forwards it to {client}:{client_port}",
                 protocol=proto, port=outcome.port, client=c.internal_client, client_port=c.internal_port)
    if not outcome.created:
        return _("{protocol} {port}: not mapped: {refusal}", protocol=proto, port=outcome.port, refusal=outcome.refused)
    facts = {"protocol": proto, "port": outcome.port, "via": outcome.via.label if outcome.via is not None else "?",
             "external_port": outcome.external_port, "lease": outcome.lease_s}
    if outcome.kept:
        return _("{protocol} {port}: mapped with {via} (external port {external_port}, lease {lease} s); kept as "
                 "asked: it expires after {lease} s unless an application renews it (natprobe does not renew it; "
                 "run the check with --map --keep again, or forward the port by hand)", **facts)
    if outcome.removed:
        return _("{protocol} {port}: mapped with {via} (external port {external_port}, lease {lease} s); "
                 "removed again", **facts)
    return _("{protocol} {port}: mapped with {via} (external port {external_port}, lease {lease} s); "
             "REMOVING IT FAILED: it expires by itself after {lease} s", **facts)
