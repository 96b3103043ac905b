"""The asyncio STUN client over UDP and TCP, on loopback, against a minimal responder."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from natprobe.errors import ErrorResponse, NetworkError, TransactionTimeout
from natprobe.stun import (
    Attribute,
    AttributeType,
    ErrorCodeValue,
    Message,
    MessageClass,
    StreamDecoder,
    binding_request,
    decode,
    encode,
)
from natprobe.addressing import TransportAddress
from natprobe.stun.transaction import RetransmissionPolicy
from natprobe.adapters.stun_tcp import tcp_transact
from natprobe.adapters.stun_udp import StunEndpoint, to_address

FAST = RetransmissionPolicy(rto=0.05, max_sends=3, last_wait=0.1)


def _answer(request: Message, source: TransportAddress) -> Message:
    if request.software == "fail":
        return Message(MessageClass.ERROR_RESPONSE, request.method, request.transaction_id,
                       (Attribute(AttributeType.ERROR_CODE, ErrorCodeValue(400, "Bad Request")),))
    return Message(MessageClass.SUCCESS_RESPONSE, request.method, request.transaction_id,
                   (Attribute(AttributeType.XOR_MAPPED_ADDRESS, source),))


class _Responder(asyncio.DatagramProtocol):
    """Answers Binding requests; drops the first ``drop`` datagrams to exercise retransmission."""

    def __init__(self, drop: int = 0) -> None:
        self.drop = drop
        self.received = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received += 1
        if self.received <= self.drop:
            return
        assert self.transport is not None
        self.transport.sendto(encode(_answer(decode(data), to_address(addr))), addr)


async def _responder(drop: int = 0) -> tuple[asyncio.DatagramTransport, _Responder, TransportAddress]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(lambda: _Responder(drop), local_addr=("127.0.0.1", 0))
    return transport, protocol, to_address(transport.get_extra_info("sockname"))


async def test_udp_request_reads_mapped_address() -> None:
    transport, _, server = await _responder()
    try:
        async with await StunEndpoint.open(("127.0.0.1", 0)) as endpoint:
            response = await endpoint.request(binding_request(), server, FAST)
            assert response.message.xor_mapped_address == endpoint.local_address
            assert response.source == server
            assert response.sends == 1
    finally:
        transport.close()


async def test_udp_retransmits_through_loss() -> None:
    transport, protocol, server = await _responder(drop=2)
    try:
        async with await StunEndpoint.open(("127.0.0.1", 0)) as endpoint:
            response = await endpoint.request(binding_request(), server, FAST)
            assert response.sends == 3
            assert protocol.received == 3
    finally:
        transport.close()


async def test_udp_silence_is_none_or_timeout_within_the_policy() -> None:
    transport, _, server = await _responder(drop=100)
    try:
        async with await StunEndpoint.open(("127.0.0.1", 0)) as endpoint:
            # How long it takes (the policy's total timeout): benchmarks/bounded_waits.py
            assert await endpoint.transact(binding_request(), server, FAST) is None
            with pytest.raises(TransactionTimeout):
                await endpoint.request(binding_request(), server, FAST)
    finally:
        transport.close()


async def test_udp_concurrent_transactions_are_demultiplexed() -> None:
    transport, _, server = await _responder()
    try:
        async with await StunEndpoint.open(("127.0.0.1", 0)) as endpoint:
            requests = [binding_request() for _ in range(20)]
            responses = await asyncio.gather(*(endpoint.request(r, server, FAST) for r in requests))
            assert [r.message.transaction_id for r in responses] == [r.transaction_id for r in requests]
    finally:
        transport.close()


async def test_udp_error_response_raises_with_code() -> None:
    transport, _, server = await _responder()
    try:
        async with await StunEndpoint.open(("127.0.0.1", 0)) as endpoint:
            with pytest.raises(ErrorResponse) as info:
                await endpoint.request(binding_request(software="fail"), server, FAST)
            assert info.value.code == 400
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
