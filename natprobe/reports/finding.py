"""A finding: one measured fact, what it means, and what to do (the record every explanation returns)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = ("Finding", "Severity")


class Severity(enum.StrEnum):
    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    PROBLEM = "problem"


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    title: str
    detail: str
    advice: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``json_schema.FINDING``)."""
        return {"severity": self.severity.value, "title": self.title, "detail": self.detail, "advice": list(self.advice)}
