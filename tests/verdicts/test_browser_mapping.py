"""The mapping behaviour from a browser's server-reflexive candidates (Chromium drops a candidate
whose address another STUN server already gave, so silence is "the same as before" unless the
server failed)."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from natprobe.addressing import TransportAddress
from natprobe.verdicts.behavior import MappingBehavior
from natprobe.verdicts.browser_mapping import BrowserStunTest, StunTargets, mapping_from_browser

T = BrowserStunTest
TARGETS = StunTargets(
    TransportAddress(ip_address("198.51.100.10"), 3478),
    TransportAddress(ip_address("198.51.100.11"), 3478),
    TransportAddress(ip_address("198.51.100.11"), 3479),
)


def _m(port: int) -> TransportAddress:
    return TransportAddress(ip_address("203.0.113.2"), port)


@pytest.mark.parametrize(
    ("seen", "failed", "expected"),
    [
        # Endpoint-independent: one candidate only, whichever server answered first.
        ({T.PRIMARY: _m(5000)}, (), MappingBehavior.ENDPOINT_INDEPENDENT),
        ({T.ALTERNATE_BOTH: _m(5000)}, (), MappingBehavior.ENDPOINT_INDEPENDENT),
        # Every destination its own mapping: three candidates.
        ({T.PRIMARY: _m(5000), T.ALTERNATE_IP: _m(5001), T.ALTERNATE_BOTH: _m(5002)}, (),
         MappingBehavior.ADDRESS_AND_PORT_DEPENDENT),
        # Test III repeated test II's address (dropped as a duplicate): address-dependent.
        ({T.PRIMARY: _m(5000), T.ALTERNATE_IP: _m(5001)}, (), MappingBehavior.ADDRESS_DEPENDENT),
        ({T.PRIMARY: _m(5000), T.ALTERNATE_BOTH: _m(5001)}, (), MappingBehavior.ADDRESS_DEPENDENT),
        # The alternate address never answered: no second destination, no verdict.
        ({T.PRIMARY: _m(5000)}, (T.ALTERNATE_IP, T.ALTERNATE_BOTH), MappingBehavior.INCONCLUSIVE),
        # Two addresses but test I's is not known: nothing to compare with.
        ({T.ALTERNATE_IP: _m(5001), T.ALTERNATE_BOTH: _m(5002)}, (), MappingBehavior.INCONCLUSIVE),
    ],
)
def test_mapping_from_candidates(
    seen: dict[BrowserStunTest, TransportAddress], failed: tuple[BrowserStunTest, ...], expected: MappingBehavior
) -> None:
    verdict = mapping_from_browser(TARGETS, seen, set(failed))
    assert verdict is not None and verdict.value is expected, verdict


def test_no_candidate_is_no_verdict() -> None:
    assert mapping_from_browser(TARGETS, {}, set()) is None
    assert mapping_from_browser(TARGETS, {}, {T.PRIMARY, T.ALTERNATE_IP, T.ALTERNATE_BOTH}) is None
