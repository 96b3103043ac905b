"""What a router's own word adds to a verdict -- and what it never replaces.

Pure. A gateway's external address classifies the line in front of it (RFC 6598 shared space:
carrier-grade NAT; RFC 1918 and other non-public space: another NAT). A mapping the router
accepted is only a claim: reachability is decided by the echo server's probe alone (Start9
#3784 and miniupnp #360 are reports of mappings that "worked" and were unreachable), and the
router's evidence only explains a failure: the ISP's NAT in front, a refusal, or an existing
rule that forwards the port to another LAN host.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from natprobe.addressing import AddressScope, IPAddress, classify, is_globally_routable, unmap
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.verdicts.reachability import PortStatus, PortVerdict
from natprobe.verdicts.why import Why

__all__ = (
    "MappingProtocol",
    "ExternalMeaning",
    "RouterMapping",
    "KeptMapping",
    "MappingOutcome",
    "PortRevision",
    "Said",
    "external_meaning",
    "gateway_revision",
    "router_revision",
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


@dataclass(frozen=True, slots=True)
class KeptMapping:
    """A mapping ``check --map --keep`` left on a router, as natprobe records it, so that a later
    ``natprobe router --unmap PORT`` can take it back before its lease ends: a PCP mapping can
    be deleted only with the nonce that made it (RFC 6887 sections 11.1 and 15)."""

    protocol: str
    """``udp`` or ``tcp``."""
    internal_port: int
    external_port: int
    gateway: IPAddress
    via: MappingProtocol
    """The protocol that created it."""
    expires_at: float
    """When its lease ends (seconds since the epoch): the record is dropped then."""
    nonce: bytes = b""
    """PCP's mapping nonce (12 bytes); empty for NAT-PMP and UPnP, which need none to delete."""

    def to_dict(self) -> dict[str, Any]:
        """The record as a report shows it: without the nonce, which is what deletes the mapping."""
        return {
            "protocol": self.protocol, "internal_port": self.internal_port, "external_port": self.external_port,
            "gateway": str(self.gateway), "via": self.via.value,
            "expires_at": datetime.fromtimestamp(self.expires_at, timezone.utc).isoformat(timespec="seconds"),
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


class Said(StrEnum):
    """The reasons and advice the router's evidence gives (worded by :mod:`natprobe.findings.router_findings`)."""

    CONFLICT = "router.conflict"
    CONFLICT_ADVICE = "router.conflict.advice"
    REFUSED_BEHIND_CGNAT = "router.refused.cgnat"
    REFUSED = "router.refused"
    THROUGH_MAPPING = "router.through-mapping"
    ACCEPTED_EXTERNAL_CGNAT = "router.accepted.external-cgnat"
    ACCEPTED_LINE_CGNAT = "router.accepted.line-cgnat"
    ACCEPTED_ANOTHER_NAT = "router.accepted.another-nat"
    ACCEPTED = "router.accepted"
    UPSTREAM_ADVICE = "router.upstream.advice"
    CGNAT_ADVICE = "cgnat.advice"
    GATEWAY_CGNAT = "router.gateway.cgnat"
    GATEWAY_DOUBLE_NAT = "router.gateway.double-nat"


@dataclass(frozen=True, slots=True)
class PortRevision:
    """How the router's evidence revises a port's verdict: the new status, and the reason and
    advice to say instead (``None``: the verdict's own stands). A reason's words embed the
    verdict's own reason; an advice :data:`AS_SAID` keeps one of the verdict's own."""

    status: PortStatus
    reachable: bool | None
    why: Why | None = None
    advice: tuple[Why, ...] | None = None


def _mapping_facts(outcome: MappingOutcome) -> dict[str, Any]:
    return {"via": _via(outcome), "protocol": outcome.protocol.upper(), "port": outcome.external_port,
            "lease": outcome.lease_s}


def router_revision(verdict: PortVerdict, outcome: MappingOutcome, *, cgnat_seen: bool = False) -> PortRevision:
    """How the router's evidence revises ``verdict`` (from the probe made while the mapping existed).

    ``cgnat_seen``: the topology verdict already found carrier-grade NAT (a 100.64/10 hop,
    this host's own address) -- what explains a refusal from a router that saw it too.
    """
    proto = outcome.protocol.upper()
    if outcome.conflict is not None:
        rule = outcome.conflict
        return PortRevision(
            verdict.status if verdict.reachable else PortStatus.WRONG_HOST,
            False if verdict.reachable is not True else True,
            Why.of(Said.CONFLICT, protocol=proto, port=outcome.port, client=rule.internal_client,
                   client_port=rule.internal_port, description=rule.description),
            (Why.of(Said.CONFLICT_ADVICE, protocol=proto, port=outcome.port),),
        )
    if not outcome.created:
        if cgnat_seen and verdict.reachable is not True:
            return PortRevision(PortStatus.CGNAT, False, Why.of(Said.REFUSED_BEHIND_CGNAT, refusal=outcome.refused),
                                (Why.of(Said.CGNAT_ADVICE),))
        return PortRevision(verdict.status, verdict.reachable, Why.of(Said.REFUSED, refusal=outcome.refused))
    made = _mapping_facts(outcome)
    if verdict.reachable:
        return PortRevision(verdict.status, verdict.reachable, Why.of(Said.THROUGH_MAPPING, **made))
    meaning = external_meaning(outcome.external_address)
    if meaning is ExternalMeaning.CGNAT or (cgnat_seen and verdict.status is not PortStatus.HOST_FIREWALL):
        said = Said.ACCEPTED_EXTERNAL_CGNAT if meaning is ExternalMeaning.CGNAT else Said.ACCEPTED_LINE_CGNAT
        return PortRevision(PortStatus.CGNAT, False, Why.of(said, address=outcome.external_address, **made),
                            (Why.of(Said.CGNAT_ADVICE),))
    if meaning is ExternalMeaning.ANOTHER_NAT:
        return PortRevision(
            verdict.status, False, Why.of(Said.ACCEPTED_ANOTHER_NAT, address=outcome.external_address, **made),
            (Why.of(Said.UPSTREAM_ADVICE), *(Why.as_said(advice) for advice in verdict.advice[:1])),
        )
    return PortRevision(verdict.status, verdict.reachable, Why.of(Said.ACCEPTED, **made))


def gateway_revision(verdict: PortVerdict, before: NatLayers, after: NatLayers,
                     gateway_external: IPAddress | None) -> PortRevision | None:
    """A "not forwarded" verdict, revisited once the router's external address joined the
    topology evidence (``before`` -> ``after``): CGNAT or double NAT now explain it (``None``:
    nothing to revise)."""
    if verdict.reachable is not False or verdict.status is not PortStatus.NOT_FORWARDED or after is before:
        return None
    if after is NatLayers.CGNAT:
        return PortRevision(PortStatus.CGNAT, verdict.reachable, Why.of(Said.GATEWAY_CGNAT, address=gateway_external),
                            (Why.of(Said.CGNAT_ADVICE),))
    if after is NatLayers.DOUBLE_NAT:
        return PortRevision(verdict.status, verdict.reachable, Why.of(Said.GATEWAY_DOUBLE_NAT, address=gateway_external))
    return None
