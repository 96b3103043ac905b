"""The NAT's mapping behaviour from what a web browser's WebRTC stack saw (pure).

The echo server's web page gathers ICE candidates with one ``RTCPeerConnection`` whose STUN
servers are the echo server's RFC 5780 tests: the primary address and port (test I), the
alternate address and primary port (test II), the alternate address and port (test III)
(RFC 5780 section 4.3). Every Binding request leaves from the same local socket, so the
server-reflexive (``srflx``) candidates are the mapped addresses those tests would see.

Two things a browser adds, handled here so the decision stays :func:`natprobe.verdicts.classify.classify`'s:

* Chromium drops a server-reflexive candidate whose address another STUN server already
  produced (``HasStunCandidateWithAddress``), so a test that answered with an address already
  seen shows no candidate of its own; only a failed test raises ``icecandidateerror``. A test
  neither failed nor seen therefore repeated an earlier address: test II one of test I's,
  test III test II's (a NAT whose mapping depends on the destination port but not on its
  address does not exist in RFC 4787's model).
* Host candidates are hidden behind mDNS names, so the local address is unknown and "no NAT"
  cannot be told from an endpoint-independent mapping (both let hole punching work).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from natprobe.addressing import TransportAddress
from natprobe.observations import Observation, Probe
from natprobe.verdicts.behavior import MappingBehavior
from natprobe.verdicts.classify import Decision, classify

__all__ = ("BrowserStunTest", "UNKNOWN_MAPPING", "StunTargets", "mapping_from_browser")

UNKNOWN_MAPPING = "unknown"
"""The page's ``data-mapping`` when WebRTC gave no server-reflexive candidate at all."""


class BrowserStunTest(enum.StrEnum):
    """Which RFC 5780 mapping test a STUN server of the page stands for."""

    PRIMARY = "primary"
    ALTERNATE_IP = "alternate-ip"
    ALTERNATE_BOTH = "alternate-both"


_PROBE = {
    BrowserStunTest.PRIMARY: Probe.MAPPING_PRIMARY,
    BrowserStunTest.ALTERNATE_IP: Probe.MAPPING_ALTERNATE_IP,
    BrowserStunTest.ALTERNATE_BOTH: Probe.MAPPING_ALTERNATE_BOTH,
}
_NOWHERE = TransportAddress(ipaddress.IPv4Address("0.0.0.0"), 0)


@dataclass(frozen=True, slots=True)
class StunTargets:
    """The three STUN endpoints the page gave its ``RTCPeerConnection``."""

    primary: TransportAddress
    alternate_ip: TransportAddress
    alternate_both: TransportAddress

    def of(self, test: BrowserStunTest) -> TransportAddress:
        return {
            BrowserStunTest.PRIMARY: self.primary,
            BrowserStunTest.ALTERNATE_IP: self.alternate_ip,
            BrowserStunTest.ALTERNATE_BOTH: self.alternate_both,
        }[test]


def _filled(seen: Mapping[BrowserStunTest, TransportAddress], failed: Collection[BrowserStunTest]) -> dict[BrowserStunTest, TransportAddress]:
    """Each answered test's mapped address, the deduplicated ones restored (module docstring)."""
    mapped = dict(seen)
    if len(set(seen.values())) == 1:
        # One address in all: every test that answered saw it, whichever came first.
        (only,) = set(seen.values())
        return {test: only for test in BrowserStunTest if test not in failed}
    first = mapped.get(BrowserStunTest.PRIMARY)
    if first is None:
        return mapped  # test I's address is one of several: nothing to compare with
    if BrowserStunTest.ALTERNATE_IP not in mapped and BrowserStunTest.ALTERNATE_IP not in failed:
        third = mapped.get(BrowserStunTest.ALTERNATE_BOTH)
        # Deduplicated: it repeated test I's address or test III's (the one seen besides I).
        mapped[BrowserStunTest.ALTERNATE_IP] = third if third is not None and third != first else first
    if BrowserStunTest.ALTERNATE_BOTH not in mapped and BrowserStunTest.ALTERNATE_BOTH not in failed:
        mapped[BrowserStunTest.ALTERNATE_BOTH] = mapped[BrowserStunTest.ALTERNATE_IP]
    return mapped


def mapping_from_browser(
    targets: StunTargets,
    seen: Mapping[BrowserStunTest, TransportAddress],
    failed: Collection[BrowserStunTest],
) -> Decision[MappingBehavior] | None:
    """The mapping decision from the page's candidates (worded by findings), or ``None`` when WebRTC gave none.

    ``seen``: the server-reflexive address of each test that produced a candidate;
    ``failed``: the tests whose STUN server raised ``icecandidateerror`` (no answer).
    """
    if not seen:
        return None
    mapped = _filled(seen, failed)
    observations = []
    for test, probe in _PROBE.items():
        address = mapped.get(test)
        destination = targets.of(test)
        observations.append(
            Observation(
                probe=probe,
                local=_NOWHERE,
                destination=destination,
                sends=1,
                answered=address is not None,
                response_source=destination if address is not None else None,
                mapped=address,
                other_address=targets.alternate_both if test is BrowserStunTest.PRIMARY else None,
            )
        )
    return classify(observations, local_ip=None).mapping
