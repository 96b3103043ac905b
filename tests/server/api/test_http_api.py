"""The probe-back HTTP API end to end: a real AppRunner on loopback, a real aiohttp client.

The server probes the address each request came from, which here is the test client's own
loopback address (127.0.0.1, or 127.0.0.2 / ::1 where a test binds the client there), and
every port probed belongs to a socket this test bound (or to the Jamulus server it started).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate as validate_openapi

from natprobe import __version__
from natprobe.errors import DecodeError, NetworkError
from natprobe.jamulus import is_protocol_frame

from natprobe import contract
from natprobe.contract import (
    decode_probe_request,
    ProbeMode,
    TransportProtocol,
    decode_probe_response,
    decode_whoami,
    nonce_payload,
    to_json_object,
)
from natprobe.contract.base import ErrorBody
from natprobe.contract.base import decode as decode_record

from natprobe_server.api import openapi
from natprobe_server.api.app import create_app, start_http_api
from natprobe_server.api.guards import STATE_KEY, ApiState
from natprobe_server.config import http as http_config
from natprobe_server.config.http import HttpApiConfig
from natprobe_server.probes import probe_back
from natprobe_server.limits import InFlight, source_key
from tests.echo_server import has_ipv6_loopback, loopback_api
from tests.jamulus_server import start_jamulus, stop
from tests.server.peers import (
    NONCE,
    UdpSink,
    http_responder,
    make_pki,
    read_all,
    sender,
    server_tls,
    tcp_server,
)

LOCALHOST = ipaddress.IPv4Address("127.0.0.1")
DOCUMENT = openapi.openapi_document()


def schema(name: str) -> jsonschema.Draft202012Validator:
    """A validator for one component schema of the OpenAPI document (refs resolve inside it)."""
    return jsonschema.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": DOCUMENT["components"]}
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Api:
    url: str
    state: ApiState
    session: aiohttp.ClientSession

    async def post(
        self, body: Any, *, headers: dict[str, str] | None = None, pad_to: int = 0
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        if isinstance(data, str):
            data = data.ljust(pad_to).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
        async with self.session.post(f"{self.url}/v1/probe", data=data, headers=headers) as response:
            return response.status, await response.json(), dict(response.headers)

    async def get(self, path: str) -> tuple[int, dict[str, Any]]:
        async with self.session.get(f"{self.url}{path}") as response:
            return response.status, await response.json()


@asynccontextmanager
async def running_api(
    *, client_ip: str = "127.0.0.1", host: str = "127.0.0.1", clock: Callable[[], float] = time.monotonic, **config: Any
) -> AsyncIterator[Api]:
    settings_ = HttpApiConfig(probe_source_ip=ipaddress.ip_address(config.pop("probe_source_ip", "127.0.0.1")), **config)
    async with loopback_api(settings_, host, clock=clock) as running:
        connector = aiohttp.TCPConnector(local_addr=(client_ip, 0))
        async with aiohttp.ClientSession(connector=connector) as session:
            yield Api(running.url, running.app[STATE_KEY], session)


def check_probe_response(body: dict[str, Any]) -> None:
    """The answer fits the documented schema, and the client's decoder reads it back whole:
    no field is missing or extra, and the result has the record its protocol and mode name."""
    schema("ProbeResponse").validate(body)
    decoded = decode_probe_response(json.dumps(body).encode())
    assert type(decoded.result) is contract.RESULT_TYPES[(decoded.protocol, decoded.mode)]
    assert to_json_object(decoded) == body


def assert_error(status: int, body: dict[str, Any], expected_status: int, code: str, *fragments: str) -> None:
    assert status == expected_status, body
    schema("ErrorBody").validate(body)
    assert to_json_object(decode_record(json.dumps(body).encode(), ErrorBody)) == body
    assert body["error"]["code"] == code
    for fragment in fragments:
        assert fragment in body["error"]["message"]


# =====================================================================================
# whoami
# =====================================================================================


async def test_whoami_reports_the_requesters_address_and_the_probe_source() -> None:
    async with running_api() as api:
        reader, writer = await asyncio.open_connection(api.url.split("//")[1].split(":")[0], int(api.url.rsplit(":", 1)[1]))
        try:
            writer.write(b"GET /v1/whoami HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            async with asyncio.timeout(5):
                raw = await reader.read()
            client_port = writer.get_extra_info("sockname")[1]
        finally:
            writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        # No versions for a scanner to read: a plain product name.
        assert [l for l in head.split(b"\r\n") if l.lower().startswith(b"server:")] == [b"Server: natprobe"]
        whoami = json.loads(body)
        schema("WhoAmI").validate(whoami)
        assert to_json_object(decode_whoami(body)) == whoami
        assert whoami == {
            "ip": "127.0.0.1",
            "port": client_port,
            "server": "natprobe-echo",
            "version": __version__,
            "probe_source_ip": "127.0.0.1",
            "udp_probe_port": 0,  # no fixed port: each probe leaves from a fresh one
            "auth_required": False,
        }


async def test_forwarded_headers_never_choose_the_target(udp_sink: Callable[..., UdpSink]) -> None:
    sink = udp_sink()
    async with running_api() as api:
        spoof = {"X-Forwarded-For": "10.0.0.1", "Forwarded": "for=10.0.0.1", "X-Real-IP": "10.0.0.1"}
        async with api.session.get(f"{api.url}/v1/whoami", headers=spoof) as response:
            assert (await response.json())["ip"] == "127.0.0.1"
        status, body, _ = await api.post(
            {"protocol": "udp", "port": sink.port, "mode": "nonce", "nonce": NONCE, "count": 1}, headers=spoof
        )
    assert status == 200 and body["target"] == {"ip": "127.0.0.1", "port": sink.port}
    assert (await sink.receive(1))[0][0] == nonce_payload(NONCE)


async def test_probes_go_to_whatever_address_the_request_came_from(udp_sink: Callable[..., UdpSink]) -> None:
    """Client on 127.0.0.2, server on 127.0.0.1: the probe goes to 127.0.0.2."""
    sink = udp_sink("127.0.0.2")
    async with running_api(client_ip="127.0.0.2") as api:
        status, whoami = await api.get("/v1/whoami")
        assert status == 200 and whoami["ip"] == "127.0.0.2"
        status, body, _ = await api.post({"protocol": "udp", "port": sink.port, "mode": "nonce", "nonce": NONCE, "count": 1})
    assert status == 200 and body["target"] == {"ip": "127.0.0.2", "port": sink.port}
    data, source = (await sink.receive(1))[0]
    assert data == nonce_payload(NONCE)
    assert source == ("127.0.0.1", body["source"]["port"])


# =====================================================================================
# Probe modes
# =====================================================================================


async def test_udp_nonce_arrives_count_times_from_the_reported_source(udp_sink: Callable[..., UdpSink]) -> None:
    sink = udp_sink()
    async with running_api() as api:
        _, whoami = await api.get("/v1/whoami")
        request = {"protocol": "udp", "port": sink.port, "mode": "nonce", "nonce": NONCE, "count": 3}
        status, body, _ = await api.post(request, pad_to=3 * len(nonce_payload(NONCE)))
    assert status == 200, body
    check_probe_response(body)
    assert body["result"] == {"sent": 3}
    assert whoami["udp_probe_port"] == 0 and body["source"]["ip"] == "127.0.0.1" and body["source"]["port"] > 0
    assert body["elapsed_ms"] >= 2 * probe_back.UDP_NONCE_SPACING * 1000 * 0.9
    got = await sink.receive(3)
    assert [data for data, _ in got] == [b"natprobe-nonce:" + NONCE.encode()] * 3
    # All three datagrams of one probe leave from the one port its answer names.
    assert {addr for _, addr in got} == {("127.0.0.1", body["source"]["port"])}


async def test_each_udp_probe_leaves_from_a_fresh_port(udp_sink: Callable[..., UdpSink]) -> None:
    """Two probes of the same port must not share a 5-tuple: after a forward is removed, a NAT's
    conntrack entry for the first probe's flow would still let the second one in."""
    sink = udp_sink()
    async with running_api() as api:
        sources = []
        for _ in range(2):
            status, body, _ = await api.post({"protocol": "udp", "port": sink.port, "mode": "nonce", "nonce": NONCE,
                                              "count": 1})
            assert status == 200, body
            sources.append(body["source"]["port"])
    got = await sink.receive(2)
    assert [addr[1] for _, addr in got] == sources and sources[0] != sources[1]


async def test_udp_nonce_bytes_never_exceed_the_request_body(udp_sink: Callable[..., UdpSink]) -> None:
    sink = udp_sink()
    async with running_api(udp_nonce_spacing=0) as api:
        request = {"protocol": "udp", "port": sink.port, "mode": "nonce", "nonce": NONCE, "count": 5}
        body_size = len(json.dumps(request))
        status, body, _ = await api.post(request)
        sent = body["result"]["sent"]
        assert status == 200 and sent == body_size // len(nonce_payload(NONCE)) < 5
        got = await sink.receive(sent)
        assert sum(len(data) for data, _ in got) <= body_size
        # Nothing else was sent: the next datagram from that socket is a later probe's.
        marker = "f" * 16
        await api.post({"protocol": "udp", "port": sink.port, "mode": "nonce", "nonce": marker, "count": 1})
        assert (await sink.receive(1))[0][0] == nonce_payload(marker)


async def test_fixed_udp_probe_port(udp_sink: Callable[..., UdpSink]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        fixed = probe.getsockname()[1]
    sink = udp_sink()
    async with running_api(udp_probe_port=fixed) as api:
        _, whoami = await api.get("/v1/whoami")
        await api.post({"protocol": "udp", "port": sink.port, "mode": "nonce", "nonce": NONCE, "count": 1})
    assert whoami["udp_probe_port"] == fixed
    assert (await sink.receive(1))[0][1] == ("127.0.0.1", fixed)


async def test_tcp_nonce_and_connect(closed_tcp_port: Callable[[], int]) -> None:
    async with tcp_server(read_all) as server, running_api() as api:
        status, body, _ = await api.post({"protocol": "tcp", "port": server.port, "mode": "nonce", "nonce": NONCE})
        await server.next_connection()
        assert status == 200
        check_probe_response(body)
        assert body["result"]["connected"] is True and body["result"]["error"] is None
        assert server.received == [nonce_payload(NONCE)]
        assert server.peers == [("127.0.0.1", body["source"]["port"])]

        status, body, _ = await api.post({"protocol": "tcp", "port": server.port, "mode": "connect"})
        assert status == 200 and body["result"]["connected"] is True
        status, body, _ = await api.post({"protocol": "tcp", "port": closed_tcp_port(), "mode": "connect"})
        assert status == 200
        assert body["result"] == {"connected": False, "error": "refused", "connect_ms": None}


async def test_http_https_and_ssh_modes(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, "probe.test")
    page = b"HTTP/1.1 301 Moved Permanently\r\nServer: test-nginx\r\nLocation: https://probe.test/\r\n\r\n"
    tls = server_tls(pki.self_signed_cert, pki.self_signed_key)
    async with (
        tcp_server(http_responder(page)) as http_server,
        tcp_server(http_responder(b"HTTP/1.1 200 OK\r\nServer: tls-nginx\r\n\r\n"), tls=tls) as https_server,
        tcp_server(sender(b"SSH-2.0-Test\r\n")) as ssh_server,
        running_api() as api,
    ):
        responses = await asyncio.gather(
            api.post({"protocol": "tcp", "port": http_server.port, "mode": "http", "host": "probe.test"}),
            api.post({"protocol": "tcp", "port": https_server.port, "mode": "https", "host": "probe.test"}),
            api.post({"protocol": "tcp", "port": ssh_server.port, "mode": "ssh"}),
        )
    for status, body, _ in responses:
        assert status == 200, body
        check_probe_response(body)
    (_, http, _), (_, https, _), (_, ssh, _) = responses
    assert http["result"] == {
        "connected": True,
        "error": None,
        "status": 301,
        "server_header": "test-nginx",
        "location": "https://probe.test/",
    }
    assert f"Host: probe.test:{http_server.port}\r\n".encode() in http_server.received[0]
    tls_info = https["result"]["tls"]
    assert https["result"]["status"] == 200 and https["result"]["server_header"] == "tls-nginx"
    assert tls_info["subject_cn"] == "probe.test" and tls_info["san"] == ["probe.test"]
    assert tls_info["issuer_cn"] == "probe.test" and tls_info["not_after"] == "2031-01-02T03:04:05Z"
    assert tls_info["verified"] is False and "self-signed" in tls_info["verify_error"]
    assert ssh["result"] == {"connected": True, "error": None, "banner": "SSH-2.0-Test"}


async def test_https_verified_with_a_configured_trust_store(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, "probe.test")
    tls = server_tls(pki.leaf_cert, pki.leaf_key)
    async with (
        tcp_server(http_responder(b"HTTP/1.1 200 OK\r\n\r\n"), tls=tls) as server,
        running_api(tls_ca_file=str(pki.ca_cert)) as api,
    ):
        status, body, _ = await api.post({"protocol": "tcp", "port": server.port, "mode": "https", "host": "probe.test"})
    assert status == 200
    assert body["result"]["tls"]["verified"] is True and body["result"]["tls"]["verify_error"] is None


async def test_jamulus_mode_against_a_silent_port(udp_sink: Callable[..., UdpSink]) -> None:
    sink = udp_sink()
    async with running_api() as api:
        request = {"protocol": "udp", "port": sink.port, "mode": "jamulus", "timeout": 0.5}
        status, body, _ = await api.post(request)
    assert status == 200
    check_probe_response(body)
    assert body["result"] == {"answered": False, "rtt_ms": None, "clients": None, "version": None, "os": None}
    datagrams = sink.pending()
    assert datagrams and all(is_protocol_frame(d) for d in datagrams)  # only correctly framed CLM messages
    assert sum(map(len, datagrams)) <= len(json.dumps(request))


# --- the real Jamulus 3.9.1 server -------------------------------------------------------------

@pytest.fixture(scope="module")
def jamulus_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    server = start_jamulus(tmp_path_factory.mktemp("jamulus-http-api"), "jamulus", [], ports=(23000, 23999))
    try:
        yield server.port
    finally:
        stop(server.process)


@pytest.mark.interop
async def test_jamulus_mode_against_the_real_server(jamulus_port: int) -> None:
    async with running_api() as api:
        request = {"protocol": "udp", "port": jamulus_port, "mode": "jamulus", "timeout": 2.0}
        first = await api.post(request)
        second = await api.post(request)
    for status, body, _ in (first, second):
        assert status == 200, body
        check_probe_response(body)
        result = body["result"]
        assert result["answered"] is True and result["rtt_ms"] > 0
        assert (result["version"], result["os"]) == ("3.9.1", "Linux")
        # 0 both times: the probe never looked like audio, so no phantom channel was opened
        assert result["clients"] == 0


# =====================================================================================
# Refusals
# =====================================================================================


async def test_unknown_field_is_refused_and_nothing_is_sent(udp_sink: Callable[..., UdpSink]) -> None:
    sink = udp_sink()
    async with running_api() as api:
        request = {"protocol": "udp", "port": sink.port, "mode": "nonce", "nonce": NONCE, "count": 1, "ip": "10.0.0.1"}
        status, body, _ = await api.post(request)
        assert_error(status, body, 400, "bad_request", "unknown field 'ip'", "only ever probes the address")
        marker = "e" * 16
        await api.post({"protocol": "udp", "port": sink.port, "mode": "nonce", "nonce": marker, "count": 1})
    # the first datagram the sink ever gets is the marker: the refused request sent nothing
    assert (await sink.receive(1))[0][0] == nonce_payload(marker)
    assert api.state.probes == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"protocol": "tcp", "port": 0, "mode": "connect"}, "port must be an integer from 1 to 65535"),
        ({"protocol": "tcp", "port": 65536, "mode": "connect"}, "port must be an integer from 1 to 65535"),
        ({"protocol": "tcp", "port": "80", "mode": "connect"}, "port must be an integer"),
        ({"protocol": "tcp", "port": True, "mode": "connect"}, "port must be an integer"),
        ({"protocol": "tcp", "port": 80.5, "mode": "connect"}, "port must be an integer"),
        ({"protocol": "udp", "port": 1, "mode": "nonce"}, "mode 'nonce' needs a 'nonce'"),
        ({"protocol": "udp", "port": 1, "mode": "nonce", "nonce": "abc"}, "nonce must be 16 to 64 hexadecimal"),
        ({"protocol": "udp", "port": 1, "mode": "nonce", "nonce": "g" * 16}, "nonce must be 16 to 64 hexadecimal"),
        ({"protocol": "udp", "port": 1, "mode": "nonce", "nonce": "a" * 65}, "nonce must be 16 to 64 hexadecimal"),
        ({"protocol": "udp", "port": 1, "mode": "jamulus", "nonce": NONCE}, "'nonce' is only used by modes 'nonce' and 'http'"),
        ({"protocol": "tcp", "port": 1, "mode": "jamulus"}, "mode 'jamulus' does not work over tcp"),
        ({"protocol": "udp", "port": 1, "mode": "http"}, "mode 'http' does not work over udp"),
        ({"protocol": "udp", "port": 1, "mode": "connect"}, "udp modes are: dns, jamulus, nonce, ntp, openvpn, quic"),
        ({"protocol": "icmp", "port": 1, "mode": "connect"}, "protocol must be 'udp' or 'tcp'"),
        ({"protocol": "tcp", "port": 1, "mode": "ping"}, "mode must be one of"),
        ({"protocol": "tcp", "port": 1}, "field 'mode' is required"),
        ({"port": 1, "mode": "connect"}, "field 'protocol' is required"),
        ({"protocol": "tcp", "port": 1, "mode": "ssh", "host": "a.test"}, "'host' is only used by modes 'http' and 'https'"),
        ({"protocol": "tcp", "port": 1, "mode": "http", "host": "10.0.0.1"}, "host must be a DNS name"),
        ({"protocol": "tcp", "port": 1, "mode": "http", "host": "a.test\r\nX: y"}, "host must be a DNS name"),
        ({"protocol": "tcp", "port": 1, "mode": "connect", "count": 2}, "'count' is only used by UDP mode 'nonce'"),
        ({"protocol": "udp", "port": 1, "mode": "nonce", "nonce": NONCE, "count": 6}, "count must be an integer from 1 to 5"),
        ({"protocol": "tcp", "port": 1, "mode": "connect", "timeout": 0.1}, "timeout must be a number of seconds"),
        ({"protocol": "tcp", "port": 1, "mode": "connect", "timeout": "2"}, "timeout must be a number of seconds"),
        ([1, 2], "must be a JSON object"),
        ('{"protocol": "tcp", "port": NaN, "mode": "connect"}', "not valid JSON"),
        ("{not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        pytest.param("[" * 2000 + "]" * 2000, "must be a JSON object", id="deep-nesting"),
        pytest.param('{"protocol": ' + "[" * 2000 + "]" * 2000 + "}", "protocol must be", id="deep-nesting-in-a-field"),
    ],
)
async def test_bad_requests_get_400_with_a_clear_message(body: Any, fragment: str) -> None:
    async with running_api() as api:
        status, answer, _ = await api.post(body)
    assert_error(status, answer, 400, "bad_request", fragment)
    assert api.state.probes == 0


async def test_token_is_required_when_configured(closed_tcp_port: Callable[[], int]) -> None:
    request = {"protocol": "tcp", "port": closed_tcp_port(), "mode": "connect"}
    async with running_api(token="s3cret-Token_1") as api:
        status, whoami = await api.get("/v1/whoami")  # no token needed
        assert status == 200 and whoami["auth_required"] is True
        status, body, headers = await api.post(request)
        assert_error(status, body, 401, "unauthorized", "needs a token")
        assert headers["WWW-Authenticate"].startswith("Bearer")
        for wrong in ("Bearer s3cret-Token_2", "Bearer s3cret-Token_1x", "Basic s3cret-Token_1", "s3cret-Token_1"):
            status, body, _ = await api.post(request, headers={"Authorization": wrong})
            assert_error(status, body, 401, "unauthorized", "not valid")
        assert api.state.probes == 0
        status, body, _ = await api.post(request, headers={"Authorization": "Bearer s3cret-Token_1"})
        assert status == 200 and body["result"]["error"] == "refused"


async def test_rate_limit_after_the_burst_with_retry_after(closed_tcp_port: Callable[[], int]) -> None:
    clock = FakeClock()
    request = {"protocol": "tcp", "port": closed_tcp_port(), "mode": "connect"}
    async with running_api(clock=clock, burst=3, rate_per_s=0.25) as api:
        for _ in range(3):
            status, body, _ = await api.post(request)
            assert status == 200, body
        status, body, headers = await api.post({"protocol": "tcp", "port": 0, "mode": "connect"})
        assert status == 400  # invalid requests are refused before the limiter and cost nothing
        status, body, headers = await api.post(request)
        assert_error(status, body, 429, "rate_limited", "too many probes from 127.0.0.1")
        assert headers["Retry-After"] == "4"  # one token every 1/0.25 s
        clock.now += 4.0
        status, _, _ = await api.post(request)
        assert status == 200
        status, _, _ = await api.post(request)
        assert status == 429
    assert api.state.rate_limited == 2


async def test_rate_limiter_memory_is_bounded() -> None:
    async with running_api() as api:
        limiter = api.state.limiter
        assert limiter.max_sources == http_config.DEFAULT_MAX_SOURCES == 10_000
        base = int(ipaddress.IPv4Address("10.0.0.0"))
        for index in range(25_000):
            limiter.allow(str(ipaddress.IPv4Address(base + index)), 0.0)
        assert len(limiter) == 10_000
    async with running_api(max_sources=50) as api:
        for index in range(1000):
            api.state.limiter.allow(f"2001:db8::{index:x}", 0.0)
        assert len(api.state.limiter) == 50


async def test_in_flight_cap_global_and_per_source(closed_tcp_port: Callable[[], int]) -> None:
    quick = {"protocol": "tcp", "port": closed_tcp_port(), "mode": "connect"}
    cases: tuple[tuple[dict[str, Any], str], ...] = (
        ({"max_in_flight": 1}, "maximum of 1 probes"),
        ({"max_in_flight": 8, "max_in_flight_per_source": 1}, "at most 1 probes may run at once for one address"),
    )
    for limits, message in cases:
        async with tcp_server(sender(b"SSH-2.0-Held\r\n", hold=True)) as held, running_api(**limits) as api:
            slow = asyncio.create_task(api.post({"protocol": "tcp", "port": held.port, "mode": "ssh", "timeout": 5.0}))
            await held.next_accept()  # the first probe is now running, holding its slot
            assert len(api.state.in_flight) == 1
            status, body, headers = await api.post(quick)
            assert_error(status, body, 429, "rate_limited", message)
            assert headers["Retry-After"] == "1"
            held.release.set()
            status, body, _ = await slow
            assert status == 200 and body["result"]["banner"] == "SSH-2.0-Held"
            assert len(api.state.in_flight) == 0
            status, _, _ = await api.post(quick)
            assert status == 200


def test_ipv6_sources_are_limited_per_64() -> None:
    key = source_key
    assert key(ipaddress.ip_address("192.0.2.7")) == "192.0.2.7"
    assert key(ipaddress.ip_address("2001:db8:1:2:aaaa::1")) == key(ipaddress.ip_address("2001:db8:1:2:ffff::9"))
    assert key(ipaddress.ip_address("2001:db8:1:2::1")) == "2001:db8:1:2::/64"
    assert key(ipaddress.ip_address("2001:db8:1:3::1")) != key(ipaddress.ip_address("2001:db8:1:2::1"))


def test_in_flight_counts_sources_separately() -> None:
    gate = InFlight(limit=3, per_source=2)
    assert gate.try_enter("a") is None and gate.try_enter("a") is None
    assert gate.try_enter("a") is not None  # per-source cap
    assert gate.try_enter("b") is None
    assert gate.try_enter("c") is not None  # global cap
    gate.leave("a")
    assert gate.try_enter("c") is None
    for key in ("a", "b", "c"):
        gate.leave(key)
    assert len(gate) == 0 and gate.sources() == 0


async def test_body_too_large_gets_413() -> None:
    async with running_api() as api:
        status, body, _ = await api.post(b" " * 5000)
        assert_error(status, body, 413, "bad_request", "larger than 4096 bytes")

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
            for _ in range(10):
                yield b" " * 1000

        async with api.session.post(
            f"{api.url}/v1/probe", data=chunks(), headers={"Content-Type": "application/json"}
        ) as response:
            assert_error(response.status, await response.json(), 413, "bad_request", "larger than 4096 bytes")


async def test_body_of_exactly_the_limit_is_accepted(udp_sink: Callable[..., UdpSink]) -> None:
    sink = udp_sink()
    async with running_api(udp_nonce_spacing=0) as api:
        request = {"protocol": "udp", "port": sink.port, "mode": "nonce", "nonce": NONCE, "count": 5}
        status, body, _ = await api.post(request, pad_to=4096)
    assert status == 200 and body["result"] == {"sent": 5}


async def test_denied_port_gets_403(closed_tcp_port: Callable[[], int]) -> None:
    port = closed_tcp_port()
    async with running_api(denied_ports=frozenset({port})) as api:
        status, body, _ = await api.post({"protocol": "tcp", "port": port, "mode": "connect"})
    assert_error(status, body, 403, "port_not_allowed", f"does not probe port {port}")


async def test_unknown_path_and_wrong_method_are_json_errors() -> None:
    async with running_api() as api:
        status, body = await api.get("/v2/nothing")
        assert_error(status, body, 404, "not_found", "/v2/nothing")
        async with api.session.get(f"{api.url}/v1/probe") as response:
            assert_error(response.status, await response.json(), 405, "bad_request", "use POST")
            assert response.headers["Allow"] == "POST"


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback (::1) on this machine")
async def test_ipv6_requester_and_family_mismatch(udp_sink: Callable[..., UdpSink]) -> None:
    sink6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        sink6.bind(("::1", 0))
        sink6.setblocking(False)
        async with running_api(host="::1", client_ip="::1", probe_source_ip="::1") as api:
            _, whoami = await api.get("/v1/whoami")
            assert whoami["ip"] == "::1" and whoami["probe_source_ip"] == "::1"
            port = sink6.getsockname()[1]
            status, body, _ = await api.post({"protocol": "udp", "port": port, "mode": "nonce", "nonce": NONCE, "count": 1})
            assert status == 200 and body["target"] == {"ip": "::1", "port": port}
            async with asyncio.timeout(5):
                data = await asyncio.get_running_loop().sock_recv(sink6, 100)
            assert data == nonce_payload(NONCE)
        async with running_api(host="::1", client_ip="::1", probe_source_ip="127.0.0.1") as api:
            status, body, _ = await api.post({"protocol": "tcp", "port": 1, "mode": "connect"})
            assert_error(status, body, 400, "bad_request", "cannot probe your IPv6 address ::1", "over IPv4")
    finally:
        sink6.close()


async def test_start_fails_cleanly() -> None:
    with pytest.raises(NetworkError, match="UDP probe socket"):
        await start_http_api(HttpApiConfig(probe_source_ip=ipaddress.IPv4Address("192.0.2.1")), "127.0.0.1", 0)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(NetworkError, match="cannot listen for HTTP"):
            await start_http_api(HttpApiConfig(probe_source_ip=LOCALHOST), "127.0.0.1", busy.getsockname()[1])


@pytest.mark.parametrize(
    "overrides",
    [
        {"probe_source_ip": ipaddress.IPv4Address("0.0.0.0")},
        {"udp_probe_port": 70000},
        {"token": ""},
        {"token": "has space"},
        {"rate_per_s": 0},
        {"burst": 0.5},
        {"max_sources": 0},
        {"max_body_bytes": 10},
        {"denied_ports": frozenset({0})},
    ],
)
def test_config_validation(overrides: dict[str, Any]) -> None:
    base = HttpApiConfig(probe_source_ip=LOCALHOST)
    with pytest.raises(ValueError):
        replace(base, **overrides)


def test_config_from_args(tmp_path: Path) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    http_config.add_arguments(parser)
    token_file = tmp_path / "token"
    token_file.write_text("abc123==\n")
    args = parser.parse_args(["--http-port", "8080", "--http-token-file", str(token_file), "--probe-burst", "5"])
    config = http_config.config_from_args(args, LOCALHOST)
    assert (args.http_port, config.token, config.burst, config.rate_per_s) == (8080, "abc123==", 5.0, 1.0)
    assert config.udp_probe_port == 0


# =====================================================================================
# The OpenAPI document against the implementation
# =====================================================================================


def test_openapi_document_is_valid_openapi_31() -> None:
    validate_openapi(DOCUMENT)
    assert DOCUMENT["openapi"] == "3.1.0" and DOCUMENT["info"]["version"] == __version__


async def test_openapi_is_served_and_documents_exactly_the_routes() -> None:
    async with running_api() as api:
        status, served = await api.get("/v1/openapi.json")
    assert status == 200 and served == DOCUMENT
    app = create_app(HttpApiConfig(probe_source_ip=LOCALHOST))
    app_routes = {(route.method.lower(), route.resource.canonical) for route in app.router.routes() if route.resource}
    assert app_routes  # the comparison below must not pass on two empty sets
    documented = {(method, path) for path, item in DOCUMENT["paths"].items() for method in item}
    assert app_routes == documented


def test_openapi_enums_match_the_implementation() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    request = schemas["ProbeRequest"]
    assert tuple(request["properties"]) == contract.ProbeRequest.__struct_fields__
    assert set(schemas["TransportProtocol"]["enum"]) == {p.value for p in TransportProtocol}
    assert set(schemas["ProbeMode"]["enum"]) == {m.value for m in ProbeMode}
    combos = {c["if"]["properties"]["protocol"]["const"]: set(c["then"]["properties"]["mode"]["enum"]) for c in request["allOf"][:2]}
    assert combos == {p.value: {m.value for m in modes} for p, modes in contract.MODES.items()}
    count, timeout = request["properties"]["count"], request["properties"]["timeout"]
    assert (count["minimum"], count["maximum"], count["default"]) == (*contract.COUNT_RANGE, contract.DEFAULT_COUNT)
    assert (timeout["minimum"], timeout["maximum"], timeout["default"]) == (*contract.TIMEOUT_RANGE, contract.DEFAULT_TIMEOUT)
    assert set(schemas["ErrorCode"]["enum"]) == {c.value for c in contract.ErrorCode}
    error_values = schemas["ConnectResult"]["properties"]["error"]["description"]
    assert all(f"`{e.value}`" in error_values for e in contract.ProbeError)
    assert schemas["WhoAmI"]["properties"]["server"]["enum"] == [contract.API_SERVER_NAME]


def _examples(operation: str, status: str) -> dict[str, Any]:
    response = DOCUMENT["paths"]["/v1/probe"]["post"]["responses"][status]
    if "$ref" in response:
        response = DOCUMENT["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return dict(response["content"]["application/json"]["examples"])


def test_openapi_response_examples_validate_against_their_schemas() -> None:
    checked = 0
    for path, item in DOCUMENT["paths"].items():
        for operation in item.values():
            for response in operation["responses"].values():
                if "$ref" in response:
                    response = DOCUMENT["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
                content = response.get("content", {}).get("application/json", {})
                ref = content.get("schema", {}).get("$ref")
                for example in content.get("examples", {}).values():
                    assert ref is not None, path
                    schema(ref.rsplit("/", 1)[1]).validate(example["value"])
                    checked += 1
    request_examples = DOCUMENT["paths"]["/v1/probe"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    for example in request_examples.values():
        schema("ProbeRequest").validate(example["value"])
        decode_probe_request(json.dumps(example["value"]).encode())
    assert checked >= 12


async def test_openapi_request_examples_work_against_the_handlers(
    tmp_path: Path, udp_sink: Callable[..., UdpSink]
) -> None:
    """Send every documented request (port pointed at a local stand-in) and check the answer
    against the documented schema and the documented example for that mode."""
    pki = make_pki(tmp_path, "cloud.example.org")
    tls = server_tls(pki.self_signed_cert, pki.self_signed_key)
    requests = DOCUMENT["paths"]["/v1/probe"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    responses = _examples("probe", "200")
    async with (
        tcp_server(read_all) as plain,
        tcp_server(http_responder(b"HTTP/1.1 200 OK\r\nServer: stand-in\r\n\r\n")) as web_server,
        tcp_server(http_responder(b"HTTP/1.1 200 OK\r\n\r\n"), tls=tls) as tls_server,
        tcp_server(sender(b"SSH-2.0-StandIn\r\n")) as ssh_server,
        running_api(udp_nonce_spacing=0) as api,
    ):
        udp = udp_sink()
        ports = {
            ("udp", "nonce"): udp.port,
            ("udp", "jamulus"): udp.port,
            ("tcp", "connect"): plain.port,
            ("tcp", "nonce"): plain.port,
            ("tcp", "http"): web_server.port,
            ("tcp", "https"): tls_server.port,
            ("tcp", "ssh"): ssh_server.port,
        }
        seen = set()
        for name, example in requests.items():
            request = dict(example["value"])
            key = (request["protocol"], request["mode"])
            request["port"] = ports[key]
            if "timeout" in request:
                request["timeout"] = 0.5  # the silent jamulus stand-in would otherwise take the full 2 s
            status, body, _ = await api.post(request)
            assert status == 200, (name, body)
            check_probe_response(body)
            assert (body["protocol"], body["mode"]) == key and body["target"] == {"ip": "127.0.0.1", "port": ports[key]}
            documented = [r["value"] for r in responses.values() if (r["value"]["protocol"], r["value"]["mode"]) == key]
            for doc in documented:
                assert set(doc["result"]) == set(body["result"]), name
            seen.add(key)
        assert seen == set(ports)


async def test_openapi_error_examples_are_what_the_handlers_answer(udp_sink: Callable[..., UdpSink]) -> None:
    sink = udp_sink()
    async with running_api() as api:
        checked = 0
        for status_text in ("400",):
            for name, example in _examples("probe", status_text).items():
                request = dict(example["x-request"])
                if 1 <= request.get("port", 0) <= 65535:
                    request["port"] = sink.port  # never aim anything at a real service port
                status, body, _ = await api.post(request)
                assert status == int(status_text), name
                assert body == example["value"], name
                checked += 1
        assert checked == 3
        assert sink.pending() == []


# --- the request schema accepts exactly what the handler accepts ---------------------------------

_HOSTISH = st.from_regex(r"[a-z0-9-]{0,5}(\.[a-z0-9-]{0,5}){0,3}\.?", fullmatch=True)
_REQUESTS = st.fixed_dictionaries(
    {},
    optional={
        "protocol": st.sampled_from(["udp", "tcp", "UDP", "icmp", ""]) | st.integers(0, 3),
        "port": st.integers(-2, 65538) | st.sampled_from([1, 22124, 65535, 22124.0, 1.5, True, "80", None]),
        "mode": st.sampled_from([m.value for m in ProbeMode] + ["ping", "HTTP"]),
        # no newlines: Python's re '$' also matches before a final newline, ECMA-262's does not
        "nonce": st.from_regex(r"[0-9a-fA-Fg]{0,70}", fullmatch=True) | st.sampled_from([None, 7, NONCE]),
        "host": _HOSTISH
        | st.sampled_from(["probe.test", "1.2.3.4", "::1", "a" * 64 + ".test", "x" * 250 + ".ab", "é.test", None]),
        "count": st.integers(-1, 7) | st.sampled_from([2.0, 2.5, False, None]),
        "timeout": st.floats(0, 6, allow_nan=False) | st.integers(0, 6) | st.sampled_from([True, "2", None]),
        "ip": st.just("10.0.0.1"),
    },
)


# JSON Schema's data model counts 3.0 as an integer; msgspec (like Python's json module) reads
# what is written, so the API takes integers written as integers. The agreement below is
# checked with that reading of "integer"; test_integral_floats_are_refused pins the difference.
_LEXICAL = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    ),
)


def test_integral_floats_are_refused() -> None:
    for request in ({"protocol": "tcp", "port": 22124.0, "mode": "connect"},
                    {"protocol": "udp", "port": 1, "mode": "nonce", "nonce": NONCE, "count": 2.0}):
        with pytest.raises(DecodeError, match="must be an integer"):
            decode_probe_request(json.dumps(request).encode())
        assert not _LEXICAL({"$ref": "#/components/schemas/ProbeRequest", "components": DOCUMENT["components"]}).is_valid(request)
    decode_probe_request(b'{"protocol": "tcp", "port": 1, "mode": "connect", "timeout": 2}')  # an integer is a number


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_REQUESTS)
def test_request_schema_and_parser_agree(request: dict[str, Any]) -> None:
    validator = _LEXICAL({"$ref": "#/components/schemas/ProbeRequest", "components": DOCUMENT["components"]})
    try:
        parsed = decode_probe_request(json.dumps(request).encode())
    except DecodeError:
        accepted = False
    else:
        accepted = True
        assert parsed.port == request["port"]
    assert validator.is_valid(request) == accepted, (request, accepted)
