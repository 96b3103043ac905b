"""Differential test against aioice's STUN codec, on the attributes both know."""

from __future__ import annotations

import ipaddress
from typing import Any

from aioice import stun as aioice_stun
from hypothesis import given
from hypothesis import strategies as st

from natprobe.stun import (
    Attribute,
    AttributeType,
    ChangeRequest,
    ErrorCodeValue,
    Message,
    MessageClass,
    Method,
    decode,
    encode,
)
from natprobe.addressing import TransportAddress
from tests.stun.strategies import addresses, text

_CLASSES = {
    MessageClass.REQUEST: aioice_stun.Class.REQUEST,
    MessageClass.INDICATION: aioice_stun.Class.INDICATION,
    MessageClass.SUCCESS_RESPONSE: aioice_stun.Class.RESPONSE,
    MessageClass.ERROR_RESPONSE: aioice_stun.Class.ERROR,
}
_ADDRESS_NAMES = {
    AttributeType.MAPPED_ADDRESS: "MAPPED-ADDRESS",
    AttributeType.XOR_MAPPED_ADDRESS: "XOR-MAPPED-ADDRESS",
    AttributeType.SOURCE_ADDRESS: "SOURCE-ADDRESS",
    AttributeType.CHANGED_ADDRESS: "CHANGED-ADDRESS",
    AttributeType.RESPONSE_ORIGIN: "RESPONSE-ORIGIN",
    AttributeType.OTHER_ADDRESS: "OTHER-ADDRESS",
}

# One attribute of each type at most: aioice keeps attributes in a dict.
shared_attributes = st.fixed_dictionaries(
    {},
    optional={
        **{name: addresses for name in _ADDRESS_NAMES.values()},
        "CHANGE-REQUEST": st.builds(ChangeRequest, st.booleans(), st.booleans()),
        "ERROR-CODE": st.builds(ErrorCodeValue, st.integers(300, 699), text),
        "SOFTWARE": text,
        "USERNAME": text,
        "REALM": text,
        "PRIORITY": st.integers(0, 2**32 - 1),
        "ICE-CONTROLLED": st.integers(0, 2**64 - 1),
        "ICE-CONTROLLING": st.integers(0, 2**64 - 1),
        "USE-CANDIDATE": st.none(),
    },
)
_TYPES_BY_NAME = {**{v: k for k, v in _ADDRESS_NAMES.items()}, **{
    "CHANGE-REQUEST": AttributeType.CHANGE_REQUEST,
    "ERROR-CODE": AttributeType.ERROR_CODE,
    "SOFTWARE": AttributeType.SOFTWARE,
    "USERNAME": AttributeType.USERNAME,
    "REALM": AttributeType.REALM,
    "PRIORITY": AttributeType.PRIORITY,
    "ICE-CONTROLLED": AttributeType.ICE_CONTROLLED,
    "ICE-CONTROLLING": AttributeType.ICE_CONTROLLING,
    "USE-CANDIDATE": AttributeType.USE_CANDIDATE,
}}


def _to_aioice(name: str, value: Any) -> Any:
    if isinstance(value, TransportAddress):
        return (str(value.ip), value.port)
    if isinstance(value, ChangeRequest):
        return int(value.flags)
    if isinstance(value, ErrorCodeValue):
        return (value.code, value.reason)
    return value


def _ours(message_class: MessageClass, transaction_id: bytes, values: dict[str, Any]) -> Message:
    return Message(
        message_class,
        Method.BINDING,
        transaction_id,
        tuple(Attribute(_TYPES_BY_NAME[name], value) for name, value in values.items()),
    )


@given(st.sampled_from(list(MessageClass)), st.binary(min_size=12, max_size=12), shared_attributes)
def test_aioice_parses_what_we_encode(message_class: MessageClass, transaction_id: bytes, values: dict[str, Any]) -> None:
    parsed = aioice_stun.parse_message(encode(_ours(message_class, transaction_id, values)))
    assert parsed.message_class == _CLASSES[message_class]
    assert parsed.message_method == aioice_stun.Method.BINDING
    assert parsed.transaction_id == transaction_id
    assert dict(parsed.attributes) == {name: _to_aioice(name, value) for name, value in values.items()}


@given(st.sampled_from(list(MessageClass)), st.binary(min_size=12, max_size=12), shared_attributes)
def test_we_decode_what_aioice_encodes(message_class: MessageClass, transaction_id: bytes, values: dict[str, Any]) -> None:
    theirs = aioice_stun.Message(aioice_stun.Method.BINDING, _CLASSES[message_class], transaction_id)
    for name, value in values.items():
        theirs.attributes[name] = _to_aioice(name, value)
    data = bytes(theirs)
    assert decode(data) == _ours(message_class, transaction_id, values)
    assert encode(decode(data)) == data


def test_integrity_and_fingerprint_agree_with_aioice() -> None:
    key = b"password"
    theirs = aioice_stun.Message(aioice_stun.Method.BINDING, aioice_stun.Class.REQUEST, bytes(range(12)))
    theirs.attributes["USERNAME"] = "a:b"
    theirs.add_message_integrity(key)
    theirs.add_fingerprint()
    ours = Message(MessageClass.REQUEST, Method.BINDING, bytes(range(12)), (Attribute(AttributeType.USERNAME, "a:b"),))
    assert encode(ours, integrity_key=key, fingerprint=True) == bytes(theirs)


def test_ipv6_xor_mapped_address_agrees_with_aioice() -> None:
    address = TransportAddress(ipaddress.IPv6Address("2001:db8::1"), 3478)
    data = encode(_ours(MessageClass.SUCCESS_RESPONSE, bytes(12), {"XOR-MAPPED-ADDRESS": address}))
    assert aioice_stun.parse_message(data).attributes["XOR-MAPPED-ADDRESS"] == ("2001:db8::1", 3478)
