"""argparse's own words follow natprobe's language (``--lang fr``), and English stays English."""

from __future__ import annotations

import pytest

from natprobe_cli.main import main
from natprobe.i18n import use_language


@pytest.fixture(autouse=True)
def _english_afterwards() -> object:
    yield
    use_language("en")


def test_usage_and_errors_in_french(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "fr", "check", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("utilisation : natprobe") and "erreur : arguments non reconnus : --bogus" in err
    assert main(["--lang", "fr", "nat", "--help"]) == 0
    out = capsys.readouterr().out
    assert "afficher cette aide et quitter" in out and "usage:" not in out


def test_english_is_untouched(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "en", "check", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: natprobe") and "error: unrecognized arguments: --bogus" in err


def test_serve_speaks_french_too(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "fr", "serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert "servir l'API HTTP de sonde retour" in out and "lancer" not in out.split("\n")[0]
    assert main(["--lang", "fr", "serve", "--port", "x"]) == 2
    assert "erreur : argument --port" in capsys.readouterr().err


def test_adapter_errors_in_french(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: the connection is refused
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        code = main(["--lang", "fr", "check", "--udp", "22124", "--ipv4", "--no-router", "--no-trace", "--server", url])
    assert code == 3
    assert f"impossible de joindre le serveur d'écho {url} : " in capsys.readouterr().err
