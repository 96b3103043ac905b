"""The words of what this machine could not measure (a missing facility, ``natprobe doctor``'s
lines and the limits other reports list), and how a port's verdict says which limits bore on it.

Which facilities limited a check is decided in :mod:`natprobe.verdicts.limits`; the records are
in :mod:`natprobe.observations`.
"""

from __future__ import annotations

from dataclasses import replace

from natprobe.addressing import IpFamily
from natprobe.i18n import _
from natprobe.observations import FACILITIES_OFF_VARIABLE, OFF_BY_VARIABLE, Availability, Facility, Missing
from natprobe.reports.doctor_report import Limit
from natprobe.verdicts.reachability import PortStatus, PortVerdict

__all__ = ("limit_sentence", "limit_verdict", "with_limits", "word_limits")


def _what(facility: Facility) -> str:
    if facility is Facility.HOP_TRACE:
        return _("trace the routers on the way (needed to tell carrier-grade NAT apart)")
    if facility is Facility.PORT_UNREACHABLE:
        return _("see ICMP port-unreachable answers")
    if facility is Facility.ARRIVAL_WATCH:
        return _("watch this host's interfaces for the echo server's probe (needed to test a port another "
                 "program holds, and to tell this host's firewall apart)")
    if facility is Facility.INTERFACES:
        return _("list this host's interfaces and gateway")
    if facility is Facility.LOW_PORTS:
        return _("listen on a port below 1024 itself (needed to test such a port that no program holds)")
    return _("tell a stable IPv6 address from a temporary privacy address")


def limit_sentence(entry: Availability) -> str:
    """One sentence: what natprobe could not do here, why, and the command that would let it."""
    what = _what(entry.facility)
    if entry.missing is Missing.PERMISSION:
        text = _("natprobe could not {what}: it needs a privilege this user does not have.", what=what)
    elif entry.missing is Missing.DISABLED and entry.detail == OFF_BY_VARIABLE:
        text = _("natprobe did not {what}: the facility was switched off by {variable}.", what=what,
                 variable=FACILITIES_OFF_VARIABLE)
    elif entry.missing is Missing.DISABLED:
        text = _("natprobe did not {what}: the facility was switched off.", what=what)
    elif entry.missing is Missing.FAILED:
        text = _("natprobe could not {what}: probing it failed ({detail}).", what=what, detail=entry.detail or "?")
    else:
        text = _("natprobe cannot {what} on this platform ({platform}).", what=what, platform=entry.detail or "?")
    if entry.remedy:
        text += " " + _("To allow it: {command}", command=entry.remedy)
    return text


def word_limits(entries: tuple[Availability, ...]) -> tuple[Limit, ...]:
    """Each missing facility with its sentence, as reports list them."""
    return tuple(Limit.of(entry, limit_sentence(entry)) for entry in entries)


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
    return replace(verdict, reason=with_limits(verdict.reason, tuple(relevant)))


def with_limits(reason: str, limits: tuple[Availability, ...]) -> str:
    """``reason``, then the sentence of each limit that bears on it."""
    if not limits:
        return reason
    return " ".join([_sentence(reason), *(limit_sentence(e) for e in limits)])


def _sentence(text: str) -> str:
    text = text.rstrip()
    return text if text.endswith(".") else text + "."
