"""The thin UDP transport for NAT-PMP and PCP: one request, retransmitted, one reply.

Talks only to the default gateway's port 5351, from a connected socket, so the kernel drops
datagrams from anyone else. Retransmission follows RFC 6886 section 3.1 (250 ms, doubling)
cut to an interactive ladder; silence is a result (``None``), not an exception, and an
ICMP port unreachable ends the wait at once (nothing listens there).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final, TypeVar

from natprobe.i18n import _
from natprobe.addressing import IPAddress
from natprobe.errors import DecodeError, NetworkError
from natprobe.portmap import SERVER_PORT

__all__ = ("GatewaySocket", "INTERACTIVE_LADDER_S")

logger = logging.getLogger(__name__)

INTERACTIVE_LADDER_S: Final = (0.25, 0.5, 1.0)
"""Waits after each send: RFC 6886's 250 ms doubling, three sends (1.75 s in all)."""

T = TypeVar("T")


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=16)
        self.refused = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.queue.full():  # a flood from the gateway cannot grow memory
            self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.refused.set()  # ICMP port unreachable on a connected socket


class GatewaySocket:
    """``async with GatewaySocket(gateway) as gw: reply = await gw.request(data, decode, match)``."""

    def __init__(self, gateway: IPAddress, port: int = SERVER_PORT,
                 ladder: tuple[float, ...] = INTERACTIVE_LADDER_S) -> None:
        self.gateway = gateway
        self.port = port
        self.ladder = ladder
        self._transport: asyncio.DatagramTransport | None = None
        self._protocol: _Protocol | None = None

    async def __aenter__(self) -> GatewaySocket:
        loop = asyncio.get_running_loop()
        try:
            self._transport, self._protocol = await loop.create_datagram_endpoint(
                _Protocol, remote_addr=(str(self.gateway), self.port)
            )
        except OSError as exc:
            raise NetworkError(_("cannot open a UDP socket toward {address}: {error}", address=self.gateway,
                                     error=exc.strerror or exc)) from exc
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._transport is not None:
            self._transport.close()

    @property
    def local_address(self) -> str:
        """The source address the kernel chose toward the gateway (PCP's client address)."""
        assert self._transport is not None, "use inside 'async with'"
        return str(self._transport.get_extra_info("sockname")[0])

    async def request(self, data: bytes, decode: Callable[[bytes], T],
                      match: Callable[[T], bool] = lambda _: True) -> T | None:
        """Send ``data`` on the ladder; the first decoded reply that ``match`` accepts, or None."""
        assert self._transport is not None and self._protocol is not None, "use inside 'async with'"
        protocol = self._protocol
        while not protocol.queue.empty():  # a late answer to an earlier request
            protocol.queue.get_nowait()
        protocol.refused.clear()
        for wait in self.ladder:
            self._transport.sendto(data)
            deadline = asyncio.get_running_loop().time() + wait
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                getter = asyncio.ensure_future(protocol.queue.get())
                refused = asyncio.ensure_future(protocol.refused.wait())
                try:
                    done, _ = await asyncio.wait((getter, refused), timeout=left,
                                                 return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in (getter, refused):
                        task.cancel()
                if refused in done and getter not in done:
                    logger.debug("%s:%d refused (ICMP port unreachable)", self.gateway, self.port)
                    return None
                if getter not in done:
                    break
                try:
                    reply = decode(getter.result())
                except DecodeError as exc:
                    logger.debug("ignoring an undecodable reply from %s: %s", self.gateway, exc)
                    continue
                if match(reply):
                    return reply
        return None
