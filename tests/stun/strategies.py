"""Hypothesis strategies for STUN messages."""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from natprobe.stun import (
    Attribute,
    AttributeType,
    ChangeRequest,
    ErrorCodeValue,
    Message,
    MessageClass,
    Method,
)
from natprobe.addressing import TransportAddress

ipv4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
ipv6 = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)
ports = st.integers(0, 65535)
addresses = st.builds(TransportAddress, st.one_of(ipv4, ipv6), ports)
text = st.text(max_size=40).filter(lambda s: "\ufffd" not in s)
ADDRESS_TYPES = [
    AttributeType.MAPPED_ADDRESS,
    AttributeType.XOR_MAPPED_ADDRESS,
    AttributeType.SOURCE_ADDRESS,
    AttributeType.CHANGED_ADDRESS,
    AttributeType.RESPONSE_ORIGIN,
    AttributeType.OTHER_ADDRESS,
]


def attribute_strategy(*, with_unknown: bool = True) -> st.SearchStrategy[Attribute]:
    options = [
        st.builds(Attribute, st.sampled_from(ADDRESS_TYPES), addresses),
        st.builds(Attribute, st.just(AttributeType.CHANGE_REQUEST), st.builds(ChangeRequest, st.booleans(), st.booleans())),
        st.builds(
            Attribute,
            st.just(AttributeType.ERROR_CODE),
            st.builds(ErrorCodeValue, st.integers(300, 699), text),
        ),
        st.builds(Attribute, st.sampled_from([AttributeType.SOFTWARE, AttributeType.USERNAME, AttributeType.REALM]), text),
        st.builds(Attribute, st.just(AttributeType.PRIORITY), st.integers(0, 2**32 - 1)),
        st.builds(Attribute, st.sampled_from([AttributeType.ICE_CONTROLLED, AttributeType.ICE_CONTROLLING]), st.integers(0, 2**64 - 1)),
        st.builds(Attribute, st.just(AttributeType.USE_CANDIDATE), st.none()),
        st.builds(Attribute, st.just(AttributeType.RESPONSE_PORT), ports),
        st.builds(Attribute, st.just(AttributeType.PADDING), st.binary(max_size=64)),
        st.builds(
            Attribute,
            st.just(AttributeType.UNKNOWN_ATTRIBUTES),
            st.lists(st.integers(0, 65535), max_size=5).map(tuple),
        ),
    ]
    if with_unknown:
        known = {int(t) for t in AttributeType}
        options.append(
            st.builds(Attribute, st.integers(0, 65535).filter(lambda t: t not in known), st.binary(max_size=32))
        )
    return st.one_of(options)


transaction_ids = st.one_of(st.binary(min_size=12, max_size=12), st.binary(min_size=16, max_size=16))


def message_strategy(*, with_unknown: bool = True, legacy: bool = True) -> st.SearchStrategy[Message]:
    return st.builds(
        Message,
        st.sampled_from(list(MessageClass)),
        st.one_of(st.just(Method.BINDING), st.integers(0, 0xFFF)),
        transaction_ids if legacy else st.binary(min_size=12, max_size=12),
        st.lists(attribute_strategy(with_unknown=with_unknown), max_size=8).map(tuple),
    )
