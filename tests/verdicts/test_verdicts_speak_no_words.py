"""Verdicts decide, findings speak: a verdict is a value, a code and its parameters
(:class:`natprobe.verdicts.why.Why`); the sentences and their translations live in
``natprobe/findings/``. No module of ``natprobe/verdicts/`` calls ``_``, ``N_`` or ``ngettext``
or imports the gettext layer.

``NOT_YET_MOVED`` lists the verdict modules whose sentences still wait to move to findings
(issue #17); it may only shrink: a module listed here that no longer holds a sentence fails
too, so the list is kept exact.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

VERDICTS = Path(__file__).resolve().parents[2] / "natprobe" / "verdicts"
WORDING_CALLS = {"_", "N_", "ngettext"}
NOT_YET_MOVED = {"dns_verdicts.py"}


def _words(path: Path) -> list[str]:
    """Where ``path`` words something: gettext calls and imports of natprobe.i18n."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in WORDING_CALLS:
            found.append(f"{path.name}:{node.lineno}: {node.func.id}(...)")
        elif isinstance(node, ast.ImportFrom) and node.module == "natprobe.i18n":
            found.append(f"{path.name}:{node.lineno}: imports natprobe.i18n")
    return found


MODULES = sorted(VERDICTS.glob("*.py"))


@pytest.mark.parametrize("path", [p for p in MODULES if p.name not in NOT_YET_MOVED], ids=lambda p: p.name)
def test_a_verdict_module_holds_no_sentence(path: Path) -> None:
    words = _words(path)
    assert not words, "a verdict returns codes and parameters; move the words to natprobe/findings/:\n" + "\n".join(words)


@pytest.mark.parametrize("name", sorted(NOT_YET_MOVED))
def test_the_not_yet_moved_list_is_exact(name: str) -> None:
    path = VERDICTS / name
    assert path.exists() and _words(path), f"{name} holds no sentence any more: remove it from NOT_YET_MOVED"
