"""A public server advertising a private/CGNAT/loopback alternate (1:1 NAT, public addresses not
configured) makes the alternate tests inconclusive with that reason, never a behaviour."""

from __future__ import annotations

import ipaddress

import pytest

from natprobe.addressing import TransportAddress
from natprobe.verdicts.behavior import ClassicNatType, FilteringBehavior, MappingBehavior
from natprobe.observations import Observation, Probe
from natprobe.findings.behavior_words import unreachable_alternate_reason, word_verdict
from natprobe.verdicts.classify import classify, unreachable_alternate, usable_alternate

LOCAL_IP = ipaddress.ip_address("192.168.1.10")
SERVER = TransportAddress.parse("203.0.113.20", 3478)
MAPPED = TransportAddress.parse("198.51.100.9", 40000)


def first(server: TransportAddress, other: str) -> Observation:
    return Observation(Probe.MAPPING_PRIMARY, TransportAddress.parse("0.0.0.0", 40000), server, 1, True,
                       response_source=server, mapped=MAPPED, other_address=TransportAddress.parse(other, 3479),
                       rtt=0.05)


@pytest.mark.parametrize("other, scope", [("10.0.0.6", "private"), ("100.64.1.2", "carrier-grade NAT"),
                                          ("127.0.0.2", "loopback"), ("169.254.0.2", "link-local")])
def test_public_server_with_internal_alternate_is_inconclusive_with_the_reason(other: str, scope: str) -> None:
    primary = first(SERVER, other)
    assert usable_alternate(primary) is None
    reason = unreachable_alternate_reason(primary)
    assert reason is not None and scope in reason and "1:1 NAT" in reason
    change_port = Observation(Probe.FILTERING_CHANGE_PORT, TransportAddress.parse("0.0.0.0", 40001), SERVER, 1, True,
                              response_source=TransportAddress(SERVER.ip, 3479), mapped=MAPPED,
                              expected_source=TransportAddress(SERVER.ip, 3479))
    result = classify([primary, change_port], local_ip=LOCAL_IP)
    assert result.mapping.value is MappingBehavior.INCONCLUSIVE
    assert "1:1 NAT" in word_verdict(result.mapping).reason and other in word_verdict(result.mapping).reason
    assert result.filtering.value is FilteringBehavior.INCONCLUSIVE
    assert "1:1 NAT" in word_verdict(result.filtering).reason
    assert result.nat_type.value is ClassicNatType.INCONCLUSIVE


@pytest.mark.parametrize("server, other", [("203.0.113.20", "203.0.113.21"), ("10.0.0.5", "10.0.0.6"),
                                           ("127.0.0.1", "127.0.0.2")])
def test_consistent_alternates_stay_usable(server: str, other: str) -> None:
    primary = first(TransportAddress.parse(server, 3478), other)
    assert unreachable_alternate(primary) is None
    assert usable_alternate(primary) == TransportAddress.parse(other, 3479)
