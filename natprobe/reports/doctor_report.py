"""The report of ``natprobe doctor``: what this machine can measure, and why not where it cannot.

Also the shape of one *limit* (:data:`LIMIT`): a missing facility as other reports list it
when it limited their conclusions (``natprobe check``'s ``limits``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from natprobe.reports.json_schema import STRING_OR_NULL, JsonSchema, enum_of, nullable, obj, report_schema
from natprobe.verdicts.facilities import Availability, CapabilitySet, Facility, Missing, limit_sentence

__all__ = ("DOCTOR_SCHEMA", "DOCTOR_SCHEMA_ID", "DOCTOR_VERSION", "LIMIT", "DoctorReport", "limit_to_dict")

DOCTOR_SCHEMA_ID = "natprobe/doctor"
DOCTOR_VERSION = 1


def limit_to_dict(entry: Availability) -> dict[str, Any]:
    """A missing facility in a report: which, why, the command that would allow it, one sentence."""
    return {
        "facility": entry.facility.value,
        "missing": None if entry.missing is None else entry.missing.value,
        "remedy": entry.remedy,
        "text": limit_sentence(entry),
    }


LIMIT: JsonSchema = obj({
    "facility": enum_of(Facility),
    "missing": nullable(enum_of(Missing)),
    "remedy": STRING_OR_NULL,
    "text": {"type": "string"},
})


@dataclass(frozen=True, slots=True)
class DoctorReport:
    capabilities: CapabilitySet
    python: str
    """The interpreter natprobe runs on (what ``setcap`` would be given)."""

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
                    "text": None if e.available else limit_sentence(e),
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
