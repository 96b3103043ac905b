"""NAT-PMP (RFC 6886) and PCP (RFC 6887) codecs against the RFCs' byte layouts, and fuzzed."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from natprobe.errors import DecodeError
from natprobe.portmap import natpmp, pcp

NONCE = bytes(range(1, 13))


def test_natpmp_external_address_request_is_two_bytes() -> None:
    assert natpmp.encode_external_address_request() == b"\x00\x00"  # RFC 6886 3.2


def test_natpmp_mapping_request_layout() -> None:
    # RFC 6886 3.3: vers 0, op 1 (UDP), reserved 0, internal 22124, suggested 22124, 7200 s.
    data = natpmp.encode_mapping_request(udp=True, internal_port=22124, external_port=22124, lifetime_s=7200)
    assert data == bytes.fromhex("0001 0000 566c 566c 00001c20")
    tcp_delete = natpmp.encode_mapping_request(udp=False, internal_port=80, external_port=0, lifetime_s=0)
    assert tcp_delete == bytes.fromhex("0002 0000 0050 0000 00000000")


def test_natpmp_external_address_response() -> None:
    reply = natpmp.decode_response(bytes.fromhex("0080 0000 00000e10 cb007102"))
    assert reply == natpmp.ExternalAddressResponse(natpmp.ResultCode.SUCCESS, 3600, IPv4Address("203.0.113.2"))
    failure = natpmp.decode_response(bytes.fromhex("0080 0003 00000e10 00000000"))
    assert isinstance(failure, natpmp.ExternalAddressResponse)
    assert failure.result is natpmp.ResultCode.NETWORK_FAILURE


def test_natpmp_mapping_response() -> None:
    reply = natpmp.decode_response(bytes.fromhex("0082 0000 0000000a 0050 1f90 00000e10"))
    assert reply == natpmp.MappingResponse(False, natpmp.ResultCode.SUCCESS, 10, 80, 8080, 3600)
    odd = natpmp.decode_response(bytes.fromhex("0081 0063 0000000a 0050 1f90 00000000"))
    assert isinstance(odd, natpmp.MappingResponse) and odd.result == 99  # unknown code kept


def test_natpmp_reply_from_a_pcp_server_is_reported() -> None:
    assert natpmp.decode_response(bytes.fromhex("0280 0001") + bytes(20)) == natpmp.UnsupportedVersion(2, 1)


@pytest.mark.parametrize("data", ["", "00", "0000", "0080 0000 0000", "0081 0000 00000001 0050", "0085 0000 00000000 00000000"])
def test_natpmp_rejects_requests_and_truncations(data: str) -> None:
    with pytest.raises(DecodeError):
        natpmp.decode_response(bytes.fromhex(data))


def test_pcp_announce_request_layout() -> None:
    # RFC 6887 7.1: version 2, opcode 0, reserved, lifetime 0, client IP as IPv4-mapped IPv6.
    data = pcp.encode_announce_request(IPv4Address("192.168.77.10"))
    assert data == bytes.fromhex("0200 0000 00000000 00000000000000000000ffff c0a84d0a")


def test_pcp_map_request_layout() -> None:
    data = pcp.encode_map_request(
        client=IPv4Address("192.168.77.10"), nonce=NONCE, udp=True,
        internal_port=22124, external_port=22124, lifetime_s=600,
    )
    assert len(data) == 60  # 24-byte header + 36-byte MAP payload (RFC 6887 11.1)
    assert data[:4] == bytes.fromhex("0201 0000") and data[4:8] == (600).to_bytes(4, "big")
    assert data[24:36] == NONCE
    assert data[36:40] == bytes.fromhex("11 000000")  # protocol 17 (UDP), reserved
    assert data[40:44] == bytes.fromhex("566c 566c")
    assert data[44:60] == IPv6Address("::ffff:0.0.0.0").packed  # no suggested address
    tcp = pcp.encode_map_request(client=IPv6Address("2001:db8::5"), nonce=NONCE, udp=False,
                                 internal_port=443, external_port=0, lifetime_s=0)
    assert tcp[8:24] == IPv6Address("2001:db8::5").packed and tcp[36] == 6


def _pcp_map_response(result: int, external: str = "::ffff:203.0.113.2") -> bytes:
    header = bytes.fromhex("0281 00") + bytes([result]) + (600).to_bytes(4, "big") + (42).to_bytes(4, "big") + bytes(12)
    payload = NONCE + bytes.fromhex("11 000000 566c 566d") + IPv6Address(external).packed
    return header + payload


def test_pcp_map_response() -> None:
    reply = pcp.decode_response(_pcp_map_response(0))
    assert reply.result is pcp.ResultCode.SUCCESS and reply.lifetime_s == 600 and reply.epoch_s == 42
    assert reply.map == pcp.MapResult(NONCE, 17, 22124, 22125, IPv4Address("203.0.113.2"))


def test_pcp_address_mismatch_and_nat_pmp_fallback() -> None:
    mismatch = pcp.decode_response(bytes.fromhex("0280 000c") + bytes(20))
    assert mismatch.result is pcp.ResultCode.ADDRESS_MISMATCH and mismatch.map is None
    # A NAT-PMP-only gateway answers a PCP request with its own version 0 and code 1.
    legacy = pcp.decode_response(bytes.fromhex("0081 0001 00000005"))
    assert legacy.version == 0 and legacy.result is pcp.ResultCode.UNSUPP_VERSION


@pytest.mark.parametrize("data", ["", "0281", "0201 0000" + "00" * 20, "0281 0000" + "00" * 10,
                                  "0281 0000" + "00" * 20, "02" * 1101])
def test_pcp_rejects_requests_and_truncations(data: str) -> None:
    with pytest.raises(DecodeError):
        pcp.decode_response(bytes.fromhex(data))


def test_encoders_refuse_bad_arguments() -> None:
    with pytest.raises(ValueError):
        natpmp.encode_mapping_request(udp=True, internal_port=0, external_port=1, lifetime_s=1)
    with pytest.raises(ValueError):
        pcp.encode_map_request(client=IPv4Address("192.0.2.1"), nonce=b"short", udp=True,
                               internal_port=1, external_port=1, lifetime_s=1)


@given(st.binary(max_size=1200))
def test_decoders_raise_only_decode_error(data: bytes) -> None:
    for decode in (natpmp.decode_response, pcp.decode_response):
        try:
            decode(data)
        except DecodeError:
            pass


@given(st.booleans(), st.integers(1, 65535), st.integers(0, 65535), st.integers(0, 2**32 - 1),
       st.binary(min_size=12, max_size=12))
def test_pcp_map_round_trip_through_a_server_echo(udp: bool, internal: int, external: int, lifetime: int,
                                                   nonce: bytes) -> None:
    request = pcp.encode_map_request(client=IPv4Address("192.168.1.2"), nonce=nonce, udp=udp,
                                     internal_port=internal, external_port=external, lifetime_s=lifetime)
    # A server echoes the MAP payload with R set and the result code in byte 3 (RFC 6887 7.2).
    response = bytes([2, request[1] | 0x80, 0, 0]) + request[4:8] + bytes(16) + request[24:]
    decoded = pcp.decode_response(response)
    assert decoded.map is not None
    assert (decoded.map.nonce, decoded.map.internal_port, decoded.map.external_port) == (nonce, internal, external)
    assert decoded.map.protocol == (17 if udp else 6) and decoded.lifetime_s == lifetime
