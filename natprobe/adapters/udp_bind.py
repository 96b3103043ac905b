"""Open an asyncio UDP endpoint bound at an address or on a given socket, a bind failure
mapped to :class:`~natprobe.errors.NetworkError` (one home for the client sockets' bind)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import TypeVar

from natprobe.errors import NetworkError
from natprobe.i18n import _

__all__ = ("bind_udp",)

P = TypeVar("P", bound=asyncio.DatagramProtocol)


async def bind_udp(
    factory: Callable[[], P],
    local_addr: tuple[str, int],
    *,
    family: socket.AddressFamily,
    sock: socket.socket | None,
    where: str,
) -> tuple[asyncio.DatagramTransport, P]:
    """The endpoint on ``sock`` (already bound) when given, else bound at ``local_addr``;
    ``where`` names the place in the error (the caller's words for a given socket)."""
    loop = asyncio.get_running_loop()
    try:
        if sock is not None:
            return await loop.create_datagram_endpoint(factory, sock=sock)
        return await loop.create_datagram_endpoint(factory, local_addr=local_addr, family=family)
    except OSError as exc:
        raise NetworkError(_("cannot bind UDP {address}: {error}", address=where, error=exc.strerror or exc)) from exc
