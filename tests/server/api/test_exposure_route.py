"""``POST /v1/exposure`` on loopback: states, greetings, rate limits and refusals.

The scan target is always the request's source: the client binds a unique 127.x.y.z address
and the services under test listen there (on ports the OS picks, named as extra ports), so
nothing here touches another test's servers. Real services are the lab's
(tests/lab/test_exposure_lab.py); these tests cover the route's rules and the scanner's plumbing.
"""

from __future__ import annotations

import ipaddress
import json
import random
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import jsonschema
import pytest

from natprobe_server.api.routes.exposure import EXPOSURE_KEY, exposure_stats
from natprobe_server.limits import ScanGate
from natprobe_server.probes.exposure_scan import ScanLimits, banner_text, identify_banner
from natprobe_server.config.http import HttpApiConfig
from natprobe_server.api.openapi import openapi_document
from natprobe.contract.exposure_route import MIN_SCAN_INTERVAL_S
from tests.echo_server import loopback_api
from tests.server.peers import greeting_server, server_port

FAST = ScanLimits(connect_timeout=0.5, banner_wait=0.3, exchange_timeout=0.5, udp_timeout=0.2, deadline=5.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _unique_loopback() -> str:
    return f"127.{random.randint(64, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"


@asynccontextmanager
async def api(client_ip: str, clock: Callable[[], float], **config: Any) -> AsyncIterator[tuple[str, aiohttp.ClientSession, Any]]:
    settings = HttpApiConfig(probe_source_ip=ipaddress.IPv4Address("127.0.0.1"), **config)
    async with loopback_api(settings, clock=clock) as running:
        running.app[EXPOSURE_KEY].limits = FAST
        connector = aiohttp.TCPConnector(local_addr=(client_ip, 0))
        async with aiohttp.ClientSession(connector=connector) as session:
            yield f"{running.url}/v1/exposure", session, running.app


async def _post(session: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str] | None = None
                ) -> tuple[int, dict[str, Any], dict[str, str]]:  # fmt: skip
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **(headers or {})}  # the API takes JSON only (415)
    async with session.post(url, data=data, headers=headers) as response:
        return response.status, json.loads(await response.read()), dict(response.headers)


def _closed_port(ip: str) -> int:
    with socket.socket() as sock:
        sock.bind((ip, 0))
        return int(sock.getsockname()[1])


async def test_scan_states_and_greetings_of_the_requesters_own_address() -> None:
    ip = _unique_loopback()
    ftp = await greeting_server(ip, b"220 (vsFTPd 3.0.3)\r\n")
    web = await greeting_server(ip, None, b"HTTP/1.1 200 OK\r\nServer: test-web/1.0\r\nContent-Length: 0\r\n\r\n")
    silent = await greeting_server(ip, None)
    closed = _closed_port(ip)
    ftp_port, web_port, silent_port = server_port(ftp), server_port(web), server_port(silent)
    try:
        async with api(ip, Clock()) as (url, session, app):
            extra = [{"port": p} for p in (ftp_port, web_port, silent_port, closed)]
            status, body, _ = await _post(session, url, {"extra": extra})
    finally:
        for server in (ftp, web, silent):
            server.close()
    assert status == 200, body
    document = openapi_document()
    jsonschema.Draft202012Validator(
        {"$ref": "#/components/schemas/ExposureResponse", "components": document["components"]}
    ).validate(body)
    assert body["target"] == ip
    ports = {p["port"]: p for p in body["ports"]}
    assert ports[ftp_port]["state"] == "open" and ports[ftp_port]["service"] == "ftp"
    assert ports[ftp_port]["banner"] == "220 (vsFTPd 3.0.3)"
    assert ports[web_port]["service"] == "http" and ports[web_port]["http"]["server"] == "test-web/1.0"
    assert ports[silent_port]["state"] == "open" and ports[silent_port]["identified"] is False
    assert ports[closed]["state"] == "closed" and ports[closed]["error"] == "refused"
    assert ports[22124]["protocol"] == "udp" and ports[22124]["state"] == "filtered"
    stats = exposure_stats(app)
    assert stats.scans == 1 and stats.ports_open >= 3 and stats.ports_scanned == len(body["ports"])


async def test_one_scan_per_interval_then_429_with_retry_after() -> None:
    ip, clock = _unique_loopback(), Clock()
    async with api(ip, clock) as (url, session, app):
        first, _, _ = await _post(session, url, {})
        status, body, headers = await _post(session, url, {})
        assert first == 200
        assert status == 429 and body["error"]["code"] == "rate_limited"
        assert int(headers["Retry-After"]) == int(MIN_SCAN_INTERVAL_S)
        assert "one exposure scan per" in body["error"]["message"]
        clock.now += MIN_SCAN_INTERVAL_S
        again, _, _ = await _post(session, url, {})
        assert again == 200
        assert exposure_stats(app).refused_rate_limited == 1


async def test_the_operator_sets_the_interval() -> None:
    """``--exposure-interval``: a private server for the owner's own frequent watches."""
    ip, clock = _unique_loopback(), Clock()
    async with api(ip, clock, exposure_interval=20.0) as (url, session, _app):
        assert (await _post(session, url, {}))[0] == 200
        status, _body, headers = await _post(session, url, {})
        assert status == 429 and int(headers["Retry-After"]) == 20
        clock.now += 20.0
        assert (await _post(session, url, {}))[0] == 200


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"target": "192.0.2.1"}, "no way to name a target"),
        ({"extra": [{"port": 22, "ip": "192.0.2.1"}]}, "unknown field 'ip'"),
        ({"extra": [{"port": p} for p in range(1000, 1017)]}, "at most 16 extra ports"),
        ({"extra": [{"port": 70000}]}, "from 1 to 65535"),
        ({"host": "192.0.2.1"}, "host must be a DNS name"),
        (b'{"extra": [', "not valid JSON"),
        (b"[]", "must be a JSON object"),
    ],
)
async def test_bad_requests_are_refused_before_anything_is_sent(body: Any, fragment: str) -> None:
    async with api(_unique_loopback(), Clock()) as (url, session, app):
        status, answer, _ = await _post(session, url, body)
        assert status == 400 and fragment in answer["error"]["message"], answer
        assert exposure_stats(app).scans == 0


async def test_the_token_applies() -> None:
    async with api(_unique_loopback(), Clock(), token="s3cret") as (url, session, app):
        status, answer, _ = await _post(session, url, {})
        assert status == 401 and answer["error"]["code"] == "unauthorized"
        status, _, _ = await _post(session, url, {}, {"Authorization": "Bearer s3cret"})
        assert status == 200


def test_gate_keys_ipv6_by_address_and_64_with_bounded_memory() -> None:
    gate = ScanGate(100.0, max_sources=4)
    a = ipaddress.ip_address("2001:db8:1:2::1")
    gate.admit(a, 0.0)
    assert gate.wait(ipaddress.ip_address("2001:db8:1:2::99"), 10.0) == 90.0  # same /64
    assert gate.wait(ipaddress.ip_address("2001:db8:1:3::1"), 10.0) == 0.0
    assert gate.wait(a, 100.0) == 0.0
    for n in range(10):
        gate.admit(ipaddress.ip_address(f"192.0.2.{n}"), 1.0)
    assert len(gate._last) == 4


@pytest.mark.parametrize(
    ("data", "service"),
    [
        (b"SSH-2.0-OpenSSH_9.2p1\r\n", "ssh"),
        (b"\xff\xfd\x18\xff\xfd\x20", "telnet"),
        (b"RFB 003.008\n", "vnc"),
        (b"220 mail.example.org ESMTP Postfix\r\n", "smtp"),
        (b"220 ProFTPD Server ready\r\n", "ftp"),
        (b"\x4a\x00\x00\x00\x0a" + b"8.0.36\x00" + b"x" * 66, "mysql"),
        (b"hello\n", None),
        (b"\xff", None),
    ],
)
def test_identify_banner(data: bytes, service: str | None) -> None:
    assert identify_banner(data, 2121) == service


async def test_the_deadline_ends_the_scan_with_what_was_learned() -> None:
    import ssl
    import time

    from natprobe_server.probes.exposure_scan import scan_address
    from natprobe.contract.exposure_route import ScanProtocol

    ip = _unique_loopback()
    silent = await greeting_server(ip, None)
    try:
        started = time.monotonic()
        limits = ScanLimits(connect_timeout=0.5, banner_wait=0.3, exchange_timeout=5.0, udp_timeout=5.0, deadline=0.8)
        results = await scan_address(
            ipaddress.IPv4Address(ip), ((server_port(silent), ScanProtocol.TCP, None), (22124, ScanProtocol.UDP, "jamulus")),
            source_ip=ipaddress.IPv4Address("127.0.0.1"), verify_context=ssl.create_default_context(),
            udp_budget=78, limits=limits,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert elapsed < 1.5
    tcp, udp = results
    assert tcp.state.value == "open" and tcp.identified is False  # learned before the deadline, kept
    assert udp.state.value == "filtered" and udp.error == "the scan's time limit came first"


def test_banner_text() -> None:
    mysql = b"\x4a\x00\x00\x00\x0a" + b"8.0.36\x00" + b"\x01" * 66
    assert banner_text(mysql, "mysql") == "MySQL protocol 10, server 8.0.36"
    assert banner_text(b"\xff\xfd\x18\xff\xfb\x01Debian GNU/Linux 12\r\nlogin: ", "telnet") == "Debian GNU/Linux 12"
    assert banner_text(b"220 ready\r\nmore", "ftp") == "220 ready"
    assert banner_text(b"\r\n", None) is None


async def test_something_else_on_the_redis_port_is_not_called_redis() -> None:
    import ssl

    from natprobe_server.probes.exposure_scan import scan_address
    from natprobe.contract.exposure_route import ScanProtocol

    ip = _unique_loopback()
    other = await greeting_server(ip, None, b"HTTP/1.1 400 Bad Request\r\n\r\n")
    try:
        [result] = await scan_address(
            ipaddress.IPv4Address(ip), ((server_port(other), ScanProtocol.TCP, "redis"),),
            source_ip=ipaddress.IPv4Address("127.0.0.1"), verify_context=ssl.create_default_context(),
            udp_budget=0, limits=FAST,
        )  # fmt: skip
    finally:
        other.close()
    assert result.state.value == "open" and result.identified is False and result.auth_required is None
    assert result.banner == "HTTP/1.1 400 Bad Request"
