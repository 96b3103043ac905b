"""A finding: one measured fact, what it means, and what to do (the record every explanation returns).

``title``, ``detail`` and ``advice`` are prose in the language in use (:mod:`natprobe.i18n`);
``code`` is the stable identifier programs match on, the same in every language.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
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
    code: str = field(kw_only=True)
    """Stable and language-independent, e.g. ``"nat-type-symmetric"``: what programs match on."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``json_schema.FINDING``): the ``code`` beside the text."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "title": self.title,
            "detail": self.detail,
            "advice": list(self.advice),
        }
