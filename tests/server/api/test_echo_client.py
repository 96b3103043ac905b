"""The typed client (natprobe.adapters.echo_client) against the real HTTP API on loopback.

Everything the client returns is a contract record; every refusal and every malformed
answer is one ServerError with a sentence. Probes only reach sockets this test bound.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from natprobe.adapters.echo_client import EchoApiClient
from natprobe.contract import (
    ConnectResult,
    ProbeError,
    ProbeMode,
    ProbeRequest,
    TransportProtocol,
    UdpNonceResult,
    WhoAmI,
    nonce_payload,
)
from natprobe.errors import ServerError

from natprobe_server.config.http import HttpApiConfig
from tests.echo_server import loopback_api
from tests.server.peers import NONCE, UdpSink


@asynccontextmanager
async def api_url(**config: Any) -> AsyncIterator[str]:
    settings = HttpApiConfig(probe_source_ip=ipaddress.IPv4Address("127.0.0.1"), udp_nonce_spacing=0, **config)
    async with loopback_api(settings) as running:
        yield running.url


async def test_whoami_and_probes_come_back_as_records(request: pytest.FixtureRequest) -> None:
    sink: UdpSink = request.getfixturevalue("udp_sink")()
    closed_port: Callable[[], int] = request.getfixturevalue("closed_tcp_port")
    async with api_url() as url, EchoApiClient(url) as api:
        whoami = await api.whoami()
        assert isinstance(whoami, WhoAmI) and whoami.public_ip == ipaddress.IPv4Address("127.0.0.1")
        assert whoami.probe_source == ipaddress.IPv4Address("127.0.0.1") and not whoami.auth_required

        # three datagrams: the client pads its body so the server's byte budget pays for all
        nonce = ProbeRequest.build(TransportProtocol.UDP, sink.port, ProbeMode.NONCE, nonce=NONCE)
        answer = await api.probe(nonce)
        assert answer.result == UdpNonceResult(3) and whoami.udp_probe_port == 0 and answer.source.address.port > 0
        assert [data for data, _ in await sink.receive(3)] == [nonce_payload(NONCE)] * 3

        refused = await api.probe(ProbeRequest.build(TransportProtocol.TCP, closed_port(), ProbeMode.CONNECT))
        assert refused.result == ConnectResult(False, ProbeError.REFUSED, None)
        assert refused.target.address.port == refused.target.port


async def test_refusals_are_server_errors_with_the_servers_sentence() -> None:
    async with api_url(token="s3cret") as url:
        async with EchoApiClient(url) as api:
            with pytest.raises(ServerError, match="needs a token") as refused:
                await api.probe(ProbeRequest.build(TransportProtocol.TCP, 9, ProbeMode.CONNECT))
            assert refused.value.status == 401
        async with EchoApiClient(url, token="s3cret") as api:
            with pytest.raises(ServerError, match="does not play a Jamulus directory") as missing:
                await api.jamulus_hole_punch("np-0123456789abcdef")
            assert missing.value.status == 404


@asynccontextmanager
async def fake_api(body: bytes, status: int = 200) -> AsyncIterator[str]:
    """An HTTP server on loopback that answers every request with ``body``."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=body, status=status, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b'{"ip": "127.0.0.1"}', 200, "malformed answer .*field 'port' is required"),
        (b'{"ip": "x", "port": 1, "server": "natprobe-echo", "version": "1", "probe_source_ip": "127.0.0.1", '
         b'"udp_probe_port": 1, "auth_required": false}', 200, "not an IP address"),
        (b"<html>busy</html>", 200, "not valid JSON"),
        (b"<html>busy</html>", 503, "refused the request: HTTP 503"),
        (b'{"error": {"code": "internal", "message": "out of sockets"}}', 500, "out of sockets"),
    ],
)
async def test_a_wrong_answer_is_one_server_error(body: bytes, status: int, message: str) -> None:
    async with fake_api(body, status) as url, EchoApiClient(url) as api:
        with pytest.raises(ServerError, match=message):
            await api.whoami()
