"""The parts of the router's view (:func:`natprobe.probe_router`, :func:`natprobe.mapped_ports`,
:func:`natprobe.check_ports_with_mapping`).

Each mapping protocol's answer (:class:`ProtocolAnswer` of a :class:`MappingProtocol`), what the
router's external address means (:class:`ExternalMeaning`), a mapping it holds
(:class:`RouterMapping`), what mapping a port came to (:class:`MappingOutcome`), the check
that proved it (:class:`MappedCheck`), a mapping ``--keep`` left, as natprobe recorded it
(:class:`KeptMapping`, listed by ``natprobe router``), and the words for a router's answers
(:func:`explain_router`).
"""

from __future__ import annotations

from natprobe.findings.router_findings import explain_router
from natprobe.reports.router_report import MappedCheck, ProtocolAnswer
from natprobe.verdicts.router_verdicts import (
    ExternalMeaning,
    KeptMapping,
    MappingOutcome,
    MappingProtocol,
    RouterMapping,
)

__all__ = (
    "ExternalMeaning",
    "KeptMapping",
    "MappedCheck",
    "MappingOutcome",
    "MappingProtocol",
    "ProtocolAnswer",
    "RouterMapping",
    "explain_router",
)
