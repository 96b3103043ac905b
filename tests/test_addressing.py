"""natprobe.addressing: scopes at every range boundary, plus properties over the whole space."""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from natprobe.addressing import (
    HostPortError,
    HostPortProblem,
    split_host_port,
    AddressScope,
    classify,
    is_globally_routable,
    is_ipv4_mapped,
    to_ipv4_mapped,
    unmap,
)

S = AddressScope

# (address, expected scope): the first and last address of each block and the neighbours
# just outside it. Written out by hand so a wrong table in the module cannot agree with itself.
V4_BOUNDARIES = [
    ("0.0.0.0", S.UNSPECIFIED),
    ("0.0.0.1", S.RESERVED),
    ("0.255.255.255", S.RESERVED),
    ("1.0.0.0", S.PUBLIC),
    ("9.255.255.255", S.PUBLIC),
    ("10.0.0.0", S.PRIVATE),
    ("10.255.255.255", S.PRIVATE),
    ("11.0.0.0", S.PUBLIC),
    ("100.63.255.255", S.PUBLIC),
    ("100.64.0.0", S.SHARED),
    ("100.100.100.100", S.SHARED),
    ("100.127.255.255", S.SHARED),
    ("100.128.0.0", S.PUBLIC),
    ("126.255.255.255", S.PUBLIC),
    ("127.0.0.0", S.LOOPBACK),
    ("127.0.0.1", S.LOOPBACK),
    ("127.255.255.255", S.LOOPBACK),
    ("128.0.0.0", S.PUBLIC),
    ("169.253.255.255", S.PUBLIC),
    ("169.254.0.0", S.LINK_LOCAL),
    ("169.254.255.255", S.LINK_LOCAL),
    ("169.255.0.0", S.PUBLIC),
    ("172.15.255.255", S.PUBLIC),
    ("172.16.0.0", S.PRIVATE),
    ("172.31.255.255", S.PRIVATE),
    ("172.32.0.0", S.PUBLIC),
    ("191.255.255.255", S.PUBLIC),
    ("192.0.0.0", S.RESERVED),
    ("192.0.0.8", S.RESERVED),
    ("192.0.0.9", S.PUBLIC),
    ("192.0.0.10", S.PUBLIC),
    ("192.0.0.11", S.RESERVED),
    ("192.0.0.170", S.RESERVED),
    ("192.0.0.255", S.RESERVED),
    ("192.0.1.255", S.PUBLIC),
    ("192.0.2.0", S.DOCUMENTATION),
    ("192.0.2.255", S.DOCUMENTATION),
    ("192.0.3.0", S.PUBLIC),
    ("192.88.98.255", S.PUBLIC),
    ("192.88.99.0", S.RESERVED),
    ("192.88.99.255", S.RESERVED),
    ("192.88.100.0", S.PUBLIC),
    ("192.167.255.255", S.PUBLIC),
    ("192.168.0.0", S.PRIVATE),
    ("192.168.255.255", S.PRIVATE),
    ("192.169.0.0", S.PUBLIC),
    ("198.17.255.255", S.PUBLIC),
    ("198.18.0.0", S.RESERVED),
    ("198.19.255.255", S.RESERVED),
    ("198.20.0.0", S.PUBLIC),
    ("198.51.99.255", S.PUBLIC),
    ("198.51.100.0", S.DOCUMENTATION),
    ("198.51.100.255", S.DOCUMENTATION),
    ("198.51.101.0", S.PUBLIC),
    ("203.0.112.255", S.PUBLIC),
    ("203.0.113.0", S.DOCUMENTATION),
    ("203.0.113.255", S.DOCUMENTATION),
    ("203.0.114.0", S.PUBLIC),
    ("223.255.255.255", S.PUBLIC),
    ("224.0.0.0", S.MULTICAST),
    ("239.255.255.255", S.MULTICAST),
    ("240.0.0.0", S.RESERVED),
    ("255.255.255.254", S.RESERVED),
    ("255.255.255.255", S.RESERVED),
    ("8.8.8.8", S.PUBLIC),
]

V6_BOUNDARIES = [
    ("::", S.UNSPECIFIED),
    ("::1", S.LOOPBACK),
    ("::2", S.RESERVED),
    ("::ffff:ffff", S.RESERVED),  # last IPv4-compatible
    ("::1:0:0", S.RESERVED),  # between ::/96 and ::ffff:0:0/96
    ("::ffff:0.0.0.0", S.UNSPECIFIED),  # mapped: the IPv4 address decides
    ("::ffff:10.1.2.3", S.PRIVATE),
    ("::ffff:100.64.0.1", S.SHARED),
    ("::ffff:192.0.2.7", S.DOCUMENTATION),
    ("::ffff:8.8.8.8", S.PUBLIC),
    ("::ffff:255.255.255.255", S.RESERVED),
    ("64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", S.RESERVED),
    ("64:ff9b::", S.PUBLIC),
    ("64:ff9b::ffff:ffff", S.PUBLIC),
    ("64:ff9b::1:0:0", S.RESERVED),
    ("64:ff9b:1::", S.RESERVED),
    ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", S.RESERVED),
    ("100::", S.RESERVED),
    ("100::ffff:ffff:ffff:ffff", S.RESERVED),
    ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.RESERVED),
    ("2000::", S.PUBLIC),
    ("2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.PUBLIC),
    ("2001::", S.RESERVED),  # Teredo
    ("2001:0:ffff::1", S.RESERVED),
    ("2001:1::1", S.PUBLIC),
    ("2001:1::2", S.PUBLIC),
    ("2001:1::3", S.PUBLIC),
    ("2001:1::4", S.RESERVED),
    ("2001:2::", S.RESERVED),  # benchmarking
    ("2001:3::", S.PUBLIC),
    ("2001:3:ffff:ffff:ffff:ffff:ffff:ffff", S.PUBLIC),
    ("2001:4:112::", S.PUBLIC),
    ("2001:4:113::", S.RESERVED),
    ("2001:10::", S.RESERVED),  # deprecated ORCHID
    ("2001:20::", S.PUBLIC),
    ("2001:2f:ffff::", S.PUBLIC),
    ("2001:30::", S.PUBLIC),
    ("2001:3f:ffff::", S.PUBLIC),
    ("2001:40::", S.RESERVED),
    ("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", S.RESERVED),
    ("2001:200::", S.PUBLIC),
    ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", S.PUBLIC),
    ("2001:db8::", S.DOCUMENTATION),
    ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", S.DOCUMENTATION),
    ("2001:db9::", S.PUBLIC),
    ("2002::1", S.PUBLIC),  # 6to4: a routable unicast format
    ("2606:4700::1111", S.PUBLIC),
    ("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.PUBLIC),
    ("3fff::", S.DOCUMENTATION),
    ("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", S.DOCUMENTATION),
    ("3fff:1000::", S.PUBLIC),
    ("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.PUBLIC),
    ("4000::", S.RESERVED),  # outside 2000::/3: unallocated
    ("5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.RESERVED),
    ("5f00::", S.RESERVED),
    ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.RESERVED),
    ("fc00::", S.UNIQUE_LOCAL),
    ("fd00::2", S.UNIQUE_LOCAL),
    ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.UNIQUE_LOCAL),
    ("fe00::", S.RESERVED),
    ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.RESERVED),
    ("fe80::", S.LINK_LOCAL),
    ("fe80::1%eth0", S.LINK_LOCAL),
    ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.LINK_LOCAL),
    ("fec0::", S.RESERVED),
    ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.RESERVED),
    ("ff00::", S.MULTICAST),
    ("ff02::1", S.MULTICAST),
    ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", S.MULTICAST),
]


@pytest.mark.parametrize(("text", "expected"), V4_BOUNDARIES)
def test_ipv4_boundaries(text: str, expected: AddressScope) -> None:
    assert classify(IPv4Address(text)) is expected


@pytest.mark.parametrize(("text", "expected"), V6_BOUNDARIES)
def test_ipv6_boundaries(text: str, expected: AddressScope) -> None:
    assert classify(IPv6Address(text)) is expected


def test_classify_rejects_non_addresses() -> None:
    with pytest.raises(TypeError):
        classify("10.0.0.1")  # type: ignore[arg-type]


def test_python_is_private_would_be_wrong_here() -> None:
    # The reason classify() exists: ipaddress lumps these in with RFC 1918.
    for text in ("192.0.2.1", "198.51.100.1", "203.0.113.1", "198.18.0.1"):
        assert IPv4Address(text).is_private
        assert classify(IPv4Address(text)) is not S.PRIVATE


@pytest.mark.parametrize(
    ("scope", "routable"),
    [
        (S.PUBLIC, True),
        (S.DOCUMENTATION, True),
        (S.PRIVATE, False),
        (S.SHARED, False),
        (S.LOOPBACK, False),
        (S.LINK_LOCAL, False),
        (S.UNIQUE_LOCAL, False),
        (S.MULTICAST, False),
        (S.UNSPECIFIED, False),
        (S.RESERVED, False),
    ],
)
def test_is_globally_routable(scope: AddressScope, routable: bool) -> None:
    assert is_globally_routable(scope) is routable


def test_scope_values_are_the_documented_strings() -> None:
    assert [s.value for s in AddressScope] == [
        "public",
        "private",
        "shared",
        "loopback",
        "link-local",
        "unique-local",
        "documentation",
        "multicast",
        "unspecified",
        "reserved",
    ]


def test_mapped_helpers() -> None:
    v4 = IPv4Address("100.64.1.2")
    mapped = to_ipv4_mapped(v4)
    assert mapped == IPv6Address("::ffff:100.64.1.2")
    assert is_ipv4_mapped(mapped)
    assert not is_ipv4_mapped(v4)
    assert not is_ipv4_mapped(IPv6Address("::100.64.1.2"))  # IPv4-compatible, not mapped
    assert not is_ipv4_mapped(IPv6Address("64:ff9b::100.64.1.2"))  # NAT64, not mapped
    assert unmap(mapped) == v4
    assert unmap(v4) is v4
    v6 = IPv6Address("2001:db8::1")
    assert unmap(v6) is v6


# ---- properties across the whole address space ----------------------------------------

v4_addresses = st.integers(min_value=0, max_value=2**32 - 1).map(IPv4Address)
v6_addresses = st.integers(min_value=0, max_value=2**128 - 1).map(IPv6Address)

RFC1918 = [IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
SHARED = IPv4Network("100.64.0.0/10")
DOC4 = [IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
DOC6 = [IPv6Network(n) for n in ("2001:db8::/32", "3fff::/20")]


@given(v4_addresses)
def test_ipv4_scope_matches_its_defining_ranges(ip: IPv4Address) -> None:
    scope = classify(ip)
    assert (scope is S.PRIVATE) == any(ip in n for n in RFC1918)
    assert (scope is S.SHARED) == (ip in SHARED)
    assert (scope is S.DOCUMENTATION) == any(ip in n for n in DOC4)
    assert (scope is S.LOOPBACK) == ip.is_loopback
    assert (scope is S.LINK_LOCAL) == ip.is_link_local
    assert (scope is S.MULTICAST) == ip.is_multicast
    assert (scope is S.UNSPECIFIED) == ip.is_unspecified


@given(v4_addresses)
def test_ipv4_public_is_never_special_to_python(ip: IPv4Address) -> None:
    # Python's "special" IPv4 blocks are a subset of our non-public ones; the only
    # exceptions are the IANA globally reachable anycast addresses inside 192.0.0.0/24.
    python_special = (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )
    if classify(ip) is S.PUBLIC:
        assert not python_special or ip in (IPv4Address("192.0.0.9"), IPv4Address("192.0.0.10"))


@given(v6_addresses)
def test_ipv6_scope_matches_its_defining_ranges(ip: IPv6Address) -> None:
    scope = classify(ip)
    if ip.ipv4_mapped is not None:
        assert scope is classify(ip.ipv4_mapped)
        return
    assert (scope is S.UNIQUE_LOCAL) == (ip in IPv6Network("fc00::/7"))
    assert (scope is S.LINK_LOCAL) == (ip in IPv6Network("fe80::/10"))
    assert (scope is S.MULTICAST) == ip.is_multicast
    assert (scope is S.LOOPBACK) == ip.is_loopback
    assert (scope is S.UNSPECIFIED) == ip.is_unspecified
    assert (scope is S.DOCUMENTATION) == any(ip in n for n in DOC6)
    assert scope not in (S.PRIVATE, S.SHARED)  # IPv4-only notions
    if scope is S.PUBLIC:
        assert ip in IPv6Network("2000::/3") or ip in IPv6Network("64:ff9b::/96")


@given(v4_addresses)
def test_mapped_addresses_classify_like_their_ipv4(ip: IPv4Address) -> None:
    mapped = to_ipv4_mapped(ip)
    assert is_ipv4_mapped(mapped)
    assert unmap(mapped) == ip
    assert classify(mapped) is classify(ip)


@given(v6_addresses)
def test_zone_never_changes_the_scope(ip: IPv6Address) -> None:
    zoned = ipaddress.IPv6Address(f"{ip}%eth0")
    assert classify(zoned) is classify(ip)


@given(st.sampled_from([*RFC1918, SHARED, *DOC4]), st.integers(min_value=0))
def test_every_address_inside_a_block_shares_its_scope(net: IPv4Network, offset: int) -> None:
    ip = net.network_address + offset % net.num_addresses
    assert classify(ip) is classify(net.network_address)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", HostPortProblem.EMPTY),
        ("[::1", HostPortProblem.UNBALANCED_BRACKET),
        ("[::1]x", HostPortProblem.TEXT_AFTER_BRACKET),
        ("[nothost]:1", HostPortProblem.NOT_IPV6_IN_BRACKETS),
        ("a:b:c", HostPortProblem.NOT_HOST_PORT),
        (":3478", HostPortProblem.NO_HOST),
        ("a b", HostPortProblem.BAD_HOST),
        ("host:0", HostPortProblem.BAD_PORT),
        ("host:", HostPortProblem.BAD_PORT),
    ],
)
def test_split_host_port_names_the_problem(text: str, problem: HostPortProblem) -> None:
    with pytest.raises(HostPortError) as caught:
        split_host_port(text, 3478)
    assert caught.value.problem is problem and isinstance(caught.value, ValueError)


def test_split_host_port_forms() -> None:
    assert split_host_port(" stun.example.org ", 3478) == ("stun.example.org", 3478)
    assert split_host_port("192.0.2.1:3479", 3478) == ("192.0.2.1", 3479)
    assert split_host_port("2001:db8::1", 3478) == ("2001:db8::1", 3478)
    assert split_host_port("[2001:db8::1]:5349", 3478) == ("2001:db8::1", 5349)
