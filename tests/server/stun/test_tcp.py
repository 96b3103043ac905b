"""STUN over TCP: stream framing, 420 for RFC 5780 request attributes, idle timeout, connection cap."""

from __future__ import annotations

import asyncio

from natprobe_server import EchoServer
from natprobe.stun import Message, MessageClass, StreamDecoder, binding_request, encode
from natprobe.addressing import TransportAddress

from tests.echo_server import LO1, LO2, loopback_server

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
    assert await _binding_answered("127.0.0.1", dual_server.port)


async def test_idle_connections_are_closed() -> None:
    async with loopback_server(alternate=False, tcp_idle_timeout=0.2, echo=False) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            assert await closed_by_server(reader)
        finally:
            writer.close()


async def _binding_answered(ip: str, port: int, local_ip: str = "127.0.0.1") -> bool:
    reader, writer = await asyncio.open_connection(ip, port, local_addr=(local_ip, 0))
    try:
        request = binding_request()
        writer.write(encode(request))
        (response,) = await read_messages(reader, 1)
        return response.transaction_id == request.transaction_id
    finally:
        writer.close()


async def test_a_full_table_evicts_the_connection_idle_the_longest() -> None:
    async with loopback_server(alternate=False, max_tcp_connections=2, echo=False) as server:
        holders = [await asyncio.open_connection("127.0.0.1", server.port, local_addr=("127.0.0.5", 0))
                   for _ in range(2)]
        try:
            # A fresh, legitimate Binding is answered although two idle connections hold every slot ...
            assert await _binding_answered("127.0.0.1", server.port, "127.0.0.6")
            # ... by closing the oldest idle one.
            assert await closed_by_server(holders[0][0])
            assert server.stats().tcp_evicted == 1
        finally:
            for _, writer in holders:
                writer.close()


async def test_a_full_table_of_messages_under_way_refuses_newcomers() -> None:
    async with loopback_server(alternate=False, max_tcp_connections=1, echo=False) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(encode(binding_request())[:10])  # a message under way: not idle
            await writer.drain()
            late_reader, late_writer = await asyncio.open_connection("127.0.0.1", server.port)
            try:
                late_writer.write(encode(binding_request()))
                assert await closed_by_server(late_reader)
            finally:
                late_writer.close()
            assert server.stats().tcp_refused == 1 and server.stats().tcp_evicted == 0
        finally:
            writer.close()


async def test_one_source_cannot_hold_more_than_its_share() -> None:
    async with loopback_server(alternate=False, max_tcp_per_source=2, echo=False) as server:
        mine = [await asyncio.open_connection("127.0.0.1", server.port, local_addr=("127.0.0.7", 0))
                for _ in range(3)]
        try:
            assert await closed_by_server(mine[2][0])  # the third from one source is reset
            assert server.stats().tcp_refused == 1
            assert await _binding_answered("127.0.0.1", server.port, "127.0.0.8")  # others are served
        finally:
            for _, writer in mine:
                writer.close()


async def test_a_trickled_message_loses_its_slot_at_the_message_deadline() -> None:
    """A header claiming 65,532 bytes, then a byte at a time: cut after the message deadline,
    although every byte resets the idle timer; a legitimate Binding is answered meanwhile."""
    async with loopback_server(alternate=False, tcp_message_timeout=0.3, tcp_idle_timeout=30, echo=False) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port, local_addr=("127.0.0.9", 0))
        try:
            header = bytes([0x00, 0x01, 0xFF, 0xFC]) + bytes(16)
            writer.write(header)
            closed = False
            for _ in range(20):  # at most 2 s of trickling
                try:
                    writer.write(b"\x00")
                    await writer.drain()
                except ConnectionError:
                    closed = True
                    break
                try:
                    async with asyncio.timeout(0.1):
                        closed = await reader.read(1) == b""
                except TimeoutError:
                    pass
                except ConnectionError:
                    closed = True
                if closed:
                    break
                assert await _binding_answered("127.0.0.1", server.port, "127.0.0.10")
            assert closed
            assert server.stats().tcp_cut == 1
        finally:
            writer.close()


async def test_pipelined_requests_are_charged_before_decoding_and_the_connection_paused() -> None:
    async with loopback_server(alternate=False, rate_per_source=20, burst_per_source=5, echo=False) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port, local_addr=("127.0.0.11", 0))
        try:
            requests = [binding_request() for _ in range(200)]
            writer.write(b"".join(encode(r) for r in requests))
            await writer.drain()
            responses = await read_messages(reader, 8)  # the burst, then one per token
            assert [r.transaction_id for r in responses] == [r.transaction_id for r in requests[:8]]
            # Over budget, the connection is paused instead of having each request decoded
            # and dropped: the limiter refused about once per pause, not ~190 times.
            assert server.limiter.dropped <= 8
            assert server.stats().malformed == 0
        finally:
            writer.close()


async def test_unknown_methods_and_zero_bytes_close_the_connection() -> None:
    async with loopback_server(alternate=False, echo=False) as server:
        for junk in (bytes(40), encode(Message(MessageClass.REQUEST, 0x002, bytes(12)))):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            try:
                writer.write(junk)
                assert await closed_by_server(reader)
            finally:
                writer.close()
        assert server.stats().tcp_cut == 2


async def test_tcp_off_binds_no_tcp() -> None:
    async with loopback_server(alternate=False, tcp=False) as server:
        assert server.tcp_endpoints == ()
        assert "stun_tcp=-" in server.describe()
