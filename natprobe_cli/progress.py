"""A one-line progress display on stderr for anything that takes more than a second or two."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

from natprobe.i18n import _

if TYPE_CHECKING:
    from natprobe.measure.lifetime import LifetimeProgress


def lifetime_line(state: LifetimeProgress) -> str:
    """The progress line while idle UDP mappings are being timed."""
    if state.alive_after_s is None:
        alive = _("waiting")
    else:
        alive = _("alive after {seconds:g} s", seconds=state.alive_after_s)
    if state.gone_after_s is not None:
        alive = _("{alive}, gone after {seconds:g} s", alive=alive, seconds=state.gone_after_s)
    return _(
        "measuring mapping lifetime: {elapsed:.0f} s of at most {maximum:g} s ({state})",
        elapsed=state.elapsed_s,
        maximum=state.max_wait_s,
        state=alive,
    )


class ProgressLine:
    """Rewrites one status line on a terminal; on a pipe, prints a line at most every ``every_s``."""

    def __init__(self, stream: TextIO | None = None, *, every_s: float = 10.0, enabled: bool = True) -> None:
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._every = every_s
        self._last = float("-inf")
        self._enabled = enabled
        self._shown = False

    def update(self, text: str) -> None:
        if not self._enabled:
            return
        if self._tty:
            self._stream.write("\r\x1b[2K" + text)
            self._stream.flush()
            self._shown = True
            return
        now = time.monotonic()
        if now - self._last >= self._every:
            self._stream.write(text + "\n")
            self._stream.flush()
            self._last = now

    def done(self) -> None:
        if self._tty and self._shown:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()
            self._shown = False
