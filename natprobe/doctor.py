"""The parts of ``natprobe doctor`` (:func:`natprobe.probe_capabilities`, :class:`natprobe.DoctorReport`).

What this host lets natprobe do, probed once: each :class:`Facility` (ICMP errors, packet
capture, interface flags...) and its :class:`Availability` (or what is :class:`Missing`), all
in one :class:`CapabilitySet`; a missing one with its sentence, as reports list it, is a
:class:`Limit` (``CheckReport.limits``).
"""

from __future__ import annotations

from natprobe.observations import Availability, CapabilitySet, Facility, Missing
from natprobe.reports.doctor_report import Limit

__all__ = ("Availability", "CapabilitySet", "Facility", "Limit", "Missing")
