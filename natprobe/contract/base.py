"""What every route of the echo server's HTTP API shares: the record base, endpoints, the
error body, and the one decoder (the enums and limits are in :mod:`natprobe.contract.terms`).

Records are frozen :class:`msgspec.Struct` types rather than :mod:`dataclasses`: msgspec
validates and encodes both, but only a Struct can refuse unknown fields
(``forbid_unknown_fields``), and a request that tries to name a target address must be
refused, not silently trimmed. A Struct is as immutable, typed and cheap as a frozen
slotted dataclass.

Decoding raises :class:`~natprobe.errors.DecodeError` only, with one sentence a person can
act on (the server sends it back as a 400; the client reports a malformed answer).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

import msgspec

from natprobe.addressing import IPAddress, TransportAddress
from natprobe.contract.terms import PORT_RANGE, ErrorCode
from natprobe.errors import DecodeError

__all__ = (
    "AnyPort",
    "Endpoint",
    "ErrorBody",
    "ErrorDetail",
    "IpText",
    "Milliseconds",
    "Port",
    "Record",
    "decode",
    "encode",
    "parse_ip",
    "to_json_object",
)

T = TypeVar("T")


class Record(msgspec.Struct, frozen=True):
    """Base of every record on the wire: immutable, typed, encoded by msgspec."""


Port = Annotated[int, msgspec.Meta(ge=PORT_RANGE[0], le=PORT_RANGE[1])]
AnyPort = Annotated[int, msgspec.Meta(ge=0, le=PORT_RANGE[1])]
Milliseconds = Annotated[float, msgspec.Meta(ge=0)]
IpText = Annotated[str, msgspec.Meta(description="IPv4 or IPv6 address", max_length=45)]


def parse_ip(text: str) -> IPAddress:
    """An address field's value as an ``ipaddress`` object (``ValueError`` if it is none)."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None


# --- shared records ------------------------------------------------------------------------------


class Endpoint(Record, frozen=True):
    """An IP address and a port."""

    ip: IpText
    port: AnyPort

    def __post_init__(self) -> None:
        parse_ip(self.ip)

    @classmethod
    def of(cls, address: TransportAddress) -> Endpoint:
        return cls(str(address.ip), address.port)

    @property
    def address(self) -> TransportAddress:
        return TransportAddress(parse_ip(self.ip), self.port)


class ErrorDetail(Record, frozen=True):
    code: ErrorCode
    message: Annotated[str, msgspec.Meta(description="A sentence for a person.")]


class ErrorBody(Record, frozen=True):
    """Every error answer: ``{"error": {"code": ..., "message": ...}}``."""

    error: ErrorDetail


# --- encoding and decoding -----------------------------------------------------------------------

_ENCODER = msgspec.json.Encoder()


def encode(record: Record) -> bytes:
    """The JSON bytes of ``record``."""
    return _ENCODER.encode(record)


def to_json_object(record: Record) -> dict[str, Any]:
    """``record`` as plain JSON values, exactly as on the wire (for embedding in a report)."""
    data: dict[str, Any] = msgspec.json.decode(_ENCODER.encode(record), type=dict[str, Any])
    return data


_AT = re.compile(r" - at `\$\.(\w+)")
_UNKNOWN = re.compile(r"unknown field `([^`]*)`")
_MISSING = re.compile(r"missing required field `([^`]*)`")


def decode(
    data: bytes,
    type_: type[T],
    *,
    rules: Mapping[str, str] | None = None,
    unknown: str = "",
) -> T:
    """Decode and validate ``data`` as ``type_``; :class:`DecodeError` with one clear sentence.

    ``rules`` maps a field to the sentence that states its rule ("port must be an integer
    from 1 to 65535"), said whenever that field is wrong; ``unknown`` is added to the message
    about an unknown field.
    """
    try:
        return msgspec.json.decode(data, type=type_)
    except msgspec.ValidationError as exc:
        raise DecodeError(_explain(str(exc), rules or {}, unknown)) from None
    except msgspec.DecodeError as exc:
        try:
            bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("the body is not UTF-8 text") from None
        raise DecodeError(f"the body is not valid JSON: {exc}") from None


def _explain(detail: str, rules: Mapping[str, str], unknown: str) -> str:
    if (match := _UNKNOWN.search(detail)) is not None:
        return f"unknown field {match.group(1)!r}{unknown}"
    if (match := _MISSING.search(detail)) is not None:
        name = match.group(1)
        return f"field {name!r} is required" + (f": {rules[name]}" if name in rules else "")
    if (match := _AT.search(detail)) is not None and match.group(1) in rules:
        rule = rules[match.group(1)]
        if "matching regex" in detail:  # the pattern itself would not help a person
            return rule
        return f"{rule} ({detail.split(' - at ')[0].lower()})"
    if detail.startswith("Expected `object`"):
        return "the body must be a JSON object"
    return detail[:1].lower() + detail[1:]
