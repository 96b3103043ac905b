"""The NAT-PMP/PCP UDP transport on loopback: retransmission, silence, refusal, wrong replies."""

from __future__ import annotations

import asyncio
import socket
from ipaddress import IPv4Address
from typing import cast

from natprobe.adapters.portmap_udp import GatewaySocket
from natprobe.portmap import natpmp

GATEWAY = IPv4Address("127.0.0.1")
REPLY = bytes.fromhex("0080 0000 00000e10 cb007102")


class _Gateway(asyncio.DatagramProtocol):
    """Answers the n-th request onward (earlier ones are 'lost'), first with junk."""

    def __init__(self, answer_from: int) -> None:
        self.answer_from = answer_from
        self.seen = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.seen += 1
        if self.seen >= self.answer_from:
            self.transport.sendto(b"\x00", addr)  # undecodable: ignored
            self.transport.sendto(REPLY, addr)


async def test_a_lost_request_is_retransmitted_and_junk_is_skipped() -> None:
    loop = asyncio.get_running_loop()
    transport, gateway = await loop.create_datagram_endpoint(lambda: _Gateway(2), local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        async with GatewaySocket(GATEWAY, port, ladder=(0.05, 0.1, 0.2)) as gw:
            reply = await gw.request(natpmp.encode_external_address_request(), natpmp.decode_response)
    finally:
        transport.close()
    assert isinstance(reply, natpmp.ExternalAddressResponse)
    assert str(reply.external_address) == "203.0.113.2" and gateway.seen == 2


async def test_silence_is_none_and_a_closed_port_ends_the_wait_early() -> None:
    # A bound socket that never answers: silence after the whole ladder.
    quiet = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    quiet.bind(("127.0.0.1", 0))
    try:
        async with GatewaySocket(GATEWAY, quiet.getsockname()[1], ladder=(0.05, 0.05)) as gw:
            assert await gw.request(b"\x00\x00", natpmp.decode_response) is None
    finally:
        quiet.close()
    # A port nobody holds: ICMP port unreachable ends the wait long before the ladder would.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    closed_port = probe.getsockname()[1]
    probe.close()
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with GatewaySocket(GATEWAY, closed_port, ladder=(5.0,)) as gw:
        assert await gw.request(b"\x00\x00", natpmp.decode_response) is None
    assert loop.time() - started < 2.0
