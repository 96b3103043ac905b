"""StunService: every RFC 5780 section 6 rule and every reflector-safety rule, without sockets."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from natprobe_server.stun.service import Reply, StunService, Topology, Transport
from natprobe.stun import (
    Attribute,
    AttributeType,
    ChangeRequest,
    Message,
    MessageClass,
    Method,
    binding_request,
    decode,
    encode,
    verify_fingerprint,
)
from natprobe.addressing import TransportAddress

A1 = ipaddress.ip_address("192.0.2.1")
A2 = ipaddress.ip_address("192.0.2.2")
P1, P2 = 3478, 3479
DUAL = Topology(A1, A2, P1)
SINGLE = Topology(A1, None, P1)
CLIENT = TransportAddress.parse("198.51.100.7", 40000)
PRIMARY = TransportAddress(A1, P1)


def ask(
    service: StunService,
    request: Message | bytes,
    *,
    local: TransportAddress = PRIMARY,
    remote: TransportAddress = CLIENT,
    transport: Transport = Transport.UDP,
    fingerprint: bool = False,
) -> Reply:
    data = request if isinstance(request, bytes) else encode(request, fingerprint=fingerprint)
    reply = service.handle(data, local, remote, transport)
    assert reply is not None
    return reply


def error_code(reply: Reply) -> int | None:
    message = decode(reply.data)
    if message.message_class != MessageClass.ERROR_RESPONSE:
        return None
    value = message.error_code
    assert value is not None
    return value.code


def types(message: Message) -> list[int]:
    return [int(a.type) for a in message.attributes]


# --- two addresses: RFC 5780 Table 1 ------------------------------------------------------------

LOCALS = [TransportAddress(ip, port) for ip in (A1, A2) for port in (P1, P2)]


@pytest.mark.parametrize("local", LOCALS, ids=str)
@pytest.mark.parametrize(("change_ip", "change_port"), [(False, False), (True, False), (False, True), (True, True)])
def test_table_1_source_other_address_and_response_origin(
    local: TransportAddress, change_ip: bool, change_port: bool
) -> None:
    service = StunService(DUAL)
    request = binding_request(change_ip=change_ip, change_port=change_port)
    reply = ask(service, request, local=local)
    other_ip = A2 if local.ip == A1 else A1
    other_port = P2 if local.port == P1 else P1
    expected_source = TransportAddress(other_ip if change_ip else local.ip, other_port if change_port else local.port)
    assert reply.source == expected_source
    assert reply.destination == CLIENT
    response = decode(reply.data)
    assert response.message_class == MessageClass.SUCCESS_RESPONSE
    assert response.transaction_id == request.transaction_id
    assert response.xor_mapped_address == CLIENT
    assert response.mapped_address == CLIENT
    assert response.response_origin == expected_source  # the source really used
    assert response.get(AttributeType.OTHER_ADDRESS) == TransportAddress(other_ip, other_port)  # Ca:Cp always


def test_plain_request_on_two_addresses_gets_the_minimal_rfc5780_reply() -> None:
    service = StunService(DUAL)
    reply = ask(service, binding_request())
    response = decode(reply.data)
    assert types(response) == [
        AttributeType.XOR_MAPPED_ADDRESS,
        AttributeType.MAPPED_ADDRESS,
        AttributeType.RESPONSE_ORIGIN,
        AttributeType.OTHER_ADDRESS,
    ]
    assert len(reply.data) == 68  # no SOFTWARE, no FINGERPRINT unless asked
    assert reply.source == PRIMARY


# --- one address -----------------------------------------------------------------------------------


def test_single_address_plain_reply_has_no_other_address_and_no_response_origin() -> None:
    reply = ask(StunService(SINGLE), binding_request())
    response = decode(reply.data)
    assert types(response) == [AttributeType.XOR_MAPPED_ADDRESS, AttributeType.MAPPED_ADDRESS]
    assert len(reply.data) == 44


@pytest.mark.parametrize("change_port", [False, True])
def test_single_address_change_ip_gets_420_listing_change_request(change_port: bool) -> None:
    request = binding_request(change_ip=True, change_port=change_port)
    reply = ask(StunService(SINGLE), request)
    assert error_code(reply) == 420
    response = decode(reply.data)
    assert response.get(AttributeType.UNKNOWN_ATTRIBUTES) == (AttributeType.CHANGE_REQUEST,)
    assert response.transaction_id == request.transaction_id
    assert (reply.source, reply.destination) == (PRIMARY, CLIENT)
    assert not response.has(AttributeType.OTHER_ADDRESS)


@pytest.mark.parametrize("local_port", [P1, P2])
def test_single_address_still_serves_change_port(local_port: int) -> None:
    local = TransportAddress(A1, local_port)
    reply = ask(StunService(SINGLE), binding_request(change_port=True), local=local)
    other = TransportAddress(A1, P2 if local_port == P1 else P1)
    assert reply.source == other
    response = decode(reply.data)
    assert response.response_origin == other  # RFC 5780 attribute in the request: RESPONSE-ORIGIN
    assert not response.has(AttributeType.OTHER_ADDRESS)


def test_change_request_with_no_flags_is_answered_from_where_it_arrived() -> None:
    request = Message(
        MessageClass.REQUEST, Method.BINDING, bytes(range(12)), (Attribute(AttributeType.CHANGE_REQUEST, ChangeRequest()),)
    )
    for topology in (SINGLE, DUAL):
        reply = ask(StunService(topology), request)
        assert reply.source == PRIMARY
        assert error_code(reply) is None


# --- RESPONSE-PORT and PADDING ------------------------------------------------------------------


@pytest.mark.parametrize("topology", [SINGLE, DUAL], ids=["single", "dual"])
def test_response_port_changes_only_the_port(topology: Topology) -> None:
    reply = ask(StunService(topology), binding_request(response_port=5555))
    assert reply.destination == TransportAddress(CLIENT.ip, 5555)
    response = decode(reply.data)
    assert response.xor_mapped_address == CLIENT  # still the request's own source


def test_response_port_with_change_request_goes_to_the_requesters_ip() -> None:
    reply = ask(StunService(DUAL), binding_request(change_ip=True, change_port=True, response_port=6000))
    assert reply.source == TransportAddress(A2, P2)
    assert reply.destination == TransportAddress(CLIENT.ip, 6000)


def test_response_port_zero_is_a_400_to_the_source_port() -> None:
    reply = ask(StunService(DUAL), binding_request(response_port=0))
    assert error_code(reply) == 400
    assert reply.destination == CLIENT


@pytest.mark.parametrize("topology", [SINGLE, DUAL], ids=["single", "dual"])
def test_padding_with_response_port_is_400_sent_to_the_source_port(topology: Topology) -> None:
    request = binding_request(response_port=7000, padding=1500)
    reply = ask(StunService(topology), request)
    assert error_code(reply) == 400
    assert reply.destination == CLIENT
    assert len(reply.data) < len(encode(request))


def padding_length(message: Message) -> int:
    value = message.get(AttributeType.PADDING)
    assert isinstance(value, bytes)
    return len(value)


def test_padding_is_the_mtu_when_the_request_is_big_enough() -> None:
    service = StunService(DUAL, padding_mtu=1000)
    request = binding_request(padding=1500)
    reply = ask(service, request)
    response = decode(reply.data)
    assert padding_length(response) == 1000
    assert len(reply.data) <= len(encode(request))


def test_padding_never_makes_the_reply_larger_than_the_request() -> None:
    service = StunService(DUAL)  # MTU 1500 > what the request leaves room for
    request = binding_request(change_ip=True, change_port=True, padding=1500)  # coturn's stunclient test 3
    data = encode(request)
    reply = ask(service, data)
    response = decode(reply.data)
    assert len(reply.data) == len(data)  # padded right up to the request size, not past it
    assert padding_length(response) % 4 == 0
    assert reply.source == TransportAddress(A2, P2)


def test_padding_is_empty_when_the_request_leaves_no_room() -> None:
    request = binding_request(padding=4)
    reply = ask(StunService(DUAL), request)
    response = decode(reply.data)
    assert padding_length(response) == 0
    assert len(reply.data) == 68 + 4  # the attribute header RFC 5780 6.1 makes mandatory


@settings(max_examples=60, deadline=None)
@given(
    padding=st.integers(0, 3000),
    mtu=st.integers(0, 2000),
    change=st.tuples(st.booleans(), st.booleans()),
    fingerprint=st.booleans(),
    dual=st.booleans(),
)
def test_padded_reply_is_bounded_by_the_request(
    padding: int, mtu: int, change: tuple[bool, bool], fingerprint: bool, dual: bool
) -> None:
    topology = DUAL if dual else SINGLE
    change_ip, change_port = change if dual else (False, change[1])
    request = binding_request(change_ip=change_ip, change_port=change_port)
    request = Message(
        request.message_class,
        request.method,
        request.transaction_id,
        request.attributes + (Attribute(AttributeType.PADDING, bytes(padding)),),
    )
    data = encode(request, fingerprint=fingerprint)
    reply = ask(StunService(topology, padding_mtu=mtu), data)
    response = decode(reply.data)
    pad = padding_length(response)
    unpadded = len(reply.data) - 4 - pad
    assert pad % 4 == 0 and pad <= (mtu + 3) // 4 * 4
    assert len(reply.data) <= max(len(data), unpadded + 4)
    assert verify_fingerprint(response) is (True if fingerprint else None)


# --- RFC 3489 --------------------------------------------------------------------------------------


def legacy_request(*attributes: Attribute) -> bytes:
    return encode(Message(MessageClass.REQUEST, Method.BINDING, bytes(range(16)), attributes))


def test_rfc3489_request_gets_mapped_source_and_changed_address() -> None:
    data = legacy_request(Attribute(AttributeType.CHANGE_REQUEST, ChangeRequest(True, True)))
    reply = ask(StunService(DUAL), data)
    assert reply.data[4:20] == data[4:20]  # RFC 8489 12.2: the 128-bit transaction id echoed
    response = decode(reply.data)
    assert response.is_legacy
    assert types(response) == [AttributeType.MAPPED_ADDRESS, AttributeType.SOURCE_ADDRESS, AttributeType.CHANGED_ADDRESS]
    assert response.mapped_address == CLIENT
    assert response.source_address == TransportAddress(A2, P2) == reply.source
    assert response.get(AttributeType.CHANGED_ADDRESS) == TransportAddress(A2, P2)


def test_rfc3489_request_on_a_single_address_server_has_no_changed_address() -> None:
    response = decode(ask(StunService(SINGLE), legacy_request()).data)
    assert types(response) == [AttributeType.MAPPED_ADDRESS, AttributeType.SOURCE_ADDRESS]


def test_rfc3489_response_address_is_never_honoured() -> None:
    elsewhere = TransportAddress.parse("203.0.113.9", 53)
    reply = ask(StunService(DUAL), legacy_request(Attribute(AttributeType.RESPONSE_ADDRESS, elsewhere)))
    assert error_code(reply) == 420
    assert reply.destination == CLIENT
    assert decode(reply.data).get(AttributeType.UNKNOWN_ATTRIBUTES) == (AttributeType.RESPONSE_ADDRESS,)


def test_response_address_naming_the_requester_itself_is_harmless() -> None:
    reply = ask(StunService(DUAL), legacy_request(Attribute(AttributeType.RESPONSE_ADDRESS, CLIENT)))
    assert error_code(reply) is None
    assert reply.destination == CLIENT


# --- RFC 8489 generic rules --------------------------------------------------------------------


def test_unknown_comprehension_required_attribute_gets_420_with_unknown_attributes() -> None:
    request = Message(
        MessageClass.REQUEST,
        Method.BINDING,
        bytes(12),
        (Attribute(0x7F01, b"abcd"), Attribute(0x7F02, b""), Attribute(0x7F01, b"x")),
    )
    reply = ask(StunService(DUAL), request)
    assert error_code(reply) == 420
    assert decode(reply.data).get(AttributeType.UNKNOWN_ATTRIBUTES) == (0x7F01, 0x7F02)


def test_unknown_comprehension_optional_attribute_is_ignored() -> None:
    request = Message(MessageClass.REQUEST, Method.BINDING, bytes(12), (Attribute(0xC0DE, b"hello"),))
    assert error_code(ask(StunService(DUAL), request)) is None


def test_request_for_an_unknown_method_gets_400() -> None:
    request = Message(MessageClass.REQUEST, 0x003, bytes(12))  # TURN Allocate: not served here
    reply = ask(StunService(DUAL), request)
    assert error_code(reply) == 400
    assert decode(reply.data).method == 0x003


@pytest.mark.parametrize(
    "message_class", [MessageClass.INDICATION, MessageClass.SUCCESS_RESPONSE, MessageClass.ERROR_RESPONSE]
)
def test_non_requests_are_ignored(message_class: MessageClass) -> None:
    service = StunService(DUAL)
    data = encode(Message(message_class, Method.BINDING, bytes(12)))
    assert service.handle(data, PRIMARY, CLIENT) is None
    assert service.stats.ignored == 1


def test_fingerprint_in_request_means_fingerprint_in_response() -> None:
    service = StunService(DUAL)
    ok = decode(ask(service, binding_request(), fingerprint=True).data)
    assert verify_fingerprint(ok) is True
    error = decode(ask(service, binding_request(response_port=0), fingerprint=True).data)
    assert verify_fingerprint(error) is True
    plain = decode(ask(service, binding_request()).data)
    assert verify_fingerprint(plain) is None


def test_request_with_a_wrong_fingerprint_is_dropped() -> None:
    data = bytearray(encode(binding_request(), fingerprint=True))
    data[-1] ^= 0xFF
    service = StunService(DUAL)
    assert service.handle(bytes(data), PRIMARY, CLIENT) is None


def test_software_only_when_configured() -> None:
    response = decode(ask(StunService(DUAL, software="natprobe test"), binding_request()).data)
    assert response.software == "natprobe test"


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"\x00\x01\x00",
        encode(binding_request())[:19],
        b"\x00\x01\x00\x04" + bytes(16),  # length says 4, nothing follows
        b"\x00\x01\x00\x08\x21\x12\xa4\x42" + bytes(12) + b"\x00\x20\x00\x08\x00\x09",  # truncated attribute
        b"\x00\x01\x00\x08\x21\x12\xa4\x42" + bytes(12) + b"\x00\x03\x00\x02\x00\x00\x00\x00",  # CHANGE-REQUEST of 2 bytes
        b"\xff" * 64,
        bytes(65507),
    ],
)
def test_malformed_input_is_dropped(junk: bytes) -> None:
    service = StunService(DUAL)
    assert service.handle(junk, PRIMARY, CLIENT) is None


# --- TCP -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_message", "listed"),
    [
        (binding_request(change_ip=True), [AttributeType.CHANGE_REQUEST]),
        (binding_request(change_port=True), [AttributeType.CHANGE_REQUEST]),
        (binding_request(response_port=4000), [AttributeType.RESPONSE_PORT]),
        (binding_request(padding=64), [AttributeType.PADDING]),
        (binding_request(change_port=True, padding=8), [AttributeType.CHANGE_REQUEST, AttributeType.PADDING]),
    ],
)
def test_tcp_answers_rfc5780_request_attributes_with_420(request_message: Message, listed: list[int]) -> None:
    reply = ask(StunService(DUAL), request_message, transport=Transport.TCP)
    assert error_code(reply) == 420
    unknown = decode(reply.data).get(AttributeType.UNKNOWN_ATTRIBUTES)
    assert isinstance(unknown, tuple) and list(unknown) == listed
    assert (reply.source, reply.destination) == (PRIMARY, CLIENT)


def test_tcp_plain_binding_is_answered_on_the_connection() -> None:
    reply = ask(StunService(DUAL), binding_request(), transport=Transport.TCP)
    assert (reply.source, reply.destination) == (PRIMARY, CLIENT)
    assert decode(reply.data).xor_mapped_address == CLIENT


# --- the reflector property --------------------------------------------------------------------

_KNOWN = frozenset(int(t) for t in AttributeType)

_attribute = st.one_of(
    st.builds(Attribute, st.just(AttributeType.CHANGE_REQUEST), st.builds(ChangeRequest, st.booleans(), st.booleans())),
    st.builds(Attribute, st.just(AttributeType.RESPONSE_PORT), st.integers(0, 65535)),
    st.builds(Attribute, st.just(AttributeType.PADDING), st.binary(max_size=200)),
    st.builds(
        Attribute,
        st.just(AttributeType.RESPONSE_ADDRESS),
        st.builds(TransportAddress, st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address), st.integers(0, 65535)),
    ),
    st.builds(Attribute, st.integers(0, 0xFFFF).filter(lambda t: t not in _KNOWN), st.binary(max_size=16)),
    st.builds(Attribute, st.just(AttributeType.SOFTWARE), st.text(max_size=20)),
)


@settings(max_examples=300, deadline=None)
@given(
    attributes=st.lists(_attribute, max_size=5),
    transaction_id=st.one_of(st.binary(min_size=12, max_size=12), st.binary(min_size=16, max_size=16)),
    method=st.one_of(st.just(1), st.integers(0, 0xFFF)),
    local=st.sampled_from(LOCALS),
    dual=st.booleans(),
    transport=st.sampled_from(list(Transport)),
    fingerprint=st.booleans(),
)
def test_replies_only_ever_go_to_the_requesters_ip_from_a_server_address(
    attributes: list[Attribute],
    transaction_id: bytes,
    method: int,
    local: TransportAddress,
    dual: bool,
    transport: Transport,
    fingerprint: bool,
) -> None:
    topology = DUAL if dual else SINGLE
    if not dual:
        local = TransportAddress(A1, local.port)
    request = Message(MessageClass.REQUEST, method, transaction_id, tuple(attributes))
    data = encode(request, fingerprint=fingerprint)
    reply = StunService(topology).handle(data, local, CLIENT, transport)
    assert reply is not None  # every well-formed request gets exactly one reply
    assert reply.destination.ip == CLIENT.ip
    assert reply.source in topology.endpoints
    response = decode(reply.data)
    assert response.transaction_id == transaction_id
    if response.message_class == MessageClass.ERROR_RESPONSE or transport is Transport.TCP:
        assert (reply.source, reply.destination) == (local, CLIENT)
    if not request.has(AttributeType.PADDING):
        # Without PADDING a reply is a fixed handful of attributes (success: 4 addresses +
        # FINGERPRINT = 76 bytes), or an error listing at most one type per request attribute.
        assert len(reply.data) <= 76 + 2 * len(attributes)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    service = StunService(DUAL)
    reply = service.handle(data, PRIMARY, CLIENT)
    if reply is not None:
        assert reply.destination.ip == CLIENT.ip
