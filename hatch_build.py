"""Hatch build hook: compile the gettext catalogs with Babel, so every build ships them.

``natprobe/locale/<lang>/LC_MESSAGES/natprobe.po`` (kept in the repository, edited by
translators) becomes ``natprobe.mo`` beside it: in the source tree for an editable install
(``scripts/setup.sh``), and force-included in the wheel (the ``.mo`` files are build output,
ignored by git, which hatch would otherwise leave out). The messages are also extracted from
the sources with Babel and checked against each catalog: a message without a translation is
named on stderr (natprobe then shows it in English; ``tests/test_i18n.py`` fails on it).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCES = ("natprobe", "natprobe_cli", "natprobe_server/web")


def _forms(value: object) -> tuple[object, ...]:
    return value if isinstance(value, tuple) else (value,)


class CatalogBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        from babel.messages.extract import extract_from_dir
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        root = Path(self.root)
        extracted = {
            message[0] if isinstance(message, tuple) else message  # a plural message by its singular
            for source in SOURCES
            for _file, _line, message, _comments, _context in extract_from_dir(root / source)
        }
        for po in sorted((root / "natprobe" / "locale").glob("*/LC_MESSAGES/natprobe.po")):
            with po.open("rb") as handle:
                catalog = read_po(handle)
            missing = sorted(
                m for m in extracted if not (catalog.get(m) and all(_forms(catalog[m].string)) and not catalog[m].fuzzy)
            )
            if missing:
                print(f"natprobe build: {po.parent.parent.name}: {len(missing)} message(s) without a translation, "
                      f"e.g. {missing[0]!r}", file=sys.stderr)
            mo = po.with_suffix(".mo")
            with mo.open("wb") as handle:
                write_mo(handle, catalog)
            if version != "editable":
                build_data["force_include"][str(mo)] = str(mo.relative_to(root))
