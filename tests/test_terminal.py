"""Colour only on a terminal and never with NO_COLOR; box characters only where they encode."""

from __future__ import annotations

import io
import os
import pty

from natprobe_cli.render import render_findings
from natprobe_cli.terminal import Colour, Style, style_for
from natprobe.reports.finding import Finding, Severity


class _Stream(io.StringIO):
    def __init__(self, tty: bool, encoding: str = "utf-8") -> None:
        super().__init__()
        self._tty, self._encoding = tty, encoding

    def isatty(self) -> bool:
        return self._tty

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


def test_colour_on_a_real_terminal_unless_no_color_or_dumb() -> None:
    leader, follower = pty.openpty()
    try:
        with open(follower, "w", encoding="utf-8", closefd=False) as terminal:
            assert style_for(terminal, {}).colour is True
            assert style_for(terminal, {"NO_COLOR": "1"}).colour is False
            assert style_for(terminal, {"NO_COLOR": ""}).colour is True  # no-color.org: only a non-empty value
            assert style_for(terminal, {"TERM": "dumb"}).colour is False
    finally:
        os.close(leader)
        os.close(follower)


def test_never_colour_in_a_pipe_or_a_file() -> None:
    read, write = os.pipe()
    try:
        with open(write, "w", encoding="utf-8", closefd=False) as pipe:
            assert style_for(pipe, {}).colour is False
    finally:
        os.close(read)
        os.close(write)
    assert style_for(_Stream(tty=False), {}).colour is False


def test_ascii_when_the_encoding_cannot_show_box_characters() -> None:
    assert style_for(_Stream(tty=True, encoding="ascii"), {}).unicode is False
    assert style_for(_Stream(tty=True, encoding="latin-1"), {}).unicode is False
    assert style_for(_Stream(tty=True), {}).unicode is True


def test_paint_is_a_no_op_without_colour() -> None:
    finding = Finding(Severity.PROBLEM, "Broken", "It is broken.", ("Fix it.",), code="broken")
    assert "\x1b[" not in render_findings([finding], style=Style(colour=False))
    coloured = render_findings([finding], style=Style(colour=True))
    assert f"\x1b[{Colour.RED}m[FAIL]\x1b[0m" in coloured
    assert "-> Fix it." in render_findings([finding], style=Style(unicode=False))
