"""Issue #18 item 1 and 4 without root: a refused service port, and a certificate that does not verify.

The lab test (tests/lab/test_newcomer_lab.py) proves the root case on a real NAT; here the
cases a packet capture cannot decide, from the observations alone.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from natprobe.contract import HttpsResult, ProbeError, ProbeMode, TlsInfo, TransportProtocol
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.findings.port_words import assess_port
from natprobe.observations import PortObservation
from natprobe.verdicts.reachability import Context, PortStatus

LAN = IPv4Address("192.168.1.2")
HOME = Context(LAN, IPv4Address("203.0.113.7"), NatLayers.ONE_NAT)
REFUSED = HttpsResult(False, ProbeError.REFUSED, None, None, None, None)


def _refused(seen: bool | None, local_listener: bool | None) -> PortObservation:
    return PortObservation(TransportProtocol.TCP, 8443, ProbeMode.HTTPS, listening=False, seen_on_interface=seen,
                           server_result=REFUSED, service="https", local_listener=local_listener)


def test_without_capture_and_nothing_listening_both_explanations_are_given() -> None:
    verdict = assess_port(_refused(None, False), HOME)
    assert verdict.status is PortStatus.NOTHING_ANSWERING and verdict.reachable is False
    assert "nothing listens on TCP port 8443 on this host" in verdict.reason
    assert "either the forward works" in verdict.reason and "another machine" in verdict.reason
    assert "as root" in verdict.reason
    assert any("Start the service" in a for a in verdict.advice)
    assert any(f"forward TCP port 8443 to {LAN}" in a for a in verdict.advice)


def test_seen_arriving_with_nothing_listening_is_a_working_forward() -> None:
    verdict = assess_port(_refused(True, False), HOME)
    assert verdict.status is PortStatus.NOTHING_ANSWERING
    assert verdict.reason.startswith("the forward works")
    assert not any("forward TCP port" in a for a in verdict.advice)


def test_never_seen_here_is_a_forward_elsewhere() -> None:
    verdict = assess_port(_refused(False, False), HOME)
    assert verdict.status is PortStatus.WRONG_HOST and "never reached this host" in verdict.reason


def _tls(verified: bool, names: tuple[str, ...]) -> HttpsResult:
    tls = TlsInfo("TLSv1.3", names[0] if names else None, names, "Test CA", None, verified,
                  None if verified else "self-signed certificate")
    return HttpsResult(True, None, 200, "nginx", None, tls)


def _answered(result: HttpsResult, host: str | None) -> PortObservation:
    return PortObservation(TransportProtocol.TCP, 443, ProbeMode.HTTPS, listening=False, seen_on_interface=True,
                           server_result=result, service="https", host=host)


def test_a_certificate_for_another_name_is_said_in_the_reason() -> None:
    verdict = assess_port(_answered(_tls(False, ("default.example.org",)), "cloud.example.org"), HOME)
    assert verdict.reachable is True
    assert "does not verify: it is not for cloud.example.org" in verdict.reason
    assert verdict.advice and "cloud.example.org" in verdict.advice[0]


def test_a_self_signed_certificate_for_the_name_is_said_too() -> None:
    verdict = assess_port(_answered(_tls(False, ("*.example.org",)), "cloud.example.org"), HOME)
    assert "does not verify (self-signed certificate)" in verdict.reason


def test_a_verified_certificate_adds_nothing() -> None:
    verdict = assess_port(_answered(_tls(True, ("cloud.example.org",)), "cloud.example.org"), HOME)
    assert "certificate" in verdict.reason and "verify" not in verdict.reason and verdict.advice == ()
