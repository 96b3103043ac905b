"""``natprobe demo`` reads its echo server's readiness line with a bound (no root needed here)."""

from __future__ import annotations

import subprocess
import sys

from natprobe_cli.commands.demo import _first_line


def _child(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def test_a_silent_child_gives_no_line_instead_of_a_hang() -> None:
    child = _child("import time; time.sleep(60)")
    try:
        assert _first_line(child, 0.3) is None
    finally:
        child.kill()
        child.wait(5)


def test_the_first_line_of_a_child_that_speaks() -> None:
    child = _child("print('listening port=1', flush=True); import time; time.sleep(60)")
    try:
        assert _first_line(child, 30.0) == "listening port=1\n"
    finally:
        child.kill()
        child.wait(5)
