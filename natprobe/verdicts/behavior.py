"""The vocabulary of NAT behaviour discovery: outcomes (RFC 4787 / RFC 3489 names); what the probes saw is in :mod:`natprobe.observations`."""

from __future__ import annotations

import enum



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
