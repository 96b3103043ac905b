"""How many NATs sit between this host and the Internet? A verdict from combined evidence.

Pure: takes addresses, returns a :class:`TopologyDecision` (the layers, the confidence and the
coded evidence; :mod:`natprobe.findings.topology_words` words it into a :class:`TopologyVerdict`). Each source of evidence alone is
misleading -- a private interface address says "at least one NAT", traceroute hops show ISP
links that use private addresses, and a gateway's self-reported external address has given
false "port forward works" passes behind double NAT (Start9Labs/start-technologies #3784) --
so the rules below combine them, and the verdict carries the evidence that justifies it.

Evidence and what it proves:

* local address == address the outside server observed: no NAT on the path.
* local address in 100.64.0.0/10 (RFC 6598): the host sits inside a carrier-grade NAT.
* a traced hop in 100.64.0.0/10 before the first public hop: CGNAT. (Any hop counts: a
  home router that answers from its WAN address shows its CGN-side address at TTL 1.)
* a hop *after the first* in RFC 1918 space before the first public hop: double NAT. The
  first hop is the user's own router, whose LAN side is naturally private.
* gateway-reported external address (NAT-PMP/PCP/UPnP) in 100.64/10: CGNAT; in RFC 1918
  or other non-public space: double NAT (miniupnpc's ``PRIVATEIP_IGD``). A public one equal
  to the observed address pins the NAT count at one (the outside observation corroborates
  it) and explains private/shared hops as provider links. On its own it is never taken as
  proof of reachability.
* private local address, public observed address, nothing else: one NAT at least -- a second
  one cannot be excluded without hop data.
* no observed address: unknown (unless the local side already shows CGNAT/double NAT).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from natprobe.addressing import AddressScope, IPAddress, classify, is_globally_routable, unmap
from natprobe.verdicts.why import Why

__all__ = ("NatLayers", "Confidence", "Said", "TopologyDecision", "TopologyVerdict", "decide_topology")


class NatLayers(StrEnum):
    """How many address translations lie between the host and the public Internet."""

    NO_NAT = "no-nat"
    """The host's own address is what the Internet sees."""
    ONE_NAT = "one-nat"
    """One NAT (typically the home router) that the user can configure."""
    CGNAT = "cgnat"
    """A carrier-grade NAT (RFC 6598 space): port forwarding at home cannot help."""
    DOUBLE_NAT = "double-nat"
    """Two NATs, e.g. a router behind an ISP modem/router that also translates."""
    UNKNOWN = "unknown"
    """Not enough evidence (typically: the outside server was not reached)."""


class Confidence(StrEnum):
    """How strongly the evidence supports the verdict."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class TopologyVerdict:
    """The verdict, the human-readable sentences behind it, and how sure it is."""

    layers: NatLayers
    evidence: tuple[str, ...]
    confidence: Confidence


_S = AddressScope
_PRIVATE_LIKE: Final = frozenset({_S.PRIVATE, _S.UNIQUE_LOCAL})
# A router whose "external" address is one of these is itself behind another NAT.
_GATEWAY_INSIDE: Final = frozenset({_S.PRIVATE, _S.UNIQUE_LOCAL, _S.RESERVED, _S.LINK_LOCAL})
# A source address toward the Internet can never be one of these; treat it as "not known".
_UNUSABLE_SOURCE: Final = frozenset({_S.LOOPBACK, _S.MULTICAST, _S.UNSPECIFIED})


class Said(StrEnum):
    """The evidence sentences of a topology verdict (worded by :mod:`natprobe.findings.topology_words`)."""

    LOCAL = "topology.local"
    LOCAL_UNUSABLE = "topology.local-unusable"
    NOT_OBSERVED = "topology.not-observed"
    OBSERVED = "topology.observed"
    SAME_PUBLIC = "topology.same-public"
    SAME_NOT_PUBLIC = "topology.same-not-public"
    OBSERVED_NOT_PUBLIC = "topology.observed-not-public"
    GATEWAY_CGNAT = "topology.gateway-cgnat"
    GATEWAY_INSIDE = "topology.gateway-inside"
    GATEWAY_STUN_CAVEAT = "topology.gateway-stun-caveat"
    GATEWAY_ONLY_NAT = "topology.gateway-only-nat"
    GATEWAY_DIFFERS = "topology.gateway-differs"
    GATEWAY_UNUSABLE = "topology.gateway-unusable"
    GATEWAY_SAID = "topology.gateway-said"
    LOCAL_SHARED = "topology.local-shared"
    HOP_SHARED = "topology.hop-shared"
    HOP_PRIVATE_LATER = "topology.hop-private-later"
    INSIDE_EXPLAINED = "topology.inside-explained"
    EXACTLY_ONE = "topology.exactly-one"
    VPN_NOTE = "topology.vpn-note"
    LOCAL_UNKNOWN = "topology.local-unknown"
    PUBLIC_YET_TRANSLATED = "topology.public-yet-translated"
    TRANSLATED = "topology.translated"
    FIRST_HOP_PUBLIC = "topology.first-hop-public"
    HOPS_ALL_ANSWERED = "topology.hops-all-answered"
    HOPS_INCOMPLETE = "topology.hops-incomplete"
    NO_HOPS = "topology.no-hops"


@dataclass(frozen=True, slots=True)
class TopologyDecision:
    """A :class:`TopologyVerdict` before it is worded: the evidence as codes and parameters."""

    layers: NatLayers
    evidence: tuple[Why, ...]
    confidence: Confidence


def _grade(signals: Sequence[tuple[Confidence, Why]], observed_routable: bool) -> Confidence:
    """The strongest signal's confidence, one step lower if no public address was observed
    (then nothing confirms that the path even reaches the Internet)."""
    order = (Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW)
    best = min((confidence for confidence, _ in signals), key=order.index)
    if observed_routable:
        return best
    return Confidence.MEDIUM if best is Confidence.HIGH else Confidence.LOW


@dataclass(frozen=True, slots=True)
class _HopFindings:
    shared: tuple[tuple[int, IPAddress], ...]
    """(ttl, address) of hops in 100.64/10 before the first public hop."""
    private_later: tuple[tuple[int, IPAddress], ...]
    """(ttl, address) of private hops after the first, before the first public hop."""
    first_public_ttl: int | None
    silent_before_public: bool
    """Some hop up to the first public one (or the end of the trace) did not answer."""


def _read_hops(hops: Sequence[IPAddress | None]) -> _HopFindings:
    shared: list[tuple[int, IPAddress]] = []
    private_later: list[tuple[int, IPAddress]] = []
    silent = False
    for ttl, raw in enumerate(hops, start=1):
        if raw is None:
            silent = True
            continue
        hop = unmap(raw)
        scope = classify(hop)
        if is_globally_routable(scope):
            return _HopFindings(tuple(shared), tuple(private_later), ttl, silent)
        if scope is _S.SHARED:
            shared.append((ttl, hop))
        elif scope in _PRIVATE_LIKE and ttl > 1:
            private_later.append((ttl, hop))
    return _HopFindings(tuple(shared), tuple(private_later), None, silent)


def decide_topology(
    local_address: IPAddress | None,
    observed_public: IPAddress | None,
    *,
    hops: Sequence[IPAddress | None] = (),
    gateway_external: IPAddress | None = None,
) -> TopologyDecision:
    """Combine the evidence into a :class:`TopologyDecision`.

    ``local_address``: the source address this host uses toward the server (netinfo).
    ``observed_public``: the address the outside echo/STUN server saw, or None if it was
    not reached. ``hops``: router addresses in TTL order starting at TTL 1 (``None`` for a
    hop that did not answer), e.g. ``tuple(h.address for h in trace_hops(...))``.
    ``gateway_external``: the external address the gateway reported over NAT-PMP, PCP or
    UPnP, if any. IPv4-mapped IPv6 addresses are treated as IPv4. Raises ``ValueError`` if
    ``local_address`` and ``observed_public`` are of different IP versions.
    """
    local = unmap(local_address) if local_address is not None else None
    observed = unmap(observed_public) if observed_public is not None else None
    gateway = unmap(gateway_external) if gateway_external is not None else None
    if local is not None and observed is not None and local.version != observed.version:
        raise ValueError(f"local address {local} and observed address {observed} are of different IP versions")
    evidence: list[Why] = []

    local_scope = classify(local) if local is not None else None
    if local is not None:
        evidence.append(Why.of(Said.LOCAL, address=local))
        if local_scope in _UNUSABLE_SOURCE:
            evidence.append(Why.of(Said.LOCAL_UNUSABLE))
            local, local_scope = None, None

    observed_routable = observed is not None and is_globally_routable(classify(observed))
    if observed is None:
        evidence.append(Why.of(Said.NOT_OBSERVED))
    else:
        evidence.append(Why.of(Said.OBSERVED, address=observed))

    # 1. The host holds the address the server saw: nothing translated it.
    if local is not None and local == observed:
        if observed_routable:
            evidence.append(Why.of(Said.SAME_PUBLIC))
            return TopologyDecision(NatLayers.NO_NAT, tuple(evidence), Confidence.HIGH)
        evidence.append(Why.of(Said.SAME_NOT_PUBLIC))
        return TopologyDecision(NatLayers.NO_NAT, tuple(evidence), Confidence.MEDIUM)

    if observed is not None and not observed_routable:
        evidence.append(Why.of(Said.OBSERVED_NOT_PUBLIC))

    # 2. Gather the nested-NAT signals: (layers, confidence, evidence).
    signals: list[tuple[NatLayers, Confidence, Why]] = []
    one_nat_pinned = False

    if gateway is not None:
        gateway_scope = classify(gateway)
        said = gateway
        if gateway_scope is _S.SHARED:
            signals.append(
                (
                    NatLayers.CGNAT,
                    Confidence.HIGH,
                    Why.of(Said.GATEWAY_CGNAT, address=said),
                )
            )
        elif gateway_scope in _GATEWAY_INSIDE:
            signals.append(
                (
                    NatLayers.DOUBLE_NAT,
                    Confidence.HIGH,
                    Why.of(Said.GATEWAY_INSIDE, address=said),
                )
            )
        elif is_globally_routable(gateway_scope) and observed_routable:
            if gateway == observed and local_scope is not _S.SHARED and _read_hops(hops).shared:
                # A router that learns its address by STUN (miniupnpd's ext_perform_stun)
                # reports the carrier's public address from behind a CGNAT: equal addresses
                # do not outweigh a shared-space hop beyond a LAN that is not itself shared.
                evidence.append(Why.of(Said.GATEWAY_STUN_CAVEAT, address=said))
            elif gateway == observed:
                # Corroborated by the outside observation, so it can be trusted -- unlike a
                # gateway's word on its own (Start9 #3784).
                one_nat_pinned = True
                evidence.append(Why.of(Said.GATEWAY_ONLY_NAT, address=said))
            else:
                signals.append(
                    (
                        NatLayers.DOUBLE_NAT,
                        Confidence.LOW,
                        Why.of(Said.GATEWAY_DIFFERS, address=said, observed=observed),
                    )
                )
        elif gateway_scope in _UNUSABLE_SOURCE:
            # e.g. 0.0.0.0 from a router that has no WAN address (yet).
            evidence.append(Why.of(Said.GATEWAY_UNUSABLE, address=said))
        else:
            evidence.append(Why.of(Said.GATEWAY_SAID, address=said))

    # Host- and path-side signals; a pinned single NAT explains them away below.
    inside: list[tuple[NatLayers, Confidence, Why]] = []
    if local_scope is _S.SHARED:
        inside.append(
            (
                NatLayers.CGNAT,
                Confidence.HIGH,
                Why.of(Said.LOCAL_SHARED),
            )
        )
    found = _read_hops(hops)
    hop_signals: list[tuple[int, tuple[NatLayers, Confidence, Why]]] = []
    for ttl, hop in found.shared:
        hop_signals.append((ttl, (NatLayers.CGNAT, Confidence.MEDIUM, Why.of(Said.HOP_SHARED, ttl=ttl, hop=hop))))
    if found.private_later:
        ttl, hop = found.private_later[0]
        hop_signals.append((ttl, (NatLayers.DOUBLE_NAT, Confidence.MEDIUM,
                                  Why.of(Said.HOP_PRIVATE_LATER, ttl=ttl, hop=hop))))
    inside.extend(signal for _, signal in sorted(hop_signals, key=lambda item: item[0]))

    if one_nat_pinned:
        if inside:
            evidence.extend(why for _, _, why in inside)
            evidence.append(Why.of(Said.INSIDE_EXPLAINED))
        evidence.append(Why.of(Said.EXACTLY_ONE))
        return TopologyDecision(NatLayers.ONE_NAT, tuple(evidence), Confidence.HIGH)
    signals.extend(inside)

    # 3. Verdict. CGNAT outranks double NAT (it is the one the user cannot fix at home, and
    # a private hop behind a CGNAT is then only a detail); double NAT outranks one NAT.
    for layers in (NatLayers.CGNAT, NatLayers.DOUBLE_NAT):
        chosen = [(c, why) for kind, c, why in signals if kind is layers]
        if chosen:
            evidence.extend(why for _, _, why in signals)
            if layers is NatLayers.CGNAT and (local_scope is _S.SHARED or found.shared):
                evidence.append(Why.of(Said.VPN_NOTE))
            return TopologyDecision(layers, tuple(evidence), _grade(chosen, observed_routable))

    if not observed_routable:
        return TopologyDecision(NatLayers.UNKNOWN, tuple(evidence), Confidence.LOW)
    if local is None:
        evidence.append(Why.of(Said.LOCAL_UNKNOWN))
        return TopologyDecision(NatLayers.UNKNOWN, tuple(evidence), Confidence.LOW)
    if local_scope is not None and is_globally_routable(local_scope):
        evidence.append(Why.of(Said.PUBLIC_YET_TRANSLATED))
        return TopologyDecision(NatLayers.ONE_NAT, tuple(evidence), Confidence.LOW)

    # A private (or otherwise non-public) local address and a public observed address.
    evidence.append(Why.of(Said.TRANSLATED))
    if found.first_public_ttl == 1:
        evidence.append(Why.of(Said.FIRST_HOP_PUBLIC))
        return TopologyDecision(NatLayers.ONE_NAT, tuple(evidence), Confidence.HIGH)
    if found.first_public_ttl is not None and not found.silent_before_public:
        evidence.append(Why.of(Said.HOPS_ALL_ANSWERED, ttl=found.first_public_ttl))
        return TopologyDecision(NatLayers.ONE_NAT, tuple(evidence), Confidence.HIGH)
    evidence.append(Why.of(Said.HOPS_INCOMPLETE if hops else Said.NO_HOPS))
    return TopologyDecision(NatLayers.ONE_NAT, tuple(evidence), Confidence.MEDIUM)
