"""STUN over a byte stream (TCP): split the stream into messages (RFC 8489 section 6.2.2).

Over TCP, STUN messages follow each other with no extra framing; the 16-bit length in each
header says where a message ends. :class:`StreamDecoder` is fed arbitrary chunks and yields
whole messages, holding at most one partial message.
"""

from __future__ import annotations

from natprobe.errors import DecodeError
from natprobe.stun.message import Message, decode, message_length


class StreamDecoder:
    """Incremental splitter: ``feed(chunk)`` returns every message completed by ``chunk``.

    Raises :class:`DecodeError` when the stream cannot be STUN (the connection should then be
    closed: there is no way to resynchronise a stream).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._error: DecodeError | None = None

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a message."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[Message]:
        """Messages completed by ``chunk``.

        When a chunk holds good messages followed by garbage, the good ones are returned first
        and the error is raised on the next call: nothing decoded is lost.
        """
        if self._error is not None:
            raise self._error
        self._buffer += chunk
        messages: list[Message] = []
        try:
            while len(self._buffer) >= 4:
                total = message_length(bytes(self._buffer[:4]))
                if len(self._buffer) < total:
                    break
                messages.append(decode(bytes(self._buffer[:total])))
                del self._buffer[:total]
            if self._buffer and self._buffer[0] >= 0x40:
                raise DecodeError("not a STUN stream: the first two bits must be zero")
        except DecodeError as exc:
            if not messages:
                raise
            self._error = exc
        return messages
