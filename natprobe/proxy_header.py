"""The PROXY protocol header (HAProxy's PROXY protocol, versions 1 and 2): pure codec.

A relay that terminates the client's TCP connection (nginx ``stream`` with
``proxy_protocol on;``, HAProxy ``send-proxy``) can put the client's real address in front
of the stream it forwards. natprobe reads it when it listens on a port under test through a
relay, to say what a service behind the relay could learn. Specification:
https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt (section 2.1: the text form,
at most 107 bytes ending in CRLF; section 2.2: the binary form, a 12-byte signature, then
version/command, family/transport and a 16-bit length).

:func:`parse_proxy_header` raises only :class:`~natprobe.errors.DecodeError`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

from natprobe.addressing import IPAddress
from natprobe.errors import DecodeError

__all__ = ("V1_MAX", "V2_SIGNATURE", "ProxyHeader", "header_length", "parse_proxy_header")

V1_PREFIX: Final = b"PROXY "
V1_MAX: Final = 107
"""Section 2.1: the longest v1 line, CRLF included."""
V2_SIGNATURE: Final = b"\r\n\r\n\x00\r\nQUIT\n"
_V2_FIXED = 16


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """What a PROXY header said: its version (1 or 2), and for a proxied TCP connection the
    client's and the relay's addresses (``None`` for ``UNKNOWN`` / ``LOCAL``)."""

    version: int
    source: IPAddress | None
    source_port: int | None
    destination: IPAddress | None
    destination_port: int | None
    length: int
    """Bytes the header took at the start of the stream."""


def header_length(data: bytes) -> int | None:
    """How many bytes the header at the start of ``data`` takes: 0 when ``data`` does not start
    with one, ``None`` when more bytes are needed to tell."""
    if len(data) < len(V1_PREFIX):
        return None if (V1_PREFIX.startswith(data) or V2_SIGNATURE.startswith(data)) else 0
    if data.startswith(V1_PREFIX):
        end = data.find(b"\r\n", 0, V1_MAX)
        if end < 0:
            if len(data) >= V1_MAX:
                raise DecodeError("PROXY v1 header without CRLF within 107 bytes")
            return None
        return end + 2
    if V2_SIGNATURE.startswith(data[:12]):
        if len(data) < _V2_FIXED:
            return None
        if data[:12] != V2_SIGNATURE:
            return 0
        return _V2_FIXED + int.from_bytes(data[14:16], "big")
    return 0


def _port(text: bytes) -> int:
    if not text.isdigit() or len(text) > 5 or int(text) > 65535:
        raise DecodeError(f"PROXY v1 port {text[:8]!r} is not a port")
    return int(text)


def _ip(text: bytes, version: int) -> IPAddress:
    try:
        ip = ipaddress.ip_address(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise DecodeError(f"PROXY v1 address {text[:40]!r} is not an IP address") from None
    if ip.version != version:
        raise DecodeError(f"PROXY v1 address {ip} is not IPv{version}")
    return ip


def parse_proxy_header(data: bytes) -> ProxyHeader | None:
    """The header at the start of ``data``; ``None`` when there is none. ``data`` must hold the
    whole header (see :func:`header_length`)."""
    length = header_length(data)
    if length == 0:
        return None
    if length is None or len(data) < length:
        raise DecodeError("truncated PROXY header")
    if data.startswith(V1_PREFIX):
        fields = data[: length - 2].split(b" ")
        if fields[1:2] == [b"UNKNOWN"]:
            return ProxyHeader(1, None, None, None, None, length)
        if len(fields) != 6 or fields[1] not in (b"TCP4", b"TCP6"):
            raise DecodeError("PROXY v1 header is not 'PROXY TCP4|TCP6 src dst sport dport'")
        version = 4 if fields[1] == b"TCP4" else 6
        return ProxyHeader(1, _ip(fields[2], version), _port(fields[4]), _ip(fields[3], version), _port(fields[5]),
                           length)
    version_command, family = data[12], data[13]
    if version_command >> 4 != 2:
        raise DecodeError(f"PROXY v2 header with version {version_command >> 4}")
    command = version_command & 0x0F
    if command == 0:  # LOCAL: the relay's own connection (a health check)
        return ProxyHeader(2, None, None, None, None, length)
    if command != 1:
        raise DecodeError(f"PROXY v2 header with command {command}")
    body = data[_V2_FIXED:length]
    if family >> 4 == 1 and len(body) >= 12:
        return ProxyHeader(2, ipaddress.IPv4Address(body[0:4]), int.from_bytes(body[8:10], "big"),
                           ipaddress.IPv4Address(body[4:8]), int.from_bytes(body[10:12], "big"), length)
    if family >> 4 == 2 and len(body) >= 36:
        return ProxyHeader(2, ipaddress.IPv6Address(body[0:16]), int.from_bytes(body[32:34], "big"),
                           ipaddress.IPv6Address(body[16:32]), int.from_bytes(body[34:36], "big"), length)
    if family >> 4 == 0:
        return ProxyHeader(2, None, None, None, None, length)
    raise DecodeError(f"PROXY v2 header with family {family:#04x} and {len(body)} address bytes")
