"""Properties of the STUN codec: any bytes decode or raise DecodeError; encode/decode round-trips."""

from __future__ import annotations

import struct

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from natprobe.errors import DecodeError
from natprobe.stun import (
    Attribute,
    AttributeType,
    Message,
    MessageClass,
    Method,
    StreamDecoder,
    binding_request,
    decode,
    encode,
    is_stun,
    verify_fingerprint,
    verify_integrity,
)
from natprobe.stun.types import MAGIC_COOKIE_BYTES
from tests.stun.strategies import message_strategy


@given(st.binary(max_size=200))
@example(b"")
@example(b"\x00\x01\x00\x00" + MAGIC_COOKIE_BYTES + bytes(12))
@example(b"\x00\x01\x00\x08" + MAGIC_COOKIE_BYTES + bytes(12) + b"\x00\x20\x00\x08\x00\x03\x00\x00")
def test_any_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    try:
        message = decode(data)
    except DecodeError:
        return
    assert message.raw == data


@given(st.binary(min_size=0, max_size=120), st.sampled_from([0x0001, 0x0020, 0x0009, 0x0003, 0x0027, 0x000A, 0x8029, 0x0025]))
def test_garbage_values_of_known_attributes_raise_only_decode_error(value: bytes, attribute_type: int) -> None:
    body = struct.pack("!HH", attribute_type, len(value)) + value + bytes(-len(value) % 4)
    data = struct.pack("!HH", 0x0101, len(body)) + MAGIC_COOKIE_BYTES + bytes(12) + body
    try:
        decode(data)
    except DecodeError:
        pass


@given(message_strategy())
def test_encode_decode_round_trip(message: Message) -> None:
    decoded = decode(encode(message))
    assert decoded == message


@given(message_strategy(legacy=False), st.binary(min_size=1, max_size=32), st.booleans())
def test_integrity_and_fingerprint_verify_after_encoding(message: Message, key: bytes, fingerprint: bool) -> None:
    decoded = decode(encode(message, integrity_key=key, fingerprint=fingerprint))
    assert verify_integrity(decoded, key) is True
    assert verify_integrity(decoded, key + b"x") is False
    assert verify_fingerprint(decoded) is (True if fingerprint else None)


@given(message_strategy(legacy=False))
def test_is_stun_accepts_every_modern_message(message: Message) -> None:
    assert is_stun(encode(message))


@given(st.lists(message_strategy(), min_size=1, max_size=4), st.integers(1, 50))
def test_stream_decoder_reassembles_any_chunking(messages: list[Message], chunk: int) -> None:
    stream = b"".join(encode(m) for m in messages)
    decoder = StreamDecoder()
    out: list[Message] = []
    for i in range(0, len(stream), chunk):
        out.extend(decoder.feed(stream[i : i + chunk]))
    assert out == messages
    assert decoder.pending == 0


def test_stream_decoder_rejects_non_stun() -> None:
    with pytest.raises(DecodeError):
        StreamDecoder().feed(b"GET / HTTP/1.1\r\n\r\n")


def test_unknown_attributes_survive_in_order() -> None:
    message = Message(
        MessageClass.REQUEST,
        Method.BINDING,
        bytes(12),
        (Attribute(0x7FFE, b"abc"), Attribute(AttributeType.SOFTWARE, "x"), Attribute(0xC001, b"")),
    )
    decoded = decode(encode(message))
    assert [a.type for a in decoded.attributes] == [0x7FFE, AttributeType.SOFTWARE, 0xC001]
    assert decoded.attributes[0].value == b"abc"
    assert decoded.unknown_comprehension_required() == (0x7FFE,)


def test_unknown_method_survives() -> None:
    message = Message(MessageClass.INDICATION, 0x123, bytes(12))
    assert decode(encode(message)).method == 0x123


def test_legacy_rfc3489_message() -> None:
    """RFC 3489: no magic cookie, 128-bit transaction id; MAPPED-ADDRESS only."""
    transaction_id = bytes(range(16))
    data = bytes.fromhex("0001 0000".replace(" ", "")) + transaction_id
    message = decode(data)
    assert message.is_legacy
    assert message.transaction_id == transaction_id
    assert not is_stun(data)
    assert encode(message) == data


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\x01\x00", "too short"),
        (b"\xc0\x01\x00\x00" + MAGIC_COOKIE_BYTES + bytes(12), "first two bits"),
        (b"\x00\x01\x00\x04" + MAGIC_COOKIE_BYTES + bytes(12), "length field"),
        (b"\x00\x01\x00\x03" + MAGIC_COOKIE_BYTES + bytes(12) + b"\x00\x00\x00", "multiple of 4"),
        (b"\x00\x01\x00\x04" + MAGIC_COOKIE_BYTES + bytes(12) + b"\x80\x22\x00\x08", "overruns"),
        (b"\x00\x01\x00\x08" + MAGIC_COOKIE_BYTES + bytes(12) + b"\x00\x20\x00\x04\x00\x09\x00\x00", "family"),
        (b"\x00\x01\x00\x08" + MAGIC_COOKIE_BYTES + bytes(12) + b"\x00\x01\x00\x04\x00\x01\x00\x00", "expected 8"),
        (b"\x00\x01\x00\x08" + MAGIC_COOKIE_BYTES + bytes(12) + b"\x00\x09\x00\x04\x00\x00\x02\x00", "ERROR-CODE"),
        (b"\x00\x01" + b"\xff\xfc" + bytes(65600), "too long"),
    ],
    ids=["short", "leading-bits", "length-mismatch", "unaligned", "overrun", "family", "ipv4-length", "error-class", "oversized"],
)
def test_malformed_messages_raise_decode_error_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode(data)


def test_binding_request_builder() -> None:
    request = binding_request(change_ip=True, change_port=True, response_port=4242, padding=8)
    decoded = decode(encode(request))
    assert decoded.change_request is not None
    assert decoded.change_request.change_ip and decoded.change_request.change_port
    assert decoded.response_port == 4242
    assert decoded.get(AttributeType.PADDING) == bytes(8)
    assert len(decoded.transaction_id) == 12


def test_response_port_accepts_stuntmans_two_byte_form() -> None:
    data = b"\x00\x01\x00\x08" + MAGIC_COOKIE_BYTES + bytes(12) + b"\x00\x27\x00\x02\x12\x34\x00\x00"
    assert decode(data).response_port == 0x1234


def test_encoding_rejects_wrong_value_types() -> None:
    with pytest.raises(ValueError):
        encode(Message(MessageClass.REQUEST, Method.BINDING, bytes(12), (Attribute(AttributeType.XOR_MAPPED_ADDRESS, "x"),)))
    with pytest.raises(ValueError):
        Message(MessageClass.REQUEST, Method.BINDING, bytes(5))


def test_stream_decoder_returns_good_messages_before_raising_on_garbage() -> None:
    decoder = StreamDecoder()
    good = encode(binding_request())
    assert [m.raw for m in decoder.feed(good + b"\xff" * 8)] == [good]
    with pytest.raises(DecodeError):
        decoder.feed(b"")
