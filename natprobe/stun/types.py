"""STUN wire values: message classes, methods, attribute types and error codes.

Every value here is defined by an RFC; each enum's docstring says which. Values that natprobe
does not know survive decoding as plain ``int`` (see :func:`known_or_int`), so a message from
a newer peer is never rejected for carrying something we have not heard of.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag
from typing import TypeVar

MAGIC_COOKIE = 0x2112A442
"""RFC 8489 section 5: fixed value in bytes 4..8 of every RFC 5389/8489 message."""

MAGIC_COOKIE_BYTES = MAGIC_COOKIE.to_bytes(4, "big")

HEADER_LENGTH = 20
"""RFC 8489 section 5: the fixed header is 20 bytes."""

TRANSACTION_ID_LENGTH = 12
"""RFC 8489 section 5: 96-bit transaction id."""

LEGACY_TRANSACTION_ID_LENGTH = 16
"""RFC 3489 section 11.1: 128-bit transaction id (no magic cookie)."""

FINGERPRINT_XOR = 0x5354554E
"""RFC 8489 section 14.7: the CRC-32 is XORed with the ASCII of "STUN"."""

DEFAULT_PORT = 3478
"""RFC 8489 section 18.6 / RFC 5780 section 5: default STUN port over UDP and TCP."""


class MessageClass(IntEnum):
    """RFC 8489 section 5: the two class bits C1 C0 of the message type."""

    REQUEST = 0b00
    INDICATION = 0b01
    SUCCESS_RESPONSE = 0b10
    ERROR_RESPONSE = 0b11


class Method(IntEnum):
    """RFC 8489 section 18.2 (STUN Methods registry). Only Binding is defined by STUN itself."""

    BINDING = 0x001


class AttributeType(IntEnum):
    """STUN attribute types (IANA "STUN Attributes" registry).

    Below 0x8000 comprehension-required, above comprehension-optional (RFC 8489 section 14).
    """

    MAPPED_ADDRESS = 0x0001  # RFC 8489 section 14.1
    RESPONSE_ADDRESS = 0x0002  # RFC 3489 section 11.2.2 (deprecated; never honoured by natprobe)
    CHANGE_REQUEST = 0x0003  # RFC 5780 section 7.2 (RFC 3489 section 11.2.4)
    SOURCE_ADDRESS = 0x0004  # RFC 3489 section 11.2.5
    CHANGED_ADDRESS = 0x0005  # RFC 3489 section 11.2.3
    USERNAME = 0x0006  # RFC 8489 section 14.3
    MESSAGE_INTEGRITY = 0x0008  # RFC 8489 section 14.5
    ERROR_CODE = 0x0009  # RFC 8489 section 14.8
    UNKNOWN_ATTRIBUTES = 0x000A  # RFC 8489 section 14.9
    REALM = 0x0014  # RFC 8489 section 14.9
    NONCE = 0x0015  # RFC 8489 section 14.10
    MESSAGE_INTEGRITY_SHA256 = 0x001C  # RFC 8489 section 14.6
    PASSWORD_ALGORITHM = 0x001D  # RFC 8489 section 14.12
    USERHASH = 0x001E  # RFC 8489 section 14.4
    XOR_MAPPED_ADDRESS = 0x0020  # RFC 8489 section 14.2
    PRIORITY = 0x0024  # RFC 8445 section 16.1
    USE_CANDIDATE = 0x0025  # RFC 8445 section 16.1
    PADDING = 0x0026  # RFC 5780 section 7.6
    RESPONSE_PORT = 0x0027  # RFC 5780 section 7.5
    PASSWORD_ALGORITHMS = 0x8002  # RFC 8489 section 14.11
    ALTERNATE_DOMAIN = 0x8003  # RFC 8489 section 14.16
    SOFTWARE = 0x8022  # RFC 8489 section 14.14
    ALTERNATE_SERVER = 0x8023  # RFC 8489 section 14.15
    CACHE_TIMEOUT = 0x8027  # RFC 5780 section 7.7
    FINGERPRINT = 0x8028  # RFC 8489 section 14.7
    ICE_CONTROLLED = 0x8029  # RFC 8445 section 16.1
    ICE_CONTROLLING = 0x802A  # RFC 8445 section 16.1
    RESPONSE_ORIGIN = 0x802B  # RFC 5780 section 7.3
    OTHER_ADDRESS = 0x802C  # RFC 5780 section 7.4 (IANA number; CHANGED-ADDRESS stays 0x0005)


def is_comprehension_required(attribute_type: int) -> bool:
    """RFC 8489 section 14: types 0x0000-0x7FFF must be understood by the receiver."""
    return attribute_type < 0x8000


class ErrorCode(IntEnum):
    """RFC 8489 section 14.8 and RFC 5780 section 6 error codes natprobe uses."""

    TRY_ALTERNATE = 300
    BAD_REQUEST = 400
    UNAUTHENTICATED = 401
    UNKNOWN_ATTRIBUTE = 420
    STALE_NONCE = 438
    SERVER_ERROR = 500


class ChangeFlags(IntFlag):
    """RFC 5780 section 7.2: CHANGE-REQUEST flag bits (A = change IP, B = change port)."""

    NONE = 0
    CHANGE_PORT = 0x2
    CHANGE_IP = 0x4


_E = TypeVar("_E", bound=IntEnum)


def known_or_int(enum: type[_E], value: int) -> _E | int:
    """The enum member for ``value``, or ``value`` itself when the enum does not know it."""
    try:
        return enum(value)
    except ValueError:
        return value
