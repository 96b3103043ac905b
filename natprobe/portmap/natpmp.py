"""NAT-PMP (RFC 6886): the external-address request and the UDP/TCP mapping request.

Layouts (network byte order), RFC 6886 sections 3.2 and 3.3::

    request  0: version 0 | opcode              (2 bytes; opcode 0 = external address)
    request  1/2: version | opcode | reserved(2) | internal port(2) | suggested external port(2)
                  | requested lifetime(4)        (12 bytes)
    response 0: version | 128+op | result(2) | epoch seconds(4) | external IPv4(4)   (12 bytes)
    response 1/2: version | 128+op | result(2) | epoch(4) | internal port(2)
                  | mapped external port(2) | lifetime(4)                         (16 bytes)

A lifetime of 0 (with suggested external port 0) deletes the mapping (section 3.4).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv4Address
from typing import Final

from natprobe.errors import DecodeError

__all__ = (
    "VERSION",
    "Opcode",
    "ResultCode",
    "ExternalAddressResponse",
    "MappingResponse",
    "UnsupportedVersion",
    "encode_external_address_request",
    "encode_mapping_request",
    "decode_response",
)

VERSION: Final = 0
RECOMMENDED_LIFETIME_S: Final = 7200
"""RFC 6886 section 3.3: the recommended lifetime of a mapping."""


class Opcode(IntEnum):
    """RFC 6886 sections 3.2 and 3.3 (a response carries 128 + the request's opcode)."""

    EXTERNAL_ADDRESS = 0
    MAP_UDP = 1
    MAP_TCP = 2


class ResultCode(IntEnum):
    """RFC 6886 section 3.5. Unknown codes are kept as plain ints by the decoder."""

    SUCCESS = 0
    UNSUPPORTED_VERSION = 1
    NOT_AUTHORIZED = 2
    """Refused: e.g. the box supports mapping but the user disabled it."""
    NETWORK_FAILURE = 3
    """e.g. the NAT box itself has not obtained a public address."""
    OUT_OF_RESOURCES = 4
    UNSUPPORTED_OPCODE = 5


def _result(value: int) -> ResultCode | int:
    try:
        return ResultCode(value)
    except ValueError:
        return value


@dataclass(frozen=True, slots=True)
class ExternalAddressResponse:
    result: ResultCode | int
    epoch_s: int
    external_address: IPv4Address


@dataclass(frozen=True, slots=True)
class MappingResponse:
    udp: bool
    result: ResultCode | int
    epoch_s: int
    internal_port: int
    external_port: int
    lifetime_s: int


@dataclass(frozen=True, slots=True)
class UnsupportedVersion:
    """A reply with another version than 0 (a PCP server, RFC 6887 section 9)."""

    version: int
    result: int


def encode_external_address_request() -> bytes:
    """RFC 6886 section 3.2."""
    return bytes((VERSION, Opcode.EXTERNAL_ADDRESS))


def encode_mapping_request(*, udp: bool, internal_port: int, external_port: int, lifetime_s: int) -> bytes:
    """RFC 6886 section 3.3; ``lifetime_s=0`` and ``external_port=0`` delete (section 3.4)."""
    if not 0 < internal_port <= 0xFFFF or not 0 <= external_port <= 0xFFFF:
        raise ValueError("ports must be within 1..65535 (external: 0..65535)")
    if not 0 <= lifetime_s <= 0xFFFFFFFF:
        raise ValueError(f"lifetime out of range: {lifetime_s}")
    opcode = Opcode.MAP_UDP if udp else Opcode.MAP_TCP
    return struct.pack("!BBHHHI", VERSION, opcode, 0, internal_port, external_port, lifetime_s)


def decode_response(data: bytes) -> ExternalAddressResponse | MappingResponse | UnsupportedVersion:
    """Decode a gateway's reply; :class:`DecodeError` for anything that is not one."""
    if len(data) < 4:
        raise DecodeError(f"NAT-PMP reply of {len(data)} bytes is too short")
    version, opcode_byte, result_code = data[0], data[1], int.from_bytes(data[2:4], "big")
    if version != VERSION:
        # RFC 6887 section 9: a PCP server answers a NAT-PMP request with its own version.
        return UnsupportedVersion(version, data[3])
    if opcode_byte < 128:
        raise DecodeError("NAT-PMP message is a request, not a response")
    opcode = Opcode(opcode_byte - 128) if opcode_byte - 128 in (0, 1, 2) else None
    if opcode is None:
        raise DecodeError(f"NAT-PMP response to unknown opcode {opcode_byte - 128}")
    result = _result(result_code)
    if opcode is Opcode.EXTERNAL_ADDRESS:
        if len(data) < 12:
            if result != ResultCode.SUCCESS and len(data) >= 8:
                # Some gateways shorten error replies; the address is meaningless then.
                epoch = int.from_bytes(data[4:8], "big")
                return ExternalAddressResponse(result, epoch, IPv4Address(0))
            raise DecodeError(f"NAT-PMP external-address response of {len(data)} bytes (need 12)")
        epoch, address = struct.unpack_from("!II", data, 4)
        return ExternalAddressResponse(result, epoch, IPv4Address(address))
    if len(data) < 16:
        raise DecodeError(f"NAT-PMP mapping response of {len(data)} bytes (need 16)")
    epoch, internal, external, lifetime = struct.unpack_from("!IHHI", data, 4)
    return MappingResponse(opcode is Opcode.MAP_UDP, result, epoch, internal, external, lifetime)
