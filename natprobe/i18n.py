"""Translated text: gettext lookup with named placeholders (pure: no sockets, no asyncio).

Every human-facing sentence natprobe builds goes through :func:`_`::

    _("On the router, forward {proto} port {port} to {host}.", proto="UDP", port=22124, host=ip)

The English text is the gettext message id; numbers and addresses are named ``{placeholders}``
filled *after* the lookup, so a translation can move them and no sentence is ever stitched
together from pieces. Module-level constants are marked with :func:`N_` (kept as the English
id) and translated with :func:`_` where they are used, so they follow the language chosen at
run time rather than the one active at import.

The catalogs are standard gettext: ``natprobe/locale/<lang>/LC_MESSAGES/natprobe.po`` in the
repository, compiled to ``.mo`` by Babel when the package is built (``hatch_build.py``).
JSON never goes through here: keys, values and each finding's ``code`` stay the same in every
language.
"""

from __future__ import annotations

import gettext
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Final

__all__ = (
    "LANGUAGES",
    "N_",
    "_",
    "current_language",
    "language_from_environment",
    "ngettext",
    "raw_gettext",
    "raw_ngettext",
    "template",
    "use_language",
)

DOMAIN: Final = "natprobe"
LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
LANGUAGES: Final = ("en", "fr")
"""The languages natprobe speaks; English is the source text."""



class _Active:
    """The language in use (one per process, like gettext's own global domain)."""

    translations: gettext.NullTranslations = gettext.NullTranslations()
    language: str = "en"


def language_from_environment(environ: Mapping[str, str]) -> str:
    """``"fr"`` when the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``, first set wins, as in
    POSIX) asks for French, else ``"en"``."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "fr" if value.lower().startswith("fr") else "en"
    return "en"


def use_language(language: str) -> None:
    """Translate from now on into ``language`` (one of :data:`LANGUAGES`).

    Raises ``ValueError`` for another language, and ``FileNotFoundError`` when the compiled
    catalog is missing (a build that skipped Babel): natprobe never falls back silently.
    """
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; known: {', '.join(LANGUAGES)}")
    translations: gettext.NullTranslations
    if language == "en":
        translations = gettext.NullTranslations()
    else:
        translations = gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])
    _Active.translations = translations
    _Active.language = language


def current_language() -> str:
    return _Active.language


class _Formatter(string.Formatter):
    """``str.format`` with the language's decimal separator for non-integral numbers (0,5 s in French)."""

    def format_field(self, value: object, format_spec: str) -> str:
        text = str(super().format_field(value, format_spec))
        if isinstance(value, float) and _Active.language == "fr":
            return text.replace(".", ",")
        return text


_FORMATTER = _Formatter()


def _(message: str, /, **params: object) -> str:
    """``message`` in the current language, with its ``{name}`` placeholders filled."""
    return _FORMATTER.vformat(_Active.translations.gettext(message), (), params)


def template(message: str, /) -> str:
    """``message`` in the current language with its ``{name}`` placeholders left in, for a
    caller that fills them itself (the echo server's web page, in the browser)."""
    return _Active.translations.gettext(message)


def ngettext(singular: str, plural: str, count: int, /, **params: object) -> str:
    """The singular or plural form for ``count`` in the current language (French: 0 and 1 are
    singular), with its placeholders filled; ``count`` is available as ``{count}``."""
    return _FORMATTER.vformat(_Active.translations.ngettext(singular, plural, count), (), {"count": count, **params})


def raw_gettext(message: str, /) -> str:
    """``message`` in the current language, placeholders untouched (for a library that fills
    them itself, e.g. argparse's ``%(prog)s``)."""
    return _Active.translations.gettext(message)


def raw_ngettext(singular: str, plural: str, count: int, /) -> str:
    """:func:`raw_gettext` for a message with a plural form."""
    return _Active.translations.ngettext(singular, plural, count)


def N_(message: str, /) -> str:
    """Mark ``message`` for extraction without translating it now (translate it with ``_``)."""
    return message
