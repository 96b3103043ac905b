"""What the terminal can show: box characters or ASCII, colour or not (https://no-color.org)."""

from __future__ import annotations

import codecs
import enum
import io
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

__all__ = ("Colour", "Style", "help_text", "plain_letters_where_needed", "style_for")

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


_SPELT: dict[str, str] = {"→": "->", "—": "-", "–": "-", "…": "...", "«": '"', "»": '"', "’": "'", "\u202f": " ",
                          "\xa0": " ", "✓": "v", "✗": "x", "·": "."}
_HANDLER = "natprobe-plain-letters"


def _plain_letters(error: UnicodeError) -> tuple[str, int]:
    """A codec error handler: a letter the stream cannot encode is written without its accent
    (é → e), punctuation as its ASCII twin (→ → ->), anything else as ``?``."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    out = []
    for char in error.object[error.start:error.end]:
        plain = _SPELT.get(char) or unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
        out.append(plain or "?")
    return "".join(out), error.end


codecs.register_error(_HANDLER, _plain_letters)


def plain_letters_where_needed(*streams: TextIO) -> None:
    """Streams whose encoding cannot write French (``LANG=C``, ``PYTHONIOENCODING=ascii``, an old
    console) spell its letters plainly instead of ending in ``UnicodeEncodeError``."""
    for stream in streams:
        if isinstance(stream, io.TextIOWrapper) and not _encodes(stream, "éèàçôœ→—"):
            stream.reconfigure(errors=_HANDLER)


def help_text(doc: str | None) -> str:
    """A module docstring as ``--help`` text: without reST's ``double backticks``."""
    return (doc or "").replace("``", "")
