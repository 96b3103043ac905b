"""The vocabulary of NAT behaviour discovery: outcomes (RFC 4787 / RFC 3489 names) and observations."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from natprobe.addressing import TransportAddress


class MappingBehavior(enum.StrEnum):
    """How the NAT maps an internal endpoint to external ones (RFC 4787 section 4.1)."""

    ENDPOINT_INDEPENDENT = "endpoint-independent"
    ADDRESS_DEPENDENT = "address-dependent"
    ADDRESS_AND_PORT_DEPENDENT = "address-and-port-dependent"
    NO_NAT = "no-nat"
    INCONCLUSIVE = "inconclusive"


class FilteringBehavior(enum.StrEnum):
    """Which inbound packets the NAT (or firewall) lets through to a mapping (RFC 4787 section 5).

    ``no-nat`` is never produced by a measurement: a host without NAT may still sit behind a
    filtering firewall, so filtering is always reported as measured.
    """

    ENDPOINT_INDEPENDENT = "endpoint-independent"
    ADDRESS_DEPENDENT = "address-dependent"
    ADDRESS_AND_PORT_DEPENDENT = "address-and-port-dependent"
    NO_NAT = "no-nat"
    INCONCLUSIVE = "inconclusive"


class ClassicNatType(enum.StrEnum):
    """RFC 3489 section 5's names, derived from mapping and filtering."""

    OPEN_INTERNET = "open-internet"
    FULL_CONE = "full-cone"
    RESTRICTED_CONE = "restricted-cone"
    PORT_RESTRICTED_CONE = "port-restricted-cone"
    SYMMETRIC = "symmetric"
    UDP_BLOCKED = "udp-blocked"
    SYMMETRIC_UDP_FIREWALL = "symmetric-udp-firewall"
    INCONCLUSIVE = "inconclusive"


class Probe(enum.StrEnum):
    """The tests discovery runs (RFC 5780 sections 3.4, 4.3 and 4.4)."""

    MAPPING_PRIMARY = "mapping-primary"
    """Test I: Binding to the primary address (also filtering test I)."""
    MAPPING_ALTERNATE_IP = "mapping-alternate-ip"
    """Mapping test II: same socket, to the alternate IP and primary port."""
    MAPPING_ALTERNATE_BOTH = "mapping-alternate-ip-port"
    """Mapping test III: same socket, to the alternate IP and alternate port."""
    FILTERING_CHANGE_IP_PORT = "filtering-change-ip-port"
    """Filtering test II: fresh socket, ask for the answer from the alternate IP and port."""
    FILTERING_CHANGE_PORT = "filtering-change-port"
    """Filtering test III: fresh socket, ask for the answer from the primary IP, alternate port."""
    HAIRPIN = "hairpin"
    """RFC 5780 3.4: a fresh socket sends to the mapped address of the test I socket."""


@dataclass(frozen=True, slots=True)
class Observation:
    """What one probe saw. ``answered`` False means every send went unanswered."""

    probe: Probe
    local: TransportAddress
    destination: TransportAddress
    sends: int
    answered: bool
    response_source: TransportAddress | None = None
    mapped: TransportAddress | None = None
    other_address: TransportAddress | None = None
    response_origin: TransportAddress | None = None
    error_code: int | None = None
    rtt: float | None = None
    expected_source: TransportAddress | None = None
    """Where a correct server answers from (RFC 5780 Table 1); ``None`` when not checked."""

    @property
    def from_expected_source(self) -> bool:
        return self.expected_source is None or self.response_source == self.expected_source
