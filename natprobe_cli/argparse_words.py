"""argparse's own words (``usage:``, ``options``, its error sentences) in natprobe's language.

argparse looks its texts up with :func:`gettext.gettext` in the process-wide default domain,
which natprobe does not own. :func:`install` points argparse's lookups at natprobe's catalog
instead, so ``natprobe --lang fr check --help`` says ``utilisation :`` and a bad option is
refused in French. The message ids are argparse's own (Python 3.11-3.13), marked here so the
catalog carries them; an id a later Python changes stays English, never wrong.
"""

from __future__ import annotations

import argparse

from natprobe.i18n import N_, raw_gettext, raw_ngettext

__all__ = ("WORDS", "install")

WORDS = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("show program's version number and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("not allowed with argument %s"),
    N_("one of the arguments %s is required"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("ignored explicit argument %r"),
)
"""Marked for the catalog; argparse itself asks for them."""


def install() -> None:
    """From now on argparse speaks the language :func:`natprobe.i18n.use_language` chose."""
    argparse._ = raw_gettext  # type: ignore[attr-defined]
    argparse.ngettext = raw_ngettext  # type: ignore[attr-defined]
