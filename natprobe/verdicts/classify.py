"""From observations to verdicts (RFC 5780 sections 4.3, 4.4 and 3.4; RFC 3489 section 10.1).

Rules this module keeps, learned from the tools that break them (facts/nat-and-stun.md §3.B/C):

* A missing answer is only read as filtering when enough sends went out that loss cannot
  explain it; otherwise the verdict is ``inconclusive`` with the reason.
* A server that cannot do a test (no OTHER-ADDRESS, an OTHER-ADDRESS equal to the primary,
  a 420 to CHANGE-REQUEST, an answer from the wrong source) makes that test inconclusive,
  never "endpoint-independent".
* Every verdict carries its evidence and a confidence in [0, 1]; its reason is a coded
  :class:`~natprobe.verdicts.why.Why` (a :class:`Decision`), which
  :mod:`natprobe.findings.behavior_words` words into a :class:`Verdict`.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from natprobe.verdicts.behavior import ClassicNatType, FilteringBehavior, MappingBehavior
from natprobe.observations import Observation, Probe
from natprobe.addressing import AddressScope, IPAddress, TransportAddress
from natprobe.addressing import classify as address_scope
from natprobe.addressing import is_globally_routable
from natprobe.verdicts.why import Why

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


class Said(StrEnum):
    """The reasons of the NAT behaviour verdicts (worded by :mod:`natprobe.findings.behavior_words`)."""

    FIRST_UNANSWERED = "nat.first-unanswered"
    OWN_ADDRESS = "nat.own-address"
    NO_USABLE_ALTERNATE = "nat.no-usable-alternate"
    UNREACHABLE_ALTERNATE = "nat.unreachable-alternate"
    SECOND_DESTINATION_UNTESTABLE = "nat.second-destination-untestable"
    NO_ALTERNATE_ANSWER = "nat.no-alternate-answer"
    SAME_EXTERNAL = "nat.same-external"
    THIRD_UNANSWERED = "nat.third-unanswered"
    ADDRESS_DEPENDENT_MAPPING = "nat.address-dependent-mapping"
    EVERY_DESTINATION = "nat.every-destination"
    FOREIGN_REPLY_CAME = "nat.foreign-reply-came"
    CHANGE_PORT_NOT_HONOURED = "nat.change-port-not-honoured"
    OTHER_PORT_DROPPED = "nat.other-port-dropped"
    OTHER_PORT_MAYBE_LOST = "nat.other-port-maybe-lost"
    OTHER_IP_DROPPED = "nat.other-ip-dropped"
    OTHER_IP_MAYBE_LOST = "nat.other-ip-maybe-lost"
    NO_SECOND_IP = "nat.no-second-ip"
    EIF_ADF_UNTOLD = "nat.eif-adf-untold"
    HAIRPIN_NOT_APPLICABLE = "nat.hairpin-not-applicable"
    HAIRPIN_NOT_TESTED = "nat.hairpin-not-tested"
    HAIRPIN_CAME_BACK = "nat.hairpin-came-back"
    HAIRPIN_MAYBE_LOST = "nat.hairpin-maybe-lost"
    HAIRPIN_NEVER = "nat.hairpin-never"
    OPEN_INTERNET = "nat.open-internet"
    UDP_FIREWALL = "nat.udp-firewall"
    NO_NAT_FILTERING_UNKNOWN = "nat.no-nat-filtering-unknown"
    DEPENDS_ON_DESTINATION = "nat.depends-on-destination"
    CONE = "nat.cone"
    FILTERING_UNDETERMINED = "nat.filtering-undetermined"
    MAPPING_UNDETERMINED = "nat.mapping-undetermined"
    UDP_BLOCKED = "nat.udp-blocked"
    SERVER_DOWN = "nat.server-down"


@dataclass(frozen=True, slots=True)
class Decision(Generic[T]):
    """A :class:`Verdict` before it is worded: its reason as a code and parameters."""

    value: T
    confidence: float
    why: Why
    evidence: tuple[str, ...] = ()
    """Technical lines (probe, addresses, sends), English like the rest of the wire detail."""


@dataclass(frozen=True, slots=True)
class Classification:
    mapping: Decision[MappingBehavior]
    filtering: Decision[FilteringBehavior]
    nat_type: Decision[ClassicNatType]
    hairpinning: Decision[bool | None]
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

def unreachable_alternate(primary: Observation) -> Why | None:
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
        return Why.of(Said.UNREACHABLE_ALTERNATE, server=primary.destination.ip, alternate=other, scope=other_scope)
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


def _unusable_first_answer(primary: Observation | None) -> Why | None:
    """Why the first Binding answer cannot lead the tests on, or ``None`` if it can (English
    technical detail, like the evidence lines)."""
    if primary is None or not primary.answered:
        return Why.as_said("the server did not answer the first Binding request")
    if primary.error_code is not None:
        code = f"error {primary.error_code}" if primary.error_code else "an error without an error code"
        return Why.as_said(f"the server answered the first Binding request with {code}, so nothing could be measured")
    if primary.mapped is None:
        return Why.as_said("the server's answer to the first Binding request did not say which address it saw")
    return None


def _classify_mapping(
    by_probe: dict[Probe, Observation], local_ip: IPAddress | None, loss: float
) -> Decision[MappingBehavior]:
    primary = by_probe.get(Probe.MAPPING_PRIMARY)
    unusable = _unusable_first_answer(primary)
    if unusable is not None or primary is None or primary.mapped is None:
        return Decision(MappingBehavior.INCONCLUSIVE, 0.0, unusable or Why.of(Said.FIRST_UNANSWERED),
                       () if primary is None else (_describe(primary),))
    evidence = [_describe(primary)]
    if local_ip is not None and primary.mapped == TransportAddress(local_ip, primary.local.port):
        return Decision(MappingBehavior.NO_NAT, 1.0, Why.of(Said.OWN_ADDRESS, address=primary.mapped), tuple(evidence))
    if _usable_alternate(primary) is None:
        reason = unreachable_alternate(primary) or Why.of(Said.NO_USABLE_ALTERNATE)
        return Decision(
            MappingBehavior.INCONCLUSIVE,
            0.0,
            Why.of(Said.SECOND_DESTINATION_UNTESTABLE, reason=reason),
            tuple(evidence),
        )
    second = by_probe.get(Probe.MAPPING_ALTERNATE_IP)
    if second is None or not second.answered or second.mapped is None:
        if second is not None:
            evidence.append(_describe(second))
        return Decision(MappingBehavior.INCONCLUSIVE, 0.0, Why.of(Said.NO_ALTERNATE_ANSWER), tuple(evidence))
    evidence.append(_describe(second))
    if second.mapped == primary.mapped:
        return Decision(
            MappingBehavior.ENDPOINT_INDEPENDENT,
            1.0,
            Why.of(Said.SAME_EXTERNAL, address=primary.mapped),
            tuple(evidence),
        )
    third = by_probe.get(Probe.MAPPING_ALTERNATE_BOTH)
    if third is None or not third.answered or third.mapped is None:
        if third is not None:
            evidence.append(_describe(third))
        return Decision(
            MappingBehavior.INCONCLUSIVE,
            0.0,
            Why.of(Said.THIRD_UNANSWERED),
            tuple(evidence),
        )
    evidence.append(_describe(third))
    if third.mapped == second.mapped:
        return Decision(
            MappingBehavior.ADDRESS_DEPENDENT,
            1.0,
            Why.of(Said.ADDRESS_DEPENDENT_MAPPING),
            tuple(evidence),
        )
    return Decision(
        MappingBehavior.ADDRESS_AND_PORT_DEPENDENT,
        1.0,
        Why.of(Said.EVERY_DESTINATION, first=primary.mapped, second=second.mapped, third=third.mapped),
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


def _classify_filtering(by_probe: dict[Probe, Observation], loss: float) -> Decision[FilteringBehavior]:
    primary = by_probe.get(Probe.MAPPING_PRIMARY)
    unusable = _unusable_first_answer(primary)
    if unusable is not None or primary is None:
        return Decision(FilteringBehavior.INCONCLUSIVE, 0.0, unusable or Why.of(Said.FIRST_UNANSWERED))
    change_both = by_probe.get(Probe.FILTERING_CHANGE_IP_PORT)
    change_port = by_probe.get(Probe.FILTERING_CHANGE_PORT)
    evidence = tuple(_describe(o) for o in (change_both, change_port) if o is not None)
    has_alternate = _usable_alternate(primary) is not None
    both, both_doubt = _filter_test_state(change_both if has_alternate else None, loss)
    port, port_doubt = _filter_test_state(change_port, loss)

    if both == "open":
        return Decision(
            FilteringBehavior.ENDPOINT_INDEPENDENT,
            1.0,
            Why.of(Said.FOREIGN_REPLY_CAME),
            evidence,
        )
    if port == "unusable":
        reason = Why.of(Said.CHANGE_PORT_NOT_HONOURED)
        return Decision(FilteringBehavior.INCONCLUSIVE, 0.0, reason, evidence)
    if port == "closed":
        return Decision(
            FilteringBehavior.ADDRESS_AND_PORT_DEPENDENT,
            1.0 - port_doubt,
            Why.of(Said.OTHER_PORT_DROPPED),
            evidence,
        )
    if port == "undecided":
        return Decision(
            FilteringBehavior.INCONCLUSIVE,
            0.0,
            Why.of(Said.OTHER_PORT_MAYBE_LOST, doubt=port_doubt),
            evidence,
        )
    # A reply from the other port came through: endpoint-independent or address-dependent.
    if both == "closed":
        return Decision(
            FilteringBehavior.ADDRESS_DEPENDENT,
            1.0 - both_doubt,
            Why.of(Said.OTHER_IP_DROPPED),
            evidence,
        )
    if both == "undecided":
        reason = Why.of(Said.OTHER_IP_MAYBE_LOST, doubt=both_doubt)
    else:
        unreachable = unreachable_alternate(primary)
        why = unreachable if unreachable is not None else Why.of(Said.NO_SECOND_IP)
        reason = Why.of(Said.EIF_ADF_UNTOLD, why=why)
    return Decision(FilteringBehavior.INCONCLUSIVE, 0.0, reason, evidence)


def _classify_hairpin(
    by_probe: dict[Probe, Observation], loss: float, mapping: MappingBehavior
) -> Decision[bool | None]:
    hairpin = by_probe.get(Probe.HAIRPIN)
    if hairpin is None:
        if mapping is MappingBehavior.NO_NAT:
            return Decision(None, 1.0, Why.of(Said.HAIRPIN_NOT_APPLICABLE))
        return Decision(None, 0.0, Why.of(Said.HAIRPIN_NOT_TESTED))
    if hairpin.answered:
        return Decision(
            True,
            1.0,
            Why.of(Said.HAIRPIN_CAME_BACK, address=hairpin.destination, source=hairpin.response_source),
            (_describe(hairpin),),
        )
    doubt = silence_doubt(hairpin.sends, loss)
    if doubt > MAX_SILENCE_DOUBT:
        return Decision(None, 0.0, Why.of(Said.HAIRPIN_MAYBE_LOST), (_describe(hairpin),))
    return Decision(
        False,
        1.0 - doubt,
        Why.of(Said.HAIRPIN_NEVER, address=hairpin.destination),
        (_describe(hairpin),),
    )


def _classic_type(
    mapping: Decision[MappingBehavior], filtering: Decision[FilteringBehavior], udp_blocked: Decision[bool] | None
) -> Decision[ClassicNatType]:
    confidence = min(mapping.confidence, filtering.confidence)
    if udp_blocked is not None and udp_blocked.value:
        return Decision(ClassicNatType.UDP_BLOCKED, udp_blocked.confidence, udp_blocked.why, udp_blocked.evidence)
    m, f = mapping.value, filtering.value
    if m is MappingBehavior.NO_NAT:
        if f is FilteringBehavior.ENDPOINT_INDEPENDENT:
            return Decision(ClassicNatType.OPEN_INTERNET, confidence, Why.of(Said.OPEN_INTERNET))
        if f in (FilteringBehavior.ADDRESS_DEPENDENT, FilteringBehavior.ADDRESS_AND_PORT_DEPENDENT):
            return Decision(
                ClassicNatType.SYMMETRIC_UDP_FIREWALL, confidence, Why.of(Said.UDP_FIREWALL)
            )
        return Decision(ClassicNatType.INCONCLUSIVE, 0.0, Why.of(Said.NO_NAT_FILTERING_UNKNOWN, reason=filtering.why))
    if m in (MappingBehavior.ADDRESS_DEPENDENT, MappingBehavior.ADDRESS_AND_PORT_DEPENDENT):
        return Decision(ClassicNatType.SYMMETRIC, mapping.confidence, Why.of(Said.DEPENDS_ON_DESTINATION))
    if m is MappingBehavior.ENDPOINT_INDEPENDENT:
        by_filtering = {
            FilteringBehavior.ENDPOINT_INDEPENDENT: ClassicNatType.FULL_CONE,
            FilteringBehavior.ADDRESS_DEPENDENT: ClassicNatType.RESTRICTED_CONE,
            FilteringBehavior.ADDRESS_AND_PORT_DEPENDENT: ClassicNatType.PORT_RESTRICTED_CONE,
        }
        if f in by_filtering:
            return Decision(by_filtering[f], confidence, Why.of(Said.CONE, filtering=f.value))
        return Decision(ClassicNatType.INCONCLUSIVE, 0.0, Why.of(Said.FILTERING_UNDETERMINED, reason=filtering.why))
    return Decision(ClassicNatType.INCONCLUSIVE, 0.0, Why.of(Said.MAPPING_UNDETERMINED, reason=mapping.why))


def _udp_blocked(observations: list[Observation], tcp_reachable: bool | None) -> Decision[bool] | None:
    """UDP blocked: nothing ever answered over UDP while the server is known to be up over TCP."""
    if any(o.answered for o in observations):
        return None
    sends = sum(o.sends for o in observations)
    if sends == 0:
        return None
    doubt = silence_doubt(sends, 0.0)
    evidence = tuple(_describe(o) for o in observations)
    if tcp_reachable:
        return Decision(
            True,
            1.0 - doubt,
            Why.of(Said.UDP_BLOCKED, sends=sends),
            evidence + ("STUN over TCP to the same server: answered",),
        )
    return Decision(
        False,
        0.0,
        Why.of(Said.SERVER_DOWN, sends=sends),
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
        nat_type = Decision(ClassicNatType.INCONCLUSIVE, 0.0, blocked.why, blocked.evidence)
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
