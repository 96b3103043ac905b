"""The arrival watch: its BPF program (pure) and the real packet socket on loopback, both families.

The live tests run in a network namespace made here with only ``lo`` up (removed even on
failure), and send only to its loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import socket
import struct
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from natprobe.adapters.sniff import ArrivalWatcher, Match, bpf_program, matches, open_packet_socket, snap_bytes
from natprobe.lab.netns import Host, create_namespaces, delete_namespaces, new_run_id, require_lab


def _udp4(source: str, port: int, payload: bytes = b"") -> bytes:
    header = bytes([0x45, 0, 0, 28 + len(payload), 0, 0, 0, 0, 64, 17, 0, 0]) + IPv4Address(source).packed + bytes(4)
    return header + struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload


def _udp6(source: str, port: int, next_header: int = 17, payload: bytes = b"") -> bytes:
    header = bytes([0x60, 0, 0, 0, 0, 8 + len(payload), next_header, 64]) + IPv6Address(source).packed + bytes(16)
    return header + struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload


def test_matches_checks_family_protocol_source_and_port() -> None:
    v4 = Match("udp", IPv4Address("198.51.100.10"), 51820)
    assert matches(_udp4("198.51.100.10", 51820), v4)
    assert not matches(_udp4("198.51.100.11", 51820), v4)
    assert not matches(_udp4("198.51.100.10", 51821), v4)
    assert not matches(_udp6("2001:db8::10", 51820), v4)
    v6 = Match("udp", IPv6Address("2001:db8::10"), 51820)
    assert matches(_udp6("2001:db8::10", 51820), v6)
    assert not matches(_udp6("2001:db8::10", 51820, next_header=6), v6)
    assert not matches(b"\x60", v6) and not matches(b"", v6)


TOKEN = b"natprobe-nonce:" + b"ab" * 16
EARLIER_TOKEN = b"natprobe-nonce:" + b"cd" * 16


def test_a_payload_match_counts_only_this_runs_token() -> None:
    for source, packet in (("198.51.100.10", _udp4), ("2001:db8::10", _udp6)):
        wanted = Match("udp", ip_address(source), 22124, payload=TOKEN)
        assert matches(packet(source, 22124, payload=TOKEN), wanted)
        assert matches(packet(source, 22124, payload=TOKEN + b"more"), wanted)
        assert not matches(packet(source, 22124, payload=EARLIER_TOKEN), wanted)  # an earlier run's
        assert not matches(packet(source, 22124, payload=TOKEN[:-1]), wanted)  # cut short
        assert not matches(packet(source, 22124), wanted)
        assert not matches(packet(source, 22125, payload=TOKEN), wanted)
        assert matches(packet(source, 22124, payload=EARLIER_TOKEN), Match("udp", ip_address(source), 22124))
        # The kernel keeps enough of each packet for the payload behind the longest IPv4 header.
        assert snap_bytes(wanted) >= 60 + 8 + len(TOKEN)
        insns = bpf_program(wanted)
        assert struct.unpack("=HBBI", insns[-16:-8])[3] == snap_bytes(wanted)


def test_a_payload_match_needs_udp_and_a_bounded_payload() -> None:
    for protocol, payload in (("tcp", TOKEN), ("udp", b""), ("udp", bytes(129))):
        with pytest.raises(ValueError):
            Match(protocol, IPv4Address("198.51.100.10"), 1, payload=payload)


def test_the_bpf_program_is_straight_line_and_ends_in_accept_then_reject() -> None:
    for wanted in (Match("udp", IPv4Address("198.51.100.10"), 1), Match("tcp", IPv6Address("2001:db8::10"), 2)):
        program = bpf_program(wanted)
        insns = [struct.unpack("=HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]
        assert insns[-1] == (0x06, 0, 0, 0) and insns[-2][0] == 0x06 and insns[-2][3] > 0
        for index, (code, jt, jf, _k) in enumerate(insns):
            if code == 0x15:  # every mismatch jumps exactly to the final reject
                assert jt == 0 and index + 1 + jf == len(insns) - 1


@pytest.fixture(scope="module")
def loopback_ns() -> Iterator[Host]:
    reason = require_lab()
    if reason:
        pytest.skip(reason)
    name = f"np-{new_run_id()}-sniff"
    create_namespaces([name])
    host = Host(name, IPv4Address("127.0.0.1"), "sniff")
    try:
        host.exec(["ip", "link", "set", "lo", "up"])
        yield host
    finally:
        delete_namespaces([name])


def _send(source: str, port: int, payload: bytes = b"token") -> None:
    family = socket.AF_INET6 if ":" in source else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.sendto(payload, (source, port))


@pytest.mark.lab
@pytest.mark.parametrize("source", ["127.0.0.1", "::1"])
def test_the_kernel_filter_passes_only_the_probe(loopback_ns: Host, source: str) -> None:
    wanted = Match("udp", ip_address(source), 40001)
    with loopback_ns.entered():
        sock = open_packet_socket(wanted)
        try:
            _send(source, 40002)  # same source, another port: the filter drops it
            with pytest.raises(BlockingIOError):
                for _ in range(10):
                    sock.recv(256)
            _send(source, 40001)
            sock.settimeout(2.0)
            packet = sock.recv(256)
            assert matches(packet, wanted)
        finally:
            sock.close()


@pytest.mark.lab
@pytest.mark.parametrize("source", ["127.0.0.1", "::1"])
def test_the_watcher_sees_the_probe_and_not_another_port(loopback_ns: Host, source: str) -> None:
    async def watch(port: int) -> bool | None:
        async with ArrivalWatcher(Match("udp", ip_address(source), 40001)) as watcher:
            _send(source, port)
            for _ in range(20):  # bounded: at most 20 loop turns of 10 ms
                if watcher.seen:
                    break
                await asyncio.sleep(0.01)
            return watcher.seen

    with loopback_ns.entered():
        assert asyncio.run(watch(40001)) is True
        assert asyncio.run(watch(40002)) is False


@pytest.mark.lab
@pytest.mark.parametrize("source", ["127.0.0.1", "::1"])
def test_a_token_watcher_ignores_an_earlier_runs_datagrams(loopback_ns: Host, source: str) -> None:
    async def watch() -> tuple[bool | None, bool | None]:
        async with ArrivalWatcher(Match("udp", ip_address(source), 40001, payload=TOKEN)) as watcher:
            for _ in range(5):
                _send(source, 40001, EARLIER_TOKEN)  # late datagrams of an earlier run, same port
            for _ in range(20):  # bounded: at most 20 loop turns of 10 ms
                await asyncio.sleep(0.01)
            before = watcher.seen
            _send(source, 40001, TOKEN)
            for _ in range(20):
                if watcher.seen:
                    break
                await asyncio.sleep(0.01)
            return before, watcher.seen

    with loopback_ns.entered():
        assert asyncio.run(watch()) == (False, True)


def test_a_disabled_watcher_says_so_and_sees_nothing() -> None:
    async def run() -> tuple[bool | None, str | None]:
        async with ArrivalWatcher(Match("udp", IPv4Address("127.0.0.1"), 1), enabled=False) as watcher:
            return watcher.seen, watcher.unavailable

    assert asyncio.run(run()) == (None, "disabled")
