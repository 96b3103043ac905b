"""STUN over TCP: stream framing, 420 for RFC 5780 request attributes, idle timeout, connection cap."""

from __future__ import annotations

import asyncio

from echo_server import EchoServer, EchoServerConfig
from natprobe.stun import Message, MessageClass, StreamDecoder, binding_request, encode
from natprobe.addressing import TransportAddress

from .conftest import LO1, LO2

TIMEOUT = 2.0


async def read_messages(reader: asyncio.StreamReader, count: int) -> list[Message]:
    decoder = StreamDecoder()
    messages: list[Message] = []
    async with asyncio.timeout(TIMEOUT):
        while len(messages) < count:
            chunk = await reader.read(4096)
            assert chunk, "server closed the connection early"
            messages.extend(decoder.feed(chunk))
    return messages


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    try:
        async with asyncio.timeout(TIMEOUT):
            return await reader.read(4096) == b""
    except ConnectionResetError:
        return True


async def test_two_requests_in_one_write_and_one_split_across_writes(dual_server: EchoServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", dual_server.port)
    try:
        local = TransportAddress.parse(*writer.get_extra_info("sockname"))
        first, second = binding_request(), binding_request()
        writer.write(encode(first) + encode(second))
        await writer.drain()
        responses = await read_messages(reader, 2)
        assert [r.transaction_id for r in responses] == [first.transaction_id, second.transaction_id]
        assert all(r.xor_mapped_address == local for r in responses)
        assert responses[0].response_origin == TransportAddress(LO1, dual_server.port)
        assert responses[0].other_address == TransportAddress(LO2, dual_server.port + 1)

        split = binding_request()
        data = encode(split, fingerprint=True)
        for start in range(0, len(data), 3):
            writer.write(data[start : start + 3])
            await writer.drain()
        (response,) = await read_messages(reader, 1)
        assert response.transaction_id == split.transaction_id
    finally:
        writer.close()


async def test_change_request_over_tcp_gets_420(dual_server: EchoServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.2", dual_server.port + 1)
    try:
        request = binding_request(change_ip=True, change_port=True)
        writer.write(encode(request))
        (response,) = await read_messages(reader, 1)
        assert response.message_class == MessageClass.ERROR_RESPONSE
        assert response.error_code is not None and response.error_code.code == 420
    finally:
        writer.close()


async def test_a_stream_that_is_not_stun_is_closed(dual_server: EchoServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", dual_server.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await closed_by_server(reader)
    finally:
        writer.close()
    # and the server still answers everyone else
    reader, writer = await asyncio.open_connection("127.0.0.1", dual_server.port)
    try:
        request = binding_request()
        writer.write(encode(request))
        (response,) = await read_messages(reader, 1)
        assert response.transaction_id == request.transaction_id
    finally:
        writer.close()


async def test_idle_connections_are_closed() -> None:
    config = EchoServerConfig(primary=LO1, port=0, tcp_idle_timeout=0.2, echo=False)
    async with EchoServer(config) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            assert await closed_by_server(reader)
        finally:
            writer.close()


async def test_connections_beyond_the_cap_are_refused() -> None:
    config = EchoServerConfig(primary=LO1, port=0, max_tcp_connections=2, echo=False)
    async with EchoServer(config) as server:
        open_ones = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
        try:
            for reader, writer in open_ones:  # both are served
                request = binding_request()
                writer.write(encode(request))
                (response,) = await read_messages(reader, 1)
                assert response.transaction_id == request.transaction_id
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            try:
                writer.write(encode(binding_request()))
                assert await closed_by_server(reader)
            finally:
                writer.close()
            assert server.stats().tcp_refused == 1
            assert server.stats().tcp_connections == 2
        finally:
            for _, writer in open_ones:
                writer.close()


async def test_tcp_off_binds_no_tcp() -> None:
    async with EchoServer(EchoServerConfig(primary=LO1, port=0, tcp=False)) as server:
        assert server.tcp_endpoints == ()
        assert "stun_tcp=-" in server.describe()
