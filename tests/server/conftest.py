"""Fixtures for the echo server tests: a small UDP client, closed TCP ports and UDP sinks on loopback.

The servers themselves come from :mod:`tests.echo_server` (``dual_server`` and
``single_server`` are suite-wide fixtures); the peers from :mod:`tests.server.peers`.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from tests.echo_server import UdpClient
from tests.server.peers import UdpSink


@pytest.fixture
async def client() -> AsyncIterator[UdpClient]:
    udp = UdpClient()
    try:
        yield udp
    finally:
        udp.close()


@pytest.fixture
def closed_tcp_port() -> Iterator[Callable[[], int]]:
    """Ports that refuse connections: bound (so nobody else has them) but not listening."""
    sockets: list[socket.socket] = []

    def make() -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
        return int(sock.getsockname()[1])

    yield make
    for sock in sockets:
        sock.close()



@pytest.fixture
def udp_sink() -> Iterator[Callable[..., UdpSink]]:
    sinks: list[UdpSink] = []

    def make(host: str = "127.0.0.1") -> UdpSink:
        sink = UdpSink(host)
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.close()
