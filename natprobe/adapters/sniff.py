"""Did a packet reach this host's network interface? A minimal, bounded AF_PACKET watcher.

When the echo server's probe does not arrive on a port, the question is whether it never
reached this host (router, CGNAT) or reached it and was dropped by this host's own firewall.
And when a silent service (WireGuard) holds the port, arrival at the interface is the only
proof a forward works. Packet sockets see inbound frames before netfilter runs, so a probe
seen here but not delivered to the port was dropped locally (or taken by a silent service).

Linux only, and needs CAP_NET_RAW (root, or ``setcap cap_net_raw+ep`` on the interpreter):
without it the watcher reports ``None`` ("unknown") and the verdict does without that
evidence, saying so. IPv4 and IPv6: one ``SOCK_DGRAM`` packet socket per family, each with
a classic BPF filter (``SO_ATTACH_FILTER``) so the kernel copies only the probe's packets
to us; :func:`matches` checks each one again in Python, which also covers the frames
queued before the filter was attached, and a kernel that refused the filter.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import socket
import struct
import threading
from dataclasses import dataclass

from natprobe.addressing import IPAddress

logger = logging.getLogger(__name__)

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
PACKET_OUTGOING = 4
SO_ATTACH_FILTER = 26
"""``<asm-generic/socket.h>``; the same number on every Linux architecture natprobe meets."""
_IPPROTO = {"udp": 17, "tcp": 6}
_IPV6_HEADER = 40
MAX_PACKETS = 100_000
"""Bound on packets inspected per watch, so a busy interface cannot keep us looping."""
SNAP_BYTES = 96
"""Bytes of each packet the filter keeps: the IPv6 header (40) and the transport ports are enough
(plus the payload a :class:`Match` names, see :func:`snap_bytes`)."""
MAX_PAYLOAD = 128
"""The longest payload prefix a :class:`Match` may require (a token is 15 + 32 bytes)."""
_UDP_HEADER = 8
_MAX_IPV4_HEADER = 60


@dataclass(frozen=True, slots=True)
class Match:
    """Packets from ``source`` to destination ``port`` over ``protocol`` (``"udp"``/``"tcp"``)."""

    protocol: str
    source: IPAddress
    port: int
    payload: bytes | None = None
    """UDP only: the datagram must begin with these bytes. A probe's one-time token here makes
    the watch count only this run's datagrams: the echo server paces its datagrams, and those of
    an earlier run that ended at its first one may still arrive while the next run watches."""

    def __post_init__(self) -> None:
        if self.payload is not None and (self.protocol != "udp" or not 0 < len(self.payload) <= MAX_PAYLOAD):
            raise ValueError(f"a payload match needs UDP and 1-{MAX_PAYLOAD} bytes")


def snap_bytes(wanted: Match) -> int:
    """Bytes of each matching packet the kernel filter keeps (and the watcher reads)."""
    if wanted.payload is None:
        return SNAP_BYTES
    return max(SNAP_BYTES, _MAX_IPV4_HEADER + _UDP_HEADER + len(wanted.payload))


def matches(packet: bytes, wanted: Match) -> bool:
    """Is ``packet`` (an IPv4 or IPv6 packet, no link header) from ``wanted.source`` to
    ``wanted.port`` over ``wanted.protocol`` (and, with ``wanted.payload``, carrying it)?

    IPv6 packets count only when the transport header follows the fixed header directly (no
    extension header): what the echo server sends, and what the filter can check cheaply.
    """
    if not packet:
        return False
    version = packet[0] >> 4
    if version != wanted.source.version:
        return False
    if version == 4:
        if len(packet) < 20:
            return False
        header_length = (packet[0] & 0x0F) * 4
        if len(packet) < header_length + 4 or packet[9] != _IPPROTO[wanted.protocol]:
            return False
        if packet[12:16] != wanted.source.packed:
            return False
        transport = header_length
    else:
        if len(packet) < _IPV6_HEADER + 4 or packet[6] != _IPPROTO[wanted.protocol]:
            return False
        if packet[8:24] != wanted.source.packed:
            return False
        transport = _IPV6_HEADER
    if int.from_bytes(packet[transport + 2 : transport + 4], "big") != wanted.port:
        return False
    if wanted.payload is None:
        return True
    start = transport + _UDP_HEADER
    return packet[start : start + len(wanted.payload)] == wanted.payload


# --- classic BPF (linux/filter.h) ------------------------------------------------------------
# The filter runs on what a SOCK_DGRAM packet socket receives: the packet from its network
# header on, so offsets are IP header offsets.
_LD_B_ABS, _LD_H_ABS, _LD_W_ABS = 0x30, 0x28, 0x20
_LDX_B_MSH = 0xB1  # X = 4 * (P[k] & 0x0f): the IPv4 header length
_LD_H_IND = 0x48  # A = P[X + k] (16 bits)
_JEQ_K = 0x15
_RET_K = 0x06


def _insn(code: int, jt: int = 0, jf: int = 0, k: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def bpf_program(wanted: Match) -> bytes:
    """The classic BPF program (``struct sock_filter[]``) that accepts only ``wanted``'s packets.

    Each test jumps to the final "reject" on a mismatch; the program is straight-line, so the
    kernel's verifier accepts it and it ends in bounded time. A payload is checked in Python
    (:func:`matches`), on the :func:`snap_bytes` the program keeps.
    """
    proto = _IPPROTO[wanted.protocol]
    source = wanted.source.packed
    tests: list[tuple[tuple[int, int], int]] = []  # ((load opcode, offset), value it must equal)
    if wanted.source.version == 4:
        tests += [((_LD_B_ABS, 9), proto), ((_LD_W_ABS, 12), int.from_bytes(source, "big"))]
    else:
        tests.append(((_LD_B_ABS, 6), proto))
        tests += [((_LD_W_ABS, 8 + i), int.from_bytes(source[i : i + 4], "big")) for i in range(0, 16, 4)]
    insns: list[tuple[int, int, int, int]] = []  # jf == -1: "to the reject", patched below
    for (code, offset), value in tests:
        insns += [(code, 0, 0, offset), (_JEQ_K, 0, -1, value)]
    if wanted.source.version == 4:  # the port sits after a variable-length header
        insns += [(_LDX_B_MSH, 0, 0, 0), (_LD_H_IND, 0, 0, 2)]
    else:
        insns.append((_LD_H_ABS, 0, 0, _IPV6_HEADER + 2))
    insns.append((_JEQ_K, 0, -1, wanted.port))
    insns.append((_RET_K, 0, 0, snap_bytes(wanted)))
    insns.append((_RET_K, 0, 0, 0))
    reject = len(insns) - 1
    out = bytearray()
    for index, (code, jt, jf, k) in enumerate(insns):
        if jf == -1:
            jf = reject - index - 1
        out += _insn(code, jt, jf, k)
    return bytes(out)


def _attach_filter(sock: socket.socket, program: bytes) -> bool:
    """``SO_ATTACH_FILTER`` with ``struct sock_fprog {u16 len; struct sock_filter *filter}``."""
    buffer = ctypes.create_string_buffer(program)
    fprog = struct.pack("HL", len(program) // 8, ctypes.addressof(buffer))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except OSError as exc:
        logger.debug("no BPF filter (matching in Python only): %s", exc)
        return False
    return True


def open_packet_socket(wanted: Match) -> socket.socket:
    """A non-blocking packet socket for ``wanted``'s family, filtered to its packets.

    Raises ``PermissionError`` without CAP_NET_RAW, ``OSError``/``AttributeError`` where there
    are no packet sockets (not Linux).
    """
    ethertype = ETH_P_IP if wanted.source.version == 4 else ETH_P_IPV6
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ethertype))  # type: ignore[attr-defined,unused-ignore]
    try:
        _attach_filter(sock, bpf_program(wanted))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class ArrivalWatcher:
    """Watches all interfaces for inbound IPv4 or IPv6 packets matching one :class:`Match`.

    Use as ``async with ArrivalWatcher(match) as watcher: ...; watcher.seen``. ``seen`` is
    ``None`` when packet capture is not permitted here (``unavailable`` says why), or when
    ``match`` is ``None``. ``enabled=False`` is an injected "no capture on this machine".
    """

    def __init__(self, match: Match | None, *, enabled: bool = True) -> None:
        self._match = match
        self._enabled = enabled
        self._sock: socket.socket | None = None
        self._inspected = 0
        self.seen: bool | None = None
        self.unavailable: str | None = None
        """Why the watch could not run (None: it ran, or there was nothing to watch)."""

    async def __aenter__(self) -> ArrivalWatcher:
        if self._match is None:
            return self
        if not self._enabled:
            self.unavailable = "disabled"
            return self
        try:
            sock = open_packet_socket(self._match)
        except PermissionError as exc:
            logger.debug("no packet capture: %s", exc)
            self.unavailable = "permission"
            return self
        except (OSError, AttributeError) as exc:
            logger.debug("no packet capture: %s", exc)
            self.unavailable = "unsupported"
            return self
        self._sock = sock
        self.seen = False
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)
        return self

    def _readable(self) -> None:
        if self._sock is None or self._match is None:
            return
        size = snap_bytes(self._match)
        for _ in range(256):
            try:
                packet, address = self._sock.recvfrom(size)
            except (BlockingIOError, OSError):
                return
            self._inspected += 1
            if address[2] != PACKET_OUTGOING and matches(packet, self._match):
                self.seen = True
            if self.seen or self._inspected >= MAX_PACKETS:
                self._stop()
                return

    def _stop(self) -> None:
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            # Closing a packet socket waits out the kernel's RCU grace period (8-18 ms): not on
            # the event loop, which has the next port's probe to run.
            threading.Thread(target=self._sock.close, name="natprobe-close-watch", daemon=True).start()
            self._sock = None

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop()
