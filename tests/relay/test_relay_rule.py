"""The relay authorisation rule (natprobe.contract.relay_rule): whom the echo server may probe."""

from ipaddress import ip_address, ip_network

import pytest

from natprobe.contract.relay_rule import (
    RelayGrant,
    RelayRefusal,
    allow_record,
    authorize_target,
    parse_allow_texts,
)

HOME = ip_address("203.0.113.2")
RELAY = ip_address("192.0.2.2")
THIRD = ip_address("192.0.2.77")
SERVER = (ip_address("198.51.100.10"), ip_address("198.51.100.11"))
NAME = "relay.example.test"


def decide(target, *, name=NAME, addresses=(RELAY,), texts=(), requester=HOME):
    return authorize_target(requester, target, name=name, server_addresses=SERVER,
                            name_addresses=addresses, allow_texts=texts)


def test_own_address_is_always_allowed():
    assert decide(HOME, name=None).grant is RelayGrant.REQUESTER


def test_server_own_address_is_allowed_without_a_record():
    decision = decide(SERVER[1], name=None, addresses=())
    assert decision.grant is RelayGrant.SERVER_OWN
    assert "prerouting" in decision.detail


def test_missing_record_refuses_and_names_the_exact_record():
    decision = decide(RELAY, texts=("v=spf1 -all",))
    assert not decision.allowed
    assert decision.refusal is RelayRefusal.NO_ALLOW_RECORD
    assert decision.record == '_natprobe.relay.example.test. IN TXT "natprobe-allow=203.0.113.2"'
    assert decision.record in decision.detail


def test_record_for_the_requester_allows_one_of_the_names_addresses():
    decision = decide(RELAY, texts=("natprobe-allow=198.51.100.99", "natprobe-allow=203.0.113.2"))
    assert decision.grant is RelayGrant.DNS_ALLOWED


def test_record_for_someone_else_refuses():
    decision = decide(RELAY, texts=("natprobe-allow=203.0.113.3",))
    assert decision.refusal is RelayRefusal.NOT_ALLOWED
    assert decision.record is not None and "203.0.113.2" in decision.record


def test_a_permission_never_extends_to_an_address_the_name_does_not_have():
    # The TXT record allows the requester, but the target is not an A record of NAME.
    decision = decide(THIRD, texts=("natprobe-allow=203.0.113.2",))
    assert decision.refusal is RelayRefusal.NOT_NAME_ADDRESS
    assert decide(THIRD, name=None).refusal is RelayRefusal.NOT_NAME_ADDRESS


def test_ipv6_slash_64_permission():
    requester = ip_address("2001:db8:1:2::abcd")
    relay = ip_address("2001:db8:ff::2")
    allowed = authorize_target(requester, relay, name=NAME, server_addresses=(), name_addresses=(relay,),
                               allow_texts=("natprobe-allow=2001:db8:1:2::/64",))
    assert allowed.grant is RelayGrant.DNS_ALLOWED
    other = authorize_target(ip_address("2001:db8:1:3::1"), relay, name=NAME, server_addresses=(),
                             name_addresses=(relay,), allow_texts=("natprobe-allow=2001:db8:1:2::/64",))
    assert other.refusal is RelayRefusal.NOT_ALLOWED
    assert allow_record(NAME, requester) == '_natprobe.relay.example.test. IN TXT "natprobe-allow=2001:db8:1:2::/64"'


@pytest.mark.parametrize("target", ["10.0.0.1", "127.0.0.1", "169.254.169.254", "100.64.0.1", "224.0.0.1"])
def test_a_name_cannot_aim_the_server_at_a_non_public_address(target):
    """A name's owner may publish any A record: the cloud metadata address, the server's LAN."""
    address = ip_address(target)
    decision = decide(address, addresses=(address,), texts=("natprobe-allow=203.0.113.2",))
    assert decision.refusal is RelayRefusal.NOT_PUBLIC and not decision.allowed


def test_family_mismatch_refuses():
    decision = decide(ip_address("2001:db8::1"), addresses=(ip_address("2001:db8::1"),),
                      texts=("natprobe-allow=203.0.113.2",))
    assert decision.refusal is RelayRefusal.FAMILY_MISMATCH


@pytest.mark.parametrize("value", ["10.0.0.0/8", "2001:db8::/32", "nonsense", "203.0.113.2/33", ""])
def test_wide_or_malformed_permissions_are_not_permissions(value):
    allowed, bad = parse_allow_texts([f"natprobe-allow={value}"])
    assert allowed == ()
    assert bad == (value,)
    assert decide(RELAY, texts=(f"natprobe-allow={value}",)).refusal is RelayRefusal.NO_ALLOW_RECORD


def test_parse_keeps_valid_ones_and_ignores_other_txt():
    allowed, bad = parse_allow_texts(["hello", " natprobe-allow=203.0.113.2 ", "natprobe-allow=2001:db8:1:2::/64"])
    assert allowed == (ip_network("203.0.113.2/32"), ip_network("2001:db8:1:2::/64"))
    assert bad == ()
