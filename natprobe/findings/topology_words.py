"""The words of a NAT-layers verdict: the evidence sentences behind "how many NATs?".

:mod:`natprobe.verdicts.nat_layers` decides (:func:`~natprobe.verdicts.nat_layers.decide_topology`:
layers, confidence and coded evidence); this module says the evidence
(:func:`word_topology`) and offers both steps as one call, :func:`assess_topology`.
"""

from __future__ import annotations

from collections.abc import Sequence

from natprobe.addressing import IPAddress
from natprobe.i18n import _
from natprobe.verdicts.nat_layers import Said, TopologyDecision, TopologyVerdict, decide_topology
from natprobe.findings.scope_words import describe_address
from natprobe.verdicts.why import Why

__all__ = ("assess_topology", "word_topology")


def _evidence(why: Why) -> str:
    p = why.get
    match why.code:
        case Said.LOCAL:
            return _("This host's address toward the server is {address}.", address=describe_address(p("address")))
        case Said.LOCAL_UNUSABLE:
            return _("That is not an address packets to the Internet can come from.")
        case Said.NOT_OBSERVED:
            return _("The outside server was not reached, so no public address was observed.")
        case Said.OBSERVED:
            return _("The outside server saw this host as {address}.", address=describe_address(p("address")))
        case Said.SAME_PUBLIC:
            return _("They are the same address: no NAT between this host and the Internet.")
        case Said.SAME_NOT_PUBLIC:
            return _("They are the same address, so nothing translates between this host and the "
                     "server -- but that address is not public, so the server is not on the Internet.")
        case Said.OBSERVED_NOT_PUBLIC:
            return _("That address is not public, so the server is not on the Internet and cannot "
                     "tell how this host reaches the Internet.")
        case Said.GATEWAY_CGNAT:
            return _("The router reports its external address as {address}: its WAN side is inside the "
                     "provider's carrier-grade NAT. A port mapping on it will not be reachable from the Internet.",
                     address=describe_address(p("address")))
        case Said.GATEWAY_INSIDE:
            return _("The router reports its external address as {address}: another NAT (a second router, "
                     "or the provider's NAT using private addresses) sits in front of it. A port mapping on it "
                     "will not be reachable from the Internet.", address=describe_address(p("address")))
        case Said.GATEWAY_STUN_CAVEAT:
            return _("The router reports its external address as {address}, the same address the server "
                     "saw -- but a router behind a carrier-grade NAT that learns its address by STUN reports "
                     "exactly that, so it does not rule out the carrier-grade NAT the hops show.",
                     address=describe_address(p("address")))
        case Said.GATEWAY_ONLY_NAT:
            return _("The router reports its external address as {address}, the same address the server "
                     "saw: that router is the only NAT.", address=describe_address(p("address")))
        case Said.GATEWAY_DIFFERS:
            return _("The router reports its external address as {address}, but the server saw "
                     "{observed}: something beyond the router translated the address again (or the "
                     "provider spreads traffic over several addresses).",
                     address=describe_address(p("address")), observed=p("observed"))
        case Said.GATEWAY_UNUSABLE:
            return _("The router reports its external address as {address}, which means it has no usable "
                     "external address yet.", address=describe_address(p("address")))
        case Said.GATEWAY_SAID:
            return _("The router reports its external address as {address}.", address=describe_address(p("address")))
        case Said.LOCAL_SHARED:
            return _("This host's own address is in the carrier-grade NAT range 100.64.0.0/10.")
        case Said.HOP_SHARED:
            return _("Hop {ttl} on the way out is {hop}, in the carrier-grade NAT range "
                     "100.64.0.0/10, before any public hop.", ttl=p("ttl"), hop=p("hop"))
        case Said.HOP_PRIVATE_LATER:
            return _("Hop {ttl} on the way out is {hop}, behind the first router and "
                     "before any public hop: probably a second NAT.", ttl=p("ttl"), hop=describe_address(p("hop")))
        case Said.INSIDE_EXPLAINED:
            return _("Since the router's external address is the public one, those addresses belong "
                     "to networks inside it or to provider links, not to another NAT.")
        case Said.EXACTLY_ONE:
            return _("Exactly one NAT translates this host's address.")
        case Said.VPN_NOTE:
            return _("100.64.0.0/10 is also used by some VPNs (Tailscale, for one); if such a VPN carries "
                     "this traffic, it is the translating layer.")
        case Said.LOCAL_UNKNOWN:
            return _("This host's own outward address is unknown, so the NAT count is too.")
        case Said.PUBLIC_YET_TRANSLATED:
            return _("This host has a public address of its own, yet the server saw another one: "
                     "something on the way (a NAT, a VPN or a proxy) translates it.")
        case Said.TRANSLATED:
            return _("The address is translated on the way out: at least one NAT.")
        case Said.FIRST_HOP_PUBLIC:
            return _("The first hop already answers from a public address: one NAT.")
        case Said.HOPS_ALL_ANSWERED:
            return _("Every hop before the first public one (hop {ttl}) answered, "
                     "and none is a second private network: one NAT.", ttl=p("ttl"))
        case Said.HOPS_INCOMPLETE:
            return _("Some hops on the way out did not answer or no public hop was reached, so a "
                     "second NAT cannot be excluded.")
        case Said.NO_HOPS:
            return _("Without hop data a second NAT (double NAT) cannot be excluded.")
    raise ValueError(f"no words for the topology evidence {why.code!r}")


def word_topology(decision: TopologyDecision) -> TopologyVerdict:
    """The verdict with its evidence in the user's language."""
    return TopologyVerdict(decision.layers, tuple(_evidence(why) for why in decision.evidence), decision.confidence)


def assess_topology(
    local_address: IPAddress | None,
    observed_public: IPAddress | None,
    *,
    hops: Sequence[IPAddress | None] = (),
    gateway_external: IPAddress | None = None,
) -> TopologyVerdict:
    """How many NATs sit between this host and the Internet, decided and worded
    (:func:`~natprobe.verdicts.nat_layers.decide_topology` says which evidence counts)."""
    return word_topology(decide_topology(local_address, observed_public, hops=hops, gateway_external=gateway_external))
