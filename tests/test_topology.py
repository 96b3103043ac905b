"""natprobe.verdicts.nat_layers: one table row per rule, plus the combinations that used to go wrong."""

from __future__ import annotations

import dataclasses
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from natprobe.addressing import AddressScope, IPAddress, classify
from natprobe.verdicts.nat_layers import Confidence, NatLayers, TopologyVerdict
from natprobe.findings.topology_words import assess_topology

L = NatLayers
C = Confidence


def ip(text: str | None) -> IPAddress | None:
    return None if text is None else ip_address(text)


def hops(*texts: str | None) -> tuple[IPAddress | None, ...]:
    return tuple(ip(t) for t in texts)


# (id, local, observed, hops, gateway external, layers, confidence, phrase in the evidence)
CASES = [
    # -- no NAT: the host holds its public address
    ("same-public", "198.51.100.7", "198.51.100.7", (), None, L.NO_NAT, C.HIGH, "no NAT"),
    ("same-real-public", "8.8.4.4", "8.8.4.4", (), None, L.NO_NAT, C.HIGH, "same address"),
    ("same-v6", "2001:db8::7", "2001:db8::7", (), None, L.NO_NAT, C.HIGH, "no NAT"),
    (
        "same-but-private-server",
        "192.168.1.5",
        "192.168.1.5",
        (),
        None,
        L.NO_NAT,
        C.MEDIUM,
        "not on the Internet",
    ),
    (
        "same-despite-private-isp-hops",
        "203.0.113.9",
        "203.0.113.9",
        ("10.1.1.1", "10.2.2.2"),
        None,
        L.NO_NAT,
        C.HIGH,
        "no NAT",
    ),
    # -- CGNAT
    ("local-shared", "100.64.12.7", "203.0.113.5", (), None, L.CGNAT, C.HIGH, "100.64.0.0/10"),
    ("local-shared-top", "100.127.255.254", "203.0.113.5", (), None, L.CGNAT, C.HIGH, "own"),
    (
        "hop-shared",
        "192.168.1.20",
        "203.0.113.5",
        ("192.168.1.1", "100.72.0.1", "203.0.113.1"),
        None,
        L.CGNAT,
        C.MEDIUM,
        "Hop 2 on the way out is 100.72.0.1",
    ),
    (
        "hop-shared-after-silence",
        "192.168.1.20",
        "203.0.113.5",
        ("192.168.1.1", None, "100.100.0.1", "198.51.100.1"),
        None,
        L.CGNAT,
        C.MEDIUM,
        "Hop 3",
    ),
    (
        "gateway-shared",
        "192.168.1.20",
        "203.0.113.5",
        (),
        "100.80.1.2",
        L.CGNAT,
        C.HIGH,
        "will not be reachable",
    ),
    (
        "cgnat-outranks-double",
        "192.168.1.20",
        "203.0.113.5",
        ("192.168.1.1", "192.168.0.1", "100.64.0.1", "203.0.113.1"),
        None,
        L.CGNAT,
        C.MEDIUM,
        "probably a second NAT",
    ),
    (
        "cgnat-without-outside-answer",
        "100.64.1.2",
        None,
        (),
        None,
        L.CGNAT,
        C.MEDIUM,
        "not reached",
    ),
    # -- double NAT
    (
        "hop-private-later",
        "192.168.1.20",
        "203.0.113.5",
        ("192.168.1.1", "192.168.0.1", "203.0.113.1"),
        None,
        L.DOUBLE_NAT,
        C.MEDIUM,
        "Hop 2 on the way out is 192.168.0.1",
    ),
    (
        "hop-private-10",
        "10.0.0.20",
        "203.0.113.5",
        ("10.0.0.1", None, "172.16.5.1", "198.51.100.1"),
        None,
        L.DOUBLE_NAT,
        C.MEDIUM,
        "Hop 3",
    ),
    (
        "gateway-private",
        "192.168.1.20",
        "203.0.113.5",
        (),
        "192.168.0.23",
        L.DOUBLE_NAT,
        C.HIGH,
        "another NAT",
    ),
    (
        "gateway-private-no-outside",
        "192.168.1.20",
        None,
        (),
        "10.9.9.9",
        L.DOUBLE_NAT,
        C.MEDIUM,
        "not reached",
    ),
    (
        "gateway-reserved",
        "192.168.1.20",
        "203.0.113.5",
        (),
        "198.18.0.4",
        L.DOUBLE_NAT,
        C.HIGH,
        "another NAT",
    ),
    (
        "gateway-public-mismatch",
        "192.168.1.20",
        "203.0.113.5",
        (),
        "198.51.100.77",
        L.DOUBLE_NAT,
        C.LOW,
        "translated the address again",
    ),
    # -- one NAT
    (
        "private-only",
        "192.168.1.20",
        "203.0.113.5",
        (),
        None,
        L.ONE_NAT,
        C.MEDIUM,
        "double NAT) cannot be excluded",
    ),
    ("private-only-v6-ula", "fd00::20", "2001:db8::5", (), None, L.ONE_NAT, C.MEDIUM, "at least"),
    (
        "private-complete-hops",
        "192.168.1.20",
        "203.0.113.5",
        ("192.168.1.1", "203.0.113.1"),
        None,
        L.ONE_NAT,
        C.HIGH,
        "(hop 2) answered",
    ),
    (
        "private-first-hop-public",
        "192.168.1.20",
        "203.0.113.5",
        ("203.0.113.1",),
        None,
        L.ONE_NAT,
        C.HIGH,
        "first hop already answers from a public address",
    ),
    (
        "private-silent-hop",
        "192.168.1.20",
        "203.0.113.5",
        ("192.168.1.1", None, "203.0.113.1"),
        None,
        L.ONE_NAT,
        C.MEDIUM,
        "cannot be excluded",
    ),
    (
        "private-no-public-hop",
        "192.168.1.20",
        "203.0.113.5",
        ("192.168.1.1", None, None),
        None,
        L.ONE_NAT,
        C.MEDIUM,
        "cannot be excluded",
    ),
    (
        "gateway-confirms-single",
        "192.168.1.20",
        "203.0.113.5",
        (),
        "203.0.113.5",
        L.ONE_NAT,
        C.HIGH,
        "only NAT",
    ),
    (
        "gateway-confirms-single-despite-private-isp-hop",
        "192.168.1.20",
        "203.0.113.5",
        ("192.168.1.1", "10.20.0.1", "203.0.113.1"),
        "203.0.113.5",
        L.ONE_NAT,
        C.HIGH,
        "not to another NAT",
    ),
    (
        "gateway-confirms-single-despite-shared-lan",
        "100.64.5.5",
        "203.0.113.5",
        ("100.64.5.1", "100.70.0.1", "203.0.113.1"),
        "203.0.113.5",
        L.ONE_NAT,
        C.HIGH,
        "networks inside it or to provider links",
    ),
    (
        "gateway-stun-address-behind-cgnat-hop",
        "192.168.77.10",
        "203.0.113.2",
        ("192.168.77.1", "100.64.0.1", "203.0.113.1"),
        "203.0.113.2",
        L.CGNAT,
        C.MEDIUM,
        "learns its address by STUN",
    ),
    (
        "public-local-translated",
        "198.51.100.9",
        "203.0.113.5",
        (),
        None,
        L.ONE_NAT,
        C.LOW,
        "public address of its own",
    ),
    (
        "gateway-no-wan-yet",
        "192.168.1.20",
        "203.0.113.5",
        (),
        "0.0.0.0",
        L.ONE_NAT,
        C.MEDIUM,
        "no usable external address",
    ),
    # -- unknown
    ("no-observed", "192.168.1.20", None, (), None, L.UNKNOWN, C.LOW, "not reached"),
    ("nothing-at-all", None, None, (), None, L.UNKNOWN, C.LOW, "not reached"),
    ("no-local", None, "203.0.113.5", (), None, L.UNKNOWN, C.LOW, "outward address is unknown"),
    (
        "observed-private-server",
        "192.168.1.20",
        "10.0.0.5",
        (),
        None,
        L.UNKNOWN,
        C.LOW,
        "server is not on the Internet",
    ),
    ("loopback-local", "127.0.0.1", "203.0.113.5", (), None, L.UNKNOWN, C.LOW, "not an address"),
    (
        "no-observed-gateway-public",
        "192.168.1.20",
        None,
        (),
        "203.0.113.5",
        L.UNKNOWN,
        C.LOW,
        "external address as 203.0.113.5",
    ),
]


@pytest.mark.parametrize(
    ("local", "observed", "hop_list", "gateway", "layers", "confidence", "phrase"),
    [pytest.param(*row[1:], id=row[0]) for row in CASES],
)
def test_rules(
    local: str | None,
    observed: str | None,
    hop_list: tuple[str | None, ...],
    gateway: str | None,
    layers: NatLayers,
    confidence: Confidence,
    phrase: str,
) -> None:
    verdict = assess_topology(
        ip(local), ip(observed), hops=hops(*hop_list), gateway_external=ip(gateway)
    )
    assert verdict.layers is layers, verdict.evidence
    assert verdict.confidence is confidence, verdict.evidence
    assert any(phrase in sentence for sentence in verdict.evidence), verdict.evidence
    assert all(sentence.endswith(".") for sentence in verdict.evidence)


def test_vpn_note_only_for_shared_addresses_seen_locally() -> None:
    local_shared = assess_topology(ip("100.64.1.2"), ip("203.0.113.5"))
    assert any("Tailscale" in s for s in local_shared.evidence)
    gateway_shared = assess_topology(
        ip("192.168.1.2"), ip("203.0.113.5"), gateway_external=ip("100.64.0.9")
    )
    assert not any("Tailscale" in s for s in gateway_shared.evidence)


def test_first_hop_private_is_the_users_own_router_not_a_second_nat() -> None:
    verdict = assess_topology(
        ip("192.168.1.20"), ip("203.0.113.5"), hops=hops("10.0.0.1", "203.0.113.1")
    )
    assert verdict.layers is L.ONE_NAT


def test_private_hops_after_the_first_public_hop_are_ignored() -> None:
    verdict = assess_topology(
        ip("192.168.1.20"),
        ip("203.0.113.5"),
        hops=hops("192.168.1.1", "203.0.113.1", "10.0.0.1", "100.64.0.1"),
    )
    assert verdict.layers is L.ONE_NAT
    assert verdict.confidence is C.HIGH


def test_ipv4_mapped_inputs_are_treated_as_ipv4() -> None:
    verdict = assess_topology(
        IPv6Address("::ffff:203.0.113.5"),
        IPv4Address("203.0.113.5"),
        hops=(IPv6Address("::ffff:100.64.0.1"),),
        gateway_external=IPv6Address("::ffff:203.0.113.5"),
    )
    assert verdict.layers is L.NO_NAT
    mapped_hop = assess_topology(
        IPv4Address("192.168.1.2"),
        IPv4Address("203.0.113.5"),
        hops=(None, IPv6Address("::ffff:100.64.0.1")),
    )
    assert mapped_hop.layers is L.CGNAT


def test_mixed_ip_versions_are_a_caller_error() -> None:
    with pytest.raises(ValueError):
        assess_topology(IPv4Address("192.168.1.2"), IPv6Address("2001:db8::1"))


def test_verdict_is_frozen() -> None:
    verdict = assess_topology(None, None)
    assert isinstance(verdict, TopologyVerdict)
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.layers = L.NO_NAT  # type: ignore[misc]


def test_enum_values() -> None:
    assert [v.value for v in NatLayers] == ["no-nat", "one-nat", "cgnat", "double-nat", "unknown"]


addresses4 = st.integers(min_value=0, max_value=2**32 - 1).map(IPv4Address)


@given(
    st.one_of(st.none(), addresses4),
    st.one_of(st.none(), addresses4),
    st.booleans(),
    st.lists(st.one_of(st.none(), addresses4), max_size=6),
    st.one_of(st.none(), addresses4),
)
def test_any_evidence_gives_a_well_formed_verdict(
    local: IPv4Address | None,
    observed: IPv4Address | None,
    observed_is_local: bool,
    hop_list: list[IPv4Address | None],
    gateway: IPv4Address | None,
) -> None:
    if observed_is_local:
        observed = local
    verdict = assess_topology(local, observed, hops=hop_list, gateway_external=gateway)
    assert verdict.evidence and all(isinstance(s, str) and s for s in verdict.evidence)
    if observed is None:
        assert verdict.layers in (L.UNKNOWN, L.CGNAT, L.DOUBLE_NAT)
        assert verdict.confidence is not C.HIGH
    usable = local is not None and classify(local) not in (
        AddressScope.LOOPBACK,
        AddressScope.MULTICAST,
        AddressScope.UNSPECIFIED,
    )
    if usable and local == observed:
        assert verdict.layers is L.NO_NAT
    if verdict.layers is L.NO_NAT:
        assert local is not None and local == observed
