"""The UDP side on real loopback sockets: Table 1 sources, RESPONSE-PORT, echo, junk, rate limits."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from natprobe_server import EchoServer, EchoServerConfig
from natprobe.stun import AttributeType, Message, MessageClass, Method, binding_request, decode, encode
from natprobe.addressing import TransportAddress

from tests.echo_server import LO1, LO2, UdpClient, has_ipv6_loopback, loopback_server


async def exchange(client: UdpClient, request: Message, destination: TransportAddress) -> tuple[Message, TransportAddress]:
    await client.send(encode(request), destination)
    data, source = await client.receive()
    response = decode(data)
    assert response.transaction_id == request.transaction_id
    return response, source


async def test_server_binds_the_four_endpoints_and_the_echo_port(dual_server: EchoServer) -> None:
    n = dual_server.port
    expected = {TransportAddress(ip, port) for ip in (LO1, LO2) for port in (n, n + 1)}
    assert set(dual_server.udp_endpoints) == expected
    assert set(dual_server.tcp_endpoints) == expected
    assert dual_server.echo_endpoint == TransportAddress(LO1, n + 2)
    line = dual_server.describe()
    assert line.startswith(f"listening port={n} mode=rfc5780 ")
    assert f"echo_udp=127.0.0.1:{n + 2}" in line


@pytest.mark.parametrize(("change_ip", "change_port"), [(False, False), (True, False), (False, True), (True, True)])
async def test_change_request_replies_leave_from_the_table_1_socket(
    dual_server: EchoServer, client: UdpClient, change_ip: bool, change_port: bool
) -> None:
    n = dual_server.port
    for local in dual_server.udp_endpoints:
        request = binding_request(change_ip=change_ip, change_port=change_port)
        response, source = await exchange(client, request, local)
        other_ip = LO2 if local.ip == LO1 else LO1
        other_port = n + 1 if local.port == n else n
        expected = TransportAddress(other_ip if change_ip else local.ip, other_port if change_port else local.port)
        assert source == expected  # the datagram really came from that socket
        assert response.response_origin == expected
        assert response.other_address == TransportAddress(other_ip, other_port)
        assert response.xor_mapped_address == client.address


async def test_single_address_server_serves_change_port_and_refuses_change_ip(
    single_server: EchoServer, client: UdpClient
) -> None:
    n = single_server.port
    assert len(single_server.udp_endpoints) == 2
    response, source = await exchange(client, binding_request(change_port=True), TransportAddress(LO1, n))
    assert source == TransportAddress(LO1, n + 1)
    assert response.other_address is None
    response, source = await exchange(client, binding_request(change_ip=True), TransportAddress(LO1, n))
    assert response.message_class == MessageClass.ERROR_RESPONSE
    assert response.error_code is not None and response.error_code.code == 420
    assert source == TransportAddress(LO1, n)


async def test_response_port_sends_to_the_other_port_of_the_same_ip(dual_server: EchoServer, client: UdpClient) -> None:
    other = UdpClient()
    try:
        request = binding_request(response_port=other.address.port)
        await client.send(encode(request), TransportAddress(LO1, dual_server.port))
        data, source = await other.receive()
        response = decode(data)
        assert response.transaction_id == request.transaction_id
        assert response.xor_mapped_address == client.address  # mapped: the requester, not the target port
        assert source == TransportAddress(LO1, dual_server.port)
    finally:
        other.close()


async def test_padded_request_gets_a_padded_reply_no_larger_than_the_request(
    dual_server: EchoServer, client: UdpClient
) -> None:
    request = binding_request(change_ip=True, change_port=True, padding=1500)
    sent = encode(request)
    await client.send(sent, TransportAddress(LO1, dual_server.port))
    data, source = await client.receive()
    assert source == TransportAddress(LO2, dual_server.port + 1)
    assert len(data) <= len(sent)
    assert decode(data).has(AttributeType.PADDING)


async def test_fast_and_full_paths_are_both_used(dual_server: EchoServer, client: UdpClient) -> None:
    server = TransportAddress(LO1, dual_server.port)
    await exchange(client, binding_request(), server)
    await exchange(client, binding_request(change_port=True), server)
    stats = dual_server.stats()
    assert stats.fast_path == 1
    assert stats.full_path == 1 and stats.answered == 1


@pytest.mark.parametrize("size", [0, 1, 20, 1472, 9000, 65507])
async def test_echo_returns_exactly_the_datagram_to_its_sender(
    dual_server: EchoServer, client: UdpClient, size: int
) -> None:
    echo = dual_server.echo_endpoint
    assert echo is not None
    payload = bytes(i % 251 for i in range(size))
    await client.send(payload, echo)
    data, source = await client.receive()
    assert data == payload  # never more bytes, never other bytes
    assert source == echo


def junk_burst() -> list[bytes]:
    valid = encode(binding_request())
    header = valid[:20]
    return [
        valid[:10],  # truncated header
        b"\x00\x01\x00\x0c" + valid[4:20],  # length says 12 bytes of attributes, none follow
        b"\x00\x01\x00\x00\xde\xad\xbe\xef" + valid[8:20] + b"\x00\x00\x00\x00",  # length disagrees
        b"\x00\x01\x00\x08" + header[4:20] + b"\x00\x03\x00\x10\x00\x00\x00\x00",  # attribute overruns
        b"\x00\x01\x00\x08" + header[4:20] + b"\x00\x20\x00\x04\x00\x07\x00\x00",  # bad address family
        b"\x00\x01\x00\x04" + header[4:20] + b"\x00\x27\x00\x00",  # RESPONSE-PORT of 0 bytes
        b"\xc0" + valid[1:],  # leading bits set: not STUN
        b"\xff" * 1000,
    ] * 8 + [
        bytes(65507),  # 64 KiB of zeros (loopback MTU allows it)
        bytes(range(256)) * 255,
    ]


async def test_junk_burst_then_a_valid_request_is_answered_promptly(dual_server: EchoServer, client: UdpClient) -> None:
    server = TransportAddress(LO1, dual_server.port)
    junk = junk_burst()
    for datagram in junk:
        await client.send(datagram, server)
    request = binding_request()
    await client.send(encode(request), server)
    data, _ = await client.receive(timeout=1.0)
    assert decode(data).transaction_id == request.transaction_id  # the first thing back: junk got nothing
    stats = dual_server.stats()
    # The kernel may drop some junk when the socket buffer fills (that is the bounded queue);
    # whatever reached the server was recognised as malformed and got nothing back.
    assert stats.malformed == stats.received - 1 >= len(junk) // 2
    assert (stats.fast_path, stats.answered, stats.errors) == (1, 0, 0)


async def test_rate_limit_stops_a_flooding_source_while_another_is_served() -> None:
    flooder = UdpClient("127.0.0.3")
    polite = UdpClient("127.0.0.4")
    try:
        async with loopback_server(rate_per_source=1.0, burst_per_source=5) as server:
            target = TransportAddress(LO1, server.port)
            flood = 60
            for _ in range(flood):
                await flooder.send(encode(binding_request()), target)
            request = binding_request()
            await polite.send(encode(request), target)
            data, _ = await polite.receive()
            assert decode(data).transaction_id == request.transaction_id
            stats = server.stats()
            answered_to_flooder = flood - stats.rate_limited
            assert 5 <= answered_to_flooder <= 6  # the burst (plus at most one refilled token)
            # Loopback delivers in order: the flooder's replies are already queued.
            assert len(flooder.drain()) == answered_to_flooder
    finally:
        flooder.close()
        polite.close()


async def test_echo_is_rate_limited_too() -> None:
    flooder = UdpClient("127.0.0.5")
    probe = UdpClient("127.0.0.6")
    try:
        async with loopback_server(alternate=False, rate_per_source=1.0, burst_per_source=3) as server:
            echo = server.echo_endpoint
            assert echo is not None
            for index in range(20):
                await flooder.send(index.to_bytes(2, "big"), echo)
            await probe.send(b"still here?", echo)
            assert (await probe.receive())[0] == b"still here?"
            assert server.stats().rate_limited >= 16
    finally:
        flooder.close()
        probe.close()


async def test_non_binding_and_indications_get_no_reply(dual_server: EchoServer, client: UdpClient) -> None:
    server = TransportAddress(LO1, dual_server.port)
    await client.send(encode(Message(MessageClass.INDICATION, Method.BINDING, bytes(12))), server)
    await client.send(encode(Message(MessageClass.SUCCESS_RESPONSE, Method.BINDING, bytes(12))), server)
    request = binding_request()
    response, _ = await exchange(client, request, server)  # the first reply is this one's
    assert response.message_class == MessageClass.SUCCESS_RESPONSE
    assert dual_server.stats().ignored == 2


@pytest.mark.skipif(not has_ipv6_loopback(), reason="this host has no IPv6 loopback (::1)")
async def test_ipv6_server_on_loopback() -> None:
    client = UdpClient("::1")
    try:
        async with EchoServer(EchoServerConfig(primary=ipaddress.IPv6Address("::1"), port=0)) as server:
            n = server.port
            assert server.describe().startswith(f"listening port={n} mode=single-address stun_udp=[::1]:{n},[::1]:{n + 1}")
            target = TransportAddress.parse("::1", n)
            response, source = await exchange(client, binding_request(), target)  # fast path
            assert response.xor_mapped_address == client.address == response.mapped_address
            response, source = await exchange(client, binding_request(change_port=True), target)  # full path
            assert source == TransportAddress.parse("::1", n + 1) == response.response_origin
            assert server.stats().fast_path == 1
            echo = server.echo_endpoint
            assert echo is not None
            await client.send(b"v6 echo", echo)
            assert (await client.receive())[0] == b"v6 echo"
            reader, writer = await asyncio.open_connection("::1", n)
            try:
                request = binding_request()
                writer.write(encode(request))
                async with asyncio.timeout(2):
                    data = await reader.readexactly(20 + 24 + 24)
                assert decode(data).xor_mapped_address == TransportAddress.parse(*writer.get_extra_info("sockname")[:2])
            finally:
                writer.close()
    finally:
        client.close()
