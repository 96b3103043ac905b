"""The report of ``natprobe doctor``: what this machine can measure, and why not where it cannot.

Also the shape of one *limit* (:data:`LIMIT`, a list of them :data:`LIMITS`): a missing facility
as other reports list it when it limited their conclusions (the ``limits`` of ``natprobe check``,
``nat``, ``dns``, ``exposure``, ``router`` and ``explain jamulus``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from natprobe.reports.json_schema import STRING_OR_NULL, JsonSchema, enum_of, nullable, obj, report_schema
from natprobe.observations import Availability, CapabilitySet, Facility, Missing

__all__ = ("DOCTOR_SCHEMA", "DOCTOR_SCHEMA_ID", "DOCTOR_VERSION", "LIMIT", "LIMITS", "DoctorReport", "Limit",
           "limit_to_dict", "limits_to_list")

DOCTOR_SCHEMA_ID = "natprobe/doctor"
DOCTOR_VERSION = 2
"""2: the facility ``bind-below-1024`` (listening on a port below 1024) is listed."""


@dataclass(frozen=True, slots=True)
class Limit(Availability):
    """A missing facility that limited a conclusion, with its sentence
    (:func:`natprobe.findings.facility_words.word_limits` words it)."""

    text: str = ""

    @classmethod
    def of(cls, entry: Availability, text: str) -> Limit:
        return cls(entry.facility, entry.available, entry.method, entry.missing, entry.detail, entry.remedy, text)


def limit_to_dict(entry: Limit) -> dict[str, Any]:
    """A missing facility in a report: which, why, the command that would allow it, one sentence."""
    return {
        "facility": entry.facility.value,
        "missing": None if entry.missing is None else entry.missing.value,
        "remedy": entry.remedy,
        "text": entry.text,
    }


LIMIT: JsonSchema = obj({
    "facility": enum_of(Facility),
    "missing": nullable(enum_of(Missing)),
    "remedy": STRING_OR_NULL,
    "text": {"type": "string"},
})
LIMITS: JsonSchema = {"type": "array", "items": LIMIT}
"""A report's ``limits``: the facilities this machine lacked that limited its conclusions."""


def limits_to_list(limits: tuple[Limit, ...]) -> list[dict[str, Any]]:
    """A report's ``limits`` in its JSON form (:data:`LIMITS`)."""
    return [limit_to_dict(entry) for entry in limits]


@dataclass(frozen=True, slots=True)
class DoctorReport:
    capabilities: CapabilitySet
    python: str
    """The interpreter natprobe runs on (what ``setcap`` would be given)."""
    limits: tuple[Limit, ...] = ()
    """Each facility missing here, with its sentence (the builder words them)."""

    def _text(self, entry: Availability) -> str:
        return next((limit.text for limit in self.limits if limit.facility is entry.facility),
                    entry.detail or entry.facility.value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": DOCTOR_SCHEMA_ID,
            "schema_version": DOCTOR_VERSION,
            "platform": self.capabilities.platform,
            "privileged": self.capabilities.privileged,
            "python": self.python,
            "facilities": [
                {
                    "facility": e.facility.value,
                    "available": e.available,
                    "method": e.method,
                    "missing": None if e.missing is None else e.missing.value,
                    "detail": e.detail,
                    "remedy": e.remedy,
                    "text": None if e.available else self._text(e),
                }
                for e in self.capabilities.entries
            ],
        }


DOCTOR_SCHEMA: JsonSchema = report_schema(
    DOCTOR_SCHEMA_ID,
    DOCTOR_VERSION,
    "What this machine can measure, and why not (natprobe doctor)",
    {
        "platform": {"type": "string"},
        "privileged": {"type": "boolean"},
        "python": {"type": "string"},
        "facilities": {
            "type": "array",
            "items": obj({
                "facility": enum_of(Facility),
                "available": {"type": "boolean"},
                "method": STRING_OR_NULL,
                "missing": nullable(enum_of(Missing)),
                "detail": STRING_OR_NULL,
                "remedy": STRING_OR_NULL,
                "text": STRING_OR_NULL,
            }),
        },
    },
)
