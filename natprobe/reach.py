"""The parts of a reachability check (:func:`natprobe.check_ports`).

Per port a :class:`PortVerdict` (a :class:`PortStatus`, the reason and the advice) holding the
echo server's result record for the probe it ran (:class:`UdpNonceResult`, :class:`UdpServiceResult`,
:class:`ConnectResult`, :class:`JamulusResult`, :class:`HttpResult`, :class:`HttpsResult` with
its :class:`TlsInfo`, :class:`SshResult`); the same verdict before it is worded
(:class:`PortDecision`, its reasons as :class:`Why` codes and parameters, as an exposure scan's
expected port carries it); per port the NAT loopback test (:class:`HairpinResult`); which program holds a port (:class:`PortHolder`, a :class:`HolderKind`);
per address family whether it was tested (:class:`FamilyResult`, also
the base of an exposure scan's family record). The NAT layers and hops are in :mod:`natprobe.nat`.
"""

from __future__ import annotations

from natprobe.contract.probe_route import (
    ConnectResult,
    HttpResult,
    HttpsResult,
    JamulusResult,
    SshResult,
    TlsInfo,
    UdpNonceResult,
    UdpServiceResult,
)
from natprobe.reports.family_result import FamilyResult
from natprobe.observations import HolderKind, PortHolder
from natprobe.verdicts.reachability import HairpinResult, PortDecision, PortStatus, PortVerdict
from natprobe.verdicts.why import Why

__all__ = (
    "ConnectResult",
    "FamilyResult",
    "HairpinResult",
    "HolderKind",
    "HttpResult",
    "HttpsResult",
    "JamulusResult",
    "PortDecision",
    "PortHolder",
    "PortStatus",
    "PortVerdict",
    "SshResult",
    "TlsInfo",
    "UdpNonceResult",
    "UdpServiceResult",
    "Why",
)
