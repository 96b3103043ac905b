"""Which missing facilities limited a check's conclusions, and how a verdict says so (pure).

A verdict reached without a facility it leans on stays what the evidence supports, and its
reason names what natprobe could not see: without a hop trace, carrier-grade NAT is not
ruled out; without the arrival watch, this host's own firewall is not told apart from a
missing forward; without the IPv6 address flags, the tested address may be a temporary one.
"""

from __future__ import annotations

from dataclasses import replace

from natprobe.addressing import IpFamily
from natprobe.verdicts.facilities import Availability, CapabilitySet, Facility, limit_sentence
from natprobe.i18n import _
from natprobe.verdicts.reachability import PortStatus, PortVerdict

__all__ = ("limit_verdict", "limits_of")


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


def limit_verdict(verdict: PortVerdict, limits: tuple[Availability, ...]) -> PortVerdict:
    """``verdict`` with the sentences of the limits that bear on it (only a port found
    unreachable leans on the hop trace and the arrival watch to say why)."""
    relevant = [
        entry for entry in limits
        if (entry.facility is Facility.IPV6_TEMPORARY and verdict.family is IpFamily.IPV6)
        or (entry.facility in (Facility.HOP_TRACE, Facility.ARRIVAL_WATCH) and verdict.reachable is False)
    ]
    if not relevant:
        return verdict
    if verdict.family is IpFamily.IPV6 and verdict.reachable is False and any(
        e.facility is Facility.IPV6_TEMPORARY for e in relevant
    ):
        # The probed address may be a temporary one that no pinhole names: its being filtered
        # says nothing about the stable address the user opened. Inconclusive, and why.
        verdict = replace(verdict, reachable=None, status=PortStatus.UNTESTED, reason=_(
            "{reason} natprobe cannot tell whether the tested address is this host's stable address or a "
            "temporary privacy address, which a pinhole for the stable address does not cover.",
            reason=_sentence(verdict.reason),
        ))
    return replace(verdict, reason=" ".join([_sentence(verdict.reason), *(limit_sentence(e) for e in relevant)]))


def _sentence(text: str) -> str:
    text = text.rstrip()
    return text if text.endswith(".") else text + "."
