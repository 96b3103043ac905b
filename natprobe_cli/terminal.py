"""What the terminal can show: box characters or ASCII, colour or not (https://no-color.org)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

__all__ = ("Colour", "Style", "style_for")

_GLYPHS = "┌├└─✓✗·→—"


class Colour(enum.StrEnum):
    """SGR codes of the few colours natprobe uses."""

    GREEN = "32"
    RED = "31"
    YELLOW = "33"
    BOLD = "1"
    DIM = "2"


@dataclass(frozen=True, slots=True)
class Style:
    unicode: bool = True
    colour: bool = False

    def paint(self, text: str, colour: Colour | None) -> str:
        if not self.colour or colour is None or not text:
            return text
        return f"\x1b[{colour}m{text}\x1b[0m"


def _encodes(stream: TextIO, text: str) -> bool:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def style_for(stream: TextIO, environ: Mapping[str, str]) -> Style:
    """Colour only on a terminal, never in a pipe or a file, never when ``NO_COLOR`` is set
    (to anything non-empty) or ``TERM=dumb``; box characters when the stream's encoding has them."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        tty = False
    colour = tty and not environ.get("NO_COLOR") and environ.get("TERM", "") != "dumb"
    return Style(unicode=_encodes(stream, _GLYPHS), colour=colour)
