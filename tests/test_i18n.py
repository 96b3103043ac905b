"""The French catalog is complete, its placeholders match, and the language is chosen as documented.

Messages are extracted from the sources with Babel (as the build does) and compared with the
catalog read by Babel's own reader: a message without a French translation, a fuzzy one, or a
translation whose ``{placeholders}`` differ from the English fails here.
"""

from __future__ import annotations

import gettext
import io
import string
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from natprobe_cli.main import main
from natprobe.i18n import LOCALE_DIR, _, current_language, language_from_environment, ngettext, use_language

ROOT = Path(__file__).resolve().parent.parent
PO = LOCALE_DIR / "fr" / "LC_MESSAGES" / "natprobe.po"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    with PO.open("rb") as handle:
        return read_po(handle, locale="fr")


@pytest.fixture(scope="module")
def extracted() -> dict[str, str]:
    """Every marked message in natprobe/, natprobe_cli/ and natprobe_server/ (the web page included; a plural
    one by its singular), with where it is."""
    found: dict[str, str] = {}
    for source in ("natprobe", "natprobe_cli", "natprobe_server"):
        for filename, lineno, message, _comments, _context in extract_from_dir(ROOT / source):
            key = message[0] if isinstance(message, tuple) else message
            assert isinstance(key, str), (filename, lineno, message)
            found.setdefault(key, f"{source}/{filename}:{lineno}")
    return found


def _forms(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return value if isinstance(value, tuple) else (value,)


@pytest.fixture(autouse=True)
def _english_afterwards() -> object:
    yield
    use_language("en")


def _placeholders(text: str) -> set[tuple[str, str]]:
    return {(name, spec or "") for _literal, name, spec, _conv in string.Formatter().parse(text) if name is not None}


def test_every_message_has_a_french_translation(catalog: Catalog, extracted: dict[str, str]) -> None:
    missing = [
        f"{where}: {message!r}"
        for message, where in extracted.items()
        if not (message in catalog and all(_forms(catalog[message].string)) and _forms(catalog[message].string)
                and not catalog[message].fuzzy)
    ]
    assert not missing, "messages without a French translation:\n" + "\n".join(missing)


def test_the_catalog_has_no_stale_messages(catalog: Catalog, extracted: dict[str, str]) -> None:
    stale = [m.id for m in catalog if m.id and _forms(m.id)[0] not in extracted]
    assert not stale, f"translations of messages the sources no longer have: {stale}"


def test_translations_keep_the_placeholders(catalog: Catalog) -> None:
    wrong = [
        (m.id, m.string)
        for m in catalog
        if m.id
        for original in _forms(m.id)
        for translation in _forms(m.string)
        # a plural form may drop {count} ("un serveur"), never add or rename a placeholder
        if _placeholders(translation) - _placeholders(original) or _placeholders(original) - _placeholders(translation) - {("count", "")}
    ]
    assert not wrong, wrong
    assert any(_placeholders(_forms(m.id)[0]) for m in catalog if m.id), "the check would pass vacuously"
    assert any(m.pluralizable for m in catalog), "plural messages are checked too"


def test_the_compiled_catalog_is_the_current_one(catalog: Catalog) -> None:
    mo = PO.with_suffix(".mo")
    assert mo.is_file(), "no compiled catalog: run scripts/setup.sh (the build compiles it with Babel)"
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [
        m.id
        for m in catalog
        if m.id
        and (
            [compiled.ngettext(m.id[0], m.id[1], n) for n in (1, 2)] != list(m.string)
            if m.pluralizable
            else compiled.gettext(m.id) != m.string
        )
    ]
    assert not stale, f"natprobe.mo is older than natprobe.po (run scripts/setup.sh): {stale[:3]}"


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "fr"),
        ({"LANG": "fr_CA.UTF-8"}, "fr"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({"LANG": "fr_FR.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "fr_BE.UTF-8"}, "fr"),
        ({"LC_ALL": "fr_FR.UTF-8", "LC_MESSAGES": "C"}, "fr"),
        ({"LC_ALL": "C", "LANG": "fr_FR.UTF-8"}, "en"),
    ],
)
def test_language_from_the_locale(environ: dict[str, str], language: str) -> None:
    assert language_from_environment(environ) == language


def test_placeholders_are_filled_after_the_lookup() -> None:
    use_language("fr")
    assert current_language() == "fr"
    assert _("{probe} stopped here: no forward", probe="UDP 22124") == "UDP 22124 arrêté ici\u00a0: pas de redirection"
    assert _("(took {seconds:.1f} s)", seconds=2.25) == "(durée\u00a0: 2,2 s)"  # the French decimal comma
    assert _("port {port}", port=22124) == "port 22124"
    use_language("en")
    assert _("{probe} stopped here: no forward", probe="UDP 22124") == "UDP 22124 stopped here: no forward"
    assert _("(took {seconds:.1f} s)", seconds=2.25) == "(took 2.2 s)"
    assert ngettext("Directory {where}: {count} server", "Directory {where}: {count} servers", 0, where="x") == (
        "Directory x: 0 servers"
    )
    use_language("fr")
    assert ngettext("Directory {where}: {count} server", "Directory {where}: {count} servers", 0, where="x") == (
        "Annuaire x\u00a0: 0 serveur"  # French: 0 is singular
    )
    with pytest.raises(ValueError):
        use_language("de")


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_lang_option_anywhere_and_errors_in_french(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    code, _out, err = _run("check", "--lang", "fr", "--server", "http://127.0.0.1:9")
    assert code == 2 and "indiquez au moins un port" in err
    code, _out, err = _run("--lang=en", "check", "--server", "http://127.0.0.1:9")
    assert code == 2 and "name at least one port" in err
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    code, _out, err = _run("check", "--server", "http://127.0.0.1:9")
    assert code == 2 and "indiquez au moins un port" in err
    code, _out, err = _run("--lang", "de", "check")
    assert code == 2 and "--lang" in err and "Traceback" not in err


def test_json_never_changes_with_the_language(monkeypatch: pytest.MonkeyPatch) -> None:
    from natprobe_cli.main import _choose_language

    assert _choose_language(["--lang", "fr", "nat", "--server", "x", "--json"]) == "en"
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    assert _choose_language(["nat", "--server", "x", "--json"]) == "en"
    assert _choose_language(["nat", "--server", "x"]) == "fr"


def test_dns_speaks_french_and_its_json_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    """An invalid name needs no network: the error is French, the JSON report is the English one."""
    import json

    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    code, out, err = _run("--lang", "fr", "dns", "cloud..example.org")
    assert code == 2 and not out and "a une étiquette vide" in err and "Traceback" not in err
    code, english, _err = _run("dns", "cloud..example.org", "--json")
    assert code == 2
    code, french, err = _run("--lang", "fr", "dns", "cloud..example.org", "--json")
    report, english_report = json.loads(french), json.loads(english)
    # The time taken is the one value that may differ between two runs (a loaded machine).
    report.pop("duration_ms"), english_report.pop("duration_ms")
    assert code == 2 and report == english_report and "empty label" in err
    assert report["schema"] == "natprobe/dns" and report["valid"] is False
    assert "empty label" in report["verdicts"]["ipv6"]["reason"]
