"""The PROXY protocol header codec: v1 text, v2 binary, and one error type for bad input."""

import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from natprobe.errors import DecodeError
from natprobe.proxy_header import V2_SIGNATURE, header_length, parse_proxy_header


def test_v1_as_nginx_sends_it():
    data = b"PROXY TCP4 198.51.100.11 192.0.2.2 40123 9443\r\nnatprobe-nonce:00"
    header = parse_proxy_header(data)
    assert header is not None and header.version == 1
    assert (header.source, header.source_port) == (ipaddress.ip_address("198.51.100.11"), 40123)
    assert (header.destination, header.destination_port) == (ipaddress.ip_address("192.0.2.2"), 9443)
    assert data[header.length:] == b"natprobe-nonce:00"


def test_v1_unknown_and_v6():
    assert parse_proxy_header(b"PROXY UNKNOWN\r\n").source is None
    header = parse_proxy_header(b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n")
    assert header.source == ipaddress.ip_address("2001:db8::1")


def test_v2_ipv4():
    body = ipaddress.IPv4Address("198.51.100.11").packed + ipaddress.IPv4Address("192.0.2.2").packed + struct.pack("!HH", 5, 443)
    data = V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body + b"rest"
    header = parse_proxy_header(data)
    assert header.version == 2 and str(header.source) == "198.51.100.11" and header.destination_port == 443
    assert data[header.length:] == b"rest"


def test_no_header_and_partial_header():
    assert parse_proxy_header(b"natprobe-nonce:abc") is None
    assert header_length(b"PROX") is None
    assert header_length(b"PROXY TCP4 1.2.3.4") is None
    assert header_length(V2_SIGNATURE[:8]) is None


@pytest.mark.parametrize("data", [
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
    b"PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n",
    b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
    b"PROXY " + b"x" * 120,
    V2_SIGNATURE + bytes([0x31, 0x11, 0, 0]),
])
def test_bad_headers_raise_decode_error(data):
    with pytest.raises(DecodeError):
        parse_proxy_header(data)


@given(st.binary(max_size=200))
def test_any_bytes_give_a_header_none_or_decode_error(data):
    for candidate in (data, b"PROXY " + data, V2_SIGNATURE + data):
        try:
            parse_proxy_header(candidate)
        except DecodeError:
            pass
