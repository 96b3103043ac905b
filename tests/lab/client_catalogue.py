"""The client lab suite's scenarios in one catalogue: each port of each shared lab, per address
family, with the verdict the lab was built to give, and the judge that holds a run to it.

``tests/lab/test_client_matrix_lab.py`` builds the labs described here and runs ``natprobe
check`` over every port of a lab at once, under each capability set (every facility, each
Linux-only facility switched off alone, all of them off) and as an ordinary user. The single-
scenario lab modules (``test_check_lab.py``, ``test_ipv6_lab.py``, ``test_silent_lab.py``,
``test_newcomer_lab.py``...) prove each verdict's words and advice in depth; this catalogue
collects the verdicts they prove so that each capability set meets all of them in one run.

Judging (:func:`judge`): a verdict is *right* when it is the truth; it is *honest* when it
is not the truth but its reason names what natprobe could not do here (a missing facility's
sentence from the report's ``limits``, or the missing privilege to listen below 1024) and it
does not contradict the truth (a port that is reachable is never called unreachable, and the
other way round). Anything else is a wrong verdict: a bug in natprobe. :func:`judge_verdict` is
the same rule for any verdict with a status, a yes/no and a reason: the relay lab
(``test_relay_lab.py``) and the Jamulus lab (``test_jamulus_lab.py``) hold their runs with every
Linux-only facility off to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from natprobe.observations import Facility
from natprobe.verdicts.reachability import PortStatus

__all__ = (
    "CARRIER",
    "DOUBLE",
    "HOME",
    "LINUX_ONLY",
    "Scenario",
    "Seen",
    "judge",
    "judge_verdict",
    "seen_in_report",
)

Protocol = Literal["udp", "tcp"]
Family = Literal["ipv4", "ipv6"]

LINUX_ONLY = (Facility.HOP_TRACE, Facility.ARRIVAL_WATCH, Facility.INTERFACES, Facility.IPV6_TEMPORARY)
"""The facilities natprobe has on Linux that a Mac or a Windows machine may lack (the port-
unreachable error of a connected UDP socket exists on all three)."""


@dataclass(frozen=True)
class Scenario:
    """One port of a lab and the truth the lab was built to give, per family."""

    name: str
    protocol: Protocol
    port: int
    truth: Mapping[Family, PortStatus]
    """What ``check`` must find per family (a family missing here is not asked about)."""
    forward: bool = False
    """The home router forwards the port to this host (IPv4)."""
    pinhole: bool = False
    """The IPv6 firewall has a pinhole to this host's stable address for the port."""
    service: str | None = None
    """The ``--udp/--tcp PORT:SERVICE`` the check names."""
    built_by: str = ""
    """What the lab puts on or in front of the port (read by the fixture, shown on failure)."""
    proven_in: str = ""
    """The lab module that proves this verdict's words and advice in depth."""

    @property
    def argument(self) -> str:
        return f"{self.port}:{self.service}" if self.service else str(self.port)


_S = PortStatus
_BOTH_OPEN = {"ipv4": _S.REACHABLE, "ipv6": _S.REACHABLE}
_BOTH_CLOSED = {"ipv4": _S.NOT_FORWARDED, "ipv6": _S.IPV6_FIREWALL}

HOME = (
    # UDP
    Scenario("udp forwarded, natprobe listens", "udp", 22124, _BOTH_OPEN, forward=True, pinhole=True,
             proven_in="test_check_lab, test_ipv6_lab"),
    Scenario("udp not forwarded", "udp", 22125, _BOTH_CLOSED, proven_in="test_check_lab, test_ipv6_lab"),
    Scenario("udp forwarded, this host's firewall drops", "udp", 22126,
             {"ipv4": _S.HOST_FIREWALL, "ipv6": _S.HOST_FIREWALL}, forward=True, pinhole=True,
             built_by="block", proven_in="test_check_lab"),
    Scenario("udp forwarded to another LAN address", "udp", 22127, _BOTH_CLOSED, built_by="elsewhere",
             proven_in="test_check_lab"),
    Scenario("udp held by a silent WireGuard, forwarded", "udp", 51820,
             {"ipv4": _S.ARRIVED_SILENT, "ipv6": _S.ARRIVED_SILENT}, forward=True, pinhole=True,
             built_by="wireguard", proven_in="test_silent_lab"),
    Scenario("udp held by a silent WireGuard, not forwarded", "udp", 51821, _BOTH_CLOSED,
             built_by="wireguard", proven_in="test_silent_lab"),
    # TCP
    Scenario("tcp forwarded, natprobe listens", "tcp", 8081, _BOTH_OPEN, forward=True, pinhole=True,
             proven_in="test_check_lab, test_ipv6_lab"),
    Scenario("tcp not forwarded", "tcp", 8082, _BOTH_CLOSED, proven_in="test_check_lab"),
    Scenario("tcp forwarded, this host's firewall drops", "tcp", 8083,
             {"ipv4": _S.HOST_FIREWALL, "ipv6": _S.HOST_FIREWALL}, forward=True, pinhole=True,
             built_by="block", proven_in="test_check_lab"),
    Scenario("tcp forwarded, the https service is down", "tcp", 8443,
             {"ipv4": _S.NOTHING_ANSWERING, "ipv6": _S.NOTHING_ANSWERING}, forward=True, pinhole=True,
             service="https", proven_in="test_newcomer_lab"),
    Scenario("tcp 443 held by nginx TLS, forwarded (IPv4 only)", "tcp", 443,
             {"ipv4": _S.REACHABLE, "ipv6": _S.IPV6_FIREWALL}, forward=True, built_by="nginx",
             proven_in="test_check_lab"),
    Scenario("tcp 80 forwarded, free (natprobe listens below 1024)", "tcp", 80, _BOTH_OPEN, forward=True,
             pinhole=True, proven_in="test_client_matrix_lab (as the ordinary user)"),
)
"""A dual-stack home: an nftables NAT that hairpins, an IPv6 firewall with pinholes, the
client preferring a temporary IPv6 address, a real WireGuard on two ports, a real nginx."""

CARRIER = (
    Scenario("udp forwarded by the home router behind carrier-grade NAT", "udp", 22124,
             {"ipv4": _S.CGNAT}, forward=True, proven_in="test_check_lab"),
)
"""A home router behind a carrier's NAT (its WAN address in 100.64.0.0/10): nothing forwarded at
home reaches it. The topology is ``cgnat``. (One port per lab of two NATs: each check costs
about a second per unreachable port, and the verdict does not depend on the protocol.)"""

DOUBLE = (
    Scenario("tcp forwarded by the home router behind an ISP box that NATs too", "tcp", 8081,
             {"ipv4": _S.NOT_FORWARDED}, forward=True),
)
"""A home router behind an ISP box that NATs too (its WAN address in 192.168.1.0/24): the forward
on the inner router alone does not reach this host. The topology is ``double-nat``."""


@dataclass(frozen=True)
class Seen:
    """One port verdict of a run, from the library's record or the CLI's JSON alike."""

    family: str
    protocol: str
    port: int
    status: str
    reachable: bool | None
    reason: str


def seen_in_report(data: Mapping[str, Any]) -> dict[tuple[str, str, int], Seen]:
    """Each port verdict of a ``natprobe/check`` JSON document, by (family, protocol, port)."""
    return {
        (p["family"], p["protocol"], p["port"]): Seen(p["family"], p["protocol"], p["port"], p["status"],
                                                     p["reachable"], p["reason"])
        for p in data["ports"]
    }


_REACHABLE_BY_STATUS = {_S.REACHABLE: True, _S.ARRIVED_SILENT: True, _S.UNTESTED: None}


def _reachable(status: PortStatus) -> bool | None:
    return _REACHABLE_BY_STATUS.get(status, False)


def judge(seen: Seen, truth: PortStatus, limit_texts: Iterable[str], *, unprivileged: bool = False) -> str | None:
    """``None`` when ``seen`` is right or honest about ``truth``; otherwise why it is wrong.

    ``limit_texts``: the sentences of the run's ``limits`` (the facilities it lacked);
    ``unprivileged``: the run may not listen below 1024, and may say so instead."""
    extra = []
    if unprivileged and seen.port < 1024 and "ports below 1024" in seen.reason and "sudo natprobe" in seen.reason:
        extra.append("the privilege to listen below 1024")
    return judge_verdict(str(seen), seen.status, seen.reachable, seen.reason, truth.value, _reachable(truth),
                         limit_texts, also_named=extra)


def judge_verdict(label: str, status: str, reachable: bool | None, reason: str, truth: str,
                  truth_reachable: bool | None, limit_texts: Iterable[str], *,
                  also_named: Iterable[str] = ()) -> str | None:
    """The rule of :func:`judge` for any verdict that has a status, a yes/no/unknown and a reason
    (a relay port, a Jamulus mode): ``None`` when right or honest, otherwise why it is wrong."""
    if status == truth:
        return None if reachable is truth_reachable else f"{label}: right status, wrong yes/no ({reachable})"
    named = [text for text in limit_texts if text and text in reason] + list(also_named)
    if not named:
        return f"{label}: {status} instead of {truth} without naming what was missing: {reason}"
    if reachable not in (truth_reachable, None):
        return f"{label}: {status} contradicts {truth} ({reachable}): {reason}"
    return None
