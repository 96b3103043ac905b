"""``measure_jamulus_modes`` and ``natprobe explain jamulus`` on loopback (no NAT: both modes work),
and the safety of natprobe's stand-in Jamulus server (never a blind reflector).

Everything binds 127.0.0.1 / 127.0.0.2; the real NAT cases, with real Jamulus, are in
tests/lab/test_jamulus_lab.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import pytest

from natprobe_cli.main import main as natprobe_main
from natprobe_server.api.app import HttpApiConfig
from natprobe_server.config.jamulus import JamulusDirectoryConfig
from natprobe_server.jamulus.directory import JamulusDirectory
from natprobe.jamulus import (
    EmptyMessage,
    ESvrRegResult,
    Message,
    PingMs,
    PingMsWithNumClients,
    RegisterServerResp,
    SendEmptyMessage,
    decode,
    encode,
)
from natprobe.verdicts.jamulus_verdicts import ModeStatus
from natprobe.measure.jamulus_modes import (
    MAX_ECHOES,
    MAX_PUNCHES,
    JamulusModesOptions,
    _JamulusServerRole,
    measure_jamulus_modes,
    registration_name,
)
from natprobe.addressing import TransportAddress
from tests.json_reports import assert_valid_report
from tests.echo_server import LO1, LO2, echo_server_process, loopback_api, loopback_server



def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Servers:
    url: str
    stun_port: int
    directory_port: int


@asynccontextmanager
async def echo_servers(*, with_directory: bool = True) -> AsyncIterator[Servers]:
    """The echo server in-process: STUN on 127.0.0.1/.2, the HTTP API, the directory emulation."""
    async with loopback_server() as stun:
        directory = JamulusDirectory(JamulusDirectoryConfig(ip=LO1, port=0)) if with_directory else None
        if directory is not None:
            await directory.start()
        try:
            async with loopback_api(HttpApiConfig(probe_source_ip=LO2), jamulus=directory) as api:
                yield Servers(api.url, stun.port, directory.endpoint.port if directory is not None else free_udp_port())
        finally:
            if directory is not None:
                await directory.stop()


async def test_both_modes_work_without_a_nat() -> None:
    port = free_udp_port()
    async with echo_servers() as servers:
        report = await measure_jamulus_modes(
            servers.url, JamulusModesOptions(port=port, directory_port=servers.directory_port, stun_port=servers.stun_port,
                                             trace=False, listen_ip=LO1, lifetime_max_s=2.0),
        )
    assert (report.private_mode.works, report.public_mode.works) == (True, True)
    assert report.measured_port == port and not report.port_in_use
    assert report.registered is True and report.registration_status == 0
    assert report.published_address == TransportAddress(LO1, port) and report.port_preserved is True
    assert report.unsolicited_from_new_peer_admitted is True  # nothing filters on loopback
    assert report.punch_sent_from_port == port and report.punched_ping_answered is True
    assert report.punches_sent == 1 and report.notes == ()
    assert report.lifetime is not None and report.lifetime.at_least_s == 2.0
    assert report.keepalive_outlives_mapping is None  # 2 s says nothing about 59 s


async def test_a_program_on_the_port_is_probed_and_public_mode_measured_elsewhere() -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a silent program holding the port
    holder.bind(("127.0.0.1", 0))
    port = int(holder.getsockname()[1])
    try:
        async with echo_servers() as servers:
            report = await measure_jamulus_modes(
                servers.url, JamulusModesOptions(port=port, directory_port=servers.directory_port, trace=False,
                                                 listen_ip=LO1, probe_timeout=0.5),
            )
    finally:
        holder.close()
    assert report.port_in_use and report.measured_port not in (None, port)
    assert report.private_check is not None and report.private_mode.works is False  # it did not answer Jamulus pings
    assert report.public_mode.works is True and report.port_preserved is True
    assert any("holds UDP" in note and f"UDP port {report.measured_port}" in note for note in report.notes)


async def test_without_the_directory_public_mode_is_not_a_verdict() -> None:
    async with echo_servers(with_directory=False) as servers:
        report = await measure_jamulus_modes(
            servers.url, JamulusModesOptions(port=free_udp_port(), directory_port=servers.directory_port, trace=False,
                                             listen_ip=LO1),
        )
    assert report.registered is False
    assert (report.public_mode.works, report.public_mode.status) == (None, ModeStatus.DIRECTORY_UNREACHABLE)
    assert report.private_mode.works is True


def test_registration_names_are_per_test_nonces_within_the_jamulus_limit() -> None:
    names = {registration_name() for _ in range(50)}
    assert len(names) == 50 and all(re.fullmatch(r"np-[0-9a-f]{16}", n) and len(n) <= 20 for n in names)


# --- the stand-in Jamulus server is not a reflector ----------------------------------------------------


class Recorder(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[tuple[Message, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.inbox.put_nowait((decode(data), addr))

    def send(self, message: Message | bytes, to: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(message if isinstance(message, bytes) else encode(message), to)

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        return cast(tuple[str, int], self.transport.get_extra_info("sockname")[:2])


async def _endpoint(ip: str) -> Recorder:
    _, protocol = await asyncio.get_running_loop().create_datagram_endpoint(Recorder, local_addr=(ip, 0))
    return protocol


MARKER = PingMs(0xDEADBEEF)


async def received_before_marker(recorder: Recorder, helper: Recorder) -> list[Message]:
    """Everything ``recorder`` got before a marker the helper sends now (all queued earlier arrive first)."""
    helper.send(MARKER, recorder.address)
    got: list[Message] = []
    async with asyncio.timeout(5):
        while (message := (await recorder.inbox.get())[0]) != MARKER:
            got.append(message)
    return got


async def test_server_role_obeys_only_the_directory_toward_the_probe_address() -> None:
    directory, target, elsewhere, stranger, helper = [
        await _endpoint(ip) for ip in ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.1", "127.0.0.1")
    ]
    role = _JamulusServerRole(TransportAddress.parse(*directory.address), LO2)
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(lambda: role, local_addr=("127.0.0.1", 0))
    me = transport.get_extra_info("sockname")[:2]
    try:
        punch_target = SendEmptyMessage(LO2, target.address[1])
        stranger.send(b"\x00\x01junk", me)
        for stamp in range(MAX_ECHOES + 5):
            stranger.send(PingMs(stamp), me)
        stranger.send(PingMsWithNumClients(7, 0), me)
        stranger.send(punch_target, me)  # not from the directory: ignored
        directory.send(SendEmptyMessage(ipaddress.IPv4Address("127.0.0.3"), elsewhere.address[1]), me)  # not the probe IP
        for _ in range(MAX_PUNCHES + 3):
            directory.send(punch_target, me)
        directory.send(PingMs(0xABCD), me)  # the directory's verification ping: echoed to it
        directory.send(RegisterServerResp(ESvrRegResult.REGISTERED), me)  # handled after everything above
        async with asyncio.timeout(5):
            await role.registered.wait()
        echoes = await received_before_marker(stranger, helper)
        punches = await received_before_marker(target, helper)
        nothing = await received_before_marker(elsewhere, helper)
        to_directory = await received_before_marker(directory, helper)
    finally:
        transport.close()
        for endpoint in (directory, target, elsewhere, stranger, helper):
            assert endpoint.transport is not None
            endpoint.transport.close()
    assert echoes == [PingMs(stamp) for stamp in range(MAX_ECHOES)]  # echoed as sent, then capped
    assert punches == [EmptyMessage()] * MAX_PUNCHES
    assert nothing == [] and to_directory == [PingMs(0xABCD)]
    assert len(role.seen.pings_from) == MAX_ECHOES + 6
    assert len(role.seen.punches) == MAX_PUNCHES and len(role.seen.refused_punches) == 1 + 3
    assert role.seen.response == RegisterServerResp(ESvrRegResult.REGISTERED)


async def test_server_role_answers_pings_with_clients_as_an_empty_server() -> None:
    directory, client = await _endpoint("127.0.0.1"), await _endpoint("127.0.0.1")
    role = _JamulusServerRole(TransportAddress.parse(*directory.address), LO2)
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(lambda: role, local_addr=("127.0.0.1", 0))
    try:
        client.send(PingMsWithNumClients(1234, 9), transport.get_extra_info("sockname")[:2])
        async with asyncio.timeout(5):
            reply, _ = await client.inbox.get()
    finally:
        transport.close()
        for endpoint in (directory, client):
            assert endpoint.transport is not None
            endpoint.transport.close()
    assert reply == PingMsWithNumClients(1234, 0)


# --- the CLI ------------------------------------------------------------------------------------------


@pytest.fixture
def echo_process() -> Iterator[dict[str, int]]:
    with echo_server_process("--primary", "127.0.0.1", "--alternate", "127.0.0.2", "--port", "0",
                             "--http-port", "0", "--jamulus-port", "0") as process:
        yield {name: process.endpoint_port(key) for name, key in (("stun", "port"), ("http", "http"), ("jamulus", "jamulus"))}


def test_cli_explain_jamulus_json_and_text(echo_process: dict[str, int], capsys: pytest.CaptureFixture[str]) -> None:
    port = free_udp_port()
    args = ["explain", "jamulus", "--server", f"http://127.0.0.1:{echo_process['http']}", "--port", str(port),
            "--jamulus-port", str(echo_process["jamulus"]), "--no-trace"]
    assert natprobe_main([*args, "--json"]) == 0
    data: dict[str, Any] = assert_valid_report(json.loads(capsys.readouterr().out))
    assert data["public_mode"]["works"] is True and data["private_mode"]["works"] is True
    assert data["published_address"] == {"ip": "127.0.0.1", "port": port}
    assert natprobe_main(args) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Public mode (registered) WORKS (works)" in out
    assert f"published address (what a directory lists) 127.0.0.1:{port} (port preserved)" in out
    assert "[OK ] Public mode works without a port forward" in out


def test_cli_explain_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert natprobe_main(["explain"]) == 2
    assert natprobe_main(["explain", "jamulus", "--server", "http://127.0.0.1:1", "--port", "0"]) == 2
    assert natprobe_main(["explain", "jamulus", "--server", "http://127.0.0.1:1", "--lifetime", "--lifetime-max", "1"]) == 2
    # Nothing listens on port 1: nothing could be measured.
    assert natprobe_main(["explain", "jamulus", "--server", "http://127.0.0.1:1", "--no-trace"]) == 3
    assert "nothing could be measured" in capsys.readouterr().err


def test_cli_check_adds_the_jamulus_explanation(echo_process: dict[str, int], capsys: pytest.CaptureFixture[str]) -> None:
    port = free_udp_port()
    server = f"http://127.0.0.1:{echo_process['http']}"
    # --no-router: the loopback "router" is silent, and its router-silent finding (with the ms it
    # waited) is not what this test is about.
    assert natprobe_main(["check", "--udp", f"{port}:jamulus", "--server", server, "--no-trace", "--no-router",
                          "--timeout", "0.5"]) == 1
    out = capsys.readouterr().out
    assert "Jamulus: private mode needs a port forward; public mode may not" in out  # nothing answers Jamulus there
    assert natprobe_main(["check", "--udp", str(port), "--server", server, "--no-trace", "--no-router", "--json"]) == 0
    data = assert_valid_report(json.loads(capsys.readouterr().out))
    assert data["findings"] == []  # neither 22124 nor :jamulus: no Jamulus findings
    assert natprobe_main(["check", "--udp", f"{port}:jamulus", "--server", server, "--no-trace", "--no-router", "--json",
                          "--timeout", "0.5"]) == 1
    data = assert_valid_report(json.loads(capsys.readouterr().out))
    assert [f["title"] for f in data["findings"]] == ["Jamulus: private mode needs a port forward; public mode may not"]
    assert [f["code"] for f in data["findings"]] == ["jamulus-port-needs-port-forward"]
    # JSON never changes with the language: the same run in French gives the same text and code.
    assert natprobe_main(["--lang", "fr", "check", "--udp", f"{port}:jamulus", "--server", server, "--no-trace", "--no-router",
                          "--json", "--timeout", "0.5"]) == 1
    french = assert_valid_report(json.loads(capsys.readouterr().out))
    assert french["findings"] == data["findings"] and french["ports"][0]["reason"] == data["ports"][0]["reason"]
