"""The fast path answers exactly as the full codec path does, byte for byte, and declines everything else."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from natprobe_server.stun.fastpath import FastBinding, is_plain_binding_request
from natprobe_server.stun.service import StunService, Topology
from natprobe.stun import Message, MessageClass, Method, binding_request, decode, encode
from natprobe.addressing import TransportAddress

V4 = (ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("192.0.2.2"))
V6 = (ipaddress.ip_address("2001:db8::1"), ipaddress.ip_address("2001:db8::2"))


def service_and_endpoints(family: int, dual: bool, software: str | None) -> tuple[StunService, tuple[TransportAddress, ...]]:
    primary, alternate = V4 if family == 4 else V6
    topology = Topology(primary, alternate if dual else None, 3478)
    return StunService(topology, software=software), topology.endpoints


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    family=st.sampled_from([4, 6]),
    dual=st.booleans(),
    software=st.one_of(st.none(), st.text(max_size=12)),
    transaction_id=st.binary(min_size=12, max_size=12),
    port=st.integers(0, 65535),
)
def test_fast_path_matches_the_codec(
    data: st.DataObject, family: int, dual: bool, software: str | None, transaction_id: bytes, port: int
) -> None:
    service, endpoints = service_and_endpoints(family, dual, software)
    local = data.draw(st.sampled_from(endpoints))
    if family == 4:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address(data.draw(st.integers(0, 2**32 - 1)))
    else:
        ip = ipaddress.IPv6Address(data.draw(st.integers(0, 2**128 - 1)))
    request = encode(binding_request(transaction_id))
    remote = TransportAddress(ip, port)
    fast = FastBinding(service, local)
    # the socket layer hands over a reused bytearray: check that form too
    buffer = bytearray(64)
    buffer[:20] = request
    fast_reply = fast.respond(buffer, 20, str(ip), port)
    full_reply = service.handle(request, local, remote)
    assert full_reply is not None and fast_reply is not None
    assert fast_reply == full_reply.data
    assert full_reply.source == local and full_reply.destination == remote
    decoded = decode(fast_reply)
    assert decoded.transaction_id == transaction_id
    assert decoded.xor_mapped_address == remote == decoded.mapped_address


def test_repeated_sources_use_the_cache_and_stay_correct() -> None:
    service, endpoints = service_and_endpoints(4, True, None)
    fast = FastBinding(service, endpoints[0])
    for index in range(5000):  # more sources than the cache holds: it is cleared, not grown
        ip = f"10.{index // 65536}.{index // 256 % 256}.{index % 256}"
        reply = fast.respond(encode(binding_request()), 20, ip, 1000 + index)
        assert reply is not None
        assert decode(reply).xor_mapped_address == TransportAddress.parse(ip, 1000 + index)
    assert len(fast._cache) <= 4096


@pytest.mark.parametrize(
    "request_bytes",
    [
        encode(binding_request(change_port=True)),  # has an attribute
        encode(binding_request(), fingerprint=True),
        encode(Message(MessageClass.REQUEST, Method.BINDING, bytes(16))),  # RFC 3489: no cookie
        encode(Message(MessageClass.INDICATION, Method.BINDING, bytes(12))),
        encode(Message(MessageClass.REQUEST, 0x003, bytes(12))),
        encode(binding_request())[:19],
        b"\x00\x01\x00\x04" + encode(binding_request())[4:],  # length field lies
    ],
)
def test_everything_but_the_plain_request_goes_to_the_full_path(request_bytes: bytes) -> None:
    service, endpoints = service_and_endpoints(4, True, None)
    fast = FastBinding(service, endpoints[0])
    assert fast.respond(request_bytes, len(request_bytes), "198.51.100.1", 5000) is None
    assert not is_plain_binding_request(request_bytes + bytes(20), len(request_bytes))


def test_is_plain_binding_request() -> None:
    assert is_plain_binding_request(encode(binding_request()), 20)
