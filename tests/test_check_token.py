"""``check`` is done with a UDP port as soon as its one-time token arrives.

The echo server paces its token datagrams (``udp_nonce_spacing`` apart) and answers the HTTP
request only after the last one; the token alone proves the path, so the check does not wait
for that answer. Against the real HTTP API in this process on loopback (nothing leaves it),
with the datagrams 0.5 s apart: the report comes back while the server is still pacing. That
the datagrams still in flight do not count for a later run is proven on a real NAT
(``tests/lab/test_check_lab.py``) and for the watch itself in ``tests/test_sniff.py``.
"""

from __future__ import annotations

import socket

from natprobe.addressing import IpFamily
from natprobe.contract.terms import TransportProtocol
from natprobe.measure.check import CheckOptions, check_ports
from natprobe.verdicts.port_spec import PortSpec
from natprobe.verdicts.reachability import PortStatus
from natprobe_server.api.guards import STATE_KEY
from natprobe_server.config.http import HttpApiConfig
from tests.echo_server import LO1, loopback_api


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_each_port_is_done_when_its_token_arrives_not_when_the_server_answers() -> None:
    async with loopback_api(HttpApiConfig(probe_source_ip=LO1, udp_nonce_spacing=0.5)) as running:
        specs = [PortSpec(TransportProtocol.UDP, _free_udp_port()) for _ in range(2)]
        report = await check_ports(running.url, specs, CheckOptions(trace=False, families=(IpFamily.IPV4,)))
        # Each probe's three datagrams take the server 1 s; the check left while it paced them.
        still_pacing = len(running.app[STATE_KEY].in_flight)
    assert [v.status for v in report.ports] == [PortStatus.REACHABLE, PortStatus.REACHABLE], report.ports
    assert still_pacing >= 1
