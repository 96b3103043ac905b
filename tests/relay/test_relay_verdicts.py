"""Relay verdicts, client_address and the findings (pure): every status from its observation."""

from ipaddress import ip_address

import pytest

from natprobe.contract.terms import TransportProtocol
from natprobe.findings.relay_findings import explain_relay, forwarding_remedies, needs_remedies
from natprobe.i18n import use_language
from natprobe.proxy_header import parse_proxy_header
from natprobe.reports.relay_report import RELAY_SCHEMA, RelayReport
from natprobe.verdicts.reachability import PortStatus, PortVerdict
from natprobe.verdicts.port_spec import PortSpec
from natprobe.verdicts.relay_verdicts import (
    ClientAddress,
    RelayObservation,
    RelayStatus,
    RelayVia,
    ReplyRoute,
    classify_client_address,
    decide_relay_port,
)
from tests.json_reports import assert_valid_report

RELAY = ip_address("192.0.2.2")
PROBER = ip_address("198.51.100.11")
TCP, UDP = TransportProtocol.TCP, TransportProtocol.UDP


@pytest.fixture(autouse=True)
def english():
    use_language("en")
    yield
    use_language("en")


def obs(**kw):
    base = dict(protocol=TCP, port=8443, relay_ip=RELAY, via=RelayVia.ECHO_SERVER, prober=PROBER)
    return RelayObservation(**{**base, **kw})


@pytest.mark.parametrize(("kw", "client"), [
    (dict(peer=ip_address("127.0.0.1")), ClientAddress.LOOPBACK),
    (dict(peer=PROBER), ClientAddress.KEPT),
    (dict(peer=ip_address("10.9.0.1")), ClientAddress.RELAY),
    (dict(peer=ip_address("127.0.0.1"),
          proxy=parse_proxy_header(b"PROXY TCP4 198.51.100.11 192.0.2.2 4000 9443\r\n")), ClientAddress.KEPT),
    (dict(peer=ip_address("127.0.0.1"),
          proxy=parse_proxy_header(b"PROXY TCP4 10.1.1.1 192.0.2.2 4000 9443\r\n")), ClientAddress.RELAY),
    (dict(peer=ip_address("127.0.0.1"), forwarded_for="198.51.100.11"), ClientAddress.KEPT),
    (dict(peer=ip_address("127.0.0.1"), forwarded_for='for="[2001:db8::1]", for=198.51.100.11;proto=http'),
     ClientAddress.KEPT),
    (dict(peer=ip_address("127.0.0.1"), forwarded_for="203.0.113.9"), ClientAddress.LOOPBACK),
    (dict(), ClientAddress.UNKNOWN),
    (dict(prober=None, via=RelayVia.THIS_HOST, peer=ip_address("203.0.113.2")), ClientAddress.KEPT),
    (dict(prober=None, via=RelayVia.THIS_HOST, peer=RELAY), ClientAddress.RELAY),
])
def test_client_address(kw, client):
    assert classify_client_address(obs(**kw))[0] is client


def test_statuses():
    assert decide_relay_port(obs(nonce_received=True, peer=PROBER)).status is RelayStatus.REACHABLE_VIA_RELAY
    assert decide_relay_port(obs(refused="no", record="r")).status is RelayStatus.RELAY_UNVERIFIED
    broken = obs(protocol=UDP, nonce_received=True, peer=PROBER,
                 reply=ReplyRoute("wg0", ip_address("10.9.0.2"), "eth0"))
    assert decide_relay_port(broken).status is RelayStatus.RELAY_REPLY_PATH_BROKEN
    fine = obs(protocol=UDP, nonce_received=True, peer=PROBER, reply=ReplyRoute("wg0", ip_address("10.9.0.2"), "wg0"))
    assert decide_relay_port(fine).status is RelayStatus.REACHABLE_VIA_RELAY
    assert decide_relay_port(obs(nonce_received=False, seen_on_interface=True)).status is RelayStatus.RELAY_REPLY_PATH_BROKEN
    assert decide_relay_port(obs(nonce_received=False, relay_answered=False)).status is RelayStatus.RELAY_TUNNEL_DOWN
    here = dict(via=RelayVia.THIS_HOST, prober=None)
    assert decide_relay_port(obs(nonce_received=False, relay_answered=False, **here)).status is RelayStatus.STALE
    assert decide_relay_port(obs(nonce_received=False, relay_status=502, **here)).status is RelayStatus.RELAY_TUNNEL_DOWN
    assert decide_relay_port(obs(error="server down")).status is RelayStatus.NOT_TESTED


def test_proxy_protocol_is_reported_only_when_natprobe_listened_on_tcp():
    v1 = decide_relay_port(obs(nonce_received=True, peer=ip_address("127.0.0.1"),
                               proxy=parse_proxy_header(b"PROXY TCP4 198.51.100.11 192.0.2.2 1 2\r\n")))
    assert v1.proxy_protocol.value == "v1" and v1.client_address is ClientAddress.KEPT
    assert decide_relay_port(obs(nonce_received=True, peer=PROBER)).proxy_protocol.value == "none"
    assert decide_relay_port(obs(protocol=UDP, nonce_received=True, peer=PROBER)).proxy_protocol is None
    assert decide_relay_port(obs(listening=False, service_answered=True)).proxy_protocol is None


def test_report_json_validates_and_findings_have_codes():
    verdicts = (
        decide_relay_port(obs(nonce_received=True, peer=ip_address("127.0.0.1"))),
        decide_relay_port(obs(port=9, refused="no", record='_natprobe.x.test. IN TXT "natprobe-allow=203.0.113.2"')),
        decide_relay_port(obs(port=10, protocol=UDP, nonce_received=True, peer=PROBER,
                              reply=ReplyRoute("wg0", ip_address("10.9.0.2"), "eth0"))),
    )
    report = RelayReport("x.test", (RELAY,), RelayVia.ECHO_SERVER, verdicts, 1.0)
    findings = explain_relay(report)
    codes = [f.code for f in findings]
    assert "relay-client-loopback" in codes and "relay-relay-unverified" in codes
    assert "relay-relay-reply-path-broken" in codes
    unverified = next(f for f in findings if f.code == "relay-relay-unverified")
    assert '_natprobe.x.test. IN TXT "natprobe-allow=203.0.113.2"' in unverified.advice[0]
    data = RelayReport("x.test", (RELAY,), RelayVia.ECHO_SERVER, verdicts, 1.0, findings).to_dict()
    assert data["schema"] == RELAY_SCHEMA["properties"]["schema"]["const"]
    assert_valid_report(data)
    use_language("fr")
    assert explain_relay(report)[0].title != findings[0].title  # translated


def test_remedies_in_order_with_the_users_ports_name_and_check_commands():
    specs = [PortSpec(TCP, 8443), PortSpec(UDP, 22124)]
    remedies = forwarding_remedies(specs, name="cloud.example.org", server="http://vps:8080", has_ipv6=False)
    assert [f.code for f in remedies] == ["remedy-ipv6", "remedy-ssh-tunnel", "remedy-wireguard-relay", "remedy-ask-isp"]
    assert "127.0.0.1:8443:127.0.0.1:8443" in remedies[1].detail and "cloud.example.org" in remedies[1].detail
    assert remedies[1].advice == ("Verify with: natprobe check --tcp 8443 --udp 22124 --host cloud.example.org "
                                  "--server http://vps:8080",)
    udp_only = forwarding_remedies([PortSpec(UDP, 22124)], name=None, server=None, has_ipv6=True)
    assert "cannot carry UDP 22124" in udp_only[1].detail


def test_needs_remedies_only_when_a_forward_cannot_work():
    cgnat = PortVerdict(TCP, 80, False, PortStatus.CGNAT, "r", ())
    missing = PortVerdict(TCP, 80, False, PortStatus.NOT_FORWARDED, "r", ())
    ok = PortVerdict(TCP, 80, True, PortStatus.REACHABLE, "r", ())
    assert needs_remedies([cgnat], "unknown")
    assert needs_remedies([missing], "double-nat")
    assert not needs_remedies([missing], "one-nat")
    assert not needs_remedies([ok], "cgnat")


def test_without_the_arrival_watch_a_tcp_token_that_never_completed_is_not_tested_and_says_why():
    """A dead tunnel and a reply that leaves the wrong way look alike over TCP without the watch:
    not-tested, and the finding names the missing facility (not "the tunnel is down")."""
    from natprobe.findings.facility_words import limit_sentence, word_limits
    from natprobe.observations import Availability, Facility, Missing, OFF_BY_VARIABLE

    off = Availability(Facility.ARRIVAL_WATCH, False, None, Missing.DISABLED, OFF_BY_VARIABLE)
    unseen = decide_relay_port(obs(nonce_received=False, relay_answered=False, watch_missing=off))
    assert (unseen.status, unseen.reachable) == (RelayStatus.NOT_TESTED, None)
    # What the watch would not change keeps its verdict: nginx's 502, a UDP token that never came.
    assert decide_relay_port(obs(nonce_received=False, relay_status=502, watch_missing=off)).status \
        is RelayStatus.RELAY_TUNNEL_DOWN
    assert decide_relay_port(obs(protocol=UDP, nonce_received=False, watch_missing=off)).status \
        is RelayStatus.RELAY_TUNNEL_DOWN
    report = RelayReport("x.test", (RELAY,), RelayVia.ECHO_SERVER, (unseen,), 1.0, limits=word_limits((off,)))
    finding = explain_relay(report)[0]
    assert finding.code == "relay-not-tested" and limit_sentence(off) in finding.detail
    data = assert_valid_report(report.to_dict())
    assert [entry["facility"] for entry in data["limits"]] == ["arrival-watch"]
