"""Words for the verdicts' reasons: one call turns a :class:`~natprobe.verdicts.why.Why`
into a sentence in the user's language, from the table of sentences of its area.

Each findings module keeps its sentences in a table ``code -> N_(template)``; the templates'
``{placeholders}`` are the :class:`Why`'s parameters. A parameter that is itself a
:class:`Why` is worded first (a clause inside the sentence).
"""

from __future__ import annotations

from collections.abc import Mapping

from natprobe.i18n import _
from natprobe.verdicts.why import AS_SAID, Why

__all__ = ("say",)


def say(why: Why, sentences: Mapping[str, str]) -> str:
    """``why`` worded with ``sentences`` (``KeyError`` for a code the table lacks: a bug)."""
    params = {key: say(value, sentences) if isinstance(value, Why) else value for key, value in why.params}
    if why.code == AS_SAID:
        return str(params["text"])
    return _(sentences[why.code], **params)
