"""STUN messages: the sans-I/O codec (RFC 8489 section 5, RFC 3489 section 11.1).

``decode(bytes) -> Message`` and ``encode(Message) -> bytes``. A decoded :class:`Message` keeps
the bytes it was decoded from (``raw``), so MESSAGE-INTEGRITY and FINGERPRINT are verified on
what was received, not on a re-encoding (as pion/stun does). Attributes natprobe does not know
survive decoding as raw bytes, in order. RFC 3489 messages (no magic cookie, 16-byte
transaction id) decode too; :attr:`Message.is_legacy` tells them apart.

The only exception decoding raises is :class:`~natprobe.errors.DecodeError`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from natprobe.errors import DecodeError
from natprobe.stun.attributes import AttributeValue, ChangeRequest, ErrorCodeValue, decode_value, encode_value
from natprobe.addressing import TransportAddress
from natprobe.stun.types import (
    FINGERPRINT_XOR,
    HEADER_LENGTH,
    LEGACY_TRANSACTION_ID_LENGTH,
    MAGIC_COOKIE_BYTES,
    TRANSACTION_ID_LENGTH,
    AttributeType,
    MessageClass,
    Method,
    is_comprehension_required,
    known_or_int,
)

MAX_MESSAGE_LENGTH = 0xFFFF + HEADER_LENGTH
"""The 16-bit length field bounds a message to 64 KiB of attributes plus the header."""

_INTEGRITY_LENGTH = 20  # HMAC-SHA1, RFC 8489 section 14.5
_ATTRIBUTE_HEADER = 4


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute: its type (an :class:`AttributeType` when known) and decoded value."""

    type: AttributeType | int
    value: AttributeValue


@dataclass(frozen=True, slots=True)
class Message:
    """A STUN message. ``transaction_id`` is 12 bytes (RFC 8489) or 16 bytes (RFC 3489)."""

    message_class: MessageClass
    method: Method | int
    transaction_id: bytes
    attributes: tuple[Attribute, ...] = ()
    raw: bytes | None = field(default=None, compare=False, repr=False)
    """The exact bytes this message was decoded from; ``None`` for a message built locally."""

    def __post_init__(self) -> None:
        if len(self.transaction_id) not in (TRANSACTION_ID_LENGTH, LEGACY_TRANSACTION_ID_LENGTH):
            raise ValueError("transaction id must be 12 bytes (RFC 8489) or 16 bytes (RFC 3489)")
        if not 0 <= int(self.method) <= 0xFFF:
            raise ValueError(f"method out of range: {self.method}")

    @property
    def is_legacy(self) -> bool:
        """True for an RFC 3489 message: no magic cookie, 128-bit transaction id."""
        return len(self.transaction_id) == LEGACY_TRANSACTION_ID_LENGTH

    @property
    def xor_key(self) -> bytes:
        """Header bytes 4..20: what XOR-MAPPED-ADDRESS is XORed with (RFC 8489 section 14.2)."""
        return self.transaction_id if self.is_legacy else MAGIC_COOKIE_BYTES + self.transaction_id

    # --- lookups ---------------------------------------------------------------------------

    def get(self, attribute_type: int) -> AttributeValue:
        """The value of the first attribute of this type, or ``None``."""
        for attribute in self.attributes:
            if attribute.type == attribute_type:
                return attribute.value
        return None

    def has(self, attribute_type: int) -> bool:
        return any(attribute.type == attribute_type for attribute in self.attributes)

    def _address(self, attribute_type: AttributeType) -> TransportAddress | None:
        value = self.get(attribute_type)
        return value if isinstance(value, TransportAddress) else None

    @property
    def xor_mapped_address(self) -> TransportAddress | None:
        return self._address(AttributeType.XOR_MAPPED_ADDRESS)

    @property
    def mapped_address(self) -> TransportAddress | None:
        return self._address(AttributeType.MAPPED_ADDRESS)

    @property
    def reflexive_address(self) -> TransportAddress | None:
        """XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS (RFC 3489 servers send only the latter)."""
        return self.xor_mapped_address or self.mapped_address

    @property
    def response_origin(self) -> TransportAddress | None:
        return self._address(AttributeType.RESPONSE_ORIGIN)

    @property
    def other_address(self) -> TransportAddress | None:
        """OTHER-ADDRESS (RFC 5780), else the RFC 3489 CHANGED-ADDRESS."""
        return self._address(AttributeType.OTHER_ADDRESS) or self._address(AttributeType.CHANGED_ADDRESS)

    @property
    def source_address(self) -> TransportAddress | None:
        return self._address(AttributeType.SOURCE_ADDRESS)

    @property
    def change_request(self) -> ChangeRequest | None:
        value = self.get(AttributeType.CHANGE_REQUEST)
        return value if isinstance(value, ChangeRequest) else None

    @property
    def response_port(self) -> int | None:
        value = self.get(AttributeType.RESPONSE_PORT)
        return value if isinstance(value, int) else None

    @property
    def error_code(self) -> ErrorCodeValue | None:
        value = self.get(AttributeType.ERROR_CODE)
        return value if isinstance(value, ErrorCodeValue) else None

    @property
    def software(self) -> str | None:
        value = self.get(AttributeType.SOFTWARE)
        return value if isinstance(value, str) else None

    def unknown_comprehension_required(self) -> tuple[int, ...]:
        """Comprehension-required attribute types natprobe does not know (RFC 8489 section 7.3.1)."""
        return tuple(
            int(a.type)
            for a in self.attributes
            if not isinstance(a.type, AttributeType) and is_comprehension_required(int(a.type))
        )


def new_transaction_id() -> bytes:
    """A fresh, cryptographically random 96-bit transaction id (RFC 8489 section 5)."""
    return os.urandom(TRANSACTION_ID_LENGTH)


def binding_request(
    transaction_id: bytes | None = None,
    *,
    change_ip: bool = False,
    change_port: bool = False,
    response_port: int | None = None,
    padding: int = 0,
    software: str | None = None,
) -> Message:
    """A Binding request, optionally with RFC 5780 CHANGE-REQUEST, RESPONSE-PORT or PADDING."""
    attributes: list[Attribute] = []
    if change_ip or change_port:
        attributes.append(Attribute(AttributeType.CHANGE_REQUEST, ChangeRequest(change_ip, change_port)))
    if response_port is not None:
        attributes.append(Attribute(AttributeType.RESPONSE_PORT, response_port))
    if padding:
        attributes.append(Attribute(AttributeType.PADDING, bytes(padding)))
    if software is not None:
        attributes.append(Attribute(AttributeType.SOFTWARE, software))
    return Message(
        MessageClass.REQUEST, Method.BINDING, transaction_id or new_transaction_id(), tuple(attributes)
    )


# --- message type bits -------------------------------------------------------------------------


def _message_type(message_class: int, method: int) -> int:
    """RFC 8489 section 5: interleave the class bits C0 (bit 4) and C1 (bit 8) into the method."""
    return (
        (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((message_class & 0b01) << 4)
        | ((message_class & 0b10) << 7)
    )


def _split_message_type(message_type: int) -> tuple[int, int]:
    message_class = ((message_type >> 4) & 0b01) | ((message_type >> 7) & 0b10)
    method = (message_type & 0x000F) | ((message_type >> 1) & 0x0070) | ((message_type >> 2) & 0x0F80)
    return message_class, method


# --- decoding -----------------------------------------------------------------------------------


def is_stun(data: bytes) -> bool:
    """Cheap check that ``data`` looks like an RFC 5389/8489 STUN message (pion's ``IsMessage``).

    Used to demultiplex STUN from other traffic on one socket: the first two bits are zero,
    the length is a multiple of 4 matching the datagram, and the magic cookie is present.
    """
    return (
        len(data) >= HEADER_LENGTH
        and data[0] < 0x40
        and data[4:8] == MAGIC_COOKIE_BYTES
        and int.from_bytes(data[2:4], "big") == len(data) - HEADER_LENGTH
    )


def message_length(header: bytes) -> int:
    """Total length of the message whose first 4+ bytes are ``header`` (for stream framing)."""
    if len(header) < 4:
        raise DecodeError("need 4 bytes to read a STUN length")
    if header[0] >= 0x40:
        raise DecodeError("not a STUN message: the first two bits must be zero")
    length = int.from_bytes(header[2:4], "big")
    if length % 4:
        raise DecodeError(f"STUN length {length} is not a multiple of 4")
    return HEADER_LENGTH + length


def decode(data: bytes) -> Message:
    """Decode one STUN message occupying exactly ``data``.

    Raises :class:`DecodeError` for anything that is not a well-formed message: short or
    oversized input, non-zero leading bits, a length field that disagrees with the data, a
    truncated attribute, or a known attribute whose value is malformed.
    """
    data = bytes(data)
    if len(data) < HEADER_LENGTH:
        raise DecodeError(f"STUN message too short: {len(data)} bytes")
    if len(data) > MAX_MESSAGE_LENGTH:
        raise DecodeError(f"STUN message too long: {len(data)} bytes")
    if message_length(data) != len(data):
        raise DecodeError(
            f"STUN length field says {int.from_bytes(data[2:4], 'big')} bytes of attributes, "
            f"datagram has {len(data) - HEADER_LENGTH}"
        )
    message_class, method = _split_message_type(int.from_bytes(data[0:2], "big"))
    xor_key = data[4:HEADER_LENGTH]
    # RFC 3489 had no magic cookie: bytes 4..20 are all transaction id (RFC 8489 section 12).
    transaction_id = data[8:HEADER_LENGTH] if data[4:8] == MAGIC_COOKIE_BYTES else xor_key
    attributes: list[Attribute] = []
    offset = HEADER_LENGTH
    while offset < len(data):
        if offset + _ATTRIBUTE_HEADER > len(data):
            raise DecodeError("truncated attribute header")
        attribute_type = int.from_bytes(data[offset : offset + 2], "big")
        length = int.from_bytes(data[offset + 2 : offset + 4], "big")
        start = offset + _ATTRIBUTE_HEADER
        end = start + length
        if end > len(data):
            raise DecodeError(f"attribute 0x{attribute_type:04x} overruns the message ({length} bytes)")
        value = decode_value(attribute_type, data[start:end], xor_key)
        attributes.append(Attribute(known_or_int(AttributeType, attribute_type), value))
        offset = end + (-length % 4)
    if offset != len(data):
        raise DecodeError("attribute padding overruns the message")
    return Message(
        MessageClass(message_class),
        known_or_int(Method, method),
        transaction_id,
        tuple(attributes),
        raw=data,
    )


# --- encoding -----------------------------------------------------------------------------------


def _header(message: Message, body_length: int) -> bytes:
    cookie = b"" if message.is_legacy else MAGIC_COOKIE_BYTES
    return (
        _message_type(message.message_class, int(message.method)).to_bytes(2, "big")
        + body_length.to_bytes(2, "big")
        + cookie
        + message.transaction_id
    )


def _tlv(attribute_type: int, value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        raise ValueError(f"attribute 0x{attribute_type:04x} is longer than 65535 bytes")
    return attribute_type.to_bytes(2, "big") + len(value).to_bytes(2, "big") + value + bytes(-len(value) % 4)


def encode(
    message: Message,
    *,
    integrity_key: bytes | None = None,
    fingerprint: bool = False,
) -> bytes:
    """Encode ``message``; append MESSAGE-INTEGRITY (short-term ``integrity_key``) and/or FINGERPRINT.

    Attributes of type MESSAGE-INTEGRITY or FINGERPRINT already in ``message.attributes`` are
    dropped and recomputed, so re-encoding a decoded message yields valid checksums.
    """
    body = b"".join(
        _tlv(int(a.type), encode_value(int(a.type), a.value, message.xor_key))
        for a in message.attributes
        if a.type not in (AttributeType.MESSAGE_INTEGRITY, AttributeType.FINGERPRINT)
    )
    if integrity_key is not None:
        # RFC 8489 14.5: the HMAC covers the header (with a length that already counts the
        # MESSAGE-INTEGRITY attribute) and every attribute before it.
        length = len(body) + _ATTRIBUTE_HEADER + _INTEGRITY_LENGTH
        mac = hmac.new(integrity_key, _header(message, length) + body, hashlib.sha1).digest()
        body += _tlv(AttributeType.MESSAGE_INTEGRITY, mac)
    if fingerprint:
        # RFC 8489 14.7: CRC-32 over everything before FINGERPRINT, length counting it.
        length = len(body) + _ATTRIBUTE_HEADER + 4
        crc = zlib.crc32(_header(message, length) + body) ^ FINGERPRINT_XOR
        body += _tlv(AttributeType.FINGERPRINT, crc.to_bytes(4, "big"))
    if len(body) > 0xFFFF:
        raise ValueError("STUN message body exceeds 65535 bytes")
    return _header(message, len(body)) + body


# --- integrity checks on received bytes ----------------------------------------------------------


def _attribute_offset(raw: bytes, wanted: int) -> int | None:
    """Offset of the first attribute of type ``wanted`` in ``raw`` (already validated by decode)."""
    offset = HEADER_LENGTH
    while offset + _ATTRIBUTE_HEADER <= len(raw):
        attribute_type = int.from_bytes(raw[offset : offset + 2], "big")
        if attribute_type == wanted:
            return offset
        length = int.from_bytes(raw[offset + 2 : offset + 4], "big")
        offset += _ATTRIBUTE_HEADER + length + (-length % 4)
    return None


def _with_length(raw: bytes, offset: int, attribute_length: int) -> bytes:
    """``raw`` up to ``offset`` with the header length adjusted to end after that attribute."""
    adjusted = offset - HEADER_LENGTH + _ATTRIBUTE_HEADER + attribute_length
    return raw[:2] + adjusted.to_bytes(2, "big") + raw[4:offset]


def verify_fingerprint(message: Message) -> bool | None:
    """``True``/``False`` if the received message has a FINGERPRINT; ``None`` if it has none."""
    raw = message.raw
    if raw is None:
        raise ValueError("verify_fingerprint needs a decoded message (raw bytes)")
    offset = _attribute_offset(raw, AttributeType.FINGERPRINT)
    if offset is None:
        return None
    received = raw[offset + _ATTRIBUTE_HEADER : offset + _ATTRIBUTE_HEADER + 4]
    if len(received) != 4 or offset + 8 != len(raw):  # RFC 8489 14.7: it must be the last one
        return False
    expected = zlib.crc32(_with_length(raw, offset, 4)) ^ FINGERPRINT_XOR
    return int.from_bytes(received, "big") == expected


def verify_integrity(message: Message, key: bytes) -> bool | None:
    """Check MESSAGE-INTEGRITY (HMAC-SHA1) with a short-term ``key`` (the password bytes).

    ``None`` if the message has no MESSAGE-INTEGRITY.
    """
    raw = message.raw
    if raw is None:
        raise ValueError("verify_integrity needs a decoded message (raw bytes)")
    offset = _attribute_offset(raw, AttributeType.MESSAGE_INTEGRITY)
    if offset is None:
        return None
    received = raw[offset + _ATTRIBUTE_HEADER : offset + _ATTRIBUTE_HEADER + _INTEGRITY_LENGTH]
    if len(received) != _INTEGRITY_LENGTH:
        return False
    expected = hmac.new(key, _with_length(raw, offset, _INTEGRITY_LENGTH), hashlib.sha1).digest()
    return hmac.compare_digest(received, expected)


def short_term_key(password: str) -> bytes:
    """RFC 8489 section 9.1.1: the short-term key is the OpaqueString-prepared password.

    natprobe uses the password's UTF-8 bytes; OpaqueString (RFC 8265) leaves ASCII passwords,
    such as ICE's, unchanged.
    """
    return password.encode("utf-8")


def with_attributes(message: Message, extra: Iterable[Attribute]) -> Message:
    """A copy of ``message`` with ``extra`` attributes appended."""
    return Message(message.message_class, message.method, message.transaction_id, message.attributes + tuple(extra))


def long_term_key(username: str, realm: str, password: str) -> bytes:
    """RFC 8489 section 9.2.2 (MD5 algorithm): ``MD5(username ":" realm ":" password)``."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode("utf-8"), usedforsecurity=False).digest()
