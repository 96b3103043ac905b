"""How many NATs sit between this host and the Internet? A verdict from combined evidence.

Pure: takes addresses, returns a :class:`TopologyVerdict`. Each source of evidence alone is
misleading -- a private interface address says "at least one NAT", traceroute hops show ISP
links that use private addresses, and a gateway's self-reported external address has given
false "port forward works" passes behind double NAT (Start9Labs/start-technologies #3784) --
so the rules below combine them, and the verdict carries the sentences that justify it.

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
from natprobe.i18n import N_, _
from natprobe.verdicts.scope_words import describe_address

__all__ = ("NatLayers", "Confidence", "TopologyVerdict", "assess_topology")


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


_VPN_NOTE: Final = N_(
    "100.64.0.0/10 is also used by some VPNs (Tailscale, for one); if such a VPN carries "
    "this traffic, it is the translating layer."
)


def _grade(signals: Sequence[tuple[Confidence, str]], observed_routable: bool) -> Confidence:
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


def assess_topology(
    local_address: IPAddress | None,
    observed_public: IPAddress | None,
    *,
    hops: Sequence[IPAddress | None] = (),
    gateway_external: IPAddress | None = None,
) -> TopologyVerdict:
    """Combine the evidence into a :class:`TopologyVerdict`.

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
        raise ValueError(
            _("local address {local} and observed address {observed} are of different IP versions",
              local=local, observed=observed)
        )
    evidence: list[str] = []

    local_scope = classify(local) if local is not None else None
    if local is not None:
        evidence.append(_("This host's address toward the server is {address}.", address=describe_address(local)))
        if local_scope in _UNUSABLE_SOURCE:
            evidence.append(_("That is not an address packets to the Internet can come from."))
            local, local_scope = None, None

    observed_routable = observed is not None and is_globally_routable(classify(observed))
    if observed is None:
        evidence.append(_("The outside server was not reached, so no public address was observed."))
    else:
        evidence.append(_("The outside server saw this host as {address}.", address=describe_address(observed)))

    # 1. The host holds the address the server saw: nothing translated it.
    if local is not None and local == observed:
        if observed_routable:
            evidence.append(_("They are the same address: no NAT between this host and the Internet."))
            return TopologyVerdict(NatLayers.NO_NAT, tuple(evidence), Confidence.HIGH)
        evidence.append(
            _("They are the same address, so nothing translates between this host and the "
              "server -- but that address is not public, so the server is not on the Internet.")
        )
        return TopologyVerdict(NatLayers.NO_NAT, tuple(evidence), Confidence.MEDIUM)

    if observed is not None and not observed_routable:
        evidence.append(
            _("That address is not public, so the server is not on the Internet and cannot "
              "tell how this host reaches the Internet.")
        )

    # 2. Gather the nested-NAT signals: (layers, confidence, sentence).
    signals: list[tuple[NatLayers, Confidence, str]] = []
    one_nat_pinned = False

    if gateway is not None:
        gateway_scope = classify(gateway)
        said = describe_address(gateway)
        if gateway_scope is _S.SHARED:
            signals.append(
                (
                    NatLayers.CGNAT,
                    Confidence.HIGH,
                    _("The router reports its external address as {address}: its WAN side is inside the "
                      "provider's carrier-grade NAT. A port mapping on it will not be reachable from the Internet.",
                      address=said),
                )
            )
        elif gateway_scope in _GATEWAY_INSIDE:
            signals.append(
                (
                    NatLayers.DOUBLE_NAT,
                    Confidence.HIGH,
                    _("The router reports its external address as {address}: another NAT (a second router, "
                      "or the provider's NAT using private addresses) sits in front of it. A port mapping on it "
                      "will not be reachable from the Internet.", address=said),
                )
            )
        elif is_globally_routable(gateway_scope) and observed_routable:
            if gateway == observed and local_scope is not _S.SHARED and _read_hops(hops).shared:
                # A router that learns its address by STUN (miniupnpd's ext_perform_stun)
                # reports the carrier's public address from behind a CGNAT: equal addresses
                # do not outweigh a shared-space hop beyond a LAN that is not itself shared.
                evidence.append(
                    _("The router reports its external address as {address}, the same address the server "
                      "saw -- but a router behind a carrier-grade NAT that learns its address by STUN reports "
                      "exactly that, so it does not rule out the carrier-grade NAT the hops show.", address=said)
                )
            elif gateway == observed:
                # Corroborated by the outside observation, so it can be trusted -- unlike a
                # gateway's word on its own (Start9 #3784).
                one_nat_pinned = True
                evidence.append(
                    _("The router reports its external address as {address}, the same address the server "
                      "saw: that router is the only NAT.", address=said)
                )
            else:
                signals.append(
                    (
                        NatLayers.DOUBLE_NAT,
                        Confidence.LOW,
                        _("The router reports its external address as {address}, but the server saw "
                          "{observed}: something beyond the router translated the address again (or the "
                          "provider spreads traffic over several addresses).", address=said, observed=observed),
                    )
                )
        elif gateway_scope in _UNUSABLE_SOURCE:
            # e.g. 0.0.0.0 from a router that has no WAN address (yet).
            evidence.append(
                _("The router reports its external address as {address}, which means it has no usable "
                  "external address yet.", address=said)
            )
        else:
            evidence.append(_("The router reports its external address as {address}.", address=said))

    # Host- and path-side signals; a pinned single NAT explains them away below.
    inside: list[tuple[NatLayers, Confidence, str]] = []
    if local_scope is _S.SHARED:
        inside.append(
            (
                NatLayers.CGNAT,
                Confidence.HIGH,
                _("This host's own address is in the carrier-grade NAT range 100.64.0.0/10."),
            )
        )
    found = _read_hops(hops)
    hop_signals: list[tuple[int, tuple[NatLayers, Confidence, str]]] = []
    for ttl, hop in found.shared:
        text = _(
            "Hop {ttl} on the way out is {hop}, in the carrier-grade NAT range "
            "100.64.0.0/10, before any public hop.",
            ttl=ttl,
            hop=hop,
        )
        hop_signals.append((ttl, (NatLayers.CGNAT, Confidence.MEDIUM, text)))
    if found.private_later:
        ttl, hop = found.private_later[0]
        text = _(
            "Hop {ttl} on the way out is {hop}, behind the first router and "
            "before any public hop: probably a second NAT.",
            ttl=ttl,
            hop=describe_address(hop),
        )
        hop_signals.append((ttl, (NatLayers.DOUBLE_NAT, Confidence.MEDIUM, text)))
    inside.extend(signal for _, signal in sorted(hop_signals, key=lambda item: item[0]))

    if one_nat_pinned:
        if inside:
            evidence.extend(text for _, _, text in inside)
            evidence.append(
                _("Since the router's external address is the public one, those addresses belong "
                  "to networks inside it or to provider links, not to another NAT.")
            )
        evidence.append(_("Exactly one NAT translates this host's address."))
        return TopologyVerdict(NatLayers.ONE_NAT, tuple(evidence), Confidence.HIGH)
    signals.extend(inside)

    # 3. Verdict. CGNAT outranks double NAT (it is the one the user cannot fix at home, and
    # a private hop behind a CGNAT is then only a detail); double NAT outranks one NAT.
    for layers in (NatLayers.CGNAT, NatLayers.DOUBLE_NAT):
        chosen = [(c, text) for kind, c, text in signals if kind is layers]
        if chosen:
            evidence.extend(text for _, _, text in signals)
            if layers is NatLayers.CGNAT and (local_scope is _S.SHARED or found.shared):
                evidence.append(_(_VPN_NOTE))
            return TopologyVerdict(layers, tuple(evidence), _grade(chosen, observed_routable))

    if not observed_routable:
        return TopologyVerdict(NatLayers.UNKNOWN, tuple(evidence), Confidence.LOW)
    if local is None:
        evidence.append(_("This host's own outward address is unknown, so the NAT count is too."))
        return TopologyVerdict(NatLayers.UNKNOWN, tuple(evidence), Confidence.LOW)
    if local_scope is not None and is_globally_routable(local_scope):
        evidence.append(
            _("This host has a public address of its own, yet the server saw another one: "
              "something on the way (a NAT, a VPN or a proxy) translates it.")
        )
        return TopologyVerdict(NatLayers.ONE_NAT, tuple(evidence), Confidence.LOW)

    # A private (or otherwise non-public) local address and a public observed address.
    evidence.append(_("The address is translated on the way out: at least one NAT."))
    if found.first_public_ttl == 1:
        evidence.append(_("The first hop already answers from a public address: one NAT."))
        return TopologyVerdict(NatLayers.ONE_NAT, tuple(evidence), Confidence.HIGH)
    if found.first_public_ttl is not None and not found.silent_before_public:
        evidence.append(
            _("Every hop before the first public one (hop {ttl}) answered, "
              "and none is a second private network: one NAT.", ttl=found.first_public_ttl)
        )
        return TopologyVerdict(NatLayers.ONE_NAT, tuple(evidence), Confidence.HIGH)
    if hops:
        evidence.append(
            _("Some hops on the way out did not answer or no public hop was reached, so a "
              "second NAT cannot be excluded.")
        )
    else:
        evidence.append(_("Without hop data a second NAT (double NAT) cannot be excluded."))
    return TopologyVerdict(NatLayers.ONE_NAT, tuple(evidence), Confidence.MEDIUM)
