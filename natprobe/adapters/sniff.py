"""Did a packet reach this host's network interface? A minimal, bounded AF_PACKET watcher.

When the echo server's probe does not arrive on a port, the question is whether it never
reached this host (router, CGNAT) or reached it and was dropped by this host's own firewall.
Packet sockets see inbound frames before netfilter runs, so a probe seen here but not
delivered to the port was dropped locally. Needs CAP_NET_RAW (root); without it the watcher
reports ``None`` ("unknown") and the verdict does without that evidence.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address

logger = logging.getLogger(__name__)

ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
_IPPROTO = {"udp": 17, "tcp": 6}
MAX_PACKETS = 100_000
"""Bound on packets inspected per watch, so a busy interface cannot keep us looping."""


@dataclass(frozen=True, slots=True)
class Match:
    protocol: str
    source: IPv4Address
    port: int


def matches(packet: bytes, wanted: Match) -> bool:
    """Is ``packet`` (an IPv4 packet) from ``wanted.source`` to ``wanted.port`` over ``wanted.protocol``?"""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return False
    header_length = (packet[0] & 0x0F) * 4
    if len(packet) < header_length + 4 or packet[9] != _IPPROTO[wanted.protocol]:
        return False
    if packet[12:16] != wanted.source.packed:
        return False
    return int.from_bytes(packet[header_length + 2 : header_length + 4], "big") == wanted.port


class ArrivalWatcher:
    """Watches all interfaces for inbound IPv4 packets matching one :class:`Match`.

    Use as ``async with ArrivalWatcher(match) as watcher: ...; watcher.seen``. ``seen`` is
    ``None`` when packet capture is not permitted here, or when ``match`` is ``None``.
    """

    def __init__(self, match: Match | None) -> None:
        self._match = match
        self._sock: socket.socket | None = None
        self._inspected = 0
        self.seen: bool | None = None

    async def __aenter__(self) -> ArrivalWatcher:
        if self._match is None:  # nothing this watcher can match (e.g. an IPv6 probe source)
            return self
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
        except (PermissionError, OSError) as exc:
            logger.debug("no packet capture: %s", exc)
            return self
        sock.setblocking(False)
        self._sock = sock
        self.seen = False
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)
        return self

    def _readable(self) -> None:
        assert self._sock is not None
        for _ in range(256):
            try:
                packet, address = self._sock.recvfrom(256)
            except BlockingIOError:
                return
            except OSError:
                return
            self._inspected += 1
            assert self._match is not None
            if address[2] != PACKET_OUTGOING and matches(packet, self._match):
                self.seen = True
            if self.seen or self._inspected >= MAX_PACKETS:
                self._stop()
                return

    def _stop(self) -> None:
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop()
