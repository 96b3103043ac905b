"""Sans-I/O STUN: RFC 8489 messages, RFC 5780 NAT-behaviour attributes, RFC 3489 compatibility.

Nothing in this package touches a socket or an event loop; see :mod:`natprobe.adapters`
for the asyncio adapters.
"""

from natprobe.stun.attributes import ChangeRequest, ErrorCodeValue
from natprobe.addressing import TransportAddress
from natprobe.stun.framing import StreamDecoder
from natprobe.stun.message import (
    Attribute,
    Message,
    binding_request,
    decode,
    encode,
    is_stun,
    long_term_key,
    new_transaction_id,
    short_term_key,
    verify_fingerprint,
    verify_integrity,
)
from natprobe.stun.types import (
    DEFAULT_PORT,
    MAGIC_COOKIE,
    AttributeType,
    ChangeFlags,
    ErrorCode,
    MessageClass,
    Method,
)

__all__ = (
    "Attribute",
    "AttributeType",
    "ChangeFlags",
    "ChangeRequest",
    "DEFAULT_PORT",
    "ErrorCode",
    "ErrorCodeValue",
    "MAGIC_COOKIE",
    "Message",
    "MessageClass",
    "Method",
    "StreamDecoder",
    "TransportAddress",
    "binding_request",
    "decode",
    "encode",
    "is_stun",
    "long_term_key",
    "new_transaction_id",
    "short_term_key",
    "verify_fingerprint",
    "verify_integrity",
)
