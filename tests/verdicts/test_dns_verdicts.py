"""Name validation and the per-family DNS verdicts (pure)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from natprobe.addressing import IpFamily
from natprobe.findings.dns_words import word_dns
from natprobe.verdicts.dns_verdicts import DnsVerdict, decide_family, validate_name
from natprobe.observations import FamilyLookup, LookupStatus

NAME = "cloud.example.org"
PUBLIC4 = IPv4Address("203.0.113.7")
STABLE = IPv6Address("2001:db8:77::10")
TEMP = IPv6Address("2001:db8:77:0:3f2b:f305:512c:bb0d")
V4, V6 = IpFamily.IPV4, IpFamily.IPV6


def answered(*addresses: str) -> FamilyLookup:
    return FamilyLookup(LookupStatus.ANSWERED, tuple(ip_address(a) for a in addresses))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Cloud.Example.org.", "cloud.example.org"), ("  a-b.example.org ", "a-b.example.org"),
     ("bücher.example", "xn--bcher-kva.example")],
)
def test_valid_names_are_normalised(text: str, expected: str) -> None:
    assert validate_name(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("a..example.org", "empty label"),
        ("-a.example.org", "not valid"),
        ("a_b.example.org", "not valid"),
        ("x" * 64 + ".example.org", "at most 63"),
        (("a" * 60 + ".") * 5 + "org", "at most 253"),
        ("localhost", "fully qualified"),
        ("203.0.113.7", "an address"),
        ("exa mple.org", "not valid"),
    ],
)
def test_bad_names_get_one_clear_sentence(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_name(text)


@pytest.mark.parametrize(
    ("family", "outside", "public", "reachable", "verdict"),
    [
        (V4, answered("203.0.113.7"), PUBLIC4, True, DnsVerdict.MATCHES),
        (V4, answered("203.0.113.99"), PUBLIC4, True, DnsVerdict.STALE),
        (V4, answered("192.168.1.10"), PUBLIC4, True, DnsVerdict.PRIVATE_ADDRESS),
        (V4, answered("100.64.3.4"), PUBLIC4, True, DnsVerdict.CGNAT_ADDRESS),
        (V6, answered(str(TEMP)), STABLE, True, DnsVerdict.TEMPORARY_ADDRESS),
        (V6, answered("fd00::5"), STABLE, True, DnsVerdict.PRIVATE_ADDRESS),
        (V6, answered(), STABLE, True, DnsVerdict.MISSING),
        (V6, answered(), None, None, DnsVerdict.NO_RECORD),
        (V6, answered(str(STABLE)), STABLE, False, DnsVerdict.UNREACHABLE_FAMILY),
        (V6, answered(str(STABLE)), None, None, DnsVerdict.UNREACHABLE_FAMILY),
        (V4, FamilyLookup(LookupStatus.NXDOMAIN), PUBLIC4, True, DnsVerdict.NO_SUCH_NAME),
        (V4, FamilyLookup(LookupStatus.SERVFAIL), PUBLIC4, True, DnsVerdict.RESOLVER_FAILURE),
        (V4, FamilyLookup(LookupStatus.TIMEOUT), PUBLIC4, True, DnsVerdict.RESOLVER_TIMEOUT),
    ],
)
def test_each_verdict_with_its_advice(
    family: IpFamily, outside: FamilyLookup, public: IPv4Address | IPv6Address | None, reachable: bool | None,
    verdict: DnsVerdict,
) -> None:
    result = word_dns(decide_family(NAME, family, outside, outside, public, family_reachable=reachable, temporary=[TEMP]))
    assert result.verdict is verdict, result
    assert result.family is family and NAME in result.reason
    assert result.ok is (verdict in (DnsVerdict.MATCHES, DnsVerdict.NO_RECORD))  # never UNVERIFIED here
    if not result.ok:
        assert result.advice
    assert result.problem is (not result.ok and verdict not in (DnsVerdict.RESOLVER_TIMEOUT, DnsVerdict.RESOLVER_FAILURE))


def test_split_horizon_is_fine_when_the_outside_matches_and_the_stale_outside_wins() -> None:
    split = word_dns(decide_family(NAME, V4, answered("192.168.1.10"), answered("203.0.113.7"), PUBLIC4))
    assert split.verdict is DnsVerdict.SPLIT_HORIZON and split.ok and "192.168.1.10" in split.reason
    stale = word_dns(decide_family(NAME, V4, answered("192.168.1.10"), answered("203.0.113.99"), PUBLIC4))
    assert stale.verdict is DnsVerdict.STALE and "192.168.1.10" in stale.reason


def test_local_view_only_cannot_verify_a_public_record_but_still_sees_a_lan_one() -> None:
    assert word_dns(decide_family(NAME, V4, answered("203.0.113.7"), None, None)).verdict is DnsVerdict.UNVERIFIED
    assert word_dns(decide_family(NAME, V4, answered("10.0.0.2"), None, None)).verdict is DnsVerdict.PRIVATE_ADDRESS
    failed_here = word_dns(decide_family(NAME, V4, FamilyLookup(LookupStatus.TIMEOUT), answered("203.0.113.7"), PUBLIC4))
    assert failed_here.verdict is DnsVerdict.MATCHES and "own resolver failed: timeout" in failed_here.reason


def test_without_the_ipv6_flags_a_record_for_another_address_of_the_same_network_is_not_called_stale() -> None:
    """natprobe tested from the kernel's choice (maybe a temporary address): a record naming
    another address of the same /64 may be the stable one. Not verified, saying why; a record
    in another network is still out of date."""
    same = word_dns(decide_family(NAME, V6, answered(str(STABLE)), answered(str(STABLE)), TEMP, flags_unknown=True))
    assert same.verdict is DnsVerdict.UNVERIFIED and "temporary privacy address" in same.reason
    elsewhere = decide_family(NAME, V6, answered("2001:db8:99::10"), answered("2001:db8:99::10"), TEMP,
                              flags_unknown=True)
    assert elsewhere.verdict is DnsVerdict.STALE
    known = decide_family(NAME, V6, answered(str(STABLE)), answered(str(STABLE)), TEMP)
    assert known.verdict is DnsVerdict.STALE  # with the flags read, TEMP was not this host's choice
