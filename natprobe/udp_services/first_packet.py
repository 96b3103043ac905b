"""The four first packets and their answers (RFC-cited per codec)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from natprobe.errors import DecodeError

__all__ = (
    "FIRST_PACKETS",
    "FirstPacket",
    "ServiceAnswer",
    "dns_query",
    "ntp_request",
    "openvpn_hard_reset",
    "parse_dns",
    "parse_ntp",
    "parse_openvpn",
    "parse_quic",
    "quic_version_probe",
)

SEED_BYTES = 16
"""Random bytes a request is built from (session ids, transaction id, timestamps, connection ids)."""


@dataclass(frozen=True, slots=True)
class ServiceAnswer:
    """What answered: a short technical description (not translated, e.g. ``stratum 2``)."""

    detail: str


# --- OpenVPN (openvpn/src/openvpn/ssl_pkt.h, "P_CONTROL_HARD_RESET_CLIENT_V2") ---------------------

_OVPN_HARD_RESET_CLIENT_V2 = 7
_OVPN_HARD_RESET_SERVER_V2 = 8


def openvpn_hard_reset(seed: bytes) -> bytes:
    """``P_CONTROL_HARD_RESET_CLIENT_V2`` without tls-auth: opcode/key id, our session id (8),
    an empty ACK array, message packet id 0. A server without tls-auth/tls-crypt answers it."""
    return bytes([_OVPN_HARD_RESET_CLIENT_V2 << 3]) + seed[:8] + b"\x00" + (0).to_bytes(4, "big")


def parse_openvpn(reply: bytes, seed: bytes) -> ServiceAnswer:
    """``P_CONTROL_HARD_RESET_SERVER_V2`` acknowledging our packet 0 for our session id."""
    if len(reply) < 1 + 8 + 1 or reply[0] >> 3 != _OVPN_HARD_RESET_SERVER_V2:
        raise DecodeError("not an OpenVPN P_CONTROL_HARD_RESET_SERVER_V2")
    acks = reply[9]
    end = 10 + 4 * acks
    if acks < 1 or len(reply) < end + 8:
        raise DecodeError("OpenVPN hard reset without an acknowledgement")
    if reply[end : end + 8] != seed[:8]:
        raise DecodeError("OpenVPN hard reset for another session")
    return ServiceAnswer("P_CONTROL_HARD_RESET_SERVER_V2")


# --- DNS (RFC 1035 section 4.1) -------------------------------------------------------------------

_DNS_RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def dns_query(seed: bytes) -> bytes:
    """A query for the root's NS records (``. IN NS``), no recursion asked: any DNS server
    answers it (possibly REFUSED, which still proves a DNS server is reachable). 17 bytes."""
    header = seed[:2] + struct.pack("!HHHHH", 0x0000, 1, 0, 0, 0)
    return header + b"\x00" + struct.pack("!HH", 2, 1)


def parse_dns(reply: bytes, seed: bytes) -> ServiceAnswer:
    if len(reply) < 12 or reply[:2] != seed[:2] or not reply[2] & 0x80:
        raise DecodeError("not a DNS response to this query")
    rcode = reply[3] & 0x0F
    return ServiceAnswer(f"rcode {_DNS_RCODES.get(rcode, str(rcode))}")


# --- NTP (RFC 5905 section 7.3) -------------------------------------------------------------------


def ntp_request(seed: bytes) -> bytes:
    """A 48-byte NTPv4 client packet (LI 0, VN 4, mode 3) whose transmit timestamp is random:
    the server copies it into its origin timestamp (RFC 5905 section 8)."""
    return bytes([0x23]) + bytes(39) + seed[:8]


def parse_ntp(reply: bytes, seed: bytes) -> ServiceAnswer:
    if len(reply) < 48 or reply[0] & 0x07 != 4 or reply[24:32] != seed[:8]:
        raise DecodeError("not an NTP server answer to this request")
    return ServiceAnswer(f"stratum {reply[1]}")


# --- QUIC (RFC 9000 sections 6, 14.1 and 17.2.1) ---------------------------------------------------

QUIC_DATAGRAM_BYTES = 1200
"""A client's first datagram is at least 1200 bytes (RFC 9000 section 14.1), else servers drop it."""
_QUIC_FORCE_NEGOTIATION = 0x1A2A3A4A
"""A reserved version of the form 0x?a?a?a?a (RFC 9000 section 15): no server supports it."""


def quic_version_probe(seed: bytes) -> bytes:
    """A long-header packet with a version no server speaks, padded to 1200 bytes: a QUIC
    server answers with Version Negotiation, echoing our connection ids swapped."""
    dcid, scid = seed[:8], seed[8:16]
    packet = bytes([0xC0]) + _QUIC_FORCE_NEGOTIATION.to_bytes(4, "big") + bytes([8]) + dcid + bytes([8]) + scid
    return packet + bytes(QUIC_DATAGRAM_BYTES - len(packet))


def parse_quic(reply: bytes, seed: bytes) -> ServiceAnswer:
    """Version Negotiation (RFC 9000 section 17.2.1): version 0, DCID = our SCID, SCID = our DCID."""
    if len(reply) < 7 or not reply[0] & 0x80 or reply[1:5] != bytes(4):
        raise DecodeError("not a QUIC Version Negotiation packet")
    at = 5
    fields = []
    for _ in range(2):
        if len(reply) < at + 1 or len(reply) < at + 1 + reply[at]:
            raise DecodeError("truncated QUIC connection id")
        fields.append(reply[at + 1 : at + 1 + reply[at]])
        at += 1 + reply[at]
    if fields != [seed[8:16], seed[:8]]:
        raise DecodeError("QUIC Version Negotiation for other connection ids")
    versions = [int.from_bytes(reply[i : i + 4], "big") for i in range(at, len(reply) - 3, 4)][:8]
    return ServiceAnswer("versions " + ", ".join(f"0x{v:08x}" for v in versions) if versions else "no versions")


@dataclass(frozen=True, slots=True)
class FirstPacket:
    """A service's first packet: how to build it from a seed and how to read its answer."""

    name: str
    build: Callable[[bytes], bytes]
    parse: Callable[[bytes, bytes], ServiceAnswer]
    size: int
    """Bytes of the request (what each attempt costs the byte budget)."""


FIRST_PACKETS: dict[str, FirstPacket] = {
    "openvpn": FirstPacket("openvpn", openvpn_hard_reset, parse_openvpn, 14),
    "dns": FirstPacket("dns", dns_query, parse_dns, 17),
    "ntp": FirstPacket("ntp", ntp_request, parse_ntp, 48),
    "quic": FirstPacket("quic", quic_version_probe, parse_quic, QUIC_DATAGRAM_BYTES),
}
"""By the probe mode's value."""
