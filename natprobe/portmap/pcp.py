"""PCP (RFC 6887): ANNOUNCE and MAP requests, and their responses.

Layouts (network byte order)::

    request header (section 7.1, 24 bytes):
        version 2 | R=0,opcode | reserved(2) | requested lifetime(4) | client IP(16)
    response header (section 7.2, 24 bytes):
        version | R=1,opcode | reserved(1) | result(1) | lifetime(4) | epoch(4) | reserved(12)
    MAP payload (section 11.1, 36 bytes, in requests and responses):
        nonce(12) | protocol(1) | reserved(3) | internal port(2)
        | suggested/assigned external port(2) | suggested/assigned external IP(16)

IPv4 addresses travel as IPv4-mapped IPv6 (section 5). Options are neither sent nor read
(section 7.3 lets a client ignore the ones it does not understand in a response). A MAP with
lifetime 0 and the same nonce, protocol and internal port deletes the mapping (section 15).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv4Address, IPv6Address
from typing import Final

from natprobe.addressing import IPAddress, to_ipv4_mapped, unmap
from natprobe.errors import DecodeError

__all__ = (
    "VERSION",
    "NONCE_SIZE",
    "Opcode",
    "ResultCode",
    "PcpResponse",
    "MapResult",
    "encode_announce_request",
    "encode_map_request",
    "decode_response",
)

VERSION: Final = 2
NONCE_SIZE: Final = 12
HEADER_SIZE: Final = 24
MAP_SIZE: Final = 36
MAX_SIZE: Final = 1100
"""Section 7: a PCP message is at most 1100 bytes."""
IPPROTO_TCP: Final = 6
IPPROTO_UDP: Final = 17


class Opcode(IntEnum):
    """RFC 6887 section 19.2."""

    ANNOUNCE = 0
    MAP = 1
    PEER = 2


class ResultCode(IntEnum):
    """RFC 6887 section 7.4. Unknown codes are kept as plain ints by the decoder."""

    SUCCESS = 0
    UNSUPP_VERSION = 1
    """The server speaks another version (a NAT-PMP-only gateway answers with version 0)."""
    NOT_AUTHORIZED = 2
    MALFORMED_REQUEST = 3
    UNSUPP_OPCODE = 4
    UNSUPP_OPTION = 5
    MALFORMED_OPTION = 6
    NETWORK_FAILURE = 7
    NO_RESOURCES = 8
    UNSUPP_PROTOCOL = 9
    USER_EX_QUOTA = 10
    CANNOT_PROVIDE_EXTERNAL = 11
    ADDRESS_MISMATCH = 12
    """Section 8.3: the source address the server saw is not the client address in the
    request -- a NAT sits between the client and the PCP server."""
    EXCESSIVE_REMOTE_PEERS = 13


def _result(value: int) -> ResultCode | int:
    try:
        return ResultCode(value)
    except ValueError:
        return value


@dataclass(frozen=True, slots=True)
class MapResult:
    """The MAP payload of a response (section 11.1)."""

    nonce: bytes
    protocol: int
    internal_port: int
    external_port: int
    external_address: IPAddress
    """IPv4-mapped addresses are returned as IPv4."""


@dataclass(frozen=True, slots=True)
class PcpResponse:
    version: int
    opcode: int
    result: ResultCode | int
    lifetime_s: int
    epoch_s: int
    map: MapResult | None = None
    """Present for a MAP response of version 2 that carries its payload."""


def _address_bytes(address: IPAddress) -> bytes:
    if isinstance(address, IPv4Address):
        return to_ipv4_mapped(address).packed
    return address.packed


def _header(opcode: Opcode, lifetime_s: int, client: IPAddress) -> bytes:
    if not 0 <= lifetime_s <= 0xFFFFFFFF:
        raise ValueError(f"lifetime out of range: {lifetime_s}")
    return struct.pack("!BBHI", VERSION, opcode, 0, lifetime_s) + _address_bytes(client)


def encode_announce_request(client: IPAddress) -> bytes:
    """Section 14.1: asks nothing, but proves the server speaks PCP and checks the address."""
    return _header(Opcode.ANNOUNCE, 0, client)


def encode_map_request(
    *,
    client: IPAddress,
    nonce: bytes,
    udp: bool,
    internal_port: int,
    external_port: int,
    lifetime_s: int,
    external_address: IPAddress = IPv4Address(0),
) -> bytes:
    """Section 11.1. ``external_port``/``external_address`` are suggestions (0 / 0.0.0.0:
    none); ``lifetime_s=0`` deletes the mapping named by nonce, protocol and internal port."""
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"the mapping nonce is {NONCE_SIZE} bytes, not {len(nonce)}")
    if not 0 < internal_port <= 0xFFFF or not 0 <= external_port <= 0xFFFF:
        raise ValueError("ports must be within 1..65535 (external: 0..65535)")
    protocol = IPPROTO_UDP if udp else IPPROTO_TCP
    payload = nonce + struct.pack("!B3xHH", protocol, internal_port, external_port)
    return _header(Opcode.MAP, lifetime_s, client) + payload + _address_bytes(external_address)


def decode_response(data: bytes) -> PcpResponse:
    """Decode a PCP response (or a NAT-PMP "unsupported version" reply, section 9).

    A reply of version 0 is a NAT-PMP gateway's: it is returned with its result code and
    nothing else, so the caller can fall back to NAT-PMP.
    """
    if len(data) < 4:
        raise DecodeError(f"PCP reply of {len(data)} bytes is too short")
    if len(data) > MAX_SIZE:
        raise DecodeError(f"PCP reply of {len(data)} bytes is longer than {MAX_SIZE}")
    version = data[0]
    if version == 0:
        # NAT-PMP's reply: version 0, opcode 128 + ours, a 16-bit result code.
        return PcpResponse(0, data[1] & 0x7F, _result(int.from_bytes(data[2:4], "big")), 0, 0)
    if not data[1] & 0x80:
        raise DecodeError("PCP message is a request, not a response")
    if len(data) < HEADER_SIZE:
        raise DecodeError(f"PCP response of {len(data)} bytes (the header alone is {HEADER_SIZE})")
    opcode = data[1] & 0x7F
    result = _result(data[3])
    lifetime, epoch = struct.unpack_from("!II", data, 4)
    mapping = None
    if version == VERSION and opcode == Opcode.MAP and len(data) >= HEADER_SIZE + MAP_SIZE:
        body = data[HEADER_SIZE:HEADER_SIZE + MAP_SIZE]
        protocol, internal, external = struct.unpack_from("!B3xHH", body, NONCE_SIZE)
        address = unmap(IPv6Address(body[20:36]))
        mapping = MapResult(bytes(body[:NONCE_SIZE]), protocol, internal, external, address)
    elif version == VERSION and opcode == Opcode.MAP and result == ResultCode.SUCCESS:
        raise DecodeError(f"PCP MAP success of {len(data)} bytes has no MAP payload")
    return PcpResponse(version, opcode, result, lifetime, epoch, mapping)
