"""The parts of an exposure scan (:func:`natprobe.scan_exposure`): what the Internet sees.

The ports to expect (:class:`PortRef`); per address family what the echo server scanned
(:class:`ExposureFamily`: a :class:`natprobe.reach.FamilyResult` with the scan); each port as
scanned (:class:`ScannedPort` in a :class:`PortState`, with what answered: :class:`HttpDetails`,
:class:`TlsDetails`, :class:`SshDetails`); each port worth a word (:class:`ExposedPort`) with
its grades (:class:`Grade`: a :class:`Code` at a :class:`Level`; an expected port that is not
open also has the reachability check's :class:`natprobe.reach.PortDecision`), and the grades'
findings as the JSON report shows them per port (:class:`PortFinding`). The report's findings,
worded again (in the language now in use): :func:`explain_exposure`.
"""

from __future__ import annotations

from natprobe.contract.exposure_route import HttpDetails, PortRef, PortState, ScannedPort, SshDetails, TlsDetails
from natprobe.findings.exposure_findings import explain_exposure
from natprobe.reports.exposure_report import ExposureFamily, PortFinding
from natprobe.verdicts.exposure_grading import Code, ExposedPort, Grade, Level

__all__ = (
    "Code",
    "ExposedPort",
    "ExposureFamily",
    "Grade",
    "HttpDetails",
    "Level",
    "PortFinding",
    "PortRef",
    "PortState",
    "ScannedPort",
    "SshDetails",
    "TlsDetails",
    "explain_exposure",
)
