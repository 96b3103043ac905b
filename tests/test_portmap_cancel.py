"""Ctrl-C while a PCP MAP request is in flight: natprobe asks for the deletion anyway.

A silent PCP server on a unique loopback address (127.0.0.88:5351) records what it receives;
nothing is sent anywhere else.
"""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address
from typing import cast

from natprobe.measure.portmapping import RouterSession, mapped_ports
from natprobe.portmap import SERVER_PORT, pcp
from natprobe.reports.router_report import RouterReport
from natprobe.verdicts.router_verdicts import ExternalMeaning

GATEWAY = IPv4Address("127.0.0.88")


class _SilentPcp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.first = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.requests.append(data)
        self.first.set()


async def test_cancel_during_the_map_request_still_sends_the_deletion() -> None:
    loop = asyncio.get_running_loop()
    transport, server = await loop.create_datagram_endpoint(_SilentPcp, local_addr=(str(GATEWAY), SERVER_PORT))
    server = cast(_SilentPcp, server)
    report = RouterReport(GATEWAY, IPv4Address("127.0.0.1"), (), None, ExternalMeaning.UNKNOWN, False, (), 0.0)
    session = RouterSession(report, pcp_ok=True)

    async def map_forever() -> None:
        async with mapped_ports(session, [(True, 22124)], lease_s=600):
            await asyncio.sleep(30)  # never reached: the MAP is never answered

    task = asyncio.create_task(map_forever())
    try:
        await asyncio.wait_for(server.first.wait(), 2.0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    finally:
        transport.close()
    maps = [data for data in server.requests if data[1] == pcp.Opcode.MAP]
    create = maps[0]
    deletes = [data for data in maps if data[4:8] == bytes(4)]
    assert int.from_bytes(create[4:8], "big") == 600
    assert deletes, "no deletion was sent after the cancellation"
    assert all(d[24:36] == create[24:36] for d in deletes)  # the same nonce: only ours can go
