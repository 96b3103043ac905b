"""STUN attribute values and their wire codecs (RFC 8489 section 14, RFC 5780 section 7).

Each attribute type maps to one value type:

==========================================  =========================
address attributes (MAPPED, XOR-MAPPED,      :class:`TransportAddress`
RESPONSE-ORIGIN, OTHER-ADDRESS, CHANGED,
SOURCE, RESPONSE-ADDRESS, ALTERNATE-SERVER)
CHANGE-REQUEST                               :class:`ChangeRequest`
ERROR-CODE                                   :class:`ErrorCodeValue`
UNKNOWN-ATTRIBUTES                           ``tuple[int, ...]``
RESPONSE-PORT                                ``int``
PRIORITY, FINGERPRINT, CACHE-TIMEOUT          ``int``
ICE-CONTROLLED/-CONTROLLING                  ``int`` (64-bit tie breaker)
SOFTWARE, USERNAME, REALM, NONCE, …          ``str``
USE-CANDIDATE                                ``None``
anything else (PADDING, MESSAGE-INTEGRITY,   ``bytes`` (the raw value)
unknown types)
==========================================  =========================

Decoders raise only :class:`~natprobe.errors.DecodeError`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from natprobe.addressing import IPAddress, TransportAddress
from natprobe.errors import DecodeError
from natprobe.stun.types import AttributeType, ChangeFlags


_FAMILY_IPV4 = 0x01
_FAMILY_IPV6 = 0x02


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """RFC 5780 section 7.2: ask the server to answer from another IP and/or port."""

    change_ip: bool = False
    change_port: bool = False

    @property
    def flags(self) -> ChangeFlags:
        flags = ChangeFlags.NONE
        if self.change_ip:
            flags |= ChangeFlags.CHANGE_IP
        if self.change_port:
            flags |= ChangeFlags.CHANGE_PORT
        return flags


@dataclass(frozen=True, slots=True)
class ErrorCodeValue:
    """RFC 8489 section 14.8: a 3-digit error code (300-699) and a reason phrase."""

    code: int
    reason: str = ""

    def __post_init__(self) -> None:
        if not 300 <= self.code <= 699:
            raise ValueError(f"STUN error code must be 300-699: {self.code}")


AttributeValue = TransportAddress | ChangeRequest | ErrorCodeValue | tuple[int, ...] | int | str | bytes | None

ADDRESS_TYPES = frozenset(
    {
        AttributeType.MAPPED_ADDRESS,
        AttributeType.RESPONSE_ADDRESS,
        AttributeType.SOURCE_ADDRESS,
        AttributeType.CHANGED_ADDRESS,
        AttributeType.ALTERNATE_SERVER,
        AttributeType.RESPONSE_ORIGIN,
        AttributeType.OTHER_ADDRESS,
    }
)
XOR_ADDRESS_TYPES = frozenset({AttributeType.XOR_MAPPED_ADDRESS})
STRING_TYPES = frozenset(
    {
        AttributeType.USERNAME,
        AttributeType.REALM,
        AttributeType.NONCE,
        AttributeType.SOFTWARE,
        AttributeType.ALTERNATE_DOMAIN,
    }
)
UINT32_TYPES = frozenset({AttributeType.PRIORITY, AttributeType.FINGERPRINT, AttributeType.CACHE_TIMEOUT})
UINT64_TYPES = frozenset({AttributeType.ICE_CONTROLLED, AttributeType.ICE_CONTROLLING})


# --- addresses -------------------------------------------------------------------------------


def _xor(data: bytes, key: bytes) -> bytes:
    """``data`` XOR the first ``len(data)`` bytes of ``key``, as one big-integer operation."""
    size = len(data)
    return (int.from_bytes(data, "big") ^ int.from_bytes(key[:size], "big")).to_bytes(size, "big")


def decode_address(value: bytes, xor_key: bytes | None = None) -> TransportAddress:
    """RFC 8489 sections 14.1/14.2. ``xor_key`` is header bytes 4..20 for XOR-MAPPED-ADDRESS."""
    if len(value) < 4:
        raise DecodeError(f"address attribute too short ({len(value)} bytes)")
    family = value[1]
    port = int.from_bytes(value[2:4], "big")
    raw_ip = value[4:]
    if family == _FAMILY_IPV4:
        if len(raw_ip) != 4:
            raise DecodeError(f"IPv4 address attribute has {len(value)} bytes, expected 8")
    elif family == _FAMILY_IPV6:
        if len(raw_ip) != 16:
            raise DecodeError(f"IPv6 address attribute has {len(value)} bytes, expected 20")
    else:
        raise DecodeError(f"unknown address family 0x{family:02x}")
    if xor_key is not None:
        port ^= int.from_bytes(xor_key[:2], "big")
        raw_ip = _xor(raw_ip, xor_key)
    ip: IPAddress = ipaddress.IPv4Address(raw_ip) if family == _FAMILY_IPV4 else ipaddress.IPv6Address(raw_ip)
    return TransportAddress(ip, port)


def encode_address(address: TransportAddress, xor_key: bytes | None = None) -> bytes:
    """Inverse of :func:`decode_address`."""
    family = _FAMILY_IPV4 if address.ip.version == 4 else _FAMILY_IPV6
    port = address.port
    raw_ip = address.ip.packed
    if xor_key is not None:
        port ^= int.from_bytes(xor_key[:2], "big")
        raw_ip = _xor(raw_ip, xor_key)
    return bytes((0, family)) + port.to_bytes(2, "big") + raw_ip


# --- per-type codecs -------------------------------------------------------------------------


def _decode_text(value: bytes) -> str:
    # Informational text from a peer: a stray invalid byte must not make the message unusable.
    return value.decode("utf-8", errors="replace")


def _decode_error_code(value: bytes) -> ErrorCodeValue:
    if len(value) < 4:
        raise DecodeError(f"ERROR-CODE too short ({len(value)} bytes)")
    klass = value[2] & 0x07
    number = value[3]
    if not 3 <= klass <= 6 or number > 99:
        raise DecodeError(f"ERROR-CODE out of range: class {klass}, number {number}")
    return ErrorCodeValue(klass * 100 + number, _decode_text(value[4:]))


def _encode_error_code(value: ErrorCodeValue) -> bytes:
    return bytes((0, 0, value.code // 100, value.code % 100)) + value.reason.encode("utf-8")


def _decode_change_request(value: bytes) -> ChangeRequest:
    if len(value) != 4:
        raise DecodeError(f"CHANGE-REQUEST must be 4 bytes, got {len(value)}")
    flags = int.from_bytes(value, "big")
    return ChangeRequest(bool(flags & ChangeFlags.CHANGE_IP), bool(flags & ChangeFlags.CHANGE_PORT))


def _decode_response_port(value: bytes) -> int:
    # RFC 5780 7.5 says 16-bit port + 2 bytes of padding (length 4); stuntman sends length 2
    # (libjuice PR #351). Accept both; always send 4.
    if len(value) not in (2, 4):
        raise DecodeError(f"RESPONSE-PORT must be 2 or 4 bytes, got {len(value)}")
    return int.from_bytes(value[:2], "big")


def _decode_unknown_attributes(value: bytes) -> tuple[int, ...]:
    if len(value) % 2:
        raise DecodeError("UNKNOWN-ATTRIBUTES length is odd")
    return tuple(int.from_bytes(value[i : i + 2], "big") for i in range(0, len(value), 2))


def _fixed_uint(size: int) -> Callable[[bytes], int]:
    def decode(value: bytes) -> int:
        if len(value) != size:
            raise DecodeError(f"expected a {size}-byte integer, got {len(value)} bytes")
        return int.from_bytes(value, "big")

    return decode


def _decode_empty(value: bytes) -> None:
    if value:
        raise DecodeError(f"expected an empty attribute, got {len(value)} bytes")
    return None


_DECODERS: dict[int, Callable[[bytes], AttributeValue]] = {
    AttributeType.CHANGE_REQUEST: _decode_change_request,
    AttributeType.ERROR_CODE: _decode_error_code,
    AttributeType.UNKNOWN_ATTRIBUTES: _decode_unknown_attributes,
    AttributeType.RESPONSE_PORT: _decode_response_port,
    AttributeType.USE_CANDIDATE: _decode_empty,
}
for _t in STRING_TYPES:
    _DECODERS[_t] = _decode_text
for _t in UINT32_TYPES:
    _DECODERS[_t] = _fixed_uint(4)
for _t in UINT64_TYPES:
    _DECODERS[_t] = _fixed_uint(8)
for _t in ADDRESS_TYPES:
    _DECODERS[_t] = decode_address


def decode_value(attribute_type: int, value: bytes, xor_key: bytes) -> AttributeValue:
    """Decode one attribute value; unknown types stay ``bytes``."""
    if attribute_type in XOR_ADDRESS_TYPES:
        return decode_address(value, xor_key)
    decoder = _DECODERS.get(attribute_type)
    if decoder is None:
        return value
    return decoder(value)


def encode_value(attribute_type: int, value: AttributeValue, xor_key: bytes) -> bytes:
    """Encode one attribute value (no TLV header, no padding). Raises ``ValueError`` on a mismatch."""
    if attribute_type in XOR_ADDRESS_TYPES or attribute_type in ADDRESS_TYPES:
        if not isinstance(value, TransportAddress):
            raise ValueError(f"attribute 0x{attribute_type:04x} needs a TransportAddress")
        return encode_address(value, xor_key if attribute_type in XOR_ADDRESS_TYPES else None)
    if isinstance(value, bytes):
        return value
    if attribute_type == AttributeType.CHANGE_REQUEST and isinstance(value, ChangeRequest):
        return int(value.flags).to_bytes(4, "big")
    if attribute_type == AttributeType.ERROR_CODE and isinstance(value, ErrorCodeValue):
        return _encode_error_code(value)
    if attribute_type == AttributeType.UNKNOWN_ATTRIBUTES and isinstance(value, tuple):
        return b"".join(t.to_bytes(2, "big") for t in value)
    if attribute_type == AttributeType.RESPONSE_PORT and isinstance(value, int):
        return value.to_bytes(2, "big") + b"\x00\x00"
    if attribute_type in STRING_TYPES and isinstance(value, str):
        return value.encode("utf-8")
    if attribute_type in UINT32_TYPES and isinstance(value, int):
        return value.to_bytes(4, "big")
    if attribute_type in UINT64_TYPES and isinstance(value, int):
        return value.to_bytes(8, "big")
    if attribute_type == AttributeType.USE_CANDIDATE and value is None:
        return b""
    raise ValueError(f"cannot encode {type(value).__name__} as attribute 0x{attribute_type:04x}")


