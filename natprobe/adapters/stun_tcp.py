"""STUN over TCP with asyncio (RFC 8489 section 6.2.2: framing by the header's length field)."""

from __future__ import annotations

import asyncio

from natprobe.i18n import _
from natprobe.errors import DecodeError, ErrorResponse, NetworkError, TransactionTimeout
from natprobe.addressing import TransportAddress
from natprobe.stun.framing import StreamDecoder
from natprobe.stun.message import Message, encode
from natprobe.stun.types import MessageClass
from natprobe.adapters.stun_udp import StunResponse

RFC8489_TCP_TIMEOUT = 39.5
"""RFC 8489 section 6.2.2: Ti, the transaction timeout over a reliable transport."""

INTERACTIVE_TCP_TIMEOUT = 3.0
"""A person waiting gets an answer in seconds; a TCP handshake already retransmits at 1 s."""


async def tcp_transact(
    request: Message,
    server: TransportAddress,
    *,
    timeout: float = INTERACTIVE_TCP_TIMEOUT,
    local: tuple[str, int] | None = None,
) -> StunResponse:
    """Connect, send ``request``, read its response, close. Raises on timeout or an error response."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(str(server.ip), server.port, local_addr=local)
            sent_at = loop.time()
            writer.write(encode(request))
            await writer.drain()
            decoder = StreamDecoder()
            while True:
                chunk = await reader.read(4096)
                if not chunk:
                    raise NetworkError(_("{server} closed the STUN/TCP connection without answering", server=server))
                for message in decoder.feed(chunk):
                    if message.transaction_id == request.transaction_id and message.message_class in (
                        MessageClass.SUCCESS_RESPONSE,
                        MessageClass.ERROR_RESPONSE,
                    ):
                        response = StunResponse(message, server, server, loop.time() - sent_at, 1)
                        if message.message_class is MessageClass.ERROR_RESPONSE:
                            error = message.error_code
                            raise ErrorResponse(error.code if error else 0, error.reason if error else "")
                        return response
    except TimeoutError as exc:
        raise TransactionTimeout(f"no STUN/TCP response from {server} within {loop.time() - start:.1f} s") from exc
    except DecodeError as exc:
        raise DecodeError(f"{server} sent a malformed STUN/TCP stream: {exc}") from exc
    except OSError as exc:
        raise NetworkError(_("STUN/TCP to {server} failed: {error}", server=server, error=exc.strerror or exc)) from exc
    finally:
        if writer is not None:
            writer.close()
