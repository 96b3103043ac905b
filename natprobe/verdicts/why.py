"""A verdict's reason before it is worded: a code and its parameters.

Verdicts decide, findings speak: a verdict function returns values, codes and parameters
(:class:`Why`), never a sentence; :mod:`natprobe.findings` holds the sentences, keyed by the
codes, and words a :class:`Why` in the user's language.
A parameter may itself be a :class:`Why` (a clause inside a sentence).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ("AS_SAID", "Why")

AS_SAID = "as-said"
"""The code of a reason that arrived already worded (an error's own text): ``text`` is shown as is."""


@dataclass(frozen=True, slots=True)
class Why:
    """A reason: which sentence (``code``) and what fills it (``params``)."""

    code: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, code: str, /, **params: Any) -> Why:
        return cls(code, tuple(params.items()))

    @classmethod
    def as_said(cls, text: str) -> Why:
        """A reason that is already text (an error message passed through)."""
        return cls(AS_SAID, (("text", text),))

    def get(self, name: str, default: Any = None) -> Any:
        return next((value for key, value in self.params if key == name), default)
