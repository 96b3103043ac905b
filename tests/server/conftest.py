"""Fixtures for the echo server tests: servers on 127.0.0.1 (+ 127.0.0.2) and a small UDP client.

Linux answers on every address of 127.0.0.0/8, so 127.0.0.1 and 127.0.0.2 stand in for a
server's two public addresses; nothing here leaves loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator

import pytest

from natprobe_server import EchoServer, EchoServerConfig
from natprobe.addressing import TransportAddress

LO1 = ipaddress.IPv4Address("127.0.0.1")
LO2 = ipaddress.IPv4Address("127.0.0.2")
REPLY_TIMEOUT = 2.0


class UdpClient:
    """A non-blocking UDP socket driven by the running loop (no threads, no sleeps)."""

    def __init__(self, ip: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((ip, port))
        self.sock.setblocking(False)

    @property
    def address(self) -> TransportAddress:
        name = self.sock.getsockname()
        return TransportAddress.parse(name[0], name[1])

    async def send(self, data: bytes, destination: TransportAddress) -> None:
        await asyncio.get_running_loop().sock_sendto(self.sock, data, destination.as_tuple())

    async def receive(self, timeout: float = REPLY_TIMEOUT) -> tuple[bytes, TransportAddress]:
        async with asyncio.timeout(timeout):
            data, source = await asyncio.get_running_loop().sock_recvfrom(self.sock, 65536)
        return data, TransportAddress.parse(source[0], source[1])

    def drain(self) -> list[bytes]:
        """Whatever is already queued, without waiting."""
        queued: list[bytes] = []
        for _ in range(100_000):
            try:
                queued.append(self.sock.recv(65536))
            except BlockingIOError:
                break
        return queued

    def close(self) -> None:
        self.sock.close()


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.fixture
async def client() -> AsyncIterator[UdpClient]:
    udp = UdpClient()
    try:
        yield udp
    finally:
        udp.close()


@pytest.fixture
async def dual_server() -> AsyncIterator[EchoServer]:
    async with EchoServer(EchoServerConfig(primary=LO1, alternate=LO2, port=0)) as server:
        yield server


@pytest.fixture
async def single_server() -> AsyncIterator[EchoServer]:
    async with EchoServer(EchoServerConfig(primary=LO1, port=0)) as server:
        yield server
