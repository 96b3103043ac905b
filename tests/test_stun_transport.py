"""The asyncio STUN client over UDP and TCP, on loopback, against a minimal responder."""

from __future__ import annotations

import asyncio

import pytest

from natprobe.errors import NetworkError
from natprobe.stun import (
    Attribute,
    AttributeType,
    ErrorCodeValue,
    Message,
    MessageClass,
    StreamDecoder,
    binding_request,
    encode,
)
from natprobe.addressing import TransportAddress
from natprobe.stun.transaction import RetransmissionPolicy
from natprobe.adapters.stun_tcp import tcp_transact
from natprobe.adapters.stun_udp import StunEndpoint, StunResponse, to_address

from benchmarks.bounded_waits import StunResponder

FAST = RetransmissionPolicy(rto=0.05, max_sends=3, last_wait=0.1)


def _answer(request: Message, source: TransportAddress) -> Message:
    if request.software == "fail":
        return Message(MessageClass.ERROR_RESPONSE, request.method, request.transaction_id,
                       (Attribute(AttributeType.ERROR_CODE, ErrorCodeValue(400, "Bad Request")),))
    return Message(MessageClass.SUCCESS_RESPONSE, request.method, request.transaction_id,
                   (Attribute(AttributeType.XOR_MAPPED_ADDRESS, source),))


async def _responder(
    drop: int = 0, hold_first: float = 0.0, delay: float = 0.0
) -> tuple[asyncio.DatagramTransport, StunResponder, TransportAddress]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: StunResponder(drop, hold_first, delay, answer=_answer), local_addr=("127.0.0.1", 0))
    return transport, protocol, to_address(transport.get_extra_info("sockname"))


async def _answered(endpoint: StunEndpoint, request: Message, server: TransportAddress) -> StunResponse:
    response = await endpoint.transact(request, server, FAST)
    assert response is not None and not response.is_error
    return response


async def test_udp_request_reads_mapped_address() -> None:
    transport, _, server = await _responder()
    try:
        async with await StunEndpoint.open(("127.0.0.1", 0)) as endpoint:
            response = await _answered(endpoint, binding_request(), server)
            assert response.message.xor_mapped_address == endpoint.local_address
            assert response.source == server
            assert response.sends == 1
    finally:
        transport.close()


async def test_udp_retransmits_through_loss() -> None:
    transport, protocol, server = await _responder(drop=2)
    try:
        async with await StunEndpoint.open(("127.0.0.1", 0)) as endpoint:
            response = await _answered(endpoint, binding_request(), server)
            assert response.sends == 3
            assert protocol.received == 3
    finally:
        transport.close()


async def test_a_slow_first_answer_is_matched_to_the_first_send() -> None:
    # Answer 1 leaves at 0.14 s, after send 2 (0.10 s), whose answer comes at 0.18 s.
    transport, protocol, server = await _responder(hold_first=0.06, delay=0.08)
    try:
        async with await StunEndpoint.open(("127.0.0.1", 0)) as endpoint:
            slow = RetransmissionPolicy(rto=0.1, max_sends=4, last_wait=0.3, backoff=1.0)
            response = await endpoint.transact(binding_request(), server, slow, settle_rtt=True)
            assert response is not None and response.attempt == 1  # not a loss
            assert response.sends >= 2 and protocol.received >= 2
            # The later send's prompt answer arrived after completion: its id was retired, so
            # it is neither taken for a second response nor queued as a stranger's datagram.
            # The RTT it settles on (the later send's) is a wall-clock measurement: benchmarks/bounded_waits.py.
            await asyncio.sleep(0.1)
            assert endpoint.inbox.empty()
    finally:
        transport.close()


async def test_a_slow_lone_answer_is_followed_by_one_more_sample() -> None:
    # Answer 1 arrives at 0.11 s, before any retransmission (0.3 s): one more request, answered in 0.03 s.
    transport, protocol, server = await _responder(hold_first=0.08, delay=0.03)
    try:
        async with await StunEndpoint.open(("127.0.0.1", 0)) as endpoint:
            slow = RetransmissionPolicy(rto=0.3, max_sends=3, last_wait=0.3, backoff=1.0)
            response = await endpoint.transact(binding_request(), server, slow, settle_rtt=True, settle_above=0.06)
            assert response is not None and response.attempt == 1 and response.sends == 1
            assert protocol.received == 2  # the second sample; its RTT: benchmarks/bounded_waits.py
    finally:
        transport.close()


async def test_udp_silence_is_none_or_timeout_within_the_policy() -> None:
    transport, _, server = await _responder(drop=100)
    try:
        async with await StunEndpoint.open(("127.0.0.1", 0)) as endpoint:
            # How long it takes (the policy's total timeout): benchmarks/bounded_waits.py
            assert await endpoint.transact(binding_request(), server, FAST) is None
    finally:
        transport.close()


async def test_udp_concurrent_transactions_are_demultiplexed() -> None:
    transport, _, server = await _responder()
    try:
        async with await StunEndpoint.open(("127.0.0.1", 0)) as endpoint:
            requests = [binding_request() for _ in range(20)]
            responses = await asyncio.gather(*(_answered(endpoint, r, server) for r in requests))
            assert [r.message.transaction_id for r in responses] == [r.transaction_id for r in requests]
    finally:
        transport.close()


async def test_udp_error_response_raises_with_code() -> None:
    transport, _, server = await _responder()
    try:
        async with await StunEndpoint.open(("127.0.0.1", 0)) as endpoint:
            response = await endpoint.transact(binding_request(software="fail"), server, FAST)
            assert response is not None and response.is_error
            assert response.message.error_code is not None and response.message.error_code.code == 400
    finally:
        transport.close()


async def test_unmatched_datagrams_land_in_the_inbox() -> None:
    async with await StunEndpoint.open(("127.0.0.1", 0)) as a, await StunEndpoint.open(("127.0.0.1", 0)) as b:
        b.send_to(b"hello", a.local_address)
        datagram = await asyncio.wait_for(a.inbox.get(), 2)
        assert datagram.data == b"hello"
        assert datagram.source == b.local_address


async def test_bind_failure_is_a_network_error() -> None:
    async with await StunEndpoint.open(("127.0.0.1", 0)) as a:
        with pytest.raises(NetworkError):
            await StunEndpoint.open(("127.0.0.1", a.local_address.port))


async def test_tcp_request_with_split_and_joined_writes() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = StreamDecoder()
        peer = to_address(writer.get_extra_info("peername"))
        while chunk := await reader.read(100):
            for request in decoder.feed(chunk):
                data = encode(_answer(request, peer))
                writer.write(data[:7])  # split the response across writes
                await writer.drain()
                writer.write(data[7:])
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        address = to_address(server.sockets[0].getsockname())
        response = await tcp_transact(binding_request(), address, timeout=2)
        assert response.message.xor_mapped_address is not None
        assert str(response.message.xor_mapped_address.ip) == "127.0.0.1"
    finally:
        server.close()
        await server.wait_closed()


async def test_tcp_connection_refused_is_a_network_error() -> None:
    async with await StunEndpoint.open(("127.0.0.1", 0)) as unused:  # a port with no TCP listener
        port = unused.local_address.port
    with pytest.raises(NetworkError):
        await tcp_transact(binding_request(), TransportAddress.parse("127.0.0.1", port), timeout=2)


async def test_bind_failure_is_a_network_error_naming_the_address() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(NetworkError, match=f"cannot bind UDP 127.0.0.1:{port}: "):
            await StunEndpoint.open(("127.0.0.1", port))
