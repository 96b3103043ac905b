"""natprobe.adapters.hops and natprobe.recverr: crafted sock_extended_err bytes, loopback traces, and a namespace path."""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import os
import secrets
import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any, TypeVar, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from natprobe.addressing import AddressScope
from natprobe.errors import DecodeError
from natprobe.recverr import (
    IP_RECVERR,
    IPV6_RECVERR,
    SOL_IP,
    SOL_IPV6,
    ErrOrigin,
    ExtendedError,
    Hop,
    HopOutcome,
    hop_outcome,
    parse_extended_error,
    parse_recverr,
)
from natprobe.adapters.hops import trace_hops
from natprobe.adapters.interfaces import source_address_toward
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.findings.topology_words import assess_topology

T = TypeVar("T")

EHOSTUNREACH, ECONNREFUSED, EMSGSIZE = 113, 111, 90  # Linux errno values


def ee(errno_: int, origin: int, icmp_type: int, code: int, info: int = 0) -> bytes:
    """A struct sock_extended_err, byte for byte as linux/errqueue.h lays it out."""
    return struct.pack("=IBBBBII", errno_, origin, icmp_type, code, 0, info, 0)


def sockaddr_in(ip: str, port: int = 0) -> bytes:
    return struct.pack("=H", 2) + struct.pack("!H", port) + socket.inet_aton(ip) + bytes(8)


def sockaddr_in6(ip: str, port: int = 0, scope_id: int = 0) -> bytes:
    return (
        struct.pack("=H", 10)
        + struct.pack("!HI", port, 0)
        + IPv6Address(ip).packed
        + struct.pack("=I", scope_id)
    )


# ---- pure parsing ---------------------------------------------------------------------


def test_ipv4_time_exceeded() -> None:
    err = parse_extended_error(ee(EHOSTUNREACH, 2, 11, 0) + sockaddr_in("192.168.50.1"))
    assert err == ExtendedError(
        errno=EHOSTUNREACH,
        origin=ErrOrigin.ICMP,
        icmp_type=11,
        icmp_code=0,
        info=0,
        data=0,
        offender=IPv4Address("192.168.50.1"),
    )
    assert hop_outcome(err) is HopOutcome.TIME_EXCEEDED


def test_ipv4_port_unreachable() -> None:
    err = parse_extended_error(ee(ECONNREFUSED, 2, 3, 3) + sockaddr_in("203.0.113.2", 33434))
    assert err.offender == IPv4Address("203.0.113.2")
    assert hop_outcome(err) is HopOutcome.PORT_UNREACHABLE


@pytest.mark.parametrize("code", [0, 1, 9, 10, 13])  # net, host, admin-prohibited variants
def test_ipv4_other_unreachable_codes_end_the_path(code: int) -> None:
    err = parse_extended_error(ee(EHOSTUNREACH, 2, 3, code) + sockaddr_in("10.0.0.1"))
    assert hop_outcome(err) is HopOutcome.UNREACHABLE


def test_ipv6_time_exceeded_and_port_unreachable() -> None:
    hop = parse_extended_error(ee(EHOSTUNREACH, 3, 3, 0) + sockaddr_in6("fd00:50::1"))
    assert hop.offender == IPv6Address("fd00:50::1")
    assert hop_outcome(hop) is HopOutcome.TIME_EXCEEDED
    end = parse_extended_error(ee(ECONNREFUSED, 3, 1, 4) + sockaddr_in6("2001:db8::2", 53))
    assert end.offender == IPv6Address("2001:db8::2")
    assert hop_outcome(end) is HopOutcome.PORT_UNREACHABLE
    prohibited = parse_extended_error(ee(13, 3, 1, 1) + sockaddr_in6("2001:db8::9"))
    assert hop_outcome(prohibited) is HopOutcome.UNREACHABLE


def test_ipv6_link_local_offender_drops_the_zone() -> None:
    err = parse_extended_error(ee(EHOSTUNREACH, 3, 3, 0) + sockaddr_in6("fe80::1", scope_id=7))
    assert err.offender == IPv6Address("fe80::1")


def test_ipv4_mapped_offender_from_a_dual_stack_socket() -> None:
    err = parse_extended_error(ee(EHOSTUNREACH, 2, 11, 0) + sockaddr_in6("::ffff:100.64.0.1"))
    assert err.offender == IPv4Address("100.64.0.1")


def test_icmp_that_says_nothing_about_the_path() -> None:
    unspec = struct.pack("=H", 0) + bytes(14)  # AF_UNSPEC offender, as for local errors
    local = parse_extended_error(ee(EMSGSIZE, 1, 0, 0, info=1280) + unspec)
    assert local.offender is None and local.info == 1280
    assert hop_outcome(local) is None
    too_big = parse_extended_error(ee(EMSGSIZE, 3, 2, 0, info=1280) + sockaddr_in6("2001:db8::1"))
    assert hop_outcome(too_big) is None
    echo_reply = parse_extended_error(ee(0, 2, 0, 0) + sockaddr_in("192.0.2.1"))
    assert hop_outcome(echo_reply) is None
    icmp_type_on_wrong_origin = parse_extended_error(ee(EHOSTUNREACH, 3, 11, 0))
    assert hop_outcome(icmp_type_on_wrong_origin) is None  # 11 is not an ICMPv6 error


def test_unknown_origin_and_family_survive() -> None:
    err = parse_extended_error(ee(1, 42, 11, 0) + struct.pack("=H", 17) + bytes(14))
    assert err.origin == 42 and err.offender is None
    assert hop_outcome(err) is None
    assert parse_extended_error(ee(1, 2, 11, 0)).offender is None  # no sockaddr at all


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(15),
        ee(EHOSTUNREACH, 2, 11, 0) + struct.pack("=H", 2) + bytes(4),  # short sockaddr_in
        ee(EHOSTUNREACH, 3, 3, 0) + struct.pack("=H", 10) + bytes(20),  # short sockaddr_in6
    ],
)
def test_truncated_input_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_extended_error(data)


@given(st.binary(max_size=64))
def test_fuzz_only_decode_error(data: bytes) -> None:
    try:
        err = parse_extended_error(data)
    except DecodeError:
        return
    assert len(data) >= 16
    hop_outcome(err)  # total on anything that decodes


def test_parse_recverr_picks_the_error_message() -> None:
    payload = ee(EHOSTUNREACH, 2, 11, 0) + sockaddr_in("192.168.1.1")
    other = (SOL_IP, 2, b"\x40\x00\x00\x00")  # e.g. IP_TTL
    assert parse_recverr([]) is None
    assert parse_recverr([other]) is None
    got = parse_recverr([other, (SOL_IP, IP_RECVERR, payload)])
    assert got is not None and got.offender == IPv4Address("192.168.1.1")
    got6 = parse_recverr([(SOL_IPV6, IPV6_RECVERR, ee(1, 3, 3, 0) + sockaddr_in6("fd00::1"))])
    assert got6 is not None and got6.offender == IPv6Address("fd00::1")
    with pytest.raises(DecodeError):
        parse_recverr([(SOL_IP, IP_RECVERR, b"\x00")])


# ---- real kernel, loopback (no root needed) -------------------------------------------


def _closed_udp_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


async def test_loopback_closed_port_is_the_destination() -> None:
    port = _closed_udp_port("127.0.0.1")
    hops = await trace_hops(IPv4Address("127.0.0.1"), port, max_hops=4, timeout=5.0)
    assert [(h.ttl, h.address, h.scope, h.outcome) for h in hops] == [
        (1, IPv4Address("127.0.0.1"), AddressScope.LOOPBACK, HopOutcome.PORT_UNREACHABLE)
    ]
    assert hops[0].rtt_ms is not None and 0 <= hops[0].rtt_ms < 5000
    assert hops[0].ends_path  # that it returns at once, not at the timeout: benchmarks/bounded_waits.py


async def test_loopback_ipv6_closed_port() -> None:
    try:
        port = _closed_udp_port("::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this host")
    hops = await trace_hops(IPv6Address("::1"), port, max_hops=2)
    assert [(h.address, h.outcome) for h in hops] == [
        (IPv6Address("::1"), HopOutcome.PORT_UNREACHABLE)
    ]


async def test_ipv4_mapped_destination_is_traced_over_ipv4() -> None:
    port = _closed_udp_port("127.0.0.1")
    hops = await trace_hops(IPv6Address("::ffff:127.0.0.1"), port, max_hops=1)
    assert [(h.address, h.outcome) for h in hops] == [
        (IPv4Address("127.0.0.1"), HopOutcome.PORT_UNREACHABLE)
    ]


class _Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data, addr)


async def test_loopback_listener_gives_a_reply_hop() -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_Echo, local_addr=("127.0.0.1", 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        hops = await trace_hops(IPv4Address("127.0.0.1"), port, max_hops=3, timeout=2.0)
    finally:
        transport.close()
    assert [(h.ttl, h.address, h.outcome) for h in hops] == [
        (1, IPv4Address("127.0.0.1"), HopOutcome.REPLY)
    ]


@pytest.mark.parametrize(
    ("kwargs", "dest"),
    [
        ({"max_hops": 0}, "127.0.0.1"),
        ({"max_hops": 7}, "127.0.0.1"),
        ({"timeout": 0}, "127.0.0.1"),
        ({"timeout": 60}, "127.0.0.1"),
        ({}, "224.0.0.1"),
        ({}, "0.0.0.0"),
    ],
)
async def test_argument_checks(kwargs: dict[str, Any], dest: str) -> None:
    with pytest.raises(ValueError):
        await trace_hops(ip_address(dest), 33434, **kwargs)
    with pytest.raises(ValueError):
        await trace_hops(IPv4Address("127.0.0.1"), 0)


def test_hop_is_frozen() -> None:
    hop = Hop(1, None, None, None, HopOutcome.NO_ANSWER)
    assert not hop.ends_path
    with pytest.raises(dataclasses.FrozenInstanceError):
        hop.ttl = 2  # type: ignore[misc]


# ---- namespaces we build (root only) --------------------------------------------------

CLONE_NEWNET = 0x40000000


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


def _sysctl(ns: str, *settings: str) -> None:
    subprocess.run(
        ["ip", "netns", "exec", ns, "sysctl", "-qw", *settings],
        check=True,
        capture_output=True,
        text=True,
        timeout=10,
    )


def _in_netns(ns: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` on a fresh thread that has joined namespace ``ns`` (setns affects only the
    calling thread, so the test process itself never leaves the root namespace)."""
    libc = ctypes.CDLL(None, use_errno=True)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            with open(f"/run/netns/{ns}", "rb") as handle:
                if libc.setns(handle.fileno(), CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, os.strerror(err))
            box["value"] = fn()
        except BaseException as exc:  # re-raised on the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{ns}")
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "namespace worker did not finish"
    if "error" in box:
        raise box["error"]
    result: T = box["value"]
    return result


@pytest.fixture
def make_netns() -> Iterator[Callable[[str], str]]:
    if os.geteuid() != 0:
        pytest.skip("needs root to create network namespaces")
    if shutil.which("ip") is None or shutil.which("sysctl") is None:
        pytest.skip("iproute2 ('ip') and procps ('sysctl') are needed")
    run = "nph-" + secrets.token_hex(3)
    created: list[str] = []

    def make(role: str) -> str:
        name = f"{run}-{role}"
        try:
            _ip("netns", "add", name)
        except subprocess.CalledProcessError as exc:
            pytest.skip(f"cannot create a network namespace here: {exc.stderr.strip()}")
        created.append(name)
        _ip("-n", name, "link", "set", "lo", "up")
        # No duplicate address detection on the links made next: tentative link-local
        # addresses would stall IPv6 neighbour discovery for a second or two.
        _sysctl(name, "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0")
        return name

    try:
        yield make
    finally:
        for name in reversed(created):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def _link(a: str, a_if: str, b: str, b_if: str) -> None:
    """A veth pair created inside namespace ``a`` with its peer moved straight into ``b``."""
    _ip("-n", a, "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", b)
    _ip("-n", a, "link", "set", a_if, "up")
    _ip("-n", b, "link", "set", b_if, "up")


def _addr(ns: str, dev: str, *cidrs: str) -> None:
    for cidr in cidrs:
        extra = ["nodad"] if ":" in cidr else []  # no 1-2 s of duplicate address detection
        _ip("-n", ns, "addr", "add", cidr, "dev", dev, *extra)


def _router(ns: str) -> None:
    _sysctl(ns, "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")


@pytest.mark.lab
def test_trace_through_a_router_namespace(make_netns: Callable[[str], str]) -> None:
    # client 192.168.50.2 --- 192.168.50.1 router 203.0.113.1 --- 203.0.113.2 far
    client, router, far = make_netns("c"), make_netns("r"), make_netns("f")
    _link(client, "c0", router, "r0")
    _link(router, "r1", far, "f0")
    _addr(client, "c0", "192.168.50.2/24", "fd00:50::2/64")
    _addr(router, "r0", "192.168.50.1/24", "fd00:50::1/64")
    _addr(router, "r1", "203.0.113.1/24", "2001:db8:113::1/64")
    _addr(far, "f0", "203.0.113.2/24", "2001:db8:113::2/64")
    _router(router)
    _ip("-n", client, "route", "add", "default", "via", "192.168.50.1")
    _ip("-n", client, "-6", "route", "add", "default", "via", "fd00:50::1")
    _ip("-n", far, "route", "add", "default", "via", "203.0.113.1")
    _ip("-n", far, "-6", "route", "add", "default", "via", "2001:db8:113::1")

    dest4, dest6 = IPv4Address("203.0.113.2"), IPv6Address("2001:db8:113::2")
    hops4 = _in_netns(client, lambda: asyncio.run(trace_hops(dest4, 33434, timeout=5.0)))
    hops6 = _in_netns(client, lambda: asyncio.run(trace_hops(dest6, 33434, timeout=2.0)))

    assert [(h.ttl, h.address, h.scope, h.outcome) for h in hops4] == [
        (1, IPv4Address("192.168.50.1"), AddressScope.PRIVATE, HopOutcome.TIME_EXCEEDED),
        (2, dest4, AddressScope.DOCUMENTATION, HopOutcome.PORT_UNREACHABLE),
    ]
    assert all(h.rtt_ms is not None and 0 <= h.rtt_ms < 2000 for h in hops4)
    assert [(h.ttl, h.address, h.scope, h.outcome) for h in hops6] == [
        (1, IPv6Address("fd00:50::1"), AddressScope.UNIQUE_LOCAL, HopOutcome.TIME_EXCEEDED),
        (2, dest6, AddressScope.DOCUMENTATION, HopOutcome.PORT_UNREACHABLE),
    ]


@pytest.mark.lab
def test_silent_router_and_cgnat_hop_feed_the_topology(make_netns: Callable[[str], str]) -> None:
    # client 192.168.60.2 -- home 100.64.7.2 -- 100.64.7.1 carrier 198.51.100.1 -- far
    # The home router drops its ICMP time-exceeded (a silent hop); the carrier router sits
    # in shared address space, as a CGN would.
    client, home, carrier, far = (make_netns(r) for r in ("c", "h", "g", "f"))
    _link(client, "c0", home, "h0")
    _link(home, "h1", carrier, "g0")
    _link(carrier, "g1", far, "f0")
    _addr(client, "c0", "192.168.60.2/24")
    _addr(home, "h0", "192.168.60.1/24")
    _addr(home, "h1", "100.64.7.2/24")
    _addr(carrier, "g0", "100.64.7.1/24")
    _addr(carrier, "g1", "198.51.100.1/24")
    _addr(far, "f0", "198.51.100.2/24")
    _router(home)
    _router(carrier)
    _sysctl(home, "net.ipv4.icmp_ratemask=0", "net.ipv4.icmp_ratelimit=0")  # keep it exact
    _ip("-n", client, "route", "add", "default", "via", "192.168.60.1")
    _ip("-n", home, "route", "add", "default", "via", "100.64.7.1")
    _ip("-n", carrier, "route", "add", "192.168.60.0/24", "via", "100.64.7.2")
    _ip("-n", far, "route", "add", "default", "via", "198.51.100.1")
    # Silence the home router's time-exceeded messages with an nftables rule in its own
    # namespace (icmp type 11 leaving it).
    nft = shutil.which("nft")
    if nft is None:
        pytest.skip("nftables ('nft') is needed to silence a hop")
    subprocess.run(
        ["ip", "netns", "exec", home, nft, "-f", "-"],
        input=(
            "table ip quiet {\n"
            "  chain out {\n"
            "    type filter hook output priority 0; policy accept;\n"
            "    icmp type time-exceeded drop\n"
            "  }\n"
            "}\n"
        ),
        check=True,
        capture_output=True,
        text=True,
        timeout=10,
    )

    dest = IPv4Address("198.51.100.2")
    local, hops = _in_netns(
        client,
        lambda: (
            source_address_toward(dest),
            asyncio.run(trace_hops(dest, 33434, max_hops=5, timeout=1.0)),
        ),
    )
    assert local == IPv4Address("192.168.60.2")
    assert [(h.ttl, h.address, h.outcome) for h in hops] == [
        (1, None, HopOutcome.NO_ANSWER),
        (2, IPv4Address("100.64.7.1"), HopOutcome.TIME_EXCEEDED),
        (3, dest, HopOutcome.PORT_UNREACHABLE),
    ]
    assert hops[1].scope is AddressScope.SHARED
    # No NAT runs in this lab, so the "observed" address stands in for what a CGN's
    # outside would show; the hop evidence is what is under test.
    verdict = assess_topology(
        local, IPv4Address("198.51.100.1"), hops=tuple(h.address for h in hops)
    )
    assert verdict.layers is NatLayers.CGNAT
    assert any("Hop 2" in sentence for sentence in verdict.evidence)
