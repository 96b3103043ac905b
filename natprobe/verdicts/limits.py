"""Which missing facilities limited a check's conclusions (pure; how a verdict says so is
:func:`natprobe.findings.facility_words.limit_verdict`).

A verdict reached without a facility it leans on stays what the evidence supports, and its
reason names what natprobe could not see: without a hop trace, carrier-grade NAT is not
ruled out; without the arrival watch, this host's own firewall is not told apart from a
missing forward; without the IPv6 address flags, the tested address may be a temporary one.
"""

from __future__ import annotations

from natprobe.addressing import IpFamily
from natprobe.observations import Availability, CapabilitySet, Facility
from natprobe.verdicts.reachability import PortVerdict

__all__ = ("limits_of",)


def limits_of(
    capabilities: CapabilitySet,
    family: IpFamily,
    verdicts: tuple[PortVerdict, ...],
    *,
    traced: bool,
    watch_missing: tuple[Availability, ...] = (),
) -> tuple[Availability, ...]:
    """The facilities whose absence limited these verdicts (each once, most telling first)."""
    limits: list[Availability] = list(dict.fromkeys(watch_missing))
    unreached = any(v.reachable is False for v in verdicts)
    arrival = capabilities[Facility.ARRIVAL_WATCH]
    if not arrival.available and unreached and not any(e.facility is Facility.ARRIVAL_WATCH for e in limits):
        limits.append(arrival)
    if not traced and unreached and family is IpFamily.IPV4:
        limits.append(capabilities[Facility.HOP_TRACE])
    if family is IpFamily.IPV6 and not capabilities.has(Facility.IPV6_TEMPORARY):
        limits.append(capabilities[Facility.IPV6_TEMPORARY])
    return tuple(limits)
