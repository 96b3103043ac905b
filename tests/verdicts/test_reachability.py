"""``decide_port`` and ``decide_hairpin``, as ``assess_port`` and ``word_hairpin`` say them: the verdicts of ``natprobe check``, case by case."""

from __future__ import annotations

from ipaddress import IPv4Address

from natprobe.contract import (
    ConnectResult,
    HttpsResult,
    JamulusResult,
    ProbeError,
    ProbeMode,
    ProbeResult,
    SshResult,
    TransportProtocol,
)
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.findings.port_words import assess_port, word_hairpin
from natprobe.verdicts.reachability import Context, PortStatus, decide_hairpin
from natprobe.observations import PortObservation

LAN = IPv4Address("192.168.1.20")
PUBLIC = IPv4Address("203.0.113.7")
HOME = Context(LAN, PUBLIC, NatLayers.ONE_NAT)


def _tcp(mode: ProbeMode, result: ProbeResult, *, seen: bool | None = None, listening: bool = True,
         received: bool | None = False) -> PortObservation:
    return PortObservation(TransportProtocol.TCP, 8443, mode, listening=listening, nonce_received=received,
                           seen_on_interface=seen, server_result=result)


# --- forwarded to another host ----------------------------------------------------------------


def test_a_connection_accepted_elsewhere_is_a_forward_to_another_host() -> None:
    # natprobe listened on the port and the token never came, yet the echo server's connection
    # was accepted: something else, on another machine, holds the forwarded port.
    verdict = assess_port(_tcp(ProbeMode.NONCE, ConnectResult(True, None, 1.0)), HOME)
    assert (verdict.reachable, verdict.status) == (False, PortStatus.WRONG_HOST)
    assert "another machine" in verdict.reason and str(LAN) in verdict.reason
    assert verdict.advice and f"forward TCP port 8443 to {LAN}" in verdict.advice[0]


def test_a_refusal_never_seen_here_is_a_forward_to_another_host() -> None:
    verdict = assess_port(_tcp(ProbeMode.NONCE, ConnectResult(False, ProbeError.REFUSED, None), seen=False), HOME)
    assert (verdict.reachable, verdict.status) == (False, PortStatus.WRONG_HOST)
    assert f"to a machine other than this host ({LAN})" in verdict.reason


def test_a_refusal_seen_on_this_interface_is_this_hosts_firewall() -> None:
    verdict = assess_port(_tcp(ProbeMode.NONCE, ConnectResult(False, ProbeError.REFUSED, None), seen=True), HOME)
    assert (verdict.reachable, verdict.status) == (False, PortStatus.HOST_FIREWALL)
    assert "this host's firewall rejects it" in verdict.reason


# --- nothing answering ------------------------------------------------------------------------


def test_a_forwarded_service_port_that_refuses_is_nothing_answering() -> None:
    refused = HttpsResult(False, ProbeError.REFUSED, None, None, None, None)
    observation = _tcp(ProbeMode.HTTPS, refused, listening=False, received=None)
    verdict = assess_port(observation, HOME)
    assert (verdict.reachable, verdict.status) == (False, PortStatus.NOTHING_ANSWERING)
    assert "nothing accepted it" in verdict.reason and verdict.details == refused


def test_a_udp_service_that_gets_the_probe_but_does_not_answer_is_nothing_answering() -> None:
    observation = PortObservation(TransportProtocol.UDP, 22124, ProbeMode.JAMULUS, listening=False, seen_on_interface=True,
                                  server_result=JamulusResult(False, None, None, None, None), service="jamulus")
    verdict = assess_port(observation, HOME)
    assert (verdict.reachable, verdict.status) == (False, PortStatus.NOTHING_ANSWERING)
    assert "reached this host's interface but jamulus did not answer" in verdict.reason
    assert any("0.0.0.0" in advice for advice in verdict.advice)


def test_a_tcp_service_seen_here_without_an_answer_is_the_host_firewall() -> None:
    observation = _tcp(ProbeMode.SSH, SshResult(False, ProbeError.TIMEOUT, None), seen=True, listening=False, received=None)
    assert assess_port(observation, HOME).status is PortStatus.HOST_FIREWALL


# --- hairpin ----------------------------------------------------------------------------------


def test_hairpin_verdicts() -> None:
    works = word_hairpin(decide_hairpin(TransportProtocol.UDP, 22124, PUBLIC, True))
    assert works.works is True and works.advice == () and f"{PUBLIC}:22124" in works.reason
    fails = word_hairpin(decide_hairpin(TransportProtocol.TCP, 443, PUBLIC, False))
    assert fails.works is False and "does not hairpin" in fails.reason and "split DNS" in fails.advice[0]
    untested = word_hairpin(decide_hairpin(TransportProtocol.UDP, 22124, PUBLIC, None))
    assert untested.works is None and "in use here" in untested.reason
