"""Which missing facilities limited a report's conclusions (pure; how a verdict says so is
:func:`natprobe.findings.facility_words.limit_verdict`, how a report lists them
:func:`natprobe.findings.facility_words.word_limits`).

A verdict reached without a facility it leans on stays what the evidence supports, and its
reason names what natprobe could not see: without a hop trace, carrier-grade NAT is not
ruled out; without the arrival watch, this host's own firewall is not told apart from a
missing forward; without the IPv6 address flags, the tested address may be a temporary one;
without the interfaces, the default gateway is not known.

Each report's measurement says which facilities its conclusions leaned on (the check per
port, :func:`limits_of`; the others per report, :func:`leaned_on`): only those, when missing,
are its limits.
"""

from __future__ import annotations

from collections.abc import Iterable

from natprobe.addressing import IpFamily
from natprobe.observations import Availability, CapabilitySet, Facility
from natprobe.verdicts.reachability import PortVerdict

__all__ = ("leaned_on", "limits_of")


def limits_of(
    capabilities: CapabilitySet,
    family: IpFamily,
    verdicts: tuple[PortVerdict, ...],
    *,
    traced: bool,
    watch_missing: tuple[Availability, ...] = (),
    bind_missing: tuple[Availability, ...] = (),
) -> tuple[Availability, ...]:
    """The facilities whose absence limited these verdicts (each once, most telling first):
    ``watch_missing`` and ``bind_missing`` are what the ports' observations could not do."""
    limits: list[Availability] = list(dict.fromkeys(watch_missing))
    unreached = any(v.reachable is False for v in verdicts)
    arrival = capabilities[Facility.ARRIVAL_WATCH]
    if not arrival.available and unreached and not any(e.facility is Facility.ARRIVAL_WATCH for e in limits):
        limits.append(arrival)
    limits += [entry for entry in dict.fromkeys(bind_missing)
               if not any(e.facility is Facility.LOW_PORTS for e in limits)][:1]
    if not traced and unreached and family is IpFamily.IPV4:
        limits.append(capabilities[Facility.HOP_TRACE])
    if family is IpFamily.IPV6 and not capabilities.has(Facility.IPV6_TEMPORARY):
        limits.append(capabilities[Facility.IPV6_TEMPORARY])
    return tuple(limits)


def leaned_on(capabilities: CapabilitySet, facilities: Iterable[Facility]) -> tuple[Availability, ...]:
    """The missing ones among ``facilities`` (those a report's conclusions leaned on), each once,
    in the order given."""
    return tuple(capabilities[f] for f in dict.fromkeys(facilities) if not capabilities.has(f))

