"""Client zero setup: where the echo server, the token and the STUN servers come from,
``natprobe config``, the no-server path, and the public-STUN-server pick (on loopback only)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from natprobe_cli.exit_codes import ExitCode
from natprobe_cli.main import main as natprobe_main
from natprobe_server import EchoServer
from natprobe_cli.user_config import (
    UserConfig,
    UserConfigError,
    check_server_url,
    config_path,
    load_user_config,
    resolve_server,
    resolve_stun_servers,
    resolve_token,
)
from natprobe.measure.stun_servers import pick_stun_server, validate_stun_server
from tests.echo_server import echo_server_process
from tests.json_reports import assert_valid_report




@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private $XDG_CONFIG_HOME for one test; returns the config file's path."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return tmp_path / "natprobe" / "config.toml"


# --- settings ---------------------------------------------------------------------------------------


def test_config_path_follows_xdg(tmp_path: Path) -> None:
    assert config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "natprobe" / "config.toml"
    assert config_path({"XDG_CONFIG_HOME": "relative", "HOME": "/home/u"}) == Path("/home/u/.config/natprobe/config.toml")
    assert config_path({"HOME": "/home/u"}) == Path("/home/u/.config/natprobe/config.toml")


def test_command_line_then_environment_then_file(home: Path) -> None:
    config = UserConfig(server="http://file.example:8080", token="file-token")
    env = {"NATPROBE_SERVER": "http://env.example:8080", "NATPROBE_TOKEN": "env-token"}
    assert resolve_server("http://cli.example:1", env, config).value == "http://cli.example:1"  # type: ignore[union-attr]
    setting = resolve_server(None, env, config)
    assert setting is not None and (setting.value, setting.origin) == ("http://env.example:8080", "$NATPROBE_SERVER")
    setting = resolve_server(None, {}, config)
    assert setting is not None and setting.value == "http://file.example:8080"
    assert resolve_server(None, {}, UserConfig()) is None
    assert resolve_token("cli", env, config) == "cli"
    assert resolve_token(None, env, config) == "env-token"
    assert resolve_token(None, {}, config) == "file-token"
    names, origin = resolve_stun_servers(("builtin:1",), {}, UserConfig(stun_servers=("a:1", "b")))
    assert names == ("a:1", "b") and origin.endswith("config.toml")
    assert resolve_stun_servers(("builtin:1",), {}, UserConfig()) == (("builtin:1",), "the built-in list")


@pytest.mark.parametrize(
    "url, fragment",
    [("vps.example.org:8080", "expected http://HOST:PORT"), ("http://vps:99999", "out of range"),
     ("http://vps:80x", "not a usable server URL"), ("ftp://vps", "expected http"), ("http://:8080", "expected http")],
)
def test_bad_server_urls(url: str, fragment: str) -> None:
    with pytest.raises(UserConfigError, match=fragment):
        check_server_url(url)


def test_config_set_show_unset(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert natprobe_main(["config", "set", "server", "http://vps.example.org:8080"]) == 0
    assert natprobe_main(["config", "set", "token", "s3cret-token"]) == 0
    assert natprobe_main(["config", "set", "stun_servers", "127.0.0.5:3478, 127.0.0.6"]) == 0
    assert load_user_config(home) == UserConfig("http://vps.example.org:8080", "s3cret-token", ("127.0.0.5:3478", "127.0.0.6"))
    assert os.stat(home).st_mode & 0o077 == 0  # it may hold the token: private
    capsys.readouterr()
    assert natprobe_main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "http://vps.example.org:8080" in out and "s3cret" not in out and "12 characters" in out
    assert natprobe_main(["config", "unset", "token"]) == 0
    assert load_user_config(home).token is None and load_user_config(home).server is not None


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["config", "set", "server", "http://vps:70000"], "out of range"),
        (["config", "set", "server", "vps"], "expected http://HOST:PORT"),
        (["config", "set", "stun_servers", "host:0"], "invalid port"),
        (["check", "--udp", "22124", "--server", "http://vps:99999"], "out of range"),
        (["check", "--udp", "70000", "--server", "http://127.0.0.1:1"], "expected 1-65535"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    home: Path, capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    assert natprobe_main(argv) == ExitCode.USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err


@pytest.mark.parametrize(
    "text, fragment",
    [("server = http://x\n", "not a valid TOML file"), ("sever = 'http://x:1'\n", "unknown key 'sever'"),
     ("server = 8080\n", "expected a non-empty string"), ("server = 'http://x:99999'\n", "out of range"),
     ("stun_servers = 'a:1'\n", "expected a list")],
)
def test_bad_user_config_files(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, text: str, fragment: str
) -> None:
    # Every file here fails to load, before anything is sent, so the file's list is never used.
    monkeypatch.delenv("NATPROBE_STUN_SERVERS")
    home.parent.mkdir(parents=True)
    home.write_text(text)
    for argv in (["check", "--udp", "22124"], ["explain", "jamulus"], ["config", "show"], ["nat"]):
        assert natprobe_main(argv) == ExitCode.USAGE, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(home) in err[0] and fragment in err[0], (argv, err)


# --- no server anywhere -----------------------------------------------------------------------------


def test_check_without_any_server_explains_and_exits_3(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert natprobe_main(["check", "--udp", "22124"]) == ExitCode.COULD_NOT_TEST
    captured = capsys.readouterr()
    assert "no echo server is configured" in captured.err
    assert "outside your network" in captured.err
    assert "natprobe serve" in captured.err and "natprobe config set server" in captured.err
    assert "NATPROBE_SERVER" in captured.err and "usage:" not in captured.err
    assert "What can be known from inside this network" in captured.out
    # The test environment's STUN list is loopback only, where nothing answers.
    assert "NAT behaviour: unknown" in captured.out and "127.0.0.1:9" in captured.out


def test_explain_jamulus_without_any_server_exits_3(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert natprobe_main(["explain", "jamulus"]) == ExitCode.COULD_NOT_TEST
    assert "natprobe config set server" in capsys.readouterr().err


def test_exposure_without_any_server_exits_3(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert natprobe_main(["exposure"]) == ExitCode.COULD_NOT_TEST
    assert "natprobe config set server" in capsys.readouterr().err


# --- picking a STUN server (loopback servers only) ---------------------------------------------------


@pytest.fixture
def rfc5780_server(dual_server: EchoServer) -> EchoServer:
    return dual_server


@pytest.fixture
def single_address_server(single_server: EchoServer) -> EchoServer:
    return single_server


async def test_first_able_server_wins(rfc5780_server: EchoServer, single_address_server: EchoServer) -> None:
    single = f"127.0.0.1:{single_address_server.port}"
    assert "no OTHER-ADDRESS" in ((await validate_stun_server(single)).problem or "")
    assert "no answer" in ((await validate_stun_server("127.0.0.1:9")).problem or "no answer")
    address, _ = await pick_stun_server([single, "127.0.0.1:9", f"127.0.0.1:{rfc5780_server.port}"])
    assert address is not None and address.port == rfc5780_server.port


@pytest.fixture
def server_process() -> Iterator[int]:
    """A real two-address echo server on loopback in its own process (the CLI runs its own loop)."""
    with echo_server_process("--primary", "127.0.0.1", "--alternate", "127.0.0.2", "--port", "0",
                             "--no-echo", "--no-tcp") as process:
        yield process.endpoint_port("port")


def test_nat_without_server_picks_from_the_configured_list(
    server_process: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NATPROBE_STUN_SERVERS", f"127.0.0.1:9,127.0.0.1:{server_process}")
    assert natprobe_main(["nat", "--json", "--no-hairpin"]) == ExitCode.OK
    report = assert_valid_report(json.loads(capsys.readouterr().out))
    assert report["server"]["port"] == server_process


def test_nat_without_any_usable_server_exits_3_naming_the_list(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NATPROBE_STUN_SERVERS", "127.0.0.1:9, 127.0.0.3:9")
    assert natprobe_main(["nat"]) == ExitCode.COULD_NOT_TEST
    err = capsys.readouterr().err
    assert "none of the STUN servers from $NATPROBE_STUN_SERVERS could be used" in err
    assert "127.0.0.1:9:" in err and "127.0.0.3:9:" in err


def test_token_from_stdin(home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("piped-token\n"))
    assert natprobe_main(["config", "set", "token", "-"]) == 0
    assert load_user_config(home).token == "piped-token"
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert natprobe_main(["config", "set", "token", "-"]) == ExitCode.USAGE
    assert "cannot be empty" in capsys.readouterr().err
