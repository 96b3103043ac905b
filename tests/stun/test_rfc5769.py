"""RFC 5769 test vectors, every one of them."""

from __future__ import annotations

import ipaddress

from natprobe.stun import (
    AttributeType,
    MessageClass,
    Method,
    decode,
    encode,
    long_term_key,
    short_term_key,
    verify_fingerprint,
    verify_integrity,
)

TRANSACTION_ID = bytes.fromhex("b7e7a701bc34d686fa87dfae")
SHORT_TERM_PASSWORD = "VOkJxbRl1RmTxUk/WvJxBt"

# RFC 5769 section 2.1: sample request.
REQUEST = bytes.fromhex(
    "000100582112a442b7e7a701bc34d686fa87dfae"
    "80220010" + b"STUN test client".hex() + "002400046e0001ff"
    "80290008932ff9b151263b36"
    "000600096576746a3a6836765920202000080014"
    "9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
    "80280004e57a3bcf"
)
# RFC 5769 section 2.2: sample IPv4 response.
RESPONSE_V4 = bytes.fromhex(
    "0101003c2112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000080001a147e112a643"
    "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
    "80280004c07d4c96"
)
# RFC 5769 section 2.3: sample IPv6 response.
RESPONSE_V6 = bytes.fromhex(
    "010100482112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
    "00080014a382954e4be67bf11784c97c8292c275bfe3ed41"
    "80280004c8fb0b4c"
)
# RFC 5769 section 2.4: sample request with long-term authentication.
REQUEST_LONG_TERM = bytes.fromhex(
    "000100602112a44278ad3433c6ad72c029da412e"
    "00060012e3839ee38388e383aae38383e382afe382b90000"
    "0015001c662f2f3439396b39353464364f4c33346f4c394653547679363473410"
    "014000b6578616d706c652e6f726700"
    "00080014f67024656dd64a3e02b8e0712e85c9a28ca89666"
)


def test_request_vector() -> None:
    message = decode(REQUEST)
    assert message.message_class is MessageClass.REQUEST
    assert message.method is Method.BINDING
    assert message.transaction_id == TRANSACTION_ID
    assert not message.is_legacy
    assert message.software == "STUN test client"
    assert message.get(AttributeType.PRIORITY) == 0x6E0001FF
    assert message.get(AttributeType.ICE_CONTROLLED) == 0x932FF9B151263B36
    assert message.get(AttributeType.USERNAME) == "evtj:h6vY"
    assert verify_fingerprint(message) is True
    assert verify_integrity(message, short_term_key(SHORT_TERM_PASSWORD)) is True
    assert verify_integrity(message, short_term_key("wrong password")) is False


def test_ipv4_response_vector() -> None:
    message = decode(RESPONSE_V4)
    assert message.message_class is MessageClass.SUCCESS_RESPONSE
    assert message.software == "test vector"
    address = message.xor_mapped_address
    assert address is not None
    assert address.ip == ipaddress.ip_address("192.0.2.1")
    assert address.port == 32853
    assert verify_fingerprint(message) is True
    assert verify_integrity(message, short_term_key(SHORT_TERM_PASSWORD)) is True


def test_ipv6_response_vector() -> None:
    message = decode(RESPONSE_V6)
    address = message.xor_mapped_address
    assert address is not None
    assert address.ip == ipaddress.ip_address("2001:db8:1234:5678:11:2233:4455:6677")
    assert address.port == 32853
    assert verify_fingerprint(message) is True
    assert verify_integrity(message, short_term_key(SHORT_TERM_PASSWORD)) is True


def test_long_term_request_vector() -> None:
    message = decode(REQUEST_LONG_TERM)
    username = "\u30de\u30c8\u30ea\u30c3\u30af\u30b9"
    assert message.get(AttributeType.USERNAME) == username
    assert message.get(AttributeType.NONCE) == "f//499k954d6OL34oL9FSTvy64sA"
    assert message.get(AttributeType.REALM) == "example.org"
    assert verify_fingerprint(message) is None
    assert verify_integrity(message, long_term_key(username, "example.org", "TheMatrIX")) is True


def _padding_and_checksum_offsets(data: bytes) -> set[int]:
    """Offsets of attribute padding and of MESSAGE-INTEGRITY/FINGERPRINT values in ``data``."""
    offsets: set[int] = set()
    offset = 20
    while offset < len(data):
        attribute_type = int.from_bytes(data[offset : offset + 2], "big")
        length = int.from_bytes(data[offset + 2 : offset + 4], "big")
        value_end = offset + 4 + length
        padded_end = value_end + (-length % 4)
        offsets.update(range(value_end, padded_end))
        if attribute_type in (AttributeType.MESSAGE_INTEGRITY, AttributeType.FINGERPRINT):
            offsets.update(range(offset + 4, value_end))
        offset = padded_end
    return offsets


def test_reencoding_vectors_changes_only_padding_and_checksums() -> None:
    """The vectors pad with spaces (RFC 5769 section 2); we pad with zeros and recompute checksums."""
    key = short_term_key(SHORT_TERM_PASSWORD)
    for vector in (REQUEST, RESPONSE_V4, RESPONSE_V6):
        reencoded = encode(decode(vector), integrity_key=key, fingerprint=True)
        assert len(reencoded) == len(vector)
        differing = {i for i, (a, b) in enumerate(zip(reencoded, vector)) if a != b}
        assert differing <= _padding_and_checksum_offsets(vector)
        message = decode(reencoded)
        checksums = (AttributeType.MESSAGE_INTEGRITY, AttributeType.FINGERPRINT)
        original = decode(vector)
        assert [a for a in message.attributes if a.type not in checksums] == [
            a for a in original.attributes if a.type not in checksums
        ]
        assert verify_integrity(message, key) is True
        assert verify_fingerprint(message) is True


def test_tampered_vector_fails_the_checks_that_cover_it() -> None:
    key = short_term_key(SHORT_TERM_PASSWORD)
    in_integrity = bytearray(RESPONSE_V4)
    in_integrity[-20] ^= 0x01  # inside the MESSAGE-INTEGRITY value: only FINGERPRINT covers it
    message = decode(bytes(in_integrity))
    assert verify_fingerprint(message) is False
    assert verify_integrity(message, key) is False
    in_software = bytearray(RESPONSE_V4)
    in_software[30] ^= 0x01  # inside SOFTWARE, covered by both
    message = decode(bytes(in_software))
    assert verify_fingerprint(message) is False
    assert verify_integrity(message, key) is False
