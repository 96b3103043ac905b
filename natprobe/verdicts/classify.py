"""From observations to verdicts (RFC 5780 sections 4.3, 4.4 and 3.4; RFC 3489 section 10.1).

Rules this module keeps, learned from the tools that break them (facts/nat-and-stun.md §3.B/C):

* A missing answer is only read as filtering when enough sends went out that loss cannot
  explain it; otherwise the verdict is ``inconclusive`` with the reason.
* A server that cannot do a test (no OTHER-ADDRESS, an OTHER-ADDRESS equal to the primary,
  a 420 to CHANGE-REQUEST, an answer from the wrong source) makes that test inconclusive,
  never "endpoint-independent".
* Every verdict carries its evidence in plain sentences and a confidence in [0, 1].
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from natprobe.verdicts.behavior import ClassicNatType, FilteringBehavior, MappingBehavior
from natprobe.observations import Observation, Probe
from natprobe.addressing import AddressScope, IPAddress, TransportAddress
from natprobe.addressing import classify as address_scope
from natprobe.addressing import is_globally_routable
from natprobe.verdicts.scope_words import scope_name
from natprobe.i18n import N_, _

T = TypeVar("T")

MIN_ASSUMED_LOSS = 0.1
"""Round-trip loss assumed at least, whatever the answered probes suggest: a few answered
probes cannot prove a clean path, and a wrong "filtered" verdict is worse than a slow one."""

_BROADCAST = ipaddress.IPv4Address("255.255.255.255")

MAX_SILENCE_DOUBT = 0.01
"""Silence becomes a verdict only when the chance that loss alone caused it is below this."""


@dataclass(frozen=True, slots=True)
class Verdict(Generic[T]):
    """One conclusion, how sure it is, and why."""

    value: T
    confidence: float
    reason: str
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Classification:
    mapping: Verdict[MappingBehavior]
    filtering: Verdict[FilteringBehavior]
    nat_type: Verdict[ClassicNatType]
    hairpinning: Verdict[bool | None]
    mapped: TransportAddress | None
    port_preservation: bool | None
    mapping_varies_by_destination: bool | None
    round_trip_loss: float
    """Estimated fraction of round trips lost, from how many sends the answered probes needed."""


def estimate_round_trip_loss(observations: Iterable[Observation]) -> float:
    """Losses per send among answered probes (the last send of each one succeeded)."""
    sends = answered = 0
    for observation in observations:
        if observation.answered:
            sends += observation.sends
            answered += 1
    return 0.0 if sends == 0 else (sends - answered) / sends


def silence_doubt(sends: int, loss: float) -> float:
    """Probability that ``sends`` round trips on an open path all got lost."""
    return max(loss, MIN_ASSUMED_LOSS) ** sends


def _describe(observation: Observation) -> str:
    change = {
        Probe.FILTERING_CHANGE_IP_PORT: " asking for a reply from the other IP and port",
        Probe.FILTERING_CHANGE_PORT: " asking for a reply from the other port",
    }.get(observation.probe, "")
    head = f"{observation.probe.value}: from {observation.local} to {observation.destination}{change}"
    if not observation.answered:
        return f"{head}: no answer after {observation.sends} sends"
    if observation.error_code is not None:
        return f"{head}: error {observation.error_code} from {observation.response_source}"
    mapped = f", mapped {observation.mapped}" if observation.mapped else ""
    return f"{head}: answered from {observation.response_source}{mapped} after {observation.sends} send(s)"


def sendable(address: TransportAddress, target: TransportAddress) -> bool:
    """Whether a server-supplied address may be sent to: same family as the server, a real unicast host and port."""
    ip = address.ip
    return (
        ip.version == target.ip.version
        and address.port != 0
        and not (ip.is_unspecified or ip.is_multicast or (ip.version == 4 and ip == _BROADCAST))
    )


_INTERNAL_SCOPES = frozenset(
    {AddressScope.PRIVATE, AddressScope.SHARED, AddressScope.LOOPBACK, AddressScope.LINK_LOCAL,
     AddressScope.UNIQUE_LOCAL}
)

UNREACHABLE_ALTERNATE_REASON = N_(
    "the server was reached at the public address {server} but names {alternate} as its alternate, "
    "a {scope} address nobody outside its network can reach: the server is probably behind a 1:1 NAT "
    "(a cloud VPS) without its public addresses configured (natprobe serve --primary-public / "
    "--alternate-public)"
)


def unreachable_alternate(primary: Observation) -> str | None:
    """Why the server's OTHER-ADDRESS cannot be used from here, when it is a private, shared
    (CGNAT), loopback or link-local address while the server itself was reached at a public one.

    A server on a cloud VPS binds the private interface address the provider maps its public
    address onto; unless told its public addresses it advertises the private ones. Sending the
    alternate tests there would probe some unrelated host on the client's own network.
    """
    other = primary.other_address
    if other is None:
        return None
    server_scope = address_scope(primary.destination.ip)
    other_scope = address_scope(other.ip)
    if is_globally_routable(server_scope) and other_scope in _INTERNAL_SCOPES:
        return _(
            UNREACHABLE_ALTERNATE_REASON,
            server=primary.destination.ip,
            alternate=other,
            scope=scope_name(other_scope),
        )
    return None


def usable_alternate(primary: Observation) -> TransportAddress | None:
    """OTHER-ADDRESS, if the server really has a second IP and port (RFC 5780 section 6) that
    this client can reach (see :func:`unreachable_alternate`) and send to (:func:`sendable`:
    a server is a stranger, and a zero port, a multicast group or the other IP family would
    only make the sends fail)."""
    other = primary.other_address
    if other is None or other.ip == primary.destination.ip or other.port == primary.destination.port:
        return None
    if not sendable(other, primary.destination):
        return None
    if unreachable_alternate(primary) is not None:
        return None
    return other


_usable_alternate = usable_alternate


def _unusable_first_answer(primary: Observation | None) -> str | None:
    """Why the first Binding answer cannot lead the tests on (a sentence), or ``None`` if it can."""
    if primary is None or not primary.answered:
        return "the server did not answer the first Binding request"
    if primary.error_code is not None:
        code = f"error {primary.error_code}" if primary.error_code else "an error without an error code"
        return f"the server answered the first Binding request with {code}, so nothing could be measured"
    if primary.mapped is None:
        return "the server's answer to the first Binding request did not say which address it saw"
    return None


def _classify_mapping(
    by_probe: dict[Probe, Observation], local_ip: IPAddress | None, loss: float
) -> Verdict[MappingBehavior]:
    primary = by_probe.get(Probe.MAPPING_PRIMARY)
    unusable = _unusable_first_answer(primary)
    if unusable is not None or primary is None or primary.mapped is None:
        return Verdict(MappingBehavior.INCONCLUSIVE, 0.0, unusable or _("the server did not answer the first Binding request"),
                       () if primary is None else (_describe(primary),))
    evidence = [_describe(primary)]
    if local_ip is not None and primary.mapped == TransportAddress(local_ip, primary.local.port):
        return Verdict(MappingBehavior.NO_NAT, 1.0, _("the server saw this host's own address {address}", address=primary.mapped), tuple(evidence))
    if _usable_alternate(primary) is None:
        reason = unreachable_alternate(primary) or (
            _("the server has no usable alternate address (OTHER-ADDRESS missing or equal to the primary)")
        )
        return Verdict(
            MappingBehavior.INCONCLUSIVE,
            0.0,
            _("{reason}, so mapping toward a second destination cannot be tested", reason=reason),
            tuple(evidence),
        )
    second = by_probe.get(Probe.MAPPING_ALTERNATE_IP)
    if second is None or not second.answered or second.mapped is None:
        if second is not None:
            evidence.append(_describe(second))
        return Verdict(MappingBehavior.INCONCLUSIVE, 0.0, _("no answer from the server's alternate address"), tuple(evidence))
    evidence.append(_describe(second))
    if second.mapped == primary.mapped:
        return Verdict(
            MappingBehavior.ENDPOINT_INDEPENDENT,
            1.0,
            _("the same external address {address} was used toward two server addresses", address=primary.mapped),
            tuple(evidence),
        )
    third = by_probe.get(Probe.MAPPING_ALTERNATE_BOTH)
    if third is None or not third.answered or third.mapped is None:
        if third is not None:
            evidence.append(_describe(third))
        return Verdict(
            MappingBehavior.INCONCLUSIVE,
            0.0,
            _("the mapping changed with the destination IP, but the third test got no answer"),
            tuple(evidence),
        )
    evidence.append(_describe(third))
    if third.mapped == second.mapped:
        return Verdict(
            MappingBehavior.ADDRESS_DEPENDENT,
            1.0,
            _("the external address changed with the destination IP but not with the destination port"),
            tuple(evidence),
        )
    return Verdict(
        MappingBehavior.ADDRESS_AND_PORT_DEPENDENT,
        1.0,
        _("every destination got its own external address ({first}, {second}, {third})",
          first=primary.mapped, second=second.mapped, third=third.mapped),
        tuple(evidence),
    )


def _filter_test_state(observation: Observation | None, loss: float) -> tuple[str, float]:
    """('open' | 'closed' | 'unusable' | 'undecided', doubt) for one filtering test."""
    if observation is None:
        return "unusable", 1.0
    if observation.answered:
        if observation.error_code is not None or not observation.from_expected_source:
            return "unusable", 1.0
        return "open", 0.0
    doubt = silence_doubt(observation.sends, loss)
    return ("closed" if doubt <= MAX_SILENCE_DOUBT else "undecided"), doubt


def _classify_filtering(by_probe: dict[Probe, Observation], loss: float) -> Verdict[FilteringBehavior]:
    primary = by_probe.get(Probe.MAPPING_PRIMARY)
    unusable = _unusable_first_answer(primary)
    if unusable is not None or primary is None:
        return Verdict(FilteringBehavior.INCONCLUSIVE, 0.0, unusable or _("the server did not answer the first Binding request"))
    change_both = by_probe.get(Probe.FILTERING_CHANGE_IP_PORT)
    change_port = by_probe.get(Probe.FILTERING_CHANGE_PORT)
    evidence = tuple(_describe(o) for o in (change_both, change_port) if o is not None)
    has_alternate = _usable_alternate(primary) is not None
    both, both_doubt = _filter_test_state(change_both if has_alternate else None, loss)
    port, port_doubt = _filter_test_state(change_port, loss)

    if both == "open":
        return Verdict(
            FilteringBehavior.ENDPOINT_INDEPENDENT,
            1.0,
            _("a reply from an address and port this socket never sent to came through"),
            evidence,
        )
    if port == "unusable":
        reason = _("the server did not honour the change-port request (error, or a reply from the wrong source)")
        return Verdict(FilteringBehavior.INCONCLUSIVE, 0.0, reason, evidence)
    if port == "closed":
        return Verdict(
            FilteringBehavior.ADDRESS_AND_PORT_DEPENDENT,
            1.0 - port_doubt,
            _("a reply from the server's other port was dropped: only the exact address and port "
            "this socket sent to may answer"),
            evidence,
        )
    if port == "undecided":
        return Verdict(
            FilteringBehavior.INCONCLUSIVE,
            0.0,
            _("no reply from the other port, but with the loss measured on this path "
              "({doubt:.0%} chance it was only lost) that does not prove filtering", doubt=port_doubt),
            evidence,
        )
    # A reply from the other port came through: endpoint-independent or address-dependent.
    if both == "closed":
        return Verdict(
            FilteringBehavior.ADDRESS_DEPENDENT,
            1.0 - both_doubt,
            _("a reply from the server's other port came through, one from its other IP did not"),
            evidence,
        )
    if both == "undecided":
        reason = (
            _("a reply from the other port came through; the other IP stayed silent, but loss "
              "({doubt:.0%} chance) could explain that", doubt=both_doubt)
        )
    else:
        unreachable = unreachable_alternate(primary)
        why = unreachable if unreachable is not None else _("the server cannot answer from a second IP")
        reason = (
            _("a reply from the other port came through, but {why}, "
              "so endpoint-independent and address-dependent filtering cannot be told apart", why=why)
        )
    return Verdict(FilteringBehavior.INCONCLUSIVE, 0.0, reason, evidence)


def _classify_hairpin(
    by_probe: dict[Probe, Observation], loss: float, mapping: MappingBehavior
) -> Verdict[bool | None]:
    hairpin = by_probe.get(Probe.HAIRPIN)
    if hairpin is None:
        if mapping is MappingBehavior.NO_NAT:
            return Verdict(None, 1.0, _("no NAT between this host and the server: hairpinning does not apply"))
        return Verdict(None, 0.0, _("hairpinning was not tested"))
    if hairpin.answered:
        return Verdict(
            True,
            1.0,
            _("a packet sent to this host's own public address {address} came back in (from {source})",
              address=hairpin.destination, source=hairpin.response_source),
            (_describe(hairpin),),
        )
    doubt = silence_doubt(hairpin.sends, loss)
    if doubt > MAX_SILENCE_DOUBT:
        return Verdict(None, 0.0, _("no hairpinned packet arrived, but loss could explain it"), (_describe(hairpin),))
    return Verdict(
        False,
        1.0 - doubt,
        _("packets sent to this host's own public address {address} never came back in", address=hairpin.destination),
        (_describe(hairpin),),
    )


def _classic_type(
    mapping: Verdict[MappingBehavior], filtering: Verdict[FilteringBehavior], udp_blocked: Verdict[bool] | None
) -> Verdict[ClassicNatType]:
    confidence = min(mapping.confidence, filtering.confidence)
    if udp_blocked is not None and udp_blocked.value:
        return Verdict(ClassicNatType.UDP_BLOCKED, udp_blocked.confidence, udp_blocked.reason, udp_blocked.evidence)
    m, f = mapping.value, filtering.value
    if m is MappingBehavior.NO_NAT:
        if f is FilteringBehavior.ENDPOINT_INDEPENDENT:
            return Verdict(ClassicNatType.OPEN_INTERNET, confidence, _("no NAT and no inbound filtering"))
        if f in (FilteringBehavior.ADDRESS_DEPENDENT, FilteringBehavior.ADDRESS_AND_PORT_DEPENDENT):
            return Verdict(
                ClassicNatType.SYMMETRIC_UDP_FIREWALL, confidence, _("no NAT, but a firewall filters inbound UDP")
            )
        return Verdict(ClassicNatType.INCONCLUSIVE, 0.0, _("no NAT; filtering: {reason}", reason=filtering.reason))
    if m in (MappingBehavior.ADDRESS_DEPENDENT, MappingBehavior.ADDRESS_AND_PORT_DEPENDENT):
        return Verdict(ClassicNatType.SYMMETRIC, mapping.confidence, _("the mapping depends on the destination"))
    if m is MappingBehavior.ENDPOINT_INDEPENDENT:
        by_filtering = {
            FilteringBehavior.ENDPOINT_INDEPENDENT: ClassicNatType.FULL_CONE,
            FilteringBehavior.ADDRESS_DEPENDENT: ClassicNatType.RESTRICTED_CONE,
            FilteringBehavior.ADDRESS_AND_PORT_DEPENDENT: ClassicNatType.PORT_RESTRICTED_CONE,
        }
        if f in by_filtering:
            return Verdict(by_filtering[f], confidence, _("endpoint-independent mapping with {filtering} filtering", filtering=f.value))
        return Verdict(ClassicNatType.INCONCLUSIVE, 0.0, _("filtering undetermined: {reason}", reason=filtering.reason))
    return Verdict(ClassicNatType.INCONCLUSIVE, 0.0, _("mapping undetermined: {reason}", reason=mapping.reason))


def _udp_blocked(observations: list[Observation], tcp_reachable: bool | None) -> Verdict[bool] | None:
    """UDP blocked: nothing ever answered over UDP while the server is known to be up over TCP."""
    if any(o.answered for o in observations):
        return None
    sends = sum(o.sends for o in observations)
    if sends == 0:
        return None
    doubt = silence_doubt(sends, 0.0)
    evidence = tuple(_describe(o) for o in observations)
    if tcp_reachable:
        return Verdict(
            True,
            1.0 - doubt,
            _("none of {sends} UDP requests was answered, while the same server answered over TCP", sends=sends),
            evidence + ("STUN over TCP to the same server: answered",),
        )
    return Verdict(
        False,
        0.0,
        _("none of {sends} UDP requests was answered and the server did not answer over TCP either: "
          "the server may be down or unreachable", sends=sends),
        evidence,
    )


def classify(
    observations: Iterable[Observation],
    *,
    local_ip: IPAddress | None,
    tcp_reachable: bool | None = None,
) -> Classification:
    """Turn the probes' observations into RFC 4787 / RFC 3489 verdicts.

    ``local_ip`` is this host's address toward the server (to recognise "no NAT");
    ``tcp_reachable`` whether STUN over TCP answered (to tell "UDP blocked" from "server down").
    """
    observed = list(observations)
    by_probe = {o.probe: o for o in observed}
    loss = estimate_round_trip_loss(observed)
    mapping = _classify_mapping(by_probe, local_ip, loss)
    filtering = _classify_filtering(by_probe, loss)
    blocked = _udp_blocked(observed, tcp_reachable)
    nat_type = _classic_type(mapping, filtering, blocked)
    if blocked is not None and not blocked.value:
        nat_type = Verdict(ClassicNatType.INCONCLUSIVE, 0.0, blocked.reason, blocked.evidence)
    primary = by_probe.get(Probe.MAPPING_PRIMARY)
    second = by_probe.get(Probe.MAPPING_ALTERNATE_IP)
    mapped = primary.mapped if primary is not None and primary.answered else None
    port_preservation = None if mapped is None or primary is None else mapped.port == primary.local.port
    varies: bool | None = None
    if mapped is not None and second is not None and second.answered and second.mapped is not None:
        varies = second.mapped != mapped
    return Classification(
        mapping=mapping,
        filtering=filtering,
        nat_type=nat_type,
        hairpinning=_classify_hairpin(by_probe, loss, mapping.value),
        mapped=mapped,
        port_preservation=port_preservation,
        mapping_varies_by_destination=varies,
        round_trip_loss=loss,
    )


def sends_needed(loss: float, *, floor: int = 5, ceiling: int = 12) -> int:
    """How many sends make silence conclusive (doubt below :data:`MAX_SILENCE_DOUBT` / 100) at this loss.

    Five sends at the assumed minimum loss leave a doubt of 1e-5; when the answered tests then
    show more loss than that, discovery re-runs the silent tests with more sends.
    """
    p = max(loss, MIN_ASSUMED_LOSS)
    if p >= 1:
        return ceiling
    needed = math.ceil(math.log(MAX_SILENCE_DOUBT / 100) / math.log(p))
    return max(floor, min(ceiling, needed))
