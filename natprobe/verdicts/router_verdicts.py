"""What a router's own word adds to a verdict -- and what it never replaces.

Pure. A gateway's external address classifies the line in front of it (RFC 6598 shared space:
carrier-grade NAT; RFC 1918 and other non-public space: another NAT). A mapping the router
accepted is only a claim: reachability is decided by the echo server's probe alone (Start9
#3784 and miniupnp #360 are reports of mappings that "worked" and were unreachable), and the
router's evidence only explains a failure: the ISP's NAT in front, a refusal, or an existing
rule that forwards the port to another LAN host.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from natprobe.addressing import AddressScope, IPAddress, classify, is_globally_routable, unmap
from natprobe.i18n import _
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.verdicts.reachability import PortStatus, PortVerdict, _CGNAT_ADVICE

__all__ = (
    "MappingProtocol",
    "ExternalMeaning",
    "RouterMapping",
    "MappingOutcome",
    "external_meaning",
    "with_gateway_topology",
    "with_router_evidence",
)


class MappingProtocol(StrEnum):
    """The three ways to ask a router for a port mapping, in natprobe's order of preference."""

    PCP = "pcp"
    """RFC 6887."""
    NATPMP = "nat-pmp"
    """RFC 6886."""
    UPNP = "upnp"
    """UPnP IGD:1/IGD:2, WANIPConnection or WANPPPConnection."""

    @property
    def label(self) -> str:
        """The name as its specification writes it (UPnP, not UPNP)."""
        return {"pcp": "PCP", "nat-pmp": "NAT-PMP", "upnp": "UPnP"}[self.value]


class ExternalMeaning(StrEnum):
    """What the external address a router reports says about the line behind it."""

    PUBLIC = "public"
    CGNAT = "cgnat"
    """100.64.0.0/10 (RFC 6598): the provider's carrier-grade NAT is in front of the router."""
    ANOTHER_NAT = "another-nat"
    """Private or otherwise non-public: another router or modem NATs in front of it."""
    NONE = "none"
    """The router has no usable external address (empty, 0.0.0.0, or an error)."""
    UNKNOWN = "unknown"
    """No router said."""


@dataclass(frozen=True, slots=True)
class RouterMapping:
    """An entry of the router's mapping table (UPnP lists them)."""

    protocol: str
    external_port: int
    internal_client: str
    internal_port: int
    description: str
    lease_s: int
    points_here: bool
    """The mapping forwards to this host's LAN address."""


def mapping_dict(m: RouterMapping) -> dict[str, Any]:
    return {
        "protocol": m.protocol.lower(), "external_port": m.external_port, "internal_client": m.internal_client,
        "internal_port": m.internal_port, "description": m.description, "lease_s": m.lease_s,
        "points_here": m.points_here,
    }


@dataclass(frozen=True, slots=True)
class MappingOutcome:
    """What happened to one port natprobe asked the router to map (``check --map``)."""

    protocol: str
    """"udp" or "tcp"."""
    port: int
    via: MappingProtocol | None
    """The protocol that created it (None: none was created)."""
    created: bool
    external_port: int | None = None
    lease_s: int | None = None
    external_address: IPAddress | None = None
    refused: str | None = None
    """The router's refusal, in words, when it did not create the mapping."""
    conflict: RouterMapping | None = None
    """An existing mapping of this port that points at another host."""
    kept: bool = False
    removed: bool | None = None
    """True once deleted again; False if deleting failed; None while it exists or was kept."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol, "port": self.port, "via": None if self.via is None else self.via.value,
            "created": self.created, "external_port": self.external_port, "lease_s": self.lease_s,
            "external_address": None if self.external_address is None else str(self.external_address),
            "refused": self.refused, "conflict": None if self.conflict is None else mapping_dict(self.conflict),
            "kept": self.kept, "removed": self.removed,
        }


def external_meaning(address: IPAddress | None) -> ExternalMeaning:
    """Classify the external address a router reported."""
    if address is None:
        return ExternalMeaning.UNKNOWN
    scope = classify(unmap(address))
    if scope is AddressScope.SHARED:
        return ExternalMeaning.CGNAT
    if scope in (AddressScope.UNSPECIFIED, AddressScope.LOOPBACK, AddressScope.MULTICAST):
        return ExternalMeaning.NONE
    if is_globally_routable(scope):
        return ExternalMeaning.PUBLIC
    return ExternalMeaning.ANOTHER_NAT


def _via(outcome: MappingOutcome) -> str:
    return outcome.via.label if outcome.via is not None else "?"


def with_router_evidence(verdict: PortVerdict, outcome: MappingOutcome, *, cgnat_seen: bool = False) -> PortVerdict:
    """``verdict`` (from the probe made while the mapping existed) with the router's evidence.

    ``cgnat_seen``: the topology verdict already found carrier-grade NAT (a 100.64/10 hop,
    this host's own address) -- what explains a refusal from a router that saw it too.
    """
    proto = outcome.protocol.upper()
    if outcome.conflict is not None:
        rule = outcome.conflict
        facts = {"protocol": proto, "port": outcome.port, "client": rule.internal_client,
                 "client_port": rule.internal_port}
        if rule.description:
            reason = _("the router already has a mapping for {protocol} port {port} and it points at "
                       "{client}:{client_port}, not at this host (rule '{description}'); natprobe did not replace it",
                       description=rule.description, **facts)
        else:
            reason = _("the router already has a mapping for {protocol} port {port} and it points at "
                       "{client}:{client_port}, not at this host; natprobe did not replace it", **facts)
        return dataclasses.replace(
            verdict,
            reachable=False if verdict.reachable is not True else True,
            status=verdict.status if verdict.reachable else PortStatus.WRONG_HOST,
            reason=reason,
            advice=(
                _("On the router, change (or delete) the forward of {protocol} port {port} so it points at "
                  "this host, or stop the program on the other machine that asked for it.",
                  protocol=proto, port=outcome.port),
            ),
        )
    if not outcome.created:
        refused = outcome.refused or _("the router did not create the mapping")
        if cgnat_seen and verdict.reachable is not True:
            return dataclasses.replace(
                verdict,
                status=PortStatus.CGNAT,
                reachable=False,
                reason=_("{reason}; {refusal}, and this line is behind carrier-grade NAT: the router itself "
                         "has no public address to forward from", reason=verdict.reason.rstrip("."), refusal=refused),
                advice=tuple(_(advice) for advice in _CGNAT_ADVICE),
            )
        # The check's reason may end a sentence: "filters it.; no router answered" reads as a typo.
        return dataclasses.replace(verdict, reason=_("{reason}; {refusal}", reason=verdict.reason.rstrip("."),
                                                     refusal=refused))
    made = {"via": _via(outcome), "protocol": proto, "port": outcome.external_port, "lease": outcome.lease_s}
    if verdict.reachable:
        if outcome.lease_s:
            reason = _("{reason}, through the {via} mapping of {protocol} port {port} to this host "
                       "(a {lease} s lease) natprobe created", reason=verdict.reason, **made)
        else:
            reason = _("{reason}, through the {via} mapping of {protocol} port {port} to this host natprobe created",
                       reason=verdict.reason, **made)
        return dataclasses.replace(verdict, reason=reason)
    meaning = external_meaning(outcome.external_address)
    if outcome.lease_s:
        said = _("the router accepted the {via} mapping of {protocol} port {port} to this host (a {lease} s lease), "
                 "but the probe did not arrive", **made)
    else:
        said = _("the router accepted the {via} mapping of {protocol} port {port} to this host, "
                 "but the probe did not arrive", **made)
    if meaning is ExternalMeaning.CGNAT or (cgnat_seen and verdict.status is not PortStatus.HOST_FIREWALL):
        if meaning is ExternalMeaning.CGNAT:
            reason = _("{said}: the router's external address is {address}, in the carrier-grade NAT range, so "
                       "another NAT (the ISP's) is in front of it and drops the probe",
                       said=said, address=outcome.external_address)
        else:
            reason = _("{said}: this line is behind carrier-grade NAT, so another NAT (the ISP's) is in front of "
                       "the router and drops the probe", said=said)
        return dataclasses.replace(
            verdict, status=PortStatus.CGNAT, reachable=False, reason=reason,
            advice=tuple(_(advice) for advice in _CGNAT_ADVICE),
        )
    if meaning is ExternalMeaning.ANOTHER_NAT:
        return dataclasses.replace(
            verdict, reachable=False,
            reason=_("{said}: the router's external address is {address}, not public, so another "
                     "router or modem NATs in front of it", said=said, address=outcome.external_address),
            advice=(
                _("Forward the port on the upstream router or modem too (to this router's WAN address), or put "
                  "the modem in bridge mode."),
                *verdict.advice[:1],
            ),
        )
    return dataclasses.replace(verdict, reason=_("{said}; {reason}", said=said, reason=verdict.reason))


def with_gateway_topology(verdict: PortVerdict, before: NatLayers, after: NatLayers,
                          gateway_external: IPAddress | None) -> PortVerdict:
    """A "not forwarded" verdict, revisited once the router's external address joined the
    topology evidence (``before`` -> ``after``): CGNAT or double NAT now explain it."""
    if verdict.reachable is not False or verdict.status is not PortStatus.NOT_FORWARDED or after is before:
        return verdict
    if after is NatLayers.CGNAT:
        return dataclasses.replace(
            verdict, status=PortStatus.CGNAT,
            reason=_("{reason}; the router reports its external address as {address}, in the carrier-grade NAT "
                     "range: the ISP's NAT is in front of the router, so a forward on the router cannot make the "
                     "port reachable", reason=verdict.reason, address=gateway_external),
            advice=tuple(_(advice) for advice in _CGNAT_ADVICE),
        )
    if after is NatLayers.DOUBLE_NAT:
        return dataclasses.replace(
            verdict,
            reason=_("{reason} (the router reports its external address as {address}, which is not public: another "
                     "NAT is in front of the router, and every NAT layer needs the forward)",
                     reason=verdict.reason, address=gateway_external),
        )
    return verdict
