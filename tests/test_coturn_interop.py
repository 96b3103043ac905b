"""natprobe's STUN client against a real coturn ``turnserver`` (STUN only, RFC 5780 on loopback)."""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from natprobe.verdicts.behavior import ClassicNatType, MappingBehavior
from natprobe.measure.discovery import DiscoveryOptions, discover_nat
from natprobe.addressing import TransportAddress
from natprobe.stun import binding_request
from natprobe.stun.transaction import RetransmissionPolicy
from natprobe.adapters.stun_udp import StunEndpoint
from natprobe.lab.netns import stop_process

pytestmark = pytest.mark.interop

QUICK = RetransmissionPolicy(rto=0.1, max_sends=5, last_wait=0.3)


@pytest.fixture
def coturn() -> Iterator[int]:
    """coturn on 127.0.0.1 and 127.0.0.2 (two IPs of one family: RFC 5780 is on), a random port."""
    binary = shutil.which("turnserver")
    if binary is None:
        pytest.skip("coturn's turnserver is not installed (scripts/setup.sh installs it)")
    port = random.randrange(20000, 30000, 2)
    pidfile = Path(f"/tmp/natprobe-test-coturn-{port}.pid")
    process = subprocess.Popen(
        [binary, "-n", "--stun-only", "--no-auth", "--no-cli", "--no-tls", "--no-dtls",
         "-L", "127.0.0.1", "-L", "127.0.0.2", "--listening-port", str(port),
         "--log-file", "stdout", "--simple-log", "--pidfile", str(pidfile)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        yield port
    finally:
        stop_process(process, 5.0)
        pidfile.unlink(missing_ok=True)


async def _first_answer(endpoint: StunEndpoint, server: TransportAddress) -> None:
    """coturn needs a moment to open its listeners: retry the first request, bounded."""
    for _ in range(50):
        if await endpoint.transact(binding_request(), server, QUICK) is not None:
            return
    raise AssertionError("coturn did not answer within ~20 s")


async def test_client_reads_xor_mapped_response_origin_and_other_address(coturn: int) -> None:
    server = TransportAddress.parse("127.0.0.1", coturn)
    async with await StunEndpoint.open(("127.0.0.1", 0)) as endpoint:
        await _first_answer(endpoint, server)
        response = await endpoint.transact(binding_request(), server, QUICK)
        assert response is not None
        message = response.message
        assert message.xor_mapped_address == endpoint.local_address
        assert message.response_origin == server
        assert message.other_address == TransportAddress.parse("127.0.0.2", coturn + 1)
        changed = await endpoint.transact(binding_request(change_ip=True, change_port=True), server, QUICK)
        assert changed is not None
        assert changed.source == TransportAddress.parse("127.0.0.2", coturn + 1)
        port_only = await endpoint.transact(binding_request(change_port=True), server, QUICK)
        assert port_only is not None
        assert port_only.source == TransportAddress.parse("127.0.0.1", coturn + 1)


async def test_discovery_against_coturn_on_loopback_is_open_internet(coturn: int) -> None:
    server = TransportAddress.parse("127.0.0.1", coturn)
    async with await StunEndpoint.open(("127.0.0.1", 0)) as endpoint:
        await _first_answer(endpoint, server)
    report = await discover_nat(server, options=DiscoveryOptions(bind_ip=IPv4Address("127.0.0.1")))
    assert report.mapping.value is MappingBehavior.NO_NAT
    assert report.nat_type.value is ClassicNatType.OPEN_INTERNET
    assert report.server_alternate == TransportAddress.parse("127.0.0.2", coturn + 1)
