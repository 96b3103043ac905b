"""natprobe's listener for a token through a relay, on loopback: what a service would learn."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct


from natprobe.adapters.relay_listener import open_relay_listener, reply_interface
from natprobe.contract.terms import HTTP_NONCE_PATH, NONCE_PREFIX, TransportProtocol
from natprobe.proxy_header import V2_SIGNATURE

TOKEN = "0123456789abcdef0123456789abcdef"


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _send_tcp(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        async with asyncio.timeout(2.0):
            return await reader.read(200)
    finally:
        writer.close()


async def _listen(protocol: TransportProtocol):
    port = _free_port(socket.SOCK_STREAM if protocol is TransportProtocol.TCP else socket.SOCK_DGRAM)
    listener = await open_relay_listener(protocol, port, TOKEN, "127.0.0.1")
    assert listener is not None
    return listener, port


async def test_plain_tcp_token() -> None:
    listener, port = await _listen(TransportProtocol.TCP)
    try:
        await _send_tcp(port, NONCE_PREFIX + TOKEN.encode())
        async with asyncio.timeout(2.0):
            await listener.received.wait()
        assert listener.arrival.peer == ipaddress.ip_address("127.0.0.1") and listener.arrival.proxy is None
    finally:
        await listener.close()


async def test_proxy_v2_header_before_the_token() -> None:
    listener, port = await _listen(TransportProtocol.TCP)
    body = ipaddress.IPv4Address("198.51.100.11").packed + ipaddress.IPv4Address("192.0.2.2").packed + struct.pack("!HH", 4000, port)
    header = V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body
    try:
        await _send_tcp(port, header + NONCE_PREFIX + TOKEN.encode())
        async with asyncio.timeout(2.0):
            await listener.received.wait()
        assert listener.arrival.proxy.version == 2
        assert str(listener.arrival.proxy.source) == "198.51.100.11"
    finally:
        await listener.close()


async def test_http_token_with_forwarded_for_and_a_wrong_token() -> None:
    listener, port = await _listen(TransportProtocol.TCP)
    try:
        wrong = await _send_tcp(port, f"GET {HTTP_NONCE_PATH}{'f' * 32} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert wrong.startswith(b"HTTP/1.1 404") and not listener.received.is_set()
        right = await _send_tcp(port, f"GET {HTTP_NONCE_PATH}{TOKEN} HTTP/1.1\r\nHost: x\r\n"
                                      "X-Forwarded-For: 203.0.113.2\r\n\r\n".encode())
        assert right.startswith(b"HTTP/1.1 204") and listener.received.is_set()
        assert listener.arrival.forwarded_for == "203.0.113.2"
    finally:
        await listener.close()


async def test_udp_token_with_the_arrival_address_and_interface() -> None:
    listener, port = await _listen(TransportProtocol.UDP)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"noise", ("127.0.0.1", port))
            sock.sendto(NONCE_PREFIX + TOKEN.encode(), ("127.0.0.1", port))
        async with asyncio.timeout(2.0):
            await listener.received.wait()
        arrival = listener.arrival
        assert (str(arrival.local), arrival.interface) == ("127.0.0.1", "lo")
        assert await reply_interface(arrival.peer, arrival.local) == "lo"
    finally:
        await listener.close()


async def test_a_held_port_gives_none() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        assert await open_relay_listener(TransportProtocol.UDP, port, TOKEN, "127.0.0.1") is None
