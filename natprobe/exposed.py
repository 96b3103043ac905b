"""The parts of an exposure scan (:func:`natprobe.scan_exposure`): what the Internet sees.

The ports to expect (:class:`PortRef`); per address family what the echo server scanned
(:class:`ExposureFamily`: a :class:`natprobe.reach.FamilyResult` with the scan); each port as
scanned (:class:`ScannedPort` in a :class:`PortState`, with what answered: :class:`HttpDetails`,
:class:`TlsDetails`, :class:`SshDetails`); each port worth a word (:class:`ExposedPort`) and
its graded findings (:class:`PortFinding`).
"""

from __future__ import annotations

from natprobe.contract.exposure_route import HttpDetails, PortRef, PortState, ScannedPort, SshDetails, TlsDetails
from natprobe.reports.exposure_report import ExposedPort, ExposureFamily, PortFinding

__all__ = (
    "ExposedPort",
    "ExposureFamily",
    "HttpDetails",
    "PortFinding",
    "PortRef",
    "PortState",
    "ScannedPort",
    "SshDetails",
    "TlsDetails",
)
