"""``python -m natprobe_server`` as a process: readiness line, SIGTERM/SIGINT, bind errors; ``natprobe serve``."""

from __future__ import annotations

import argparse
import ipaddress
import re
import signal
import socket

import pytest

from natprobe_cli.commands import serve
from natprobe_cli.exit_codes import ExitCode
from natprobe_cli.main import main as natprobe_main
from natprobe_server import EchoServerConfig
from natprobe_server.command import main as echo_main
from natprobe_server.config.stun import config_from_args
from natprobe.addressing import TransportAddress
from natprobe.stun import binding_request, decode, encode

from tests.echo_server import ECHO_SERVER, LO1, NATPROBE_SERVE, UdpClient, echo_server_process

READY = re.compile(r"^listening port=(\d+) mode=(\S+) stun_udp=(\S+) stun_tcp=(\S+) echo_udp=(\S+)$")


@pytest.mark.parametrize(
    ("entry", "signum"),
    [(ECHO_SERVER, signal.SIGTERM), (ECHO_SERVER, signal.SIGINT), (NATPROBE_SERVE, signal.SIGTERM)],
    ids=["echo_server-SIGTERM", "echo_server-SIGINT", "natprobe-serve-SIGTERM"],
)
async def test_readiness_line_then_serves_then_exits_0_on_signal(entry: tuple[str, ...], signum: signal.Signals) -> None:
    args = ("--primary", "127.0.0.1", "--alternate", "127.0.0.2", "--port", "0")
    with echo_server_process(*args, entry=entry) as process:
        match = READY.match(process.ready())
        assert match, process.ready()
        port = int(match.group(1))
        assert match.group(2) == "rfc5780"
        assert match.group(3).split(",") == [
            f"127.0.0.1:{port}",
            f"127.0.0.1:{port + 1}",
            f"127.0.0.2:{port}",
            f"127.0.0.2:{port + 1}",
        ]
        assert match.group(5) == f"127.0.0.1:{port + 2}"
        client = UdpClient()
        try:
            request = binding_request()
            await client.send(encode(request), TransportAddress(LO1, port))
            data, _ = await client.receive()
            assert decode(data).transaction_id == request.transaction_id
        finally:
            client.close()
        process.process.send_signal(signum)
        assert process.process.wait(timeout=10) == 0
    # every socket is closed: the same ports bind again at once
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(("127.0.0.1", port))
    finally:
        probe.close()


async def test_binding_a_non_local_address_exits_3_with_a_clear_message() -> None:
    # 192.0.2.1 (TEST-NET-1) is on no interface here: bind() fails locally, nothing is sent.
    with echo_server_process("--primary", "192.0.2.1", "--port", "0") as process:
        status, _, stderr = process.finish()
        assert status == 3
        assert "192.0.2.1" in stderr and "not configured on this host" in stderr


async def test_port_in_use_exits_3() -> None:
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", 0))
    port = blocker.getsockname()[1]
    try:
        base = port - 1 if port % 2 else port  # the blocked port is N or N+1 either way
        with echo_server_process("--primary", "127.0.0.1", "--port", str(base), "--no-echo") as process:
            status, _, stderr = process.finish()
            assert status == 3
            assert "already in use" in stderr
    finally:
        blocker.close()


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert echo_main(["--primary", "not-an-ip"]) == 2
    assert echo_main(["--primary", "127.0.0.1", "--alternate", "::1"]) == 2
    assert "no IPv6 --primary" in capsys.readouterr().err


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="natprobe")
    serve.register(parser.add_subparsers(dest="command"))
    return parser


def test_natprobe_serve_parses_like_python_m_echo_server() -> None:
    args = serve_parser().parse_args(
        ["serve", "--primary", "127.0.0.1", "--alternate", "127.0.0.2", "--port", "4000", "--echo-port", "5000"]
    )
    assert args.handler is serve.run
    config = config_from_args(args)
    assert config == EchoServerConfig(
        primary=ipaddress.IPv4Address("127.0.0.1"),
        alternate=ipaddress.IPv4Address("127.0.0.2"),
        port=4000,
        echo_port=5000,
    )


def test_natprobe_serve_bind_failure_is_could_not_test(capsys: pytest.CaptureFixture[str]) -> None:
    args = serve_parser().parse_args(["serve", "--primary", "192.0.2.1", "--port", "0"])
    assert args.handler(args) == ExitCode.COULD_NOT_TEST
    assert "not configured on this host" in capsys.readouterr().err
    assert natprobe_main(["serve", "--primary", "192.0.2.1", "--port", "0"]) == ExitCode.COULD_NOT_TEST
