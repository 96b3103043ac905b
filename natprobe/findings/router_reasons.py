"""The words of what a router's own evidence adds to a port's verdict.

:mod:`natprobe.verdicts.router_verdicts` decides how the evidence revises a verdict (a
:class:`~natprobe.verdicts.router_verdicts.PortRevision`: status, coded reason and advice);
this module says it, embedding the probe's own reason, and gives the revised verdict.
"""

from __future__ import annotations

import dataclasses

from natprobe.addressing import IPAddress
from natprobe.i18n import _
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.findings.port_words import cgnat_advice
from natprobe.verdicts.reachability import PortVerdict
from natprobe.verdicts.router_verdicts import MappingOutcome, PortRevision, Said, gateway_revision, router_revision
from natprobe.verdicts.why import AS_SAID, Why

__all__ = ("revised", "with_gateway_topology", "with_router_evidence")


def _reason(why: Why, reason: str) -> str:
    """``why`` in words; ``reason`` is the verdict's own reason, which most sentences embed."""
    p = why.get
    match why.code:
        case Said.CONFLICT:
            facts = {"protocol": p("protocol"), "port": p("port"), "client": p("client"), "client_port": p("client_port")}
            if p("description"):
                return _("the router already has a mapping for {protocol} port {port} and it points at "
                         "{client}:{client_port}, not at this host (rule '{description}'); natprobe did not replace it",
                         description=p("description"), **facts)
            return _("the router already has a mapping for {protocol} port {port} and it points at "
                     "{client}:{client_port}, not at this host; natprobe did not replace it", **facts)
        case Said.REFUSED_BEHIND_CGNAT:
            return _("{reason}; {refusal}, and this line is behind carrier-grade NAT: the router itself "
                     "has no public address to forward from", reason=reason.rstrip("."), refusal=_refusal(why))
        case Said.REFUSED:
            # The check's reason may end a sentence: "filters it.; no router answered" reads as a typo.
            return _("{reason}; {refusal}", reason=reason.rstrip("."), refusal=_refusal(why))
        case Said.THROUGH_MAPPING:
            if p("lease"):
                return _("{reason}, through the {via} mapping of {protocol} port {port} to this host "
                         "(a {lease} s lease) natprobe created", reason=reason, **_made(why))
            return _("{reason}, through the {via} mapping of {protocol} port {port} to this host natprobe created",
                     reason=reason, **_made(why))
        case Said.ACCEPTED_EXTERNAL_CGNAT:
            return _("{said}: the router's external address is {address}, in the carrier-grade NAT range, so "
                     "another NAT (the ISP's) is in front of it and drops the probe",
                     said=_accepted(why), address=p("address"))
        case Said.ACCEPTED_LINE_CGNAT:
            return _("{said}: this line is behind carrier-grade NAT, so another NAT (the ISP's) is in front of "
                     "the router and drops the probe", said=_accepted(why))
        case Said.ACCEPTED_ANOTHER_NAT:
            return _("{said}: the router's external address is {address}, not public, so another "
                     "router or modem NATs in front of it", said=_accepted(why), address=p("address"))
        case Said.ACCEPTED:
            return _("{said}; {reason}", said=_accepted(why), reason=reason)
        case Said.GATEWAY_CGNAT:
            return _("{reason}; the router reports its external address as {address}, in the carrier-grade NAT "
                     "range: the ISP's NAT is in front of the router, so a forward on the router cannot make the "
                     "port reachable", reason=reason, address=p("address"))
        case Said.GATEWAY_DOUBLE_NAT:
            return _("{reason} (the router reports its external address as {address}, which is not public: another "
                     "NAT is in front of the router, and every NAT layer needs the forward)",
                     reason=reason, address=p("address"))
    raise ValueError(f"no words for the router reason {why.code!r}")


def _refusal(why: Why) -> str:
    refused: str | None = why.get("refusal")
    return refused or _("the router did not create the mapping")


def _made(why: Why) -> dict[str, object]:
    return {key: why.get(key) for key in ("via", "protocol", "port", "lease")}


def _accepted(why: Why) -> str:
    if why.get("lease"):
        return _("the router accepted the {via} mapping of {protocol} port {port} to this host (a {lease} s lease), "
                 "but the probe did not arrive", **_made(why))
    return _("the router accepted the {via} mapping of {protocol} port {port} to this host, "
             "but the probe did not arrive", **_made(why))


def _advice(why: Why) -> tuple[str, ...]:
    match why.code:
        case Said.CONFLICT_ADVICE:
            return (_("On the router, change (or delete) the forward of {protocol} port {port} so it points at "
                      "this host, or stop the program on the other machine that asked for it.",
                      protocol=why.get("protocol"), port=why.get("port")),)
        case Said.CGNAT_ADVICE:
            return cgnat_advice()
        case Said.UPSTREAM_ADVICE:
            return (_("Forward the port on the upstream router or modem too (to this router's WAN address), or put "
                      "the modem in bridge mode."),)
        case code if code == AS_SAID:
            return (str(why.get("text")),)
    raise ValueError(f"no words for the router advice {why.code!r}")


def revised(verdict: PortVerdict, revision: PortRevision | None) -> PortVerdict:
    """``verdict`` as ``revision`` revises it, in words (``None``: unchanged)."""
    if revision is None:
        return verdict
    return dataclasses.replace(
        verdict,
        status=revision.status,
        reachable=revision.reachable,
        reason=verdict.reason if revision.why is None else _reason(revision.why, verdict.reason),
        advice=verdict.advice if revision.advice is None else tuple(a for why in revision.advice for a in _advice(why)),
    )


def with_router_evidence(verdict: PortVerdict, outcome: MappingOutcome, *, cgnat_seen: bool = False) -> PortVerdict:
    """``verdict`` (from the probe made while the mapping existed) with the router's evidence, in words."""
    return revised(verdict, router_revision(verdict, outcome, cgnat_seen=cgnat_seen))


def with_gateway_topology(verdict: PortVerdict, before: NatLayers, after: NatLayers,
                          gateway_external: IPAddress | None) -> PortVerdict:
    """A "not forwarded" verdict, revisited once the router's external address joined the topology evidence."""
    return revised(verdict, gateway_revision(verdict, before, after, gateway_external))
