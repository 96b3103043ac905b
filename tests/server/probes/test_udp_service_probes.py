"""``probe_udp_service`` against real loopback peers: a silent sink (the byte budget bounds
what is sent) and a real dnsmasq (a DNS answer). Every target is 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from ipaddress import IPv4Address

import pytest

from natprobe.addressing import TransportAddress
from natprobe.contract import UdpServiceResult
from natprobe.udp_services import FIRST_PACKETS
from natprobe_server.probes.probe_back import probe_udp_service

LOOPBACK = IPv4Address("127.0.0.1")


def _sink() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


def _drain(sock: socket.socket) -> list[bytes]:
    got = []
    for _ in range(100):
        try:
            got.append(sock.recv(4096))
        except BlockingIOError:
            break
    return got


@pytest.mark.parametrize(("name", "budget", "expected"), [
    ("openvpn", 4096, 3), ("openvpn", 30, 2), ("quic", 2500, 2), ("quic", 1199, 0), ("dns", 0, 0),
])
def test_a_silent_target_gets_at_most_what_the_body_paid_for(name: str, budget: int, expected: int) -> None:
    sink = _sink()
    try:
        target = TransportAddress(LOOPBACK, sink.getsockname()[1])
        outcome = asyncio.run(probe_udp_service(target, FIRST_PACKETS[name], source_ip=LOOPBACK, timeout=0.6,
                                                byte_budget=budget))
        received = _drain(sink)
    finally:
        sink.close()
    assert isinstance(outcome.result, UdpServiceResult)
    assert outcome.result == UdpServiceResult(expected, False, None, None)
    assert len(received) == expected and sum(map(len, received)) <= budget
    assert all(len(p) == FIRST_PACKETS[name].size for p in received)


@pytest.fixture(scope="module")
def dnsmasq() -> Iterator[int]:
    binary = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not os.path.exists(binary):
        pytest.skip("dnsmasq is not installed")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([binary, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                             "--bind-interfaces", "--listen-address=127.0.0.1", f"--port={port}", "--pid-file=",
                             "--user=root", "--group=root"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):  # bounded wait for the bind
            if f"127.0.0.1:{port} " in subprocess.run(["ss", "-H", "-u", "-l", "-n"], capture_output=True,
                                                      text=True, check=False).stdout:
                break
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(5)


@pytest.mark.interop
def test_a_real_dns_server_answers(dnsmasq: int) -> None:
    target = TransportAddress(LOOPBACK, dnsmasq)
    outcome = asyncio.run(probe_udp_service(target, FIRST_PACKETS["dns"], source_ip=LOOPBACK, timeout=2.0,
                                            byte_budget=4096))
    assert isinstance(outcome.result, UdpServiceResult)
    assert outcome.result.answered and outcome.result.sent == 1 and outcome.result.detail is not None
    assert outcome.result.detail.startswith("rcode ")
