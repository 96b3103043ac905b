"""Jamulus public versus private mode: the pure verdicts and explanations, every case.

Observations are built by hand the way ``natprobe explain jamulus`` gathers them on each kind
of network (the lab tests prove the gathering on a real NAT with real Jamulus).
"""

from __future__ import annotations

import json
from dataclasses import replace
from ipaddress import IPv4Address
from typing import Any

import pytest

from natprobe.reports.finding import Finding, Severity
from tests.json_reports import assert_valid_report
from natprobe.verdicts.jamulus_verdicts import ModeStatus, keepalive_outlives
from natprobe.observations import HolePunchObservation
from natprobe.findings.jamulus_reasons import assess_jamulus_modes
from natprobe.reports.jamulus_report import JamulusModesReport
from natprobe.findings.jamulus_findings import explain_jamulus, explain_jamulus_port
from natprobe.contract import TransportProtocol
from natprobe.verdicts.reachability import PortStatus, PortVerdict
from natprobe.reports.lifetime_report import LifetimeReport, LifetimeTrial
from natprobe.addressing import TransportAddress
from natprobe.verdicts.nat_layers import NatLayers

LOCAL = IPv4Address("192.168.1.20")
PUBLIC = IPv4Address("203.0.113.7")
DIRECTORY = TransportAddress(IPv4Address("198.51.100.10"), 22224)
PEER_IP = IPv4Address("198.51.100.11")


def at(port: int, ip: IPv4Address = PUBLIC) -> TransportAddress:
    return TransportAddress(ip, port)


def check(status: PortStatus, reachable: bool | None) -> PortVerdict:
    reasons = {
        PortStatus.REACHABLE: "the echo server's probe arrived on UDP port 22124",
        PortStatus.NOT_FORWARDED: "the echo server's probe never arrived: nothing arrived at this host.",
        PortStatus.CGNAT: "the echo server's probe never arrived: this network is behind carrier-grade NAT",
        PortStatus.HOST_FIREWALL: "the probe reached this host's interface but not the port",
        PortStatus.UNTESTED: "the echo server refused the probe",
    }
    return PortVerdict(TransportProtocol.UDP, 22124, reachable, status, reasons[status], ("Forward it.",))


def punch(
    published: int = 22124,
    *,
    stranger: bool = False,
    source: int | None = 22124,
    answered: bool = True,
) -> HolePunchObservation:
    return HolePunchObservation(
        published=at(published),
        unsolicited_answered=stranger,
        punch_received=source is not None,
        punch_source=None if source is None else at(source),
        punched_ping_answered=answered,
        punched_rtt_ms=23.5 if answered else None,
    )


def lifetime(at_least: float | None, at_most: float | None, max_wait: float = 120.0) -> LifetimeReport:
    return LifetimeReport(at_least, at_most, max_wait, (LifetimeTrial(2.0, True),), f"lifetime {at_least}-{at_most} s")


def report(**changes: Any) -> JamulusModesReport:
    """A port-restricted cone NAT without a forward, then ``changes``."""
    observed: dict[str, Any] = dict(
        server="http://vps.example:8080",
        port=22124,
        measured_port=22124,
        port_in_use=False,
        local_ip=LOCAL,
        public_ip=PUBLIC,
        nat_layers=NatLayers.ONE_NAT,
        private_check=check(PortStatus.NOT_FORWARDED, False),
        directory=DIRECTORY,
        registered=True,
        registration_status=0,
        hole_punch=punch(),
        punches_sent=1,
        duration_s=2.5,
    )
    observed.update(changes)
    return assess_jamulus_modes(**observed)


def titles(findings: tuple[Finding, ...]) -> list[str]:
    return [f.title for f in findings]


def text(findings: tuple[Finding, ...]) -> str:
    return " ".join(" ".join((f.title, f.detail, *f.advice)) for f in findings)


def finding(findings: tuple[Finding, ...], title: str) -> Finding:
    return next(f for f in findings if f.title.startswith(title))


# --- the cases -----------------------------------------------------------------------------------


def test_cone_nat_without_forward_public_works_private_needs_a_forward() -> None:
    r = report()
    assert (r.public_mode.works, r.public_mode.status) == (True, ModeStatus.WORKS)
    assert (r.private_mode.works, r.private_mode.status) == (False, ModeStatus.NEEDS_PORT_FORWARD)
    assert r.private_mode_reachable is False
    assert r.published_address == at(22124) and r.port_preserved is True
    assert r.unsolicited_from_new_peer_admitted is False
    assert r.punch_sent_from_port == 22124 and r.punched_ping_answered is True
    findings = explain_jamulus(r)
    assert titles(findings)[:2] == ["Public mode works without a port forward", "Private mode needs a port forward"]
    assert finding(findings, "Public mode works").severity is Severity.OK
    assert finding(findings, "Private mode needs").severity is Severity.PROBLEM
    assert "forward UDP port 22124 to 192.168.1.20" in text(findings)
    why = finding(findings, "Why public mode needs no port forward").detail
    # The user's own numbers: local port, the mapping a directory lists, the stranger, the punch.
    for fragment in ("local UDP port 22124", "created the NAT mapping 203.0.113.7:22124", "every 59 s",
                     "before any punch was dropped", "left through 203.0.113.7:22124, the listed address",
                     "listed address was answered"):
        assert fragment in why, fragment
    assert "sends nothing until a client has reached it" in finding(findings, "Why private mode").detail
    assert "23.5 ms" in r.public_mode.reason
    # No sentence ends in a doubled full stop, whatever the check's reason ended with.
    assert ".." not in text(findings)


def test_symmetric_nat_public_mode_fails_and_says_why() -> None:
    r = report(hole_punch=punch(61012, source=5077, answered=False))
    assert (r.public_mode.works, r.public_mode.status) == (False, ModeStatus.SYMMETRIC_NAT)
    assert r.port_preserved is False and r.punch_sent_from_port == 5077
    assert "203.0.113.7:61012" in r.public_mode.reason and "port 5077" in r.public_mode.reason
    findings = explain_jamulus(r)
    failed = finding(findings, "Public mode fails here")
    assert failed.severity is Severity.PROBLEM
    assert any("endpoint-independent" in a for a in failed.advice)
    assert any("forward UDP port 22124" in a and "private mode" in a for a in failed.advice)
    assert "Why public mode needs no port forward" not in titles(findings)
    assert "not the listed 203.0.113.7:61012" in finding(findings, "How public mode gets through").detail
    not_preserved = finding(findings, "The NAT does not preserve the port")
    assert not_preserved.severity is Severity.WARNING and "port 61012, not 22124" in not_preserved.detail


def test_cgnat_private_impossible_public_measured() -> None:
    r = report(nat_layers=NatLayers.CGNAT, private_check=check(PortStatus.CGNAT, False))
    assert (r.private_mode.works, r.private_mode.status) == (False, ModeStatus.CGNAT)
    assert r.public_mode.works is True
    findings = explain_jamulus(r)
    private = finding(findings, "Private mode is impossible behind carrier-grade NAT")
    assert "cannot help" in private.detail and any("public IPv4" in a for a in private.advice)
    assert finding(findings, "Behind carrier-grade NAT").severity is Severity.WARNING

    failing = report(nat_layers=NatLayers.CGNAT, private_check=check(PortStatus.CGNAT, False),
                     hole_punch=punch(40000, source=40001, answered=False))
    assert failing.public_mode.status is ModeStatus.SYMMETRIC_NAT
    assert "carrier-grade NAT" in failing.public_mode.reason
    advice = finding(explain_jamulus(failing), "Public mode fails here").advice
    assert any("VPS" in a for a in advice)


def test_short_lifetime_public_mode_drops_between_keepalives() -> None:
    r = report(lifetime=lifetime(8.0, 10.0, 20.0))
    assert r.keepalive_outlives_mapping is False
    assert (r.public_mode.works, r.public_mode.status) == (False, ModeStatus.MAPPING_TOO_SHORT)
    assert "within 10 s" in r.public_mode.reason and "59 s" in r.public_mode.reason
    findings = explain_jamulus(r)
    expiry = finding(findings, "Idle mappings expire before Jamulus' 59 s keep-alive")
    assert expiry.severity is Severity.PROBLEM and "between two keep-alives" in expiry.detail
    assert any("UDP session timeout" in a for a in finding(findings, "Public mode fails here").advice)


@pytest.mark.parametrize(
    ("at_least", "at_most", "max_wait", "outlives"),
    [
        (None, None, 120.0, None),
        (120.0, None, 120.0, True),
        (59.0, None, 59.0, True),
        (40.0, None, 40.0, None),  # stopped before 59 s: undecided
        (50.0, 70.0, 120.0, None),  # the bracket straddles 59 s
        (30.0, 59.0, 120.0, False),
        (8.0, 10.0, 20.0, False),
    ],
)
def test_keepalive_against_lifetime(at_least: float | None, at_most: float | None, max_wait: float,
                                    outlives: bool | None) -> None:
    measured = lifetime(at_least, at_most, max_wait)
    assert keepalive_outlives(measured) is outlives
    r = report(lifetime=measured)
    assert r.public_mode.works is (outlives is not False)
    (title,) = [f.title for f in explain_jamulus(r) if "keep-alive" in f.title and "Public mode" not in f.title]
    expected = {True: "Idle mappings outlive", False: "Idle mappings expire", None: "Mapping lifetime against"}[outlives]
    assert title.startswith(expected)
    assert keepalive_outlives(None) is None


def test_lifetime_not_measured_says_how_to() -> None:
    findings = explain_jamulus(report())
    assert "--lifetime" in finding(findings, "Keep-alive against mapping lifetime: not measured").detail


def test_port_not_preserved_on_an_endpoint_independent_nat() -> None:
    """A NAT that translates the port but keeps one mapping for every destination: public mode
    works, listed under the translated port."""
    r = report(hole_punch=punch(40123, source=40123))
    assert r.public_mode.works is True and r.port_preserved is False
    findings = explain_jamulus(r)
    note = finding(findings, "The NAT does not preserve the port")
    assert note.severity is Severity.INFO
    assert "lists the server at port 40123, not 22124" in note.detail
    assert "directory's list" in note.advice[0] and "forward UDP port 22124 to 192.168.1.20" in note.advice[0]


def test_forwarded_port_private_works_and_strangers_get_in() -> None:
    r = report(private_check=check(PortStatus.REACHABLE, True), hole_punch=punch(stranger=True))
    assert (r.private_mode.works, r.private_mode.status) == (True, ModeStatus.WORKS)
    assert r.public_mode.works is True and r.unsolicited_from_new_peer_admitted is True
    findings = explain_jamulus(r)
    assert "Private mode works" in titles(findings)[1]
    assert "Clients can connect straight to 203.0.113.7:22124" in text(findings)
    assert "was answered too (a port forward or a full-cone NAT admits anyone)" in text(findings)
    assert "Why private mode needs a port forward" not in titles(findings)


def test_host_firewall_blocks_private_mode() -> None:
    r = report(private_check=check(PortStatus.HOST_FIREWALL, False))
    assert r.private_mode.status is ModeStatus.HOST_FIREWALL
    assert "firewall" in " ".join(finding(explain_jamulus(r), "Private mode is blocked").advice)


def test_hole_punch_never_arrives() -> None:
    r = report(hole_punch=punch(source=None, answered=False))
    assert (r.public_mode.works, r.public_mode.status) == (False, ModeStatus.NO_HOLE_PUNCH)
    assert "never reached the new client" in text(explain_jamulus(r))


def test_filtered_after_a_punch_from_the_listed_port() -> None:
    r = report(hole_punch=punch(source=22124, answered=False))
    assert (r.public_mode.works, r.public_mode.status) == (False, ModeStatus.FILTERED)


def test_directory_silent_or_refusing_is_not_a_verdict() -> None:
    silent = report(registered=False, registration_status=None, hole_punch=None)
    assert (silent.public_mode.works, silent.public_mode.status) == (None, ModeStatus.DIRECTORY_UNREACHABLE)
    assert "did not answer the registration" in silent.public_mode.reason
    assert finding(explain_jamulus(silent), "Public mode was not measured").severity is Severity.WARNING
    refused = report(registered=False, registration_status=1, hole_punch=None)
    assert "status 1" in refused.public_mode.reason


def test_hole_punch_route_missing_is_not_measured() -> None:
    r = report(hole_punch=None, hole_punch_error="echo server refused the request: no Jamulus directory")
    assert (r.public_mode.works, r.public_mode.status) == (None, ModeStatus.NOT_MEASURED)
    assert "no Jamulus directory" in r.public_mode.reason


def test_untested_private_and_unmeasured_public() -> None:
    r = report(private_check=None, measured_port=None, registered=None, hole_punch=None, directory=None)
    assert r.private_mode.status is ModeStatus.NOT_MEASURED and r.private_mode.works is None
    assert r.public_mode.status is ModeStatus.NOT_MEASURED and r.port_preserved is None
    untested = report(private_check=check(PortStatus.UNTESTED, None))
    assert untested.private_mode.works is None and "refused" in untested.private_mode.reason


def test_port_in_use_is_noted() -> None:
    note = "Another program holds UDP 22124, so public mode was measured from UDP port 40000 instead."
    r = report(port_in_use=True, measured_port=40000, hole_punch=punch(40000, source=40000), notes=(note,))
    assert r.port_preserved is True and r.public_mode.works is True
    assert note in text(explain_jamulus(r))


def test_no_nat_wording() -> None:
    r = report(nat_layers=NatLayers.NO_NAT, local_ip=PUBLIC, private_check=check(PortStatus.REACHABLE, True))
    assert "no NAT mapping to create" in text(explain_jamulus(r))


def test_report_json_is_stable_and_serialisable() -> None:
    r = report(lifetime=lifetime(8.0, 10.0, 20.0), hole_punch=punch(61012, source=5077, answered=False))
    data = assert_valid_report(json.loads(json.dumps(r.to_dict())))
    assert data["schema"] == "natprobe/jamulus-modes" and data["schema_version"] == 4
    assert data["public_mode"] == {"works": False, "status": "symmetric-nat", "reason": r.public_mode.reason}
    assert data["private_mode"]["status"] == "needs-port-forward" and data["private_check"]["reachable"] is False
    assert data["published_address"] == {"ip": "203.0.113.7", "port": 61012}
    assert (data["port_preserved"], data["punch_sent_from_port"], data["punched_ping_answered"]) == (False, 5077, False)
    assert data["unsolicited_from_new_peer_admitted"] is False and data["hole_punch_received"] is True
    assert data["keepalive_outlives_mapping"] is False and data["lifetime"]["at_most_s"] == 10.0
    assert data["directory"] == {"ip": "198.51.100.10", "port": 22224} and data["nat_layers"] == "one-nat"


def test_report_is_frozen() -> None:
    r = report()
    with pytest.raises(AttributeError):
        r.port = 1  # type: ignore[misc]
    assert replace(r, duration_s=1.0).duration_s == 1.0


# --- what a plain check of UDP 22124 means for Jamulus ---------------------------------------------


def test_check_reachable_means_private_mode_works() -> None:
    findings = explain_jamulus_port(check(PortStatus.REACHABLE, True), NatLayers.ONE_NAT)
    assert titles(findings) == ["Jamulus: private mode will work"] and findings[0].severity is Severity.OK


def test_check_not_reachable_private_needs_forward_public_may_work() -> None:
    findings = explain_jamulus_port(check(PortStatus.NOT_FORWARDED, False), NatLayers.ONE_NAT)
    (only,) = findings
    assert only.title == "Jamulus: private mode needs a port forward; public mode may not"
    for fragment in ("sends nothing until a client reaches it", "59 s keep-alives", "symmetric", "carrier-grade"):
        assert fragment in only.detail
    assert "natprobe explain jamulus" in only.advice[0] and only.advice[1] == "Forward it."


def test_check_behind_cgnat() -> None:
    findings = explain_jamulus_port(check(PortStatus.CGNAT, False), NatLayers.CGNAT)
    assert findings[0].title == "Jamulus: private mode cannot work behind carrier-grade NAT"
    assert findings[0].severity is Severity.PROBLEM
    assert any("natprobe explain jamulus" in a for a in findings[0].advice)


def test_check_untested() -> None:
    findings = explain_jamulus_port(check(PortStatus.UNTESTED, None), NatLayers.UNKNOWN)
    assert findings[0].title == "Jamulus: modes not assessed" and findings[0].detail.endswith(".")
