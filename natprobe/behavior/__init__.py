"""NAT behaviour discovery, the pure half: which tests to run and what their results mean.

The RFC 5780 tests (section 4) and their RFC 4787 vocabulary live here; running them over
sockets is :mod:`natprobe.discovery`'s job.
"""

from natprobe.behavior.classify import Classification, Verdict, classify
from natprobe.behavior.model import (
    ClassicNatType,
    Filtering,
    Mapping,
    Observation,
    Probe,
)

__all__ = (
    "ClassicNatType",
    "Classification",
    "Filtering",
    "Mapping",
    "Observation",
    "Probe",
    "Verdict",
    "classify",
)
