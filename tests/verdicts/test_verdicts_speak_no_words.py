"""Verdicts decide, findings speak: a verdict is a value, a code and its parameters
(:class:`natprobe.verdicts.why.Why`); the sentences and their translations live in
``natprobe/findings/``. No module of ``natprobe/verdicts/`` calls ``_``, ``N_`` or ``ngettext``
or imports the gettext layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

VERDICTS = Path(__file__).resolve().parents[2] / "natprobe" / "verdicts"
WORDING_CALLS = {"_", "N_", "ngettext"}
MODULES = sorted(VERDICTS.glob("*.py"))


def _words(path: Path) -> list[str]:
    """Where ``path`` words something: gettext calls and imports of natprobe.i18n."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in WORDING_CALLS:
            found.append(f"{path.name}:{node.lineno}: {node.func.id}(...)")
        elif isinstance(node, ast.ImportFrom) and node.module == "natprobe.i18n":
            found.append(f"{path.name}:{node.lineno}: imports natprobe.i18n")
    return found


def test_the_check_sees_a_sentence(tmp_path: Path) -> None:
    """The detector itself: a gettext call and the gettext import are both caught."""
    probe = tmp_path / "wording.py"
    probe.write_text('from natprobe.i18n import _\nREASON = _("a sentence")\n')
    assert len(_words(probe)) == 2


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_a_verdict_module_holds_no_sentence(path: Path) -> None:
    words = _words(path)
    assert not words, "a verdict returns codes and parameters; move the words to natprobe/findings/:\n" + "\n".join(words)
