"""Jamulus, measured: the parts of :func:`natprobe.measure_jamulus_modes`, and ping and list.

Public vs private mode: each mode's :class:`ModeVerdict` (a :class:`ModeStatus`), and what the
echo server's directory emulation saw of its hole punch (:class:`HolePunchObservation`).
Ping a server (:func:`ping` gives a :class:`JamulusPingResult`) and list a directory as the
Jamulus client's connect dialog does (:func:`list_servers` gives a :class:`JamulusServerList`
of :class:`JamulusServerEntry`, each with its :class:`OsType`). The Jamulus codec itself is
:mod:`natprobe.jamulus`.
"""

from __future__ import annotations

from natprobe.findings.jamulus_findings import explain_jamulus
from natprobe.jamulus.messages import OsType
from natprobe.measure.jamulus_query import list_servers, ping
from natprobe.observations import HolePunchObservation
from natprobe.reports.jamulus_report import JamulusPingResult, JamulusServerEntry, JamulusServerList
from natprobe.verdicts.jamulus_verdicts import ModeStatus, ModeVerdict

__all__ = (
    "HolePunchObservation",
    "JamulusPingResult",
    "JamulusServerEntry",
    "JamulusServerList",
    "ModeStatus",
    "ModeVerdict",
    "OsType",
    "explain_jamulus",
    "list_servers",
    "ping",
)
