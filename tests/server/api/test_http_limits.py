"""The HTTP API under abuse (issue #9): encodings, content types, malformed requests,
connection floods, slowloris, idle keep-alives; a normal ``whoami`` answered throughout.

Limits are lowered through :class:`HttpApiConfig` so each case takes a fraction of a
second; every connection is to loopback, from distinct 127.0.0.x sources where a source
matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import resource
import re
import sys
import zlib
from collections.abc import AsyncIterator


from natprobe_server.config.http import HttpApiConfig
from natprobe_server.api.connection_limits import GATE_KEY, ConnectionGate, LineBudget

from tests.echo_server import echo_server_process, loopback_api

WHOAMI = b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\n\r\n"
PROBE_BODY = b'{"protocol": "tcp", "port": 9, "mode": "connect"}'


@contextlib.asynccontextmanager
async def api(**limits: float) -> AsyncIterator[tuple[int, ConnectionGate]]:
    config = HttpApiConfig(probe_source_ip=ipaddress.IPv4Address("127.0.0.1"), **limits)  # type: ignore[arg-type]
    async with loopback_api(config) as running:
        yield running.port, running.app[GATE_KEY]


async def exchange(port: int, data: bytes, *, source: str = "127.0.0.1", timeout: float = 2.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes or goes quiet."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        writer.write(data)
        await writer.drain()
        received = b""
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(timeout):
                while chunk := await reader.read(65536):
                    received += chunk
                    if b"\r\n\r\n" in received and _complete(received):
                        break
        return received
    finally:
        writer.close()


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    match = re.search(rb"(?i)content-length: *(\d+)", head)
    return match is not None and len(body) >= int(match.group(1))


def status_and_json(response: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def whoami_answered(port: int, source: str = "127.0.0.1") -> bool:
    """A normal whoami, answered within a second."""
    response = await exchange(port, WHOAMI, source=source, timeout=1.0)
    return response.startswith(b"HTTP/1.1 200") and b'"ip"' in response


def post(body: bytes, **headers: str) -> bytes:
    lines = [b"POST /v1/probe HTTP/1.1", b"Host: x", f"Content-Length: {len(body)}".encode()]
    lines += [f"{name.replace('_', '-')}: {value}".encode() for name, value in headers.items()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def test_bodies_must_be_plain_json() -> None:
    async with api() as (port, _):
        cases = {
            "deflate that does not inflate": post(b"\x00garbage", Content_Type="application/json",
                                                  Content_Encoding="deflate"),
            "deflate that inflates": post(zlib.compress(PROBE_BODY), Content_Type="application/json",
                                          Content_Encoding="deflate"),
            "gzip": post(PROBE_BODY, Content_Type="application/json", Content_Encoding="gzip"),
            "text/plain (a CORS simple request)": post(PROBE_BODY, Content_Type="text/plain"),
            "form": post(PROBE_BODY, Content_Type="application/x-www-form-urlencoded"),
            "no type": post(PROBE_BODY),
        }
        for name, request in cases.items():
            status, body = status_and_json(await exchange(port, request))
            assert status == 415, name
            assert isinstance(body["error"], dict) and body["error"]["message"], name
        # No CORS preflight is answered: a browser then refuses the cross-origin request itself.
        preflight = (b"OPTIONS /v1/probe HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n"
                     b"Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n")
        response = await exchange(port, preflight)
        assert int(response.split()[1]) >= 400
        assert b"access-control-allow" not in response.lower()
        assert await whoami_answered(port)


MALFORMED = [
    b"POST /v1/probe HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /v1/probe HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\nX-Long: " + b"b" * 9000 + b"\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    post(PROBE_BODY, Content_Type="application/json", Content_Encoding="x-unknown"),
]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.text: list[str] = []
        self.names: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.text.append(self.format(record))
        self.names.append(record.name)


async def test_malformed_requests_log_a_few_short_lines_and_never_a_5xx() -> None:
    collect = _Collect()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(collect)
    root.setLevel(logging.DEBUG)
    try:
        async with api() as (port, _):
            for _ in range(10):  # 60 bad requests, sequentially
                for request in MALFORMED:
                    response = await exchange(port, request)
                    status, body = status_and_json(response)  # a 4xx in the API's JSON shape, always
                    assert 400 <= status < 500 and isinstance(body["error"], dict), response[:200]
            assert await whoami_answered(port)
    finally:
        root.removeHandler(collect)
        root.setLevel(old_level)
    logged = "\n".join(collect.text)
    assert "Traceback" not in logged
    refusals = [text for text, name in zip(collect.text, collect.names) if name == "natprobe_server.api.connection_limits.protocol"]
    assert 1 <= len(refusals) <= 10  # 60 refused requests: a burst of 5 lines, then one a second
    assert all(len(line) < 400 for line in collect.text)


def test_line_budget_counts_what_it_leaves_out() -> None:
    now = [0.0]
    budget = LineBudget(per_s=1.0, burst=2.0, clock=lambda: now[0])

    def record() -> logging.LogRecord:
        try:
            raise ValueError("x" * 1000)
        except ValueError:
            return logging.LogRecord("t", logging.ERROR, __file__, 1, "bad request from %s", ("a",), sys.exc_info())

    assert [budget.filter(record()) for _ in range(5)] == [True, True, False, False, False]
    now[0] = 1.0
    passed = record()
    assert budget.filter(passed)
    assert passed.exc_info is None and "3 similar lines left out" in passed.getMessage()
    assert len(passed.getMessage()) < 250


async def test_connection_floods_leave_room_for_a_whoami() -> None:
    async with api(max_connections=8, max_connections_per_source=3) as (port, gate):
        held = []
        for index in range(6):  # 6 sources x 4 idle connections, all accepted by the kernel
            source = f"127.0.0.{40 + index}"
            for _ in range(4):
                held.append(await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)))
        try:
            async with asyncio.timeout(2):  # the server takes them in as the loop turns
                while gate.stats.refused < 6 or gate.stats.evicted < 1:
                    await asyncio.sleep(0.01)
            assert len(gate) <= 8
            assert gate.stats.refused >= 6  # the 4th of each source
            assert gate.stats.evicted >= 1  # the oldest idle ones made room for later ones
            assert await whoami_answered(port, "127.0.0.60")
            assert await whoami_answered(port, "127.0.0.61")
        finally:
            for _, writer in held:
                writer.close()


async def test_slow_headers_and_slow_bodies_are_cut_and_idle_keepalives_closed() -> None:
    async with api(request_timeout=0.3) as (port, gate):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.70", 0))
        try:
            writer.write(b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\n")
            closed = False
            for index in range(20):  # a header line every 0.1 s, at most 2 s
                with contextlib.suppress(ConnectionError):
                    writer.write(f"X-Slow-{index}: 1\r\n".encode())
                with contextlib.suppress(TimeoutError, ConnectionError):
                    async with asyncio.timeout(0.1):
                        closed = await reader.read(1) == b""
                if closed or writer.is_closing():
                    closed = True
                    break
                assert await whoami_answered(port)
            assert closed and gate.stats.timed_out >= 1
        finally:
            writer.close()
        # A body that does not come: 408, in JSON.
        partial = post(PROBE_BODY, Content_Type="application/json")[:-10]
        status, body = status_and_json(await exchange(port, partial, timeout=2.0))
        assert status == 408 and body["error"]
    async with api(keepalive_timeout=0.2) as (port, gate):
        # An idle keep-alive connection is closed by the server after its keep-alive time.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(WHOAMI)
            async with asyncio.timeout(2.0):
                first = await reader.readuntil(b"}")
                assert first.startswith(b"HTTP/1.1 200")
                assert await reader.read() == b""  # closed, not left open for an hour
        finally:
            writer.close()


async def test_a_lowered_fd_limit_keeps_the_server_answering() -> None:
    """Under a 256-descriptor limit (78 HTTP slots), 300 connections neither starve the API nor
    make accept() fail (no "out of system resource" lines)."""
    held = []
    with echo_server_process(
        "--primary", "127.0.0.1", "--port", "0", "--http-port", "0", "--no-echo",
        "--http-max-connections-per-source", "60",
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256)),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        try:
            port = process.endpoint_port("http")
            for index in range(300):
                source = f"127.0.0.{80 + index // 60}"
                with contextlib.suppress(ConnectionError):
                    held.append(await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)))
            assert await whoami_answered(port, "127.0.0.90")
        finally:
            for _, writer in held:
                writer.close()
        _, _, stderr = process.finish(terminate=True)
    assert "Traceback" not in stderr and "out of system resource" not in stderr
    assert len(stderr) < 4000, stderr[-500:]


def test_accept_failures_are_budgeted_and_other_asyncio_lines_pass() -> None:
    from natprobe_server.api.connection_limits import _AcceptErrors

    now = [0.0]
    quiet = _AcceptErrors(per_s=1.0, burst=2.0, clock=lambda: now[0])

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, message, None, None)

    accept = "socket.accept() out of system resource\nexception: [Errno 24] Too many open files"
    assert [quiet.filter(record(accept)) for _ in range(100)].count(True) == 2  # a tight loop: 2 lines
    assert all(quiet.filter(record("Task was destroyed but it is pending!")) for _ in range(10))
