"""``--share``: public addresses masked, names and tokens removed, LAN addresses kept."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from natprobe.contract import HttpsResult, TlsInfo
from natprobe_cli.render_share import Scrubber, mask_address, share_check, share_jamulus, share_nat
from natprobe.verdicts.behavior import ClassicNatType, FilteringBehavior, MappingBehavior
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.contract import TransportProtocol
from natprobe.verdicts.reachability import PortStatus, PortVerdict
from tests.findings.test_path_picture import LAN, PUBLIC, check_report, nat_report, verdict
from tests.test_jamulus_explain import punch, report as jamulus_report


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("203.0.113.7", "203.x.x.x"),
        ("100.64.3.4", "100.x.x.x"),
        ("8.8.8.8", "8.x.x.x"),
        ("2001:db8:aa:bb::7", "2001:db8:x:x:x:x:x:x"),
        ("::ffff:203.0.113.7", "203.x.x.x"),
        ("192.168.77.10", "192.168.77.10"),
        ("10.1.2.3", "10.1.2.3"),
        ("fd00::5", "fd00::5"),
        ("fe80::1", "fe80::1"),
    ],
)
def test_mask_address(address: str, masked: str) -> None:
    assert mask_address(ip_address(address)) == masked


def test_scrubber_masks_inside_prose_and_removes_names_and_tokens() -> None:
    scrub = Scrubber(names=["Moodle.Example.org"], tokens=["s3cr3t-token"])
    text = (
        "the public address 203.0.113.7 (and 2001:db8::7:8, port 203.0.113.7:61000) belongs to moodle.example.org; "
        "token s3cr3t-token; LAN 192.168.1.20; vps.example.net answered; Jamulus 3.9.1, nginx/1.22.1."
    )
    out = scrub(text)
    for secret in ("203.0.113.7", "2001:db8::7:8", "moodle.example.org", "s3cr3t-token", "vps.example.net"):
        assert secret not in out
    assert "203.x.x.x:61000" in out and "2001:db8:x:x:x:x:x:x" in out
    assert "192.168.1.20" in out and "3.9.1" in out and "nginx/1.22.1" in out


def test_share_check_has_no_public_address_and_keeps_the_lan_address() -> None:
    reachable = replace(
        verdict(PortStatus.REACHABLE, True, TransportProtocol.TCP, 443),
        reason="a web server with HTTP 200, certificate for cloud.example.org answered",
        details=HttpsResult(
            connected=True, error=None, status=200, server_header="nginx", location=None,
            tls=TlsInfo(version="TLSv1.3", subject_cn="cloud.example.org", san=("cloud.example.org",), issuer_cn=None,
                        not_after=None, verified=False, verify_error="self-signed"),
        ),
    )
    blocked = PortVerdict(
        TransportProtocol.UDP, 22124, False, PortStatus.CGNAT,
        f"this network is behind carrier-grade NAT, so the public address {PUBLIC} belongs to your ISP's NAT",
        (f"Forward UDP port 22124 to {LAN}.",),
    )
    text = share_check(check_report(NatLayers.CGNAT, blocked, reachable), names=["cloud.example.org"], tokens=["tok"])
    assert str(PUBLIC) not in text and "198.51.100.10" not in text and "cloud.example.org" not in text
    assert str(LAN) in text and "203.x.x.x (public, masked)" in text
    assert "| UDP 22124 | ✗ `behind-cgnat` | nothing |" in text
    assert "| TCP 443 | ✓ `reachable` | web server (nginx), HTTP 200 |" in text
    assert "```text" in text and "Carrier NAT" in text


def test_share_nat_and_jamulus() -> None:
    nat = share_nat(nat_report(ClassicNatType.SYMMETRIC, MappingBehavior.ADDRESS_AND_PORT_DEPENDENT,
                               FilteringBehavior.ADDRESS_AND_PORT_DEPENDENT, False))
    assert "NAT type `symmetric`" in nat and str(PUBLIC) not in nat and str(LAN) in nat
    jamulus = share_jamulus(jamulus_report(hole_punch=punch(published=61000, source=61001, answered=False)))
    assert str(PUBLIC) not in jamulus and "vps.example" not in jamulus and "198.51.100" not in jamulus
    assert "symmetric-nat" in jamulus


def test_ipv6_public_host_is_masked_everywhere() -> None:
    public = IPv6Address("2001:db8:1:2::99")
    report = replace(check_report(NatLayers.NO_NAT, verdict(PortStatus.NOT_FORWARDED, False)),
                     public_ip=public, local_ip=public)
    text = share_check(report)
    assert str(public) not in text and "2001:db8:x:x:x:x:x:x" in text
    assert IPv4Address("198.51.100.10").exploded not in text


def test_share_check_carries_the_relay_the_limits_and_the_remedies_the_terminal_shows() -> None:
    from natprobe.findings.facility_words import word_limits
    from natprobe.findings.relay_findings import explain_relay
    from natprobe.observations import Availability, Facility, Missing
    from natprobe.reports.finding import Finding, Severity
    from natprobe.reports.relay_report import RelayReport
    from natprobe.verdicts.relay_verdicts import RelayObservation, RelayVia, decide_relay_port

    relay_ip = IPv4Address("203.0.113.50")
    seen = RelayObservation(TransportProtocol.UDP, 22124, relay_ip, RelayVia.ECHO_SERVER,
                            prober=IPv4Address("198.51.100.10"), nonce_received=True, peer=IPv4Address("10.9.0.1"))
    relay = RelayReport("music.example.org", (relay_ip,), RelayVia.ECHO_SERVER, (decide_relay_port(seen),), 0.5)
    relay = replace(relay, findings=explain_relay(relay))
    limits = word_limits((Availability(Facility.HOP_TRACE, False, None, Missing.UNSUPPORTED, "darwin"),))
    remedy = Finding(Severity.INFO, "Use a tunnel to a VPS at 203.0.113.50", "detail", ("step",), code="remedy-tunnel")
    report = replace(check_report(NatLayers.CGNAT, verdict(PortStatus.CGNAT, False)),
                     relay=relay, limits=limits, advice=(remedy,))
    text = share_check(report, names=["music.example.org"])
    assert "UDP 22124 via 203.x.x.x: ✓ `reachable-via-relay`" in text
    assert f"`{relay.ports[0].client_address.value}`" in text
    assert limits[0].text in text and "**What this machine could not measure**" in text
    assert "Use a tunnel to a VPS at 203.x.x.x" in text
    assert "203.0.113.50" not in text and "music.example.org" not in text
