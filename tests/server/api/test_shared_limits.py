"""One rate-limit table and one in-flight cap for the HTTP API on every family of one server.

Two APIs started as ``natprobe serve`` starts them for two families (the second sharing the
first's limits), here on two loopback addresses: a source that spent its burst on one has
none left on the other. Loopback only; the probes target a port held closed."""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterator

import aiohttp
import pytest

from natprobe_server.api.app import start_http_api
from natprobe_server.api.guards import STATE_KEY
from natprobe_server.config.http import HttpApiConfig


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        yield int(sock.getsockname()[1])


async def _post(session: aiohttp.ClientSession, url: str, port: int) -> int:
    body = json.dumps({"protocol": "tcp", "port": port, "mode": "connect"})
    async with session.post(f"{url}/v1/probe", data=body, headers={"Content-Type": "application/json"}) as answer:
        return answer.status


@pytest.mark.parametrize("shared", [True, False])
async def test_a_burst_spent_on_one_family_is_spent_on_the_other(closed_port: int, shared: bool) -> None:
    config = HttpApiConfig(probe_source_ip=ipaddress.ip_address("127.0.0.1"), burst=2, rate_per_s=0.01)
    first, port = await start_http_api(config, "127.0.0.1", 0)
    try:
        second, _ = await start_http_api(config, "127.0.0.2", port, limits_from=first.app if shared else None)
        try:
            connector = aiohttp.TCPConnector(local_addr=("127.0.0.1", 0))
            async with aiohttp.ClientSession(connector=connector) as session:
                assert [await _post(session, f"http://127.0.0.1:{port}", closed_port) for _ in range(2)] == [200, 200]
                other = await _post(session, f"http://127.0.0.2:{port}", closed_port)
            assert other == (429 if shared else 200)
            assert (second.app[STATE_KEY].limiter is first.app[STATE_KEY].limiter) is shared
            assert (second.app[STATE_KEY].in_flight is first.app[STATE_KEY].in_flight) is shared
        finally:
            await second.cleanup()
    finally:
        await first.cleanup()
