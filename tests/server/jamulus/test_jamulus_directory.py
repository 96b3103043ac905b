"""The echo server's Jamulus directory emulation: table, keep-alives, hole-punch route, process wiring.

Pure table tests use an injected time; the rest runs on loopback (127.0.0.1 for the
directory and the test's "Jamulus server", 127.0.0.2 as the echo server's probe address, or as
another requester). Every datagram goes to a socket this test bound.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import socket
import time
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp
import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest

from natprobe_server.api import openapi
from natprobe_server.api.guards import STATE_KEY
from natprobe_server.config.http import HttpApiConfig
from natprobe_server.config.jamulus import JamulusDirectoryConfig
from natprobe_server.jamulus.directory import JamulusDirectory, RegistrationNotFound
from natprobe.contract.terms import HOLE_PUNCH_FULL_BUDGET, HOLE_PUNCH_MIN_BUDGET
from natprobe.jamulus.directory_table import (
    EMPTY_BYTES,
    PING_BYTES,
    RESP_BYTES,
    SEND_EMPTY_BYTES,
    DirectoryTable,
    requested_keepalive,
)
from natprobe.jamulus import (
    EmptyMessage,
    ESvrRegResult,
    Message,
    OsType,
    PingMs,
    RegisterServer,
    RegisterServerEx,
    RegisterServerResp,
    SendEmptyMessage,
    UnregisterServer,
    decode,
    encode,
)
from natprobe.addressing import TransportAddress
from natprobe.contract import decode_hole_punch_response, to_json_object

from tests.echo_server import EchoProcess, echo_server_process, loopback_api
from tests.echo_server import LO1, LO2

DOCUMENT = openapi.openapi_document()


def registration(name: str = "np-0123456789abcdef", city: str = "") -> RegisterServerEx:
    return RegisterServerEx(22124, 0, 10, False, name, "", city, OsType.LINUX, "natprobe 0.1.0")


def schema(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": DOCUMENT["components"]})


# =====================================================================================
# The table (pure)
# =====================================================================================


def config(**changes: Any) -> JamulusDirectoryConfig:
    return JamulusDirectoryConfig(ip=LO1, **changes)


def source(port: int, ip: str = "203.0.113.7") -> TransportAddress:
    return TransportAddress(ipaddress.ip_address(ip), port)


@pytest.mark.parametrize(
    ("city", "expected"),
    [("", 59.0), ("Town", 59.0), ("keepalive=10", 10.0), (" keepalive=30 ", 30.0), ("keepalive=1", 5.0),
     ("keepalive=0", 5.0), ("keepalive=600", 59.0), ("keepalive=9999", 59.0), ("keepalive=-3", 59.0),
     ("keepalive=10s", 59.0)],
)
def test_requested_keepalive_is_bounded(city: str, expected: float) -> None:
    assert requested_keepalive(city, minimum=5.0) == expected


def table_of(**changes: Any) -> DirectoryTable:
    return DirectoryTable(config(**changes).table_limits, cookie=lambda: 0xC0FFEE)


def verify(table: DirectoryTable, where: TransportAddress) -> None:
    table.received(where, PingMs(0xC0FFEE), PING_BYTES)


def test_registration_is_keyed_by_source_and_refreshed() -> None:
    table = table_of()
    message = registration()
    size = len(encode(message))
    assert table.register(source(40000), message, size, now=0.0) is ESvrRegResult.REGISTERED
    assert table.register(source(40000), registration("renamed"), size, now=5.0) is ESvrRegResult.REGISTERED
    (entry,) = table.entries()
    assert (entry.source, entry.name, entry.registered_at, entry.refreshed_at) == (source(40000), "renamed", 0.0, 5.0)
    assert entry.budget == 2 * (size - RESP_BYTES)  # each registration pays for its answer, the rest is banked
    assert table.find("renamed", source(1).ip, now=6.0) == entry
    assert table.find("renamed", ipaddress.ip_address("198.51.100.1"), now=6.0) is None  # another requester
    assert table.find("np-0123456789abcdef", source(1).ip, now=6.0) is None
    assert table.unregister(source(40000)) and len(table) == 0 and not table.unregister(source(40000))


def test_table_is_bounded_in_count_per_ip_and_time() -> None:
    table = table_of(max_registrations=3, max_per_ip=2, registration_ttl_s=100.0)
    size = len(encode(registration()))
    statuses = []
    for port in (1, 2, 3):
        statuses.append(table.register(source(port), registration(), size, 0.0))
        verify(table, source(port))
    assert statuses == [ESvrRegResult.REGISTERED, ESvrRegResult.REGISTERED, ESvrRegResult.SERVER_LIST_FULL]
    assert table.register(source(1, "198.51.100.9"), registration(), size, 0.0) is ESvrRegResult.REGISTERED
    verify(table, source(1, "198.51.100.9"))
    assert table.register(source(2, "198.51.100.8"), registration(), size, 0.0) is ESvrRegResult.SERVER_LIST_FULL
    assert len(table) == 3
    assert table.register(source(1), registration(), size, 60.0) is ESvrRegResult.REGISTERED  # refresh, not new
    assert table.next_deadline() == 59.0
    assert table.expire(100.0) == 2 and [e.source for e in table.entries()] == [source(1)]
    assert table.register(source(3), registration(), size, 100.0) is ESvrRegResult.REGISTERED  # room again


def test_keepalives_follow_the_interval_and_never_outspend_what_was_received() -> None:
    table = table_of(min_keepalive_s=5.0)
    message = registration(city="keepalive=10")
    size = len(encode(message))
    table.register(source(40000), message, size, now=0.0)
    assert table.due(0.0) == [(source(40000), PingMs(0xC0FFEE))]  # the verification ping, at once
    table.received(source(40000), PingMs(0xC0FFEE), PING_BYTES)  # echoed: verified, and paid back
    assert table.entries()[0].verified
    assert table.next_deadline() == 10.0
    assert table.due(9.9) == []
    sent = [now for now in (10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0) if table.due(now)]
    affordable = (size - RESP_BYTES) // EMPTY_BYTES
    assert sent == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0][:affordable]
    (entry,) = table.entries()
    assert RESP_BYTES + entry.keepalives_sent * EMPTY_BYTES <= size
    # The server's own keep-alive pays for one more from the directory.
    table.received(source(40000), EmptyMessage(), EMPTY_BYTES)
    later = 80.0 + 10.0 * affordable
    assert table.due(later) == [(source(40000), EmptyMessage())] and table.entries()[0].keepalives_received == 1


def test_spoofed_registrations_never_verify_and_go_after_the_grace() -> None:
    table = table_of(verify_grace_s=10.0)
    size = len(encode(registration()))
    table.register(source(1), registration(), size, 0.0)
    pings = [now for now in (0.0, 2.5, 5.0, 7.5, 9.0) for _, m in table.due(now) if isinstance(m, PingMs)]
    assert pings == [0.0, 2.5, 5.0]  # three tries within the grace, each paid from the budget
    table.received(source(1), PingMs(0x1234), PING_BYTES)  # a wrong value proves nothing
    assert not table.entries()[0].verified
    assert table.expire(10.0) == 1 and len(table) == 0 and table.evicted == 1


def test_a_flood_of_unverified_registrations_cannot_lock_out_a_real_server() -> None:
    table = table_of(max_registrations=8, max_per_ip=2)
    size = len(encode(registration()))
    real = source(22124, "198.51.100.50")
    for index in range(100):  # spoofed, from 100 sources: never verified
        assert table.register(source(1, f"203.0.113.{index}"), registration(), size, 0.0) is ESvrRegResult.REGISTERED
    assert len(table) <= 4  # unverified entries hold at most half the table
    assert table.register(real, registration("real"), size, 0.0) is ESvrRegResult.REGISTERED
    verify(table, real)
    for index in range(100, 200):
        table.register(source(1, f"203.0.113.{index % 250}"), registration(), size, 0.1)
    assert table.get(real) is not None and table.get(real).verified  # type: ignore[union-attr]
    spoofed = len(table) - 1
    assert table.expire(100.0) == spoofed and [e.name for e in table.entries()] == ["real"]


def test_table_is_bounded_in_bytes() -> None:
    from natprobe.jamulus.directory_table import ENTRY_OVERHEAD_BYTES

    long_name, long_city = "é" * 20, "ü" * 20  # the longest the codec lets through: 40 bytes each
    cost = ENTRY_OVERHEAD_BYTES + 80
    table = table_of(max_table_bytes=3 * cost, max_per_ip=8)
    size = len(encode(registration(long_name, long_city)))
    for port in range(1, 5):
        status = table.register(source(port), registration(long_name, long_city), size, 0.0)
        verify(table, source(port))
        assert status is (ESvrRegResult.REGISTERED if port <= 3 else ESvrRegResult.SERVER_LIST_FULL)
    assert table.bytes == 3 * cost


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="IPv4 only"):
        JamulusDirectoryConfig(ip=ipaddress.ip_address("::1"))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        config(min_keepalive_s=60.0)
    with pytest.raises(ValueError):
        config(max_per_ip=0)
    with pytest.raises(ValueError):
        config(verify_grace_s=0)


# =====================================================================================
# The directory on loopback
# =====================================================================================


class FakeServer(asyncio.DatagramProtocol):
    """A Jamulus server under test control: records frames, optionally echoes pings and punches."""

    def __init__(self, *, echo: bool = True, punch: bool = True) -> None:
        self.echo, self.punch = echo, punch
        self.inbox: asyncio.Queue[tuple[Message, TransportAddress]] = asyncio.Queue()
        self.received: list[tuple[int, TransportAddress]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.pinged = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        sender = TransportAddress.parse(addr[0], addr[1])
        self.received.append((len(data), sender))
        message = decode(data)
        assert self.transport is not None
        if self.echo and isinstance(message, PingMs):
            self.transport.sendto(data, addr)  # as Jamulus does; this also verifies a registration
            self.pinged.set()
            return
        if self.punch and isinstance(message, SendEmptyMessage):
            self.transport.sendto(encode(EmptyMessage()), (str(message.ip), message.port))
        self.inbox.put_nowait((message, sender))

    def send(self, message: Message, to: TransportAddress) -> None:
        assert self.transport is not None
        self.transport.sendto(encode(message), to.as_tuple())

    @property
    def address(self) -> TransportAddress:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return TransportAddress.parse(host, port)

    async def next(self, timeout: float = 2.0) -> tuple[Message, TransportAddress]:
        async with asyncio.timeout(timeout):
            return await self.inbox.get()


@asynccontextmanager
async def fake_server(ip: str = "127.0.0.1", **options: bool) -> AsyncIterator[FakeServer]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(lambda: FakeServer(**options), local_addr=(ip, 0))
    try:
        yield protocol
    finally:
        transport.close()


@asynccontextmanager
async def directory(**changes: Any) -> AsyncIterator[JamulusDirectory]:
    async with JamulusDirectory(JamulusDirectoryConfig(ip=LO1, port=0, **changes)) as running:
        yield running


async def register(server: FakeServer, where: JamulusDirectory, message: Message | None = None) -> Message:
    server.send(message or registration(), where.endpoint)
    reply, sender = await server.next()
    assert sender == where.endpoint
    return reply


async def test_registration_is_answered_and_remembered_by_source() -> None:
    async with directory() as running, fake_server() as server:
        assert await register(server, running) == RegisterServerResp(ESvrRegResult.REGISTERED)
        (entry,) = running.registrations()
        assert entry.source == server.address and entry.name == "np-0123456789abcdef"
        legacy = RegisterServer(22124, 82, 10, False, "legacy", "", "Town")
        assert await register(server, running, legacy) == RegisterServerResp(ESvrRegResult.REGISTERED)
        assert [e.name for e in running.registrations()] == ["legacy"]  # same source: refreshed
        server.send(UnregisterServer(), running.endpoint)
        server.send(registration("after"), running.endpoint)  # the marker: handled after the unregister
        await server.next()
        assert [e.name for e in running.registrations()] == ["after"]
        assert running.stats.registrations == 3


async def test_full_table_answers_list_full() -> None:
    async with directory(max_registrations=1) as running, fake_server() as first, fake_server() as second:
        assert await register(first, running) == RegisterServerResp(ESvrRegResult.REGISTERED)
        async with asyncio.timeout(2):
            await first.pinged.wait()  # verified by its echo ...
        await register(first, running)  # ... handled before this refresh, from the same socket
        assert running.registrations()[0].verified
        assert await register(second, running) == RegisterServerResp(ESvrRegResult.SERVER_LIST_FULL)
        assert len(running.registrations()) == 1 and running.stats.refused == 1


async def test_a_real_registration_is_accepted_during_a_flood_of_spoofed_ones() -> None:
    """Registrations from 60 sources that never answer (as spoofed ones cannot) fill the table;
    a real server still registers, verifies, and is the one left after the grace."""
    async with directory(max_registrations=16, verify_grace_s=0.3) as running:
        flooders = []
        try:
            for index in range(60):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind((f"127.0.2.{index + 1}", 0))
                sock.sendto(encode(registration(f"spoof{index}")), running.endpoint.as_tuple())
                flooders.append(sock)
            async with fake_server("127.0.3.1") as real:
                assert await register(real, running, registration("real")) == RegisterServerResp(ESvrRegResult.REGISTERED)
                async with asyncio.timeout(2):
                    await real.pinged.wait()
                for sock in flooders[:20]:  # the flood goes on
                    sock.sendto(encode(registration("again")), running.endpoint.as_tuple())
                async with asyncio.timeout(3):
                    while len(running.registrations()) > 1:
                        await asyncio.sleep(0.05)  # the grace passing
                (entry,) = running.registrations()
                assert entry.name == "real" and entry.verified
        finally:
            for sock in flooders:
                sock.close()


async def test_junk_is_ignored_and_floods_are_rate_limited() -> None:
    async with directory(rate_per_source=1.0, burst_per_source=5.0) as running, fake_server() as server:
        assert server.transport is not None
        server.transport.sendto(b"\x01\x02 not a frame", running.endpoint.as_tuple())
        for _ in range(20):
            server.send(registration(), running.endpoint)
        answers = 0
        with pytest.raises(TimeoutError):
            while True:
                await server.next(timeout=0.5)
                answers += 1
        assert answers == 4  # the burst of 5, minus the junk datagram
        # 16 registrations, and the echo of the verification ping (it spends a token like any datagram)
        assert running.stats.malformed == 1 and running.stats.rate_limited == 17


async def test_keepalives_arrive_at_the_asked_interval_and_stop_when_unpaid() -> None:
    async with directory(keepalive_s=0.3, min_keepalive_s=0.1) as running, fake_server() as server:
        message = registration(city="keepalive=0")  # asks for the minimum: 0.1 s here
        await register(server, running, message)
        affordable = (len(encode(message)) - RESP_BYTES) // EMPTY_BYTES
        stamps = []
        for _ in range(affordable):
            keepalive, sender = await server.next(timeout=1.0)
            assert keepalive == EmptyMessage() and sender == running.endpoint
            stamps.append(time.monotonic())
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        assert all(0.05 <= gap <= 0.5 for gap in gaps), gaps
        with pytest.raises(TimeoutError):  # unpaid: no more
            await server.next(timeout=0.5)
        server.send(EmptyMessage(), running.endpoint)  # the server's keep-alive buys one more
        assert (await server.next(timeout=1.0))[0] == EmptyMessage()
        sent = sum(size for size, sender in server.received if sender == running.endpoint)
        assert sent <= len(encode(message)) + EMPTY_BYTES + PING_BYTES  # + the verification ping, echoed


async def test_hole_punch_steps_on_loopback() -> None:
    """No NAT on loopback: every step gets through, from the registration's own port."""
    async with directory() as running, fake_server() as server:
        await register(server, running)
        result = await running.hole_punch("np-0123456789abcdef", LO1, source_ip=LO2, byte_budget=HOLE_PUNCH_FULL_BUDGET)
        punch = result.hole_punch
        assert result.published.address == server.address
        assert result.unsolicited.answered and result.unsolicited.source.address.ip == LO2
        assert punch.source is not None and punch.source.address == server.address and punch.requests_sent == 1
        assert punch.peer.address.ip == LO2 and punch.peer != result.unsolicited.source
        assert result.punched_ping.answered and result.punched_ping.source == punch.peer
        assert result.udp_bytes_sent == PING_BYTES + SEND_EMPTY_BYTES + PING_BYTES
        data = to_json_object(result)
        schema("HolePunchResponse").validate(data)
        assert decode_hole_punch_response(json.dumps(data).encode()) == result
        # Everything the directory side sent went to the registration's own address.
        assert {sender.ip for _, sender in server.received} <= {LO1, LO2}


async def test_hole_punch_toward_a_silent_server_spends_at_most_the_budget() -> None:
    async with directory() as running, fake_server(echo=False, punch=False) as server:
        await register(server, running)
        before = len(server.received)
        for budget in (HOLE_PUNCH_MIN_BUDGET, 4000):  # one try of each step; every retry, never more
            result = await running.hole_punch("np-0123456789abcdef", LO1, source_ip=LO2, byte_budget=budget)
            assert not (result.unsolicited.answered or result.hole_punch.received or result.punched_ping.answered)
            assert result.udp_bytes_sent <= budget
            # (the directory's own verification pings, unanswered by this server, are not the punch's)
            got = sum(size for size, sender in server.received[before:]
                      if not (sender == running.endpoint and size == PING_BYTES))
            before = len(server.received)
            assert got == result.udp_bytes_sent
        assert (result.unsolicited.sent, result.hole_punch.requests_sent, result.punched_ping.sent) == (2, 3, 3)
        with pytest.raises(ValueError, match="at least 41 bytes"):
            await running.hole_punch("np-0123456789abcdef", LO1, source_ip=LO2, byte_budget=HOLE_PUNCH_MIN_BUDGET - 1)


async def test_hole_punch_only_for_the_requesters_own_registration() -> None:
    async with directory() as running, fake_server("127.0.0.2") as server:
        await register(server, running)
        with pytest.raises(RegistrationNotFound, match="from your address 127.0.0.1"):
            await running.hole_punch("np-0123456789abcdef", LO1, source_ip=LO2, byte_budget=HOLE_PUNCH_FULL_BUDGET)
        assert server.inbox.empty()  # nothing but the registration's answer was sent to it


# =====================================================================================
# POST /v1/jamulus/hole-punch
# =====================================================================================


@dataclass
class Api:
    url: str
    session: aiohttp.ClientSession
    state: Any = field(default=None)

    async def punch(self, body: Any, *, pad_to: int = HOLE_PUNCH_FULL_BUDGET,
                    headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        data = (body if isinstance(body, str) else json.dumps(body)).ljust(pad_to).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
        async with self.session.post(f"{self.url}/v1/jamulus/hole-punch", data=data, headers=headers) as response:
            return response.status, await response.json()


@asynccontextmanager
async def api(running: JamulusDirectory | None, *, client_ip: str = "127.0.0.1", **settings: Any) -> AsyncIterator[Api]:
    async with loopback_api(HttpApiConfig(probe_source_ip=LO2, **settings), jamulus=running) as api_server:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(client_ip, 0))) as session:
            yield Api(api_server.url, session, api_server.app[STATE_KEY])


def _examples(status: str) -> dict[str, Any]:
    response = DOCUMENT["paths"]["/v1/jamulus/hole-punch"]["post"]["responses"][status]
    return dict(response["content"]["application/json"]["examples"])


async def test_route_punches_for_the_requester_and_matches_the_openapi_document() -> None:
    async with directory() as running, fake_server() as server, api(running) as client:
        await register(server, running)
        example = DOCUMENT["paths"]["/v1/jamulus/hole-punch"]["post"]["requestBody"]["content"]["application/json"]
        request = dict(example["examples"]["default"]["value"])
        schema("HolePunchRequest").validate(request)
        request["name"] = "np-0123456789abcdef"
        status, body = await client.punch(request)
        assert status == 200, body
        schema("HolePunchResponse").validate(body)
        assert to_json_object(decode_hole_punch_response(json.dumps(body).encode())) == body  # nothing more, nothing less
        assert body["published"] == {"ip": "127.0.0.1", "port": server.address.port}
        assert body["unsolicited"]["answered"] and body["punched_ping"]["answered"] and body["hole_punch"]["received"]
        assert body["hole_punch"]["source"] == body["published"]
        for documented in _examples("200").values():
            assert set(documented["value"]) == set(body)
            assert set(documented["value"]["hole_punch"]) == set(body["hole_punch"])
        assert client.state.probes == 1


async def test_route_404_for_another_requesters_registration() -> None:
    async with directory() as running, fake_server("127.0.0.2") as server, api(running) as client:
        await register(server, running)  # registered from 127.0.0.2; the HTTP client is 127.0.0.1
        status, body = await client.punch({"name": "np-0123456789abcdef"})
        assert status == 404 and body["error"]["code"] == "not_found"
        assert "came from your address 127.0.0.1" in body["error"]["message"]
        schema("ErrorBody").validate(body)
        assert server.inbox.empty()  # nothing was sent toward the other requester's registration


async def test_route_404_without_a_directory_and_documented_errors() -> None:
    async with api(None) as client:
        status, body = await client.punch({"name": "np-0123456789abcdef"})
        assert status == 404 and body == _examples("404")["no_directory"]["value"]
    async with directory() as running, api(running) as client:
        checked = 0
        for name, example in _examples("400").items():
            status, body = await client.punch(example["x-request"])
            assert (status, body) == (400, example["value"]), name
            checked += 1
        assert checked == 2
        status, body = await client.punch({"name": "np-0123456789abcdef"}, pad_to=0)
        assert status == 400 and "at least 41 bytes" in body["error"]["message"]
        status, body = await client.punch("[1]")
        assert status == 400 and "JSON object" in body["error"]["message"]


async def test_route_needs_the_token_and_is_rate_limited() -> None:
    async with directory() as running, api(running, token="s3cret", burst=2.0, rate_per_s=0.01) as client:
        status, body = await client.punch({"name": "np-0123456789abcdef"})
        assert status == 401
        auth = {"Authorization": "Bearer s3cret"}
        statuses = [(await client.punch({"name": "np-0123456789abcdef"}, headers=auth))[0] for _ in range(3)]
        assert statuses == [404, 404, 429]


# =====================================================================================
# Process wiring: --jamulus-port and the readiness line
# =====================================================================================


def _server(*args: str) -> AbstractContextManager[EchoProcess]:
    return echo_server_process("--primary", "127.0.0.1", "--port", "0", *args)


async def test_readiness_line_names_the_directory_and_it_registers() -> None:
    with _server("--http-port", "0", "--jamulus-port", "0") as process:
        line = process.ready()
        match = re.search(r" http=127\.0\.0\.1:(\d+) jamulus=127\.0\.0\.1:(\d+)$", line)
        assert match, line
        async with fake_server() as server:
            server.send(registration(), TransportAddress(LO1, int(match.group(2))))
            assert (await server.next())[0] == RegisterServerResp(ESvrRegResult.REGISTERED)
        assert process.stop() == 0


async def test_implicit_directory_port_taken_runs_without_it_explicit_fails() -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        try:
            holder.bind(("127.0.0.1", 22224))
        except OSError:
            pass  # already taken by something else: just as good for this test
        with _server("--http-port", "0") as process:
            assert process.ready().endswith(" jamulus=-"), process.ready()
            assert process.stop() == 0
        with _server("--http-port", "0", "--jamulus-port", "22224") as process:
            status, _, stderr = process.finish()
            assert status == 3 and "Jamulus directory" in stderr
        with _server() as process:
            line = process.ready()
            assert "jamulus=" not in line and "http=" not in line
            assert process.stop() == 0
        with _server("--jamulus-port", "0", "--no-jamulus") as process:
            assert process.finish()[0] == 2
    finally:
        holder.close()
