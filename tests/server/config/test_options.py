"""The echo server's options: 1:1 NAT public addresses, the TOML config file, the systemd unit, the STUN/echo flags."""

from __future__ import annotations

import argparse
import ipaddress
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from natprobe_cli.commands import serve
from natprobe_cli.main import main as natprobe_main
from natprobe_server import EchoServerConfig
from natprobe_server.command import main as echo_main
from natprobe_server.config.stun import add_arguments, config_from_args
from natprobe_server.stun.fastpath import FastBinding
from natprobe_server.config.http import resolve_token
from natprobe_server.config.jamulus import JamulusDirectoryConfig
from natprobe_server.config.options import resolve_args
from natprobe_server.stun.service import StunService, Topology
from natprobe_server.config.systemd_unit import DEFAULT_CONFIG_PATH, DEFAULT_TOKEN_PATH, hidden_from_unit, systemd_unit
from natprobe.addressing import TransportAddress
from natprobe.stun import AttributeType, MessageClass, Method, binding_request, decode, encode
from natprobe.stun.message import Message
from tests.echo_server import LO1

PRIVATE1 = ipaddress.IPv4Address("10.0.0.5")
PRIVATE2 = ipaddress.IPv4Address("10.0.0.6")
PUBLIC1 = ipaddress.IPv4Address("203.0.113.20")
PUBLIC2 = ipaddress.IPv4Address("203.0.113.21")
CLIENT = TransportAddress.parse("198.51.100.7", 40000)
NATTED = Topology(PRIVATE1, PRIVATE2, 3478, PUBLIC1, PUBLIC2)


# --- 1:1 NAT: bind private, advertise public -------------------------------------------------------


@pytest.mark.parametrize("change", [(False, False), (True, False), (False, True), (True, True)])
def test_every_advertised_address_is_the_public_twin(change: tuple[bool, bool]) -> None:
    service = StunService(NATTED)
    request = binding_request(change_ip=change[0], change_port=change[1])
    reply = service.handle(encode(request), TransportAddress(PRIVATE1, 3478), CLIENT)
    assert reply is not None
    message = decode(reply.data)
    # The reply leaves from a private socket (the NAT rewrites it) ...
    assert reply.source.ip == (PRIVATE2 if change[0] else PRIVATE1)
    assert reply.source.port == (3479 if change[1] else 3478)
    # ... but names only public addresses.
    assert message.response_origin == TransportAddress(PUBLIC2 if change[0] else PUBLIC1, reply.source.port)
    assert message.other_address == TransportAddress(PUBLIC2, 3479)
    assert message.reflexive_address == CLIENT


def test_rfc3489_changed_and_source_address_are_public() -> None:
    legacy = encode(Message(MessageClass.REQUEST, Method.BINDING, bytes(16)))
    reply = StunService(NATTED).handle(legacy, TransportAddress(PRIVATE2, 3479), CLIENT)
    assert reply is not None
    message = decode(reply.data)
    assert message.get(AttributeType.CHANGED_ADDRESS) == TransportAddress(PUBLIC1, 3478)
    assert message.get(AttributeType.SOURCE_ADDRESS) == TransportAddress(PUBLIC2, 3479)


def test_fast_path_template_is_built_with_the_public_addresses() -> None:
    template = decode(FastBinding(StunService(NATTED), TransportAddress(PRIVATE1, 3478)).template)
    assert template.other_address == TransportAddress(PUBLIC2, 3479)
    assert template.response_origin == TransportAddress(PUBLIC1, 3478)


def test_single_address_with_a_public_twin() -> None:
    service = StunService(Topology(PRIVATE1, None, 3478, PUBLIC1))
    request = binding_request(change_port=True)
    reply = service.handle(encode(request), TransportAddress(PRIVATE1, 3478), CLIENT)
    assert reply is not None
    assert decode(reply.data).response_origin == TransportAddress(PUBLIC1, 3479)
    assert decode(reply.data).other_address is None


def test_jamulus_directory_names_the_public_address() -> None:
    config = JamulusDirectoryConfig(ip=PRIVATE1, public_ips=((PRIVATE1, PUBLIC1),))
    assert config.public(PRIVATE1) == PUBLIC1
    assert config.public(PRIVATE2) == PRIVATE2


def parse_serve(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="natprobe")
    serve.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve", *argv])


def test_public_flags_reach_the_config() -> None:
    args = parse_serve("--primary", str(PRIVATE1), "--primary-public", str(PUBLIC1),
                       "--alternate", str(PRIVATE2), "--alternate-public", str(PUBLIC2))
    config = config_from_args(args)
    assert (config.primary_public, config.alternate_public) == (PUBLIC1, PUBLIC2)
    assert config.public_of(PRIVATE2) == PUBLIC2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"alternate_public": PUBLIC2}, "needs --alternate"),
        ({"alternate": PRIVATE2, "primary_public": PUBLIC1, "alternate_public": PUBLIC1}, "must differ"),
        ({"primary_public": ipaddress.IPv6Address("2001:db8::1")}, "same IP version"),
        ({"primary_public": ipaddress.IPv4Address("0.0.0.0")}, "specific unicast"),
    ],
)
def test_inconsistent_public_addresses_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EchoServerConfig(primary=PRIVATE1, **kwargs)  # type: ignore[arg-type]


# --- the configuration file -------------------------------------------------------------------------


FULL_FILE = """
primary = "10.0.0.5"
alternate = "10.0.0.6"
primary_public = "203.0.113.20"
alternate_public = "203.0.113.21"
port = 4000
echo_port = 5000
no_tcp = true
rate = 50
burst = 80.5
max_tcp_connections = 12
software = "natprobe"
http_port = 8080
udp_probe_port = 9000
probe_rate = 2
probe_burst = 4
relay_probe_rate = 0.5
relay_probe_burst = 3
jamulus_port = 22224
log_level = "INFO"
resolver = "192.0.2.53"
metrics_allow = ["192.0.2.0/24", "2001:db8::/32"]
metrics_listen = "10.0.0.5:9100"
max_tcp_per_source = 4
tcp_message_timeout = 3.5
udp_poll_interval = 0.002
http_max_connections = 100
http_max_connections_per_source = 6
http_keepalive_timeout = 4
http_request_timeout = 8
jamulus_verify_grace = 12
jamulus_max_table_bytes = 100000
exposure_interval = 30
web = false
web_ipv4_name = "v4.example.org"
web_ipv6_name = "v6.example.org"
"""

SAME_FLAGS = (
    "--primary 10.0.0.5 --alternate 10.0.0.6 --primary-public 203.0.113.20 --alternate-public 203.0.113.21 "
    "--port 4000 --echo-port 5000 --no-tcp --rate 50 --burst 80.5 --max-tcp-connections 12 --software natprobe "
    "--http-port 8080 --udp-probe-port 9000 --probe-rate 2 --probe-burst 4 --relay-probe-rate 0.5 "
    "--relay-probe-burst 3 --jamulus-port 22224 --log-level INFO "
    "--resolver 192.0.2.53 --metrics-allow 192.0.2.0/24 --metrics-allow 2001:db8::/32 --metrics-listen 10.0.0.5:9100 "
    "--max-tcp-per-source 4 --tcp-message-timeout 3.5 --udp-poll-interval 0.002 --http-max-connections 100 "
    "--http-max-connections-per-source 6 --http-keepalive-timeout 4 --http-request-timeout 8 "
    "--jamulus-verify-grace 12 --jamulus-max-table-bytes 100000 --exposure-interval 30 "
    "--no-web --web-ipv4-name v4.example.org --web-ipv6-name v6.example.org"
).split()


def test_config_file_equals_the_flags(tmp_path: Path) -> None:
    path = tmp_path / "serve.toml"
    path.write_text(FULL_FILE)
    from_file = vars(resolve_args(parse_serve("--config", str(path)), "natprobe serve"))
    from_flags = vars(resolve_args(parse_serve(*SAME_FLAGS), "natprobe serve"))
    from_file.pop("config")
    from_flags.pop("config")
    assert from_file == from_flags
    assert config_from_args(argparse.Namespace(**from_file)) == config_from_args(argparse.Namespace(**from_flags))


def test_every_option_has_a_key() -> None:
    parser = argparse.ArgumentParser()
    serve.register(parser.add_subparsers())
    (serve_parser,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)][0].choices.values()
    from natprobe_cli.deferred import add_deferred_arguments
    from natprobe_server.config.file import file_keys

    add_deferred_arguments(serve_parser)  # serve's options load when it parses; here, now

    in_file = {line.split("=")[0].strip() for line in FULL_FILE.strip().splitlines()}
    # Every key but the two whose "true" contradicts a value set above is exercised by FULL_FILE.
    assert set(file_keys(serve_parser)) - in_file == {"no_echo", "no_jamulus", "http_token_file"}


def test_command_line_overrides_the_file_even_with_the_default_value(tmp_path: Path) -> None:
    path = tmp_path / "serve.toml"
    path.write_text('primary = "127.0.0.1"\nport = 4000\nrate = 5\n')
    args = resolve_args(parse_serve("--config", str(path), "--port", "3478", "--primary", "127.0.0.9"), "x")
    # --primary is repeatable (one address per family): a list.
    assert (args.port, [str(ip) for ip in args.primary], args.rate) == (3478, ["127.0.0.9"], 5.0)


@pytest.mark.parametrize(
    "text, expected",
    [
        ('primary = "127.0.0.1"\nhttp_port = "80x"\n', "key 'http_port' = \"80x\": expected an integer"),
        ('primary = "127.0.0.1"\nhttp_port = 70000\n', "key 'http_port' = 70000: port out of range"),
        ('primary = "10.0.0.999"\n', "key 'primary' = \"10.0.0.999\": not an IP address"),
        ('primary = "127.0.0.1"\nno_tcp = "yes"\n', "key 'no_tcp' = \"yes\": expected true or false"),
        ('primary = "127.0.0.1"\nrate = true\n', "key 'rate' = True: expected a number"),
        ('primary = "127.0.0.1"\nlog_level = "LOUD"\n', "key 'log_level' = \"LOUD\": expected one of DEBUG"),
        ('primary = "127.0.0.1"\nprimry_public = "203.0.113.1"\n', "unknown key 'primry_public'"),
        ('primary = "127.0.0.1"\n[http]\nport = 1\n', "unknown key 'http'"),
        ("primary = 127.0.0.1\n", "not a valid TOML file"),
    ],
)
def test_bad_config_files_are_one_line_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "serve.toml"
    path.write_text(text)
    assert natprobe_main(["serve", "--config", str(path)]) == 2
    assert echo_main(["--config", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert err[0].startswith(f"natprobe serve: {path}: ")
    assert expected in err[0]


def test_missing_config_file_and_missing_primary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert natprobe_main(["serve", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read the configuration file" in capsys.readouterr().err
    assert natprobe_main(["serve"]) == 2
    assert "the primary address is required" in capsys.readouterr().err


def test_token_from_file_environment_or_credential(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n")
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "token").write_text("from-systemd\n")
    assert resolve_token(tmp_path / "token", {"NATPROBE_TOKEN": "env"}) == "from-file"
    assert resolve_token(None, {"NATPROBE_TOKEN": "env", "CREDENTIALS_DIRECTORY": str(credentials)}) == "env"
    assert resolve_token(None, {"CREDENTIALS_DIRECTORY": str(credentials)}) == "from-systemd"
    assert resolve_token(None, {}) is None
    with pytest.raises(ValueError, match="cannot read the token file"):
        resolve_token(tmp_path / "missing", {})


# --- the systemd unit -----------------------------------------------------------------------------------


def test_systemd_unit_is_hardened_and_names_the_config() -> None:
    unit = systemd_unit(Path("/etc/natprobe/serve.toml"))
    for setting in ("DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                    "PrivateTmp=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "Restart=on-failure",
                    "LoadCredential=token:/etc/natprobe/token"):
        assert setting in unit.splitlines()
    assert "--config /etc/natprobe/serve.toml" in unit


# --systemd-unit refuses a unit that could not start: one run from a checkout or a virtualenv
# under /home, /root or /tmp (tests/server/config/test_unit_sandbox.py). These two need one outside.
_UNIT_HIDDEN = hidden_from_unit(DEFAULT_CONFIG_PATH, None)
_outside_only = pytest.mark.skipif(bool(_UNIT_HIDDEN), reason=f"this installation lies where a unit cannot run it: "
                                                               f"{_UNIT_HIDDEN}")


@_outside_only
def test_serve_prints_the_unit(capsys: pytest.CaptureFixture[str]) -> None:
    # Not under /tmp: the unit's PrivateTmp=yes would hide it (tests/server/config/test_unit_sandbox.py).
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parents[3]) as directory:
        path = Path(directory) / "serve.toml"
        path.write_text('primary = "127.0.0.1"\n')
        assert natprobe_main(["serve", "--systemd-unit", "--config", str(path)]) == 0
    assert f"--config {path}" in capsys.readouterr().out


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    # The text serve --systemd-unit prints (the same function), so it is verified wherever this
    # checkout lies; the refusal for a hidden installation is tested beside it.
    analyzer = shutil.which("systemd-analyze")
    assert analyzer is not None, "scripts/setup.sh installs systemd (systemd-analyze)"
    unit = tmp_path / "natprobe.service"
    unit.write_text(systemd_unit(token=DEFAULT_TOKEN_PATH if DEFAULT_TOKEN_PATH.exists() else None))
    result = subprocess.run([analyzer, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # Warnings (an unknown key, a value it ignores) are not failures for systemd: refuse them too.
    assert result.stderr.strip() == ""


# --- the STUN/echo options ----------------------------------------------------------------------------------------


def parse(*argv: str) -> EchoServerConfig:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return config_from_args(parser.parse_args(list(argv)))


def test_defaults() -> None:
    config = parse("--primary", "127.0.0.1")
    assert (config.port, config.effective_echo_port, config.alternate, config.tcp) == (3478, 3480, None, True)
    assert config.software is None
    assert parse("--primary", "127.0.0.1", "--no-echo").effective_echo_port is None
    assert parse("--primary", "127.0.0.1", "--port", "0").effective_echo_port == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"primary": LO1, "alternate": LO1},
        {"primary": ipaddress.IPv4Address("0.0.0.0")},
        {"primary": LO1, "port": 65535},
        {"primary": LO1, "port": 4000, "echo_port": 4001},
        {"primary": LO1, "rate_per_source": 0},
        {"primary": LO1, "max_tcp_connections": 0},
    ],
)
def test_inconsistent_configs_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        EchoServerConfig(**kwargs)  # type: ignore[arg-type]
