"""``POST /v1/probe`` with a ``relay``: the server applies the relay rule before sending anything.

Loopback only: the server on 127.0.0.1 (its own addresses 127.0.0.1 and 127.0.0.2), the
requester on 127.0.0.1, a "third party" sink on 127.0.0.3. The DNS permission path runs in
the relay lab (tests/lab/test_relay_lab.py), with a real name server.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from natprobe.contract import nonce_payload

from tests.server.api.test_http_api import FakeClock, assert_error, check_probe_response, running_api
from tests.server.peers import NONCE, UdpSink

SERVER_OWN = ipaddress.ip_address("127.0.0.2")


def _relay_probe(port: int, address: str, name: str = "relay.example.test") -> dict[str, object]:
    return {"protocol": "udp", "port": port, "mode": "nonce", "nonce": NONCE, "count": 1,
            "relay": {"name": name, "address": address}}


async def test_a_relay_on_the_servers_own_address_is_probed(udp_sink: Callable[..., UdpSink]) -> None:
    sink = udp_sink("127.0.0.2")
    async with running_api(own_addresses=(SERVER_OWN,)) as api:
        status, body, _ = await api.post(_relay_probe(sink.port, "127.0.0.2"))
    assert status == 200, body
    check_probe_response(body)
    assert body["target"] == {"ip": "127.0.0.2", "port": sink.port}
    data, _source = (await sink.receive(1))[0]
    assert data == nonce_payload(NONCE)


async def test_a_third_party_is_refused_with_the_record_to_add_and_gets_nothing(
    udp_sink: Callable[..., UdpSink],
) -> None:
    third = udp_sink("127.0.0.3")
    # Not the server's own, and not public: refused before any lookup (resolvers: 127.0.0.9
    # runs no name server here, so nothing could grant it either).
    async with running_api(own_addresses=(SERVER_OWN,), resolvers=("127.0.0.9",)) as api:
        status, body, _ = await api.post(_relay_probe(third.port, "127.0.0.3"))
        assert api.state.probes == 0
    assert_error(status, body, 403, "relay_not_allowed", "127.0.0.3 is not a public address")
    assert third.pending() == []


async def test_relay_probes_are_limited_per_target(udp_sink: Callable[..., UdpSink]) -> None:
    """Many requesters cannot aim the server at one relay: the per-target bucket empties
    even though each source still has tokens."""
    sink = udp_sink("127.0.0.2")
    clock = FakeClock()
    async with running_api(own_addresses=(SERVER_OWN,), clock=clock, target_burst=2.0, target_rate_per_s=0.1,
                           udp_nonce_spacing=0.0) as api:
        statuses = [(await api.post(_relay_probe(sink.port, "127.0.0.2")))[0] for _ in range(3)]
        status, body, headers = await api.post(_relay_probe(sink.port, "127.0.0.2"))
        own = await api.post({"protocol": "udp", "port": sink.port, "mode": "nonce", "nonce": NONCE, "count": 1})
        clock.now += 10.0
        later = (await api.post(_relay_probe(sink.port, "127.0.0.2")))[0]
    assert statuses == [200, 200, 429]
    assert_error(status, body, 429, "rate_limited", "127.0.0.2")
    assert headers["Retry-After"] == "10"
    assert own[0] == 200  # the requester's own probe is not charged to the relay's bucket
    assert later == 200


async def test_bad_relay_fields_are_400() -> None:
    async with running_api() as api:
        status, body, _ = await api.post(_relay_probe(9, "not-an-ip"))
        assert_error(status, body, 400, "bad_request")
        status, body, _ = await api.post({**_relay_probe(9, "127.0.0.2"), "relay": {"name": "x.test", "address": "127.0.0.2",
                                                                                      "extra": 1}})
        assert_error(status, body, 400, "bad_request")


async def test_http_mode_with_a_nonce_asks_for_the_token_path() -> None:
    """A relay check through an HTTP reverse proxy: the GET carries the token in its path."""
    import asyncio

    requests: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with running_api() as api:
            status, body, _ = await api.post({"protocol": "tcp", "port": port, "mode": "http", "nonce": NONCE,
                                               "host": "web.example.test"})
            plain, _body, _ = await api.post({"protocol": "tcp", "port": port, "mode": "http"})
    finally:
        server.close()
        await server.wait_closed()
    assert status == 200 and body["result"]["status"] == 204, body
    check_probe_response(body)
    assert requests[0].startswith(f"GET /.well-known/natprobe/{NONCE} HTTP/1.1\r\nHost: web.example.test".encode())
    assert plain == 200 and requests[1].startswith(b"GET / HTTP/1.1")
