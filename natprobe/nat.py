"""The parts of a NAT report (:func:`natprobe.discover_nat`, :func:`natprobe.measure_mapping_lifetime`).

RFC 4787 / RFC 5780 outcomes (:class:`MappingBehavior`, :class:`FilteringBehavior`, RFC 3489's
:class:`ClassicNatType`), each in a :class:`Verdict` with its confidence and evidence; what each
probe saw (:class:`Observation` of a :class:`Probe`); the NAT layers in front of this host
(:func:`assess_topology` gives a :class:`TopologyVerdict` of :class:`NatLayers` with a
:class:`Confidence`, from the :class:`Hop` list a trace found); the retransmission schedule
(:class:`RetransmissionPolicy`); a lifetime measurement's trials (:class:`LifetimeTrial`), its
progress callback (:class:`LifetimeProgress`) and injectable :class:`Clock`. The report's
findings, worded again (in the language now in use): :func:`explain_nat`.
"""

from __future__ import annotations

from natprobe.findings.nat_findings import explain_nat
from natprobe.measure.lifetime import Clock, LifetimeProgress
from natprobe.observations import Observation, Probe
from natprobe.recverr import Hop, HopOutcome
from natprobe.reports.lifetime_report import LifetimeTrial
from natprobe.stun.transaction import RetransmissionPolicy
from natprobe.verdicts.behavior import ClassicNatType, FilteringBehavior, MappingBehavior
from natprobe.verdicts.classify import Verdict
from natprobe.verdicts.nat_layers import Confidence, NatLayers, TopologyVerdict
from natprobe.findings.topology_words import assess_topology

__all__ = (
    "ClassicNatType",
    "Clock",
    "Confidence",
    "FilteringBehavior",
    "Hop",
    "HopOutcome",
    "LifetimeProgress",
    "LifetimeTrial",
    "MappingBehavior",
    "NatLayers",
    "Observation",
    "Probe",
    "RetransmissionPolicy",
    "TopologyVerdict",
    "Verdict",
    "assess_topology",
    "explain_nat",
)
