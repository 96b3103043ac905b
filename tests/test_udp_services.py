"""The first packets of silent-by-default UDP services (pure): requests, answers, one error type."""

from __future__ import annotations

import os
import struct

import dns.message
import dns.rcode
import pytest
from hypothesis import given
from hypothesis import strategies as st

from natprobe.contract.terms import UDP_SERVICE_BYTES, ProbeMode
from natprobe.errors import DecodeError
from natprobe.udp_services import FIRST_PACKETS
from natprobe.udp_services.first_packet import (
    dns_query,
    ntp_request,
    openvpn_hard_reset,
    parse_dns,
    parse_ntp,
    parse_openvpn,
    parse_quic,
    quic_version_probe,
)

SEED = bytes(range(16))


def test_sizes_match_the_contract_budget() -> None:
    for name, packet in FIRST_PACKETS.items():
        assert len(packet.build(os.urandom(16))) == packet.size == UDP_SERVICE_BYTES[ProbeMode(name)]


def test_openvpn_hard_reset_and_its_answer() -> None:
    request = openvpn_hard_reset(SEED)
    assert request[0] == 7 << 3 and request[1:9] == SEED[:8] and request[9] == 0
    server_session = b"S" * 8
    answer = bytes([8 << 3]) + server_session + b"\x01" + (0).to_bytes(4, "big") + SEED[:8] + (0).to_bytes(4, "big")
    assert parse_openvpn(answer, SEED).detail == "P_CONTROL_HARD_RESET_SERVER_V2"
    other = bytes([8 << 3]) + server_session + b"\x01" + bytes(4) + b"X" * 8 + bytes(4)
    for bad in (other, answer[:12], bytes([7 << 3]) + answer[1:], bytes([8 << 3]) + server_session + b"\x00" + bytes(4)):
        with pytest.raises(DecodeError):
            parse_openvpn(bad, SEED)


def test_dns_query_is_read_by_dnspython_and_its_answer_parsed() -> None:
    query = dns.message.from_wire(dns_query(SEED))
    assert query.id == int.from_bytes(SEED[:2], "big") and str(query.question[0]) == ". IN NS"
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.REFUSED)
    assert parse_dns(response.to_wire(), SEED).detail == "rcode REFUSED"
    with pytest.raises(DecodeError):
        parse_dns(dns_query(SEED), SEED)  # a query is not an answer
    with pytest.raises(DecodeError):
        parse_dns(response.to_wire(), bytes(16))  # another transaction


def test_ntp_request_and_answer() -> None:
    request = ntp_request(SEED)
    assert len(request) == 48 and request[0] == 0x23 and request[40:48] == SEED[:8]
    answer = bytearray(48)
    answer[0], answer[1] = 0x24, 2  # LI 0, VN 4, mode 4 (server); stratum 2
    answer[24:32] = SEED[:8]  # origin timestamp = our transmit timestamp (RFC 5905 section 8)
    assert parse_ntp(bytes(answer), SEED).detail == "stratum 2"
    answer[24] ^= 1
    with pytest.raises(DecodeError):
        parse_ntp(bytes(answer), SEED)


def test_quic_version_probe_and_version_negotiation() -> None:
    request = quic_version_probe(SEED)
    assert len(request) == 1200 and request[0] & 0xC0 == 0xC0
    assert request[1:5] == bytes.fromhex("1a2a3a4a")  # a reserved, never-supported version
    negotiation = bytes([0x80]) + bytes(4) + bytes([8]) + SEED[8:16] + bytes([8]) + SEED[:8]
    negotiation += struct.pack("!II", 1, 0x6B3343CF)
    assert parse_quic(negotiation, SEED).detail == "versions 0x00000001, 0x6b3343cf"
    with pytest.raises(DecodeError):
        parse_quic(negotiation[:6], SEED)
    with pytest.raises(DecodeError):
        parse_quic(negotiation, bytes(16))


@given(st.binary(max_size=1500), st.sampled_from(sorted(FIRST_PACKETS)))
def test_any_bytes_parse_or_raise_decode_error(data: bytes, name: str) -> None:
    try:
        FIRST_PACKETS[name].parse(data, SEED)
    except DecodeError:
        pass
