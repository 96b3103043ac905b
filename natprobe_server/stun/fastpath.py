"""The hot path: answer a plain Binding request without the general codec.

Nearly every datagram a public STUN server sees is the 20-byte Binding request with no
attributes. Decoding it into a :class:`~natprobe.stun.Message` and encoding a response costs
about 10 µs in Python; recognising it by its header and patching a precomputed response costs
well under 1 µs (facts/udp-server-performance.md). Everything else falls back to
:class:`~natprobe_server.stun.service.StunService`.

The template is *built by* :class:`StunService` (a response to a dummy request, encoded by the
real codec), and :class:`FastBinding` only overwrites the transaction id and the two mapped
addresses, so the fast and the full path cannot drift apart; a test compares them byte for byte.
"""

from __future__ import annotations

import ipaddress
import struct

from natprobe.stun import MAGIC_COOKIE, AttributeType, Message, MessageClass, Method, encode
from natprobe.addressing import TransportAddress

from natprobe_server.stun.service import StunService

__all__ = ("FastBinding", "is_plain_binding_request")

_HEADER = struct.Struct("!HHI")
_BINDING_REQUEST = (0x0001, 0, MAGIC_COOKIE)
_COOKIE_PORT_XOR = MAGIC_COOKIE >> 16
_COOKIE_BYTES = MAGIC_COOKIE.to_bytes(4, "big")
_CACHE_LIMIT = 4096


def is_plain_binding_request(data: bytes | bytearray, length: int) -> bool:
    """True for exactly a 20-byte RFC 5389/8489 Binding request with no attributes."""
    return length == 20 and _HEADER.unpack_from(data) == _BINDING_REQUEST


class FastBinding:
    """Precomputed Binding success response for requests arriving on one server address.

    :meth:`respond` returns the response bytes for a plain Binding request, or ``None`` when
    the datagram needs the full path. The reply leaves from the socket it arrived on (a plain
    request has no CHANGE-REQUEST), to the sender.
    """

    __slots__ = ("_family", "_template", "_head", "_between", "_tail", "_prefix", "_pack_response", "_cache")

    def __init__(self, service: StunService, local: TransportAddress) -> None:
        dummy_request = Message(MessageClass.REQUEST, Method.BINDING, bytes(12))
        placeholder = TransportAddress(local.ip, 0)  # same family as every requester on this socket
        attributes = service.success_attributes(dummy_request, placeholder, local, local, uses_rfc5780=False)
        template = encode(Message(MessageClass.SUCCESS_RESPONSE, Method.BINDING, bytes(12), attributes))
        xor_at = _value_offset(template, AttributeType.XOR_MAPPED_ADDRESS)
        mapped_at = _value_offset(template, AttributeType.MAPPED_ADDRESS)
        if mapped_at < xor_at:
            raise AssertionError("the template must put XOR-MAPPED-ADDRESS before MAPPED-ADDRESS")
        size = 4 if local.ip.version == 4 else 16
        # An address value is: reserved, family, port (2 bytes), address. The response is
        # prefix | transaction id | head | x-port | x-address | between | port | address | tail.
        self._family = local.ip.version
        self._template = template
        self._prefix = template[:8]
        self._head = template[20 : xor_at + 2]
        self._between = template[xor_at + 4 + size : mapped_at + 2]
        self._tail = template[mapped_at + 4 + size :]
        # One C call builds the whole response (measured: ~3x faster than bytes.join of pieces).
        self._pack_response = struct.Struct(
            f"!8s12s{len(self._head)}sH{size}s{len(self._between)}sH{size}s{len(self._tail)}s"
        ).pack
        self._cache: dict[str, tuple[bytes, bytes]] = {}

    @property
    def template(self) -> bytes:
        """The response as encoded by the codec, with a zero transaction id and address."""
        return self._template

    def respond(self, data: bytes | bytearray, length: int, ip: str, port: int) -> bytes | None:
        """The response to ``data[:length]`` from ``ip``:``port``, or ``None`` if it is not a plain Binding request."""
        if length != 20 or _HEADER.unpack_from(data) != _BINDING_REQUEST:
            return None
        transaction_id = data[8:20]
        cached = self._cache.get(ip)
        if cached is None:
            cached = self._pack(ip)
        packed, xored = cached
        if self._family == 6:
            key = int.from_bytes(_COOKIE_BYTES + bytes(transaction_id), "big")
            xored = (int.from_bytes(packed, "big") ^ key).to_bytes(16, "big")
        return self._pack_response(
            self._prefix, transaction_id, self._head, port ^ _COOKIE_PORT_XOR, xored, self._between, port, packed, self._tail
        )

    def _pack(self, ip: str) -> tuple[bytes, bytes]:
        """Packed ``ip`` and (IPv4) its XOR with the cookie, cached: requesters repeat."""
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()  # bounded memory; refilling costs one conversion per source
        if self._family == 4:
            packed = ipaddress.IPv4Address(ip).packed
            xored = (int.from_bytes(packed, "big") ^ MAGIC_COOKIE).to_bytes(4, "big")
        else:
            packed = ipaddress.IPv6Address(ip.partition("%")[0]).packed
            xored = b""  # depends on the transaction id: computed per request
        self._cache[ip] = (packed, xored)
        return packed, xored


def _value_offset(message: bytes, wanted: int) -> int:
    """Offset of the value of the first attribute of type ``wanted`` in an encoded message."""
    offset = 20
    while offset + 4 <= len(message):
        attribute_type, length = struct.unpack_from("!HH", message, offset)
        if attribute_type == wanted:
            return offset + 4
        offset += 4 + length + (-length % 4)
    raise ValueError(f"attribute 0x{wanted:04x} not in the template")
