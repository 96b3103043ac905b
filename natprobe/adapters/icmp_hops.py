"""Hop traces without ``IP_RECVERR``: macOS's ICMP datagram socket and Windows' ``IcmpSendEcho2``.

Neither needs a privilege. **Verified only by simulation**: natprobe's tests run on Linux, so
they check the pure parts (the echo request bytes, the parsing of what an ICMP datagram
socket returns, the ctypes structures against their documented sizes and offsets, the
status-code mapping), and import this module with ``sys.platform`` set to ``darwin`` and
``win32``; the calls into the operating system have not run on a Mac or a Windows machine.

- macOS: ``socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)`` sends an echo request with ``IP_TTL``
  set and receives the ICMP Time Exceeded a router returns (with the IP header in front, as
  BSD delivers it). Linux ping sockets do *not* deliver Time Exceeded, hence ``IP_RECVERR``
  there (:mod:`natprobe.adapters.hops`).
- Windows: ``IcmpSendEcho2`` (iphlpapi.dll) with ``IP_OPTION_INFORMATION.Ttl`` returns
  ``IP_TTL_EXPIRED_TRANSIT`` and the router's address in ``ICMP_ECHO_REPLY``
  (https://learn.microsoft.com/windows/win32/api/icmpapi/nf-icmpapi-icmpsendecho2).
"""

from __future__ import annotations

import asyncio
import ctypes
import socket
import struct
import sys
import time
from dataclasses import dataclass
from ipaddress import IPv4Address

from natprobe.addressing import classify
from natprobe.errors import DecodeError, NetworkError
from natprobe.recverr import Hop, HopOutcome

__all__ = (
    "ICMP_ECHO_REPLY",
    "ICMP_ECHO_REPLY32",
    "IP_OPTION_INFORMATION",
    "IP_OPTION_INFORMATION32",
    "IcmpAnswer",
    "echo_request",
    "parse_icmp_datagram",
    "status_outcome",
    "trace_hops_icmp_datagram",
    "trace_hops_windows",
)

# --- pure: ICMP bytes (RFC 792) -----------------------------------------------------------------

ICMP_ECHO_REPLY_TYPE, ICMP_UNREACHABLE, ICMP_ECHO_REQUEST, ICMP_TIME_EXCEEDED = 0, 3, 8, 11
ICMP_PORT_UNREACHABLE_CODE = 3


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(identifier: int, sequence: int, payload: bytes = b"natprobe-hop") -> bytes:
    """An ICMP echo request (RFC 792) with its checksum (the kernel may rewrite the identifier)."""
    header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, identifier & 0xFFFF, sequence & 0xFFFF)
    return struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, _checksum(header + payload), identifier & 0xFFFF,
                       sequence & 0xFFFF) + payload


@dataclass(frozen=True, slots=True)
class IcmpAnswer:
    """What an ICMP datagram socket received: the type/code and the echo sequence it is about."""

    icmp_type: int
    code: int
    sequence: int | None
    """The echo request's sequence number (quoted in an error, or in the reply itself)."""


def _strip_ip(data: bytes) -> bytes:
    if data and data[0] >> 4 == 4:  # BSD hands the IP header over too
        header = (data[0] & 0x0F) * 4
        if header < 20 or len(data) < header:
            raise DecodeError("truncated IPv4 header")
        return data[header:]
    return data


def parse_icmp_datagram(data: bytes) -> IcmpAnswer:
    """Parse one datagram from an ICMP datagram socket (with or without the IP header).

    For Time Exceeded / Unreachable, the sequence comes from the quoted echo request (the
    quoted IP header, then the first 8 bytes of ICMP, RFC 792). Raises
    :class:`~natprobe.errors.DecodeError` on anything malformed.
    """
    icmp = _strip_ip(data)
    if len(icmp) < 8:
        raise DecodeError("ICMP message shorter than its header")
    icmp_type, code = icmp[0], icmp[1]
    if icmp_type == ICMP_ECHO_REPLY_TYPE:
        return IcmpAnswer(icmp_type, code, int.from_bytes(icmp[6:8], "big"))
    if icmp_type in (ICMP_TIME_EXCEEDED, ICMP_UNREACHABLE):
        quoted = icmp[8:]
        if len(quoted) < 20 or quoted[0] >> 4 != 4:
            return IcmpAnswer(icmp_type, code, None)
        inner = quoted[(quoted[0] & 0x0F) * 4:]
        if len(inner) < 8 or inner[0] != ICMP_ECHO_REQUEST:
            return IcmpAnswer(icmp_type, code, None)
        return IcmpAnswer(icmp_type, code, int.from_bytes(inner[6:8], "big"))
    return IcmpAnswer(icmp_type, code, None)


def answer_outcome(answer: IcmpAnswer) -> HopOutcome | None:
    if answer.icmp_type == ICMP_TIME_EXCEEDED:
        return HopOutcome.TIME_EXCEEDED
    if answer.icmp_type == ICMP_ECHO_REPLY_TYPE:
        return HopOutcome.REPLY
    if answer.icmp_type == ICMP_UNREACHABLE:
        return HopOutcome.PORT_UNREACHABLE if answer.code == ICMP_PORT_UNREACHABLE_CODE else HopOutcome.UNREACHABLE
    return None


# --- pure: Windows structures (ipexport.h) -------------------------------------------------------


class IP_OPTION_INFORMATION(ctypes.Structure):  # noqa: N801  (the Windows name)
    """``IP_OPTION_INFORMATION``: 8 bytes on 32-bit Windows, 16 on 64-bit (a pointer at 4 or 8)."""

    _fields_ = [
        ("Ttl", ctypes.c_ubyte),
        ("Tos", ctypes.c_ubyte),
        ("Flags", ctypes.c_ubyte),
        ("OptionsSize", ctypes.c_ubyte),
        ("OptionsData", ctypes.c_void_p),
    ]


class ICMP_ECHO_REPLY(ctypes.Structure):  # noqa: N801
    """``ICMP_ECHO_REPLY``: 28 bytes on 32-bit Windows, 40 on 64-bit."""

    _fields_ = [
        ("Address", ctypes.c_uint32),  # IPAddr: the IPv4 address in network byte order
        ("Status", ctypes.c_uint32),
        ("RoundTripTime", ctypes.c_uint32),
        ("DataSize", ctypes.c_uint16),
        ("Reserved", ctypes.c_uint16),
        ("Data", ctypes.c_void_p),
        ("Options", IP_OPTION_INFORMATION),
    ]


class IP_OPTION_INFORMATION32(ctypes.Structure):  # noqa: N801
    """The 32-bit layout (``UCHAR * POINTER_32``), what a 64-bit process gets with ``ICMP_ECHO_REPLY32``."""

    _fields_ = [
        ("Ttl", ctypes.c_ubyte),
        ("Tos", ctypes.c_ubyte),
        ("Flags", ctypes.c_ubyte),
        ("OptionsSize", ctypes.c_ubyte),
        ("OptionsData", ctypes.c_uint32),
    ]


class ICMP_ECHO_REPLY32(ctypes.Structure):  # noqa: N801
    _fields_ = [
        ("Address", ctypes.c_uint32),
        ("Status", ctypes.c_uint32),
        ("RoundTripTime", ctypes.c_uint32),
        ("DataSize", ctypes.c_uint16),
        ("Reserved", ctypes.c_uint16),
        ("Data", ctypes.c_uint32),
        ("Options", IP_OPTION_INFORMATION32),
    ]


IP_SUCCESS = 0
IP_DEST_NET_UNREACHABLE = 11002
IP_DEST_HOST_UNREACHABLE = 11003
IP_DEST_PROT_UNREACHABLE = 11004
IP_DEST_PORT_UNREACHABLE = 11005
IP_REQ_TIMED_OUT = 11010
IP_TTL_EXPIRED_TRANSIT = 11013
IO_STATUS_BLOCK_SIZE = 2 * ctypes.sizeof(ctypes.c_void_p)


def status_outcome(status: int) -> HopOutcome:
    """``ICMP_ECHO_REPLY.Status`` (ipexport.h ``IP_*`` codes) as a hop outcome."""
    if status == IP_SUCCESS:
        return HopOutcome.REPLY
    if status == IP_TTL_EXPIRED_TRANSIT:
        return HopOutcome.TIME_EXCEEDED
    if status == IP_DEST_PORT_UNREACHABLE:
        return HopOutcome.PORT_UNREACHABLE
    if status in (IP_DEST_NET_UNREACHABLE, IP_DEST_HOST_UNREACHABLE, IP_DEST_PROT_UNREACHABLE):
        return HopOutcome.UNREACHABLE
    return HopOutcome.NO_ANSWER


def _hop(ttl: int, outcome: HopOutcome, address: IPv4Address | None, rtt_ms: float | None) -> Hop:
    return Hop(ttl, address, classify(address) if address is not None else None, rtt_ms, outcome)


def _cut(hops: list[Hop]) -> tuple[Hop, ...]:
    out: list[Hop] = []
    for hop in sorted(hops, key=lambda h: h.ttl):
        out.append(hop)
        if hop.ends_path:
            break
    return tuple(out)


# --- I/O: Windows ---------------------------------------------------------------------------------


def _windows_hop(dest: IPv4Address, ttl: int, timeout_ms: int) -> Hop:
    iphlpapi = ctypes.WinDLL("iphlpapi.dll")  # type: ignore[attr-defined,unused-ignore]
    iphlpapi.IcmpCreateFile.restype = ctypes.c_void_p
    handle = iphlpapi.IcmpCreateFile()
    if not handle or handle == ctypes.c_void_p(-1).value:
        raise NetworkError("IcmpCreateFile failed")
    try:
        payload = b"natprobe-hop"
        options = IP_OPTION_INFORMATION(Ttl=ttl)
        size = ctypes.sizeof(ICMP_ECHO_REPLY) + len(payload) + 8 + IO_STATUS_BLOCK_SIZE
        reply = ctypes.create_string_buffer(size)
        count = iphlpapi.IcmpSendEcho2(
            ctypes.c_void_p(handle), None, None, None,
            ctypes.c_uint32(int.from_bytes(dest.packed, "little")),  # network order in memory
            payload, ctypes.c_uint16(len(payload)), ctypes.byref(options), reply, ctypes.c_uint32(size),
            ctypes.c_uint32(timeout_ms),
        )
        if count == 0:
            return _hop(ttl, HopOutcome.NO_ANSWER, None, None)
        echo = ICMP_ECHO_REPLY.from_buffer_copy(reply.raw[: ctypes.sizeof(ICMP_ECHO_REPLY)])
        address = IPv4Address(echo.Address.to_bytes(4, "little"))
        return _hop(ttl, status_outcome(echo.Status), address, float(echo.RoundTripTime))
    finally:
        iphlpapi.IcmpCloseHandle(ctypes.c_void_p(handle))


async def trace_hops_windows(dest: IPv4Address, *, max_hops: int = 5, timeout: float = 1.0) -> tuple[Hop, ...]:
    """The first ``max_hops`` routers toward ``dest`` with ``IcmpSendEcho2`` (Windows, no admin)."""
    if sys.platform != "win32":
        raise NetworkError("IcmpSendEcho2 is Windows-only")
    timeout_ms = max(1, int(timeout * 1000))
    hops = await asyncio.gather(*(asyncio.to_thread(_windows_hop, dest, ttl, timeout_ms)
                                  for ttl in range(1, max_hops + 1)))
    return _cut(list(hops))


# --- I/O: macOS ICMP datagram socket -----------------------------------------------------------------


async def trace_hops_icmp_datagram(dest: IPv4Address, *, max_hops: int = 5, timeout: float = 1.0) -> tuple[Hop, ...]:
    """The first ``max_hops`` routers toward ``dest`` over one unprivileged ICMP datagram socket
    per TTL (macOS), all sent at once, read until ``timeout``."""
    loop = asyncio.get_running_loop()
    sockets: list[socket.socket] = []
    answers: dict[int, Hop] = {}
    started = time.monotonic()
    try:
        for ttl in range(1, max_hops + 1):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
            sockets.append(sock)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
            sock.sendto(echo_request(0, ttl), (str(dest), 0))
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise NetworkError(f"cannot send ICMP toward {dest}: {exc.strerror or exc}") from exc

    def readable(sock: socket.socket, ttl: int) -> None:
        for _ in range(8):  # bounded per wake-up
            try:
                data, peer = sock.recvfrom(1500)
            except OSError:
                return
            try:
                answer = parse_icmp_datagram(data)
            except DecodeError:
                continue
            outcome = answer_outcome(answer)
            if outcome is not None and answer.sequence in (ttl, None) and ttl not in answers:
                answers[ttl] = _hop(ttl, outcome, IPv4Address(peer[0]), round((time.monotonic() - started) * 1000, 3))

    try:
        for ttl, sock in enumerate(sockets, start=1):
            loop.add_reader(sock.fileno(), readable, sock, ttl)
        deadline = started + timeout
        while time.monotonic() < deadline and len(answers) < max_hops:
            await asyncio.sleep(0.02)  # polling the answers dict within a bounded window
            if any(h.ends_path for h in answers.values()) and all(
                t in answers for t in range(1, min(h.ttl for h in answers.values() if h.ends_path))
            ):
                break
    finally:
        for sock in sockets:
            loop.remove_reader(sock.fileno())
            sock.close()
    hops = [answers.get(ttl) or _hop(ttl, HopOutcome.NO_ANSWER, None, None) for ttl in range(1, max_hops + 1)]
    return _cut(hops)
