"""Input, errors and output a careful newcomer hit (issue #18, items 10-17), as CLI runs.

Nothing here leaves this machine: servers are loopback ports nothing listens on (or a real
echo server on loopback), and $NATPROBE_GATEWAY is loopback (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from natprobe_cli.exit_codes import ExitCode
from natprobe_cli.main import main as natprobe_main

DEAD = "http://127.0.0.1:1"  # nothing listens: refused at once, nothing leaves the host


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private $XDG_CONFIG_HOME for one test; returns the config file's path."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return tmp_path / "natprobe" / "config.toml"


def _err_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


# --- 10. --host is checked here, before anything is sent -------------------------------------------


@pytest.mark.parametrize("host, fragment", [
    ("bad name!", "the label 'bad name!'"),
    ("https://cloud.example.org/", "give the host name alone (--host cloud.example.org)"),
])
def test_a_bad_host_is_one_line_and_exit_2(home: Path, capsys: pytest.CaptureFixture[str], host: str,
                                          fragment: str) -> None:
    assert natprobe_main(["check", "--tcp", "443:https", "--host", host, "--server", DEAD]) == ExitCode.USAGE
    err = _err_lines(capsys)
    assert len(err) == 1 and err[0].startswith("natprobe check: --host:") and fragment in err[0], err


# --- 11. a broken config file does not block the command line ----------------------------------------


BROKEN = "server = http://x\n"  # not TOML: the URL is not quoted


def test_an_explicit_server_wins_over_a_broken_file(home: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    home.parent.mkdir(parents=True)
    home.write_text(BROKEN)
    assert natprobe_main(["check", "--udp", "22124", "--no-router", "--server", DEAD]) == ExitCode.COULD_NOT_TEST
    err = _err_lines(capsys)
    assert "warning:" in err[0] and str(home) in err[0] and "natprobe config set or unset rewrites it" in err[0], err
    assert any("cannot reach echo server http://127.0.0.1:1" in line for line in err), err  # it went on
    monkeypatch.setenv("NATPROBE_SERVER", DEAD)
    assert natprobe_main(["check", "--udp", "22124", "--no-router"]) == ExitCode.COULD_NOT_TEST
    assert "warning:" in _err_lines(capsys)[0]


@pytest.mark.parametrize("argv", [["config", "set", "server", "http://vps.example.org:8080"],
                                  ["config", "unset", "token"]])
def test_config_set_and_unset_repair_a_broken_file(home: Path, capsys: pytest.CaptureFixture[str],
                                                   argv: list[str]) -> None:
    home.parent.mkdir(parents=True)
    home.write_text(BROKEN)
    assert natprobe_main(argv) == ExitCode.OK
    err = _err_lines(capsys)
    assert len(err) == 1 and f"kept as {home}.broken" in err[0], err
    assert (home.parent / "config.toml.broken").read_text() == BROKEN
    assert natprobe_main(["config", "show"]) == ExitCode.OK  # the file loads again


def test_unset_of_a_key_that_is_not_set_says_so(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert natprobe_main(["config", "unset", "token"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "token is not set" in out and "nothing to remove" in out and "removed" not in out, out


# --- 12. URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["HTTP://127.0.0.1:1", "http://127.0.0.1:1/v1", "http://127.0.0.1:1/v1/",
                                   "Http://127.0.0.1:1/"])
def test_server_urls_are_normalised_and_errors_name_no_tls(home: Path, capsys: pytest.CaptureFixture[str],
                                                           given: str) -> None:
    assert natprobe_main(["check", "--udp", "22124", "--no-router", "--server", given]) == ExitCode.COULD_NOT_TEST
    err = "\n".join(_err_lines(capsys))
    assert "cannot reach echo server http://127.0.0.1:1: Connection refused" in err, err
    assert "ssl:default" not in err and "HTTP://" not in err and "/v1" not in err


@contextlib.contextmanager
def _loopback_echo_server(*extra: str) -> Iterator[str]:
    """natprobe's echo server on 127.0.0.1 with its HTTP API; yields ``HOST:PORT`` of the API."""
    server = subprocess.Popen([sys.executable, "-m", "natprobe_server", "--primary", "127.0.0.1", "--port", "0",
                               "--http-port", "0", "--no-jamulus", *extra], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # the readiness line: "listening port=… http=127.0.0.1:P …"
        yield next(part.split("=", 1)[1] for part in line.split() if part.startswith("http="))
    finally:
        server.terminate()
        server.wait(10)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as free:
        free.bind(("127.0.0.1", 0))
        port: int = free.getsockname()[1]
    return port


def test_took_counts_the_routers_questions_too(home: Path) -> None:
    """``check --map`` asks the router (here loopback: nobody answers) before the probes: the
    report's duration is the whole run, so never shorter than the router's part of it."""
    with _loopback_echo_server() as http:
        done = _natprobe("check", "--udp", str(_free_udp_port()), "--ipv4", "--no-trace", "--map", "--json",
                         "--server", f"http://{http}")
    data = json.loads(done.stdout)
    assert data["check"]["duration_ms"] >= data["router"]["duration_ms"] > 0, data


def test_a_server_url_with_v1_reaches_the_real_api(home: Path) -> None:
    """A real echo server on loopback: ``--server HTTP://…/v1/`` asks ``/v1/whoami``, not ``/v1/v1/whoami``."""
    with _loopback_echo_server() as http:
        done = _natprobe("check", "--udp", str(_free_udp_port()), "--no-router", "--no-trace", "--ipv4", "--json",
                         "--server", f"HTTP://{http}/v1/")
    assert done.returncode == ExitCode.OK, done.stderr
    assert json.loads(done.stdout)["server"] == f"http://{http}"


# --- 13. serve's configuration errors name the file, the key and the value ---------------------------


@pytest.mark.parametrize("text, fragment", [
    ("rate = -5\n", "key 'rate' = -5: must be a number > 0"),
    ("burst = 0.5\n", "key 'burst' = 0.5: must be at least 1"),
    ("probe_rate = 0\n", "key 'probe_rate' = 0: must be a number > 0"),
    ("max_tcp_connections = 0\n", "key 'max_tcp_connections' = 0: must be at least 1"),
])
def test_serve_config_range_errors_name_file_key_and_value(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            text: str, fragment: str) -> None:
    path = tmp_path / "serve.toml"
    path.write_text('primary = "127.0.0.1"\n' + text)
    assert natprobe_main(["serve", "--config", str(path)]) == ExitCode.USAGE
    err = _err_lines(capsys)
    assert len(err) == 1 and str(path) in err[0] and fragment in err[0], err
    assert "rate_per_source" not in err[0] and "burst_per_source" not in err[0]


# --- 17. a bad gateway setting is a setting error ----------------------------------------------------


def test_a_bad_gateway_setting_exits_2(home: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATPROBE_GATEWAY", "bogus")
    assert natprobe_main(["router"]) == ExitCode.USAGE
    assert natprobe_main(["check", "--udp", "22124", "--server", DEAD]) == ExitCode.USAGE
    err = _err_lines(capsys)
    assert len(err) == 2 and all("NATPROBE_GATEWAY must be an IPv4 address" in line for line in err), err


# --- 15. no tracebacks: an ASCII stdout in French, a reader that leaves early -------------------------


def _natprobe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "natprobe_cli", *args], capture_output=True, text=True, timeout=60,
                          check=False, env={**os.environ, **(env or {})})


def test_french_on_an_ascii_stream_is_spelt_plainly_not_a_traceback() -> None:
    done = _natprobe("--lang", "fr", "schema", "nope", env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert "Traceback" not in done.stderr and "schema inconnu 'nope'" in done.stderr, done.stderr


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    for _ in range(3):  # the pipe is closed before natprobe writes: every run hits it
        process = subprocess.Popen([sys.executable, "-m", "natprobe_cli", "schema", "check"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        err = process.stderr.read().decode()
        process.wait(60)
        process.stderr.close()
        assert "Traceback" not in err and "BrokenPipeError" not in err, err
        assert process.returncode == 141


# --- 16. French everywhere ------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, french, english", [
    (["check", "--udp", "9", "--server", "ftp://x"], "n'est pas une URL de serveur utilisable", "not a usable"),
    (["check", "--udp", "9", "--no-router", "--server", DEAD], "impossible de joindre le serveur d'écho",
     "cannot reach"),
    (["nat", "--server", "[2001:db8::1"], "'[' sans ']'", "unbalanced"),
    (["schema", "nope"], "schéma inconnu", "unknown schema"),
    (["nat"], "127.0.0.1:9: pas de réponse après 4 requêtes", "no answer"),  # the session's STUN list: loopback
])
def test_errors_speak_french(home: Path, capsys: pytest.CaptureFixture[str], argv: list[str], french: str,
                             english: str) -> None:
    natprobe_main(["--lang", "fr", *argv])
    err = capsys.readouterr().err
    assert french in err and english not in err, err


def test_serve_errors_speak_french(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "serve.toml"
    path.write_text('primary = "127.0.0.1"\nrate = -5\nburst = 2\n')
    assert natprobe_main(["--lang", "fr", "serve", "--config", str(path)]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "clé 'rate' = -5 : doit être un nombre > 0" in err, err


@pytest.mark.parametrize("argv, french, english", [
    (["--alternate-public", "192.0.2.9"], "--alternate-public demande --alternate", "needs --alternate"),
    (["--primary", "127.0.0.2"], "--primary donné deux fois en IPv4", "given twice"),
    (["--alternate", "::1"], "mais aucun --primary IPv6 n'a été donné", "was given"),
    (["--alternate", "127.0.0.1"], "l'adresse secondaire doit différer", "must differ"),
    (["--primary-public", "::1"], "doivent être de la même version d'IP", "same IP version"),
    (["--udp-poll-interval", "1"], "--udp-poll-interval doit valoir de 0 à 0,1 s", "udp_poll_interval"),
    (["--http-port", "0", "--http-keepalive-timeout", "5000"], "--http-keepalive-timeout et --http-request-timeout",
     "keepalive_timeout and"),
    (["--http-port", "0", "--exposure-interval", "100000"], "--exposure-interval doit rester entre 0 et 86400 s",
     "exposure_interval"),
    (["--http-port", "0", "--http-token-file", "/nonexistent/token"], "impossible de lire le fichier du jeton",
     "cannot read"),
    (["--http-port", "0", "--resolver", "bogus"], "pas une adresse IP : 'bogus'", "not an IP address"),
    (["--http-port", "0", "--metrics-listen", "bogus"], "IP:PORT attendu", "expected IP:PORT"),
    (["--jamulus-port", "22124", "--no-jamulus"], "--jamulus-port et --no-jamulus se contredisent", "contradict"),
])
def test_serve_option_errors_speak_french(capsys: pytest.CaptureFixture[str], argv: list[str], french: str,
                                          english: str) -> None:
    assert natprobe_main(["--lang", "fr", "serve", "--primary", "127.0.0.1", "--port", "0", *argv]) == ExitCode.USAGE
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("natprobe serve : ") and french in err and english not in err, err


def test_serve_bind_errors_speak_french(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        base = port - port % 2  # STUN wants N and N+1: the port held is one of them
        code = natprobe_main(["--lang", "fr", "serve", "--primary", "127.0.0.1", "--port", str(base), "--no-tcp",
                              "--no-echo", "--no-jamulus"])
    assert code == ExitCode.COULD_NOT_TEST
    err = capsys.readouterr().err
    assert "impossible d'écouter sur" in err and "le port est déjà utilisé" in err, err
    assert "cannot listen" not in err and "already in use" not in err, err


def test_the_built_in_stun_list_is_named_in_french() -> None:
    from natprobe_cli.user_config import UserConfig, resolve_stun_servers
    from natprobe.i18n import use_language

    use_language("fr")
    try:
        _names, origin = resolve_stun_servers(("stun.example.org",), environ={}, config=UserConfig())
    finally:
        use_language("en")
    assert origin == "la liste intégrée"


# --- 17. small things in the text ---------------------------------------------------------------------


def test_a_refused_mapping_joins_its_reason_without_a_stray_full_stop() -> None:
    from ipaddress import IPv4Address

    from natprobe.contract import ProbeMode, TransportProtocol
    from natprobe.verdicts.nat_layers import NatLayers
    from natprobe.findings.port_words import assess_port
    from natprobe.observations import PortObservation
    from natprobe.verdicts.reachability import Context
    from natprobe.findings.router_reasons import with_router_evidence
    from natprobe.verdicts.router_verdicts import MappingOutcome

    verdict = assess_port(PortObservation(TransportProtocol.UDP, 22124, ProbeMode.NONCE, listening=True,
                                          nonce_received=False, seen_on_interface=False),
                          Context(IPv4Address("192.168.1.2"), IPv4Address("203.0.113.7"), NatLayers.ONE_NAT))
    assert verdict.reason.endswith(".")
    joined = with_router_evidence(verdict, MappingOutcome("udp", 22124, None, False, refused="no router answered"))
    assert ".;" not in joined.reason and joined.reason.endswith("filters it; no router answered"), joined.reason


def test_upnp_is_spelt_upnp(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert natprobe_main(["router", "--timeout", "0.5"]) in (ExitCode.OK, ExitCode.NOT_REACHABLE)  # loopback gateway
    out = capsys.readouterr().out
    assert "UPnP " in out and "UPNP" not in out, out


def test_a_mapping_made_over_upnp_is_spelt_upnp() -> None:
    from natprobe.findings.router_findings import describe_mapping
    from natprobe.verdicts.router_verdicts import MappingOutcome, MappingProtocol

    for kept, removed in ((True, None), (False, True), (False, False)):
        line = describe_mapping(MappingOutcome("udp", 22124, MappingProtocol.UPNP, True, 22124, 600, kept=kept,
                                               removed=removed))
        assert "mapped with UPnP" in line and "UPNP" not in line, line


@pytest.mark.parametrize("argv, wanted", [
    (["explain", "--help"], None), (["config", "--help"], None), (["demo", "--help"], None),
    (["check", "--help"], "per-probe timeout (0.5-5, default 2)"),
    (["router", "--help"], "answer window (0.5-10, default 2)"),
    (["exposure", "--help"], "$NATPROBE_TOKEN"),
])
def test_help_texts(capsys: pytest.CaptureFixture[str], argv: list[str], wanted: str | None) -> None:
    assert natprobe_main(argv) == ExitCode.OK
    out = " ".join(capsys.readouterr().out.split())
    assert "``" not in out
    if wanted is not None:
        assert wanted in out, out


def test_verbose_works_after_the_command_too(capsys: pytest.CaptureFixture[str]) -> None:
    assert natprobe_main(["schema", "nat", "-v"]) == ExitCode.OK
    assert natprobe_main(["schema", "nat", "--verbose"]) == ExitCode.OK
    assert '"$schema"' in capsys.readouterr().out


def test_a_port_given_twice_is_tested_once(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    natprobe_main(["check", "--tcp", "9", "--tcp", "8,9", "--no-router", "--server", DEAD])
    assert "Checking 2 port(s)" in capsys.readouterr().err


# --- 6. a missing token names natprobe's ways to give one ----------------------------------------------


def test_a_missing_or_wrong_token_names_the_option_the_variable_and_config(tmp_path: Path, home: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    token.chmod(0o600)
    with _loopback_echo_server("--http-token-file", str(token)) as http:
        check = ("check", "--udp", str(_free_udp_port()), "--no-router", "--no-trace", "--ipv4",
                 "--server", f"http://{http}")
        missing = _natprobe(*check)
        wrong = _natprobe(*check, "--token", "not-it")
        right = _natprobe(*check, "--token", "s3cret-token")
    assert missing.returncode == ExitCode.COULD_NOT_TEST
    text = " ".join(missing.stdout.split() + missing.stderr.split())
    for way in ("--token", "$NATPROBE_TOKEN", "natprobe config set token"):
        assert way in text, text
    assert "Authorization" not in text
    assert "does not accept this token" in " ".join(wrong.stdout.split() + wrong.stderr.split())
    assert right.returncode == ExitCode.OK, right.stderr


# --- 17. check with no reachable echo server: the report says so, on stdout with --json ------------------


def _json_report(out: str) -> dict[str, Any]:
    from tests.json_reports import assert_valid_report

    return assert_valid_report(json.loads(out))


def test_check_json_with_a_dead_server_prints_every_port_not_tested(home: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", "--udp", "22124", "--tcp", "443:https", "--no-router", "--no-trace", "--ipv4", "--server", DEAD]
    assert natprobe_main([*argv, "--json"]) == ExitCode.COULD_NOT_TEST  # what the README says: could not test
    data = _json_report(capsys.readouterr().out)
    assert (data["schema_version"], data["server"], data["public_ip"]) == (7, DEAD, None), data
    assert [(p["protocol"], p["port"], p["status"], p["reachable"]) for p in data["ports"]] == [
        ("udp", 22124, "not-tested", None), ("tcp", 443, "not-tested", None)]
    for port in data["ports"]:
        assert "cannot reach echo server http://127.0.0.1:1" in port["reason"], port
    assert [f["tested"] for f in data["families"]] == [False]

    # The library gives the same report: the CLI only prints it.
    from natprobe.contract import TransportProtocol
    from natprobe.measure.check import CheckOptions, check_ports
    from natprobe.addressing import IpFamily
    from natprobe.verdicts.port_spec import PortSpec

    specs = [PortSpec(TransportProtocol.UDP, 22124), PortSpec(TransportProtocol.TCP, 443, "https")]
    report = asyncio.run(check_ports(DEAD, specs, CheckOptions(trace=False, families=(IpFamily.IPV4,))))
    assert not report.server_reached and not report.any_tested
    library = _json_report(json.dumps(report.to_dict()))
    assert {**library, "duration_ms": 0} == {**data, "duration_ms": 0}

    # Without --json: one clear section on stderr, nothing on stdout.
    assert natprobe_main(argv) == ExitCode.COULD_NOT_TEST
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert captured.out == "" and len(err) == 3 and err[0].startswith("Checking 2 port(s)"), (captured.out, err)
    assert "cannot reach echo server http://127.0.0.1:1" in err[1] and "nothing could be tested" in err[2], err


def test_check_share_with_a_dead_server_says_nothing_was_tested(home: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert natprobe_main(["check", "--udp", "22124", "--no-router", "--no-trace", "--ipv4", "--share",
                          "--server", DEAD]) == ExitCode.COULD_NOT_TEST
    out = capsys.readouterr().out
    title = out.splitlines()[0]
    assert title.startswith("### natprobe check:") and "nothing could be tested" in title, out
    assert "port(s) reachable" not in out and "None" not in out, out
    assert "| UDP 22124 | ? `not-tested` | not tested |" in out and "cannot reach echo server" in out, out
    assert "127.0.0.1" not in out, out  # the server's host is removed like every name


def test_check_json_without_any_server_prints_the_not_tested_report(home: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert natprobe_main(["check", "--udp", "22124", "--tcp", "80", "--json"]) == ExitCode.COULD_NOT_TEST
    captured = capsys.readouterr()
    data = _json_report(captured.out)
    assert (data["server"], data["public_ip"]) == (None, None), data
    assert {p["status"] for p in data["ports"]} == {"not-tested"} and len(data["ports"]) == 2, data
    assert all("no echo server is configured" in p["reason"] for p in data["ports"]), data
    # The explanation and what is known from inside stay on stderr, out of the JSON.
    assert "natprobe config set server" in captured.err and "What can be known from inside" in captured.err
    assert natprobe_main(["check", "--udp", "22124", "--share"]) == ExitCode.COULD_NOT_TEST
    shared = capsys.readouterr()
    assert shared.out.startswith("### natprobe check:") and "nothing could be tested" in shared.out.splitlines()[0]
    assert "no echo server is configured" in shared.out and "What can be known" in shared.err


# --- 14. the record of kept mappings: a corrupt file is a warning, once --------------------------------


def test_a_corrupt_record_of_kept_mappings_is_one_warning_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    (tmp_path / "natprobe").mkdir()
    (tmp_path / "natprobe" / "kept-mappings.json").write_text("garbage\n")
    for argv, code in ((["router", "--timeout", "0.5"], ExitCode.NOT_REACHABLE),  # loopback gateway: no answer
                       (["router", "--timeout", "0.5", "--unmap", "40000"], ExitCode.COULD_NOT_TEST)):
        assert natprobe_main(argv) == code
        err = capsys.readouterr().err.strip().splitlines()
        warnings = [line for line in err if "is not a record of kept mappings natprobe can read" in line]
        assert len(warnings) == 1 and warnings[0].startswith("natprobe router: warning:"), err
        assert "Traceback" not in "\n".join(err)
    assert (tmp_path / "natprobe" / "kept-mappings.json").read_text() == "garbage\n"  # read-only commands keep it
