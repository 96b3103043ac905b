"""Grading an exposure scan (pure): the guides' rules, expectations, and the reachability verdict reused."""

from __future__ import annotations

import dataclasses
import ipaddress
from datetime import datetime, timezone

import pytest

from natprobe.findings.port_words import word_port
from natprobe_cli.commands.exposure import parse_expect, render
from natprobe.contract.exposure_route import (
    DEFAULT_PORTS,
    HttpDetails,
    PortRef,
    PortState,
    ScannedPort,
    ScanProtocol,
    SshDetails,
    TlsDetails,
)
from natprobe.findings.exposure_findings import explain_exposure, explain_grade
from natprobe.addressing import IpFamily
from natprobe.reports.exposure_report import ExposureFamily, ExposureReport
from tests.json_reports import assert_valid_report
from natprobe.verdicts.exposure_grading import Code, ExposedPort, Grade, Level, grade_scan, name_matches
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.verdicts.reachability import Context, PortStatus

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
CONTEXT = Context(ipaddress.ip_address("192.168.1.10"), ipaddress.ip_address("203.0.113.7"), NatLayers.ONE_NAT)
TCP, UDP = ScanProtocol.TCP, ScanProtocol.UDP
OPEN = PortState.OPEN


def _tls(**kw: object) -> TlsDetails:
    base: dict[str, object] = dict(version="TLSv1.3", subject_cn="cloud.example.org", san=("cloud.example.org",),
                                   issuer_cn="R11", not_after="2027-01-01T00:00:00Z", verified=True,
                                   verify_error=None, self_signed=False)  # fmt: skip
    base.update(kw)
    return TlsDetails(**base)  # type: ignore[arg-type]


def _codes(ports: tuple[ScannedPort, ...], expect: set[tuple[int, ScanProtocol]] | None = None,
           host: str | None = None) -> dict[int, dict[Code, Level]]:  # fmt: skip
    graded = grade_scan(ports, expect=None if expect is None else frozenset(expect), context=CONTEXT, host=host, now=NOW)
    return {g.scanned.port: {grade.code: grade.level for grade in g.grades} for g in graded}


def test_ssh_with_passwords_is_bad_keys_only_is_fine() -> None:
    ports = (
        ScannedPort(22, TCP, OPEN, "ssh", True, ssh=SshDetails("SSH-2.0-OpenSSH_9.2", ("publickey", "password"))),
        ScannedPort(2222, TCP, OPEN, "ssh", True, ssh=SshDetails("SSH-2.0-OpenSSH_9.2", ("publickey",))),
        ScannedPort(2223, TCP, OPEN, "ssh", True, ssh=SshDetails("SSH-2.0-x", ("keyboard-interactive",))),
    )
    codes = _codes(ports, {(22, TCP), (2222, TCP), (2223, TCP)})
    assert codes == {
        22: {Code.SSH_PASSWORDS: Level.BAD},
        2222: {Code.SSH_KEYS_ONLY: Level.OK},
        2223: {Code.SSH_PASSWORDS: Level.BAD},
    }


def test_certificates_expired_self_signed_wrong_name_and_good() -> None:
    ports = (
        ScannedPort(443, TCP, OPEN, "https", True, tls=_tls()),
        ScannedPort(8443, TCP, OPEN, "https", True, tls=_tls(not_after="2026-11-01T00:00:00Z", verified=False)),
        ScannedPort(9443, TCP, OPEN, "https", True, tls=_tls(verified=False, self_signed=True, issuer_cn="cloud.example.org")),
        ScannedPort(10443, TCP, OPEN, "https", True, tls=_tls(san=("*.other.example",), subject_cn="*.other.example")),
    )
    codes = _codes(ports, {(p.port, TCP) for p in ports}, host="cloud.example.org")
    assert codes[443] == {Code.TLS_OK: Level.OK}
    assert codes[8443] == {Code.TLS_EXPIRED: Level.BAD}
    assert codes[9443] == {Code.TLS_SELF_SIGNED: Level.WARNING}
    assert codes[10443] == {Code.TLS_WRONG_NAME: Level.WARNING}


def test_plain_http_needs_https_and_a_redirect_to_it() -> None:
    http = ScannedPort(80, TCP, OPEN, "http", True, http=HttpDetails(200, "nginx", None))
    redirect = ScannedPort(80, TCP, OPEN, "http", True, http=HttpDetails(301, "nginx", "https://cloud.example.org/"))
    https = ScannedPort(443, TCP, OPEN, "https", True, tls=_tls())
    assert _codes((http,), {(80, TCP)})[80] == {Code.HTTP_WITHOUT_HTTPS: Level.WARNING}
    assert _codes((redirect,), {(80, TCP)})[80] == {Code.HTTP_REDIRECTS: Level.OK}
    # HTTPS on 443, yet port 80 serves the pages itself: the missing redirect is the finding.
    assert _codes((http, https), {(80, TCP), (443, TCP)})[80] == {Code.HTTP_NO_REDIRECT: Level.WARNING}
    assert _codes((redirect, https), {(80, TCP), (443, TCP)})[80] == {Code.HTTP_REDIRECTS: Level.OK}
    not_found = ScannedPort(80, TCP, OPEN, "http", True, http=HttpDetails(404, "nginx", None))
    assert _codes((not_found, https), {(80, TCP), (443, TCP)})[80] == {}  # serves nothing


@pytest.mark.parametrize("service", ["telnet", "smb", "rdp", "vnc", "mysql", "postgresql", "mongodb", "mssql", "mqtt"])
def test_services_never_to_expose_are_bad(service: str) -> None:
    codes = _codes((ScannedPort(1000, TCP, OPEN, service),), {(1000, TCP)})
    assert codes[1000] == {Code.RISKY_SERVICE: Level.BAD}


def test_redis_router_admin_and_unexpected_ports() -> None:
    ports = (
        ScannedPort(6379, TCP, OPEN, "redis", True, auth_required=False),
        ScannedPort(7547, TCP, OPEN, "tr-069"),
        ScannedPort(5000, TCP, OPEN, "upnp"),
        ScannedPort(22124, UDP, OPEN, "jamulus", True, jamulus_version="3.9.1"),
    )
    codes = _codes(ports, {(22124, UDP)})
    assert codes[6379] == {Code.REDIS_NO_AUTH: Level.BAD, Code.UNEXPECTED: Level.WARNING}
    assert codes[7547][Code.ROUTER_ADMIN] is Level.BAD and codes[5000][Code.ROUTER_ADMIN] is Level.BAD
    assert codes[22124] == {Code.JAMULUS: Level.OK}
    # Without --expect an open port is only worth a reminder.
    assert _codes(ports)[22124] == {Code.JAMULUS: Level.OK, Code.UNEXPECTED: Level.INFO}


def test_expected_ports_that_are_not_open_get_the_reachability_verdict() -> None:
    ports = (
        ScannedPort(443, TCP, PortState.FILTERED, "https", error="timeout"),
        ScannedPort(80, TCP, PortState.CLOSED, "http", error="refused"),
        ScannedPort(22124, UDP, PortState.FILTERED, "jamulus"),
        ScannedPort(51820, UDP, PortState.FILTERED, None),
        ScannedPort(25, TCP, PortState.FILTERED, "smtp"),
    )
    graded = {g.scanned.port: g for g in grade_scan(ports, expect=frozenset({(443, TCP), (80, TCP), (22124, UDP), (51820, UDP)}),
                                                    context=CONTEXT, host=None, now=NOW)}  # fmt: skip
    assert set(graded) == {443, 80, 22124, 51820}  # an unexpected closed port is not reported
    assert graded[443].verdict is not None and graded[443].verdict.status is PortStatus.NOT_FORWARDED
    assert "192.168.1.10" in " ".join(word_port(graded[443].verdict).advice)
    assert graded[80].verdict is not None and graded[80].verdict.status is PortStatus.NOTHING_ANSWERING
    assert graded[22124].worst is Level.BAD
    assert graded[51820].grades[0].code is Code.UDP_UNTESTABLE and graded[51820].worst is Level.INFO
    finding = explain_grade(graded[443].grades[0], graded[443].scanned, graded[443].verdict)
    assert finding.title == "TCP 443 was expected open but is filtered"
    assert finding.advice == word_port(graded[443].verdict).advice


def test_every_code_has_words() -> None:
    port = ScannedPort(1, TCP, OPEN, "x")
    titles = {explain_grade(Grade(code, Level.INFO, "a|b"), port).title for code in Code}
    assert len(titles) == len(Code) and all(titles)


def test_name_matching_follows_rfc_6125() -> None:
    assert name_matches("cloud.example.org", ("*.example.org",))
    assert not name_matches("a.b.example.org", ("*.example.org",))
    assert name_matches("Cloud.Example.org.", ("cloud.example.org",))


def test_parse_expect() -> None:
    assert parse_expect("80, 443,22124/udp,80") == [PortRef(80), PortRef(443), PortRef(22124, UDP)]
    for bad in ("0", "http", "53/sctp", "70000"):
        with pytest.raises(ValueError):
            parse_expect(bad)


def test_report_json_and_text() -> None:
    ssh = ScannedPort(22, TCP, OPEN, "ssh", True, banner="SSH-2.0-x", ssh=SshDetails("SSH-2.0-x", ("password",)))
    closed = ScannedPort(23, TCP, PortState.CLOSED, "telnet", error="refused")
    v4 = ExposureFamily(IpFamily.IPV4, True, None, ipaddress.ip_address("203.0.113.7"), False, "tested from ?",
                        scanned_from="198.51.100.10", scanned=(ssh, closed))
    v6 = ExposureFamily(IpFamily.IPV6, False, None, None, False, "this host has no global IPv6 address")
    graded = ExposedPort(ssh, True, (Grade(Code.SSH_PASSWORDS, Level.BAD, "password"),))
    report = ExposureReport("http://s", ("22/tcp",), (graded,), (v4, v6), 1.5)
    report = dataclasses.replace(report, findings=explain_exposure(report))
    data = assert_valid_report(report.to_dict())
    assert data["schema"] == "natprobe/exposure" and data["schema_version"] == 3 and data["bad"] is True
    assert data["family"] == "ipv4" and data["public_ip"] == "203.0.113.7"
    assert [(f["family"], f["tested"]) for f in data["families"]] == [("ipv4", True), ("ipv6", False)]
    assert data["families"][0]["summary"] == {"open": 1, "closed": 1, "filtered": 0}
    assert {p["family"] for p in data["ports"]} == {p["family"] for p in data["scanned"]} == {"ipv4"}
    port = data["ports"][0]
    assert {"port", "protocol", "state", "service", "details", "findings"} <= set(port)
    assert port["details"]["ssh"] == {"version": "SSH-2.0-x", "auth_methods": ["password"]}
    assert port["findings"][0]["code"] == "ssh-accepts-passwords" and port["findings"][0]["severity"] == "problem"
    assert port["findings"][0]["advice"] == list(explain_grade(graded.grades[0], ssh).advice)
    assert data["summary"] == {"open": 1, "closed": 1, "filtered": 0}
    text = render(report)
    assert "TCP 22: open, ssh (expected)" in text and "[BAD ] SSH on TCP 22 accepts passwords" in text
    assert "this host has no global IPv6 address" in text


def test_the_server_side_list_covers_the_issue() -> None:
    tcp = {p for p, proto, _ in DEFAULT_PORTS if proto is TCP}
    assert {21, 22, 23, 25, 80, 443, 445, 1433, 3306, 5432, 6379, 27017, 3389, 5900, 1883, 8080, 8443, 7547} <= tcp
    assert (22124, UDP, "jamulus") in DEFAULT_PORTS


def test_explain_exposure_words_each_grade_of_a_hand_built_report() -> None:
    """One finding per grade, in port order, each the words of its own grade: a grade worded as
    another (or at another severity, or about another port) fails here."""
    ssh = ScannedPort(22, TCP, OPEN, "ssh", True, ssh=SshDetails("SSH-2.0-x", ("publickey", "password")))
    redis = ScannedPort(6379, TCP, OPEN, "redis", True, auth_required=False)
    https = ScannedPort(443, TCP, OPEN, "https", True, tls=_tls())
    web = ScannedPort(8080, TCP, PortState.FILTERED, "http-alt", error="timeout")
    udp = ScannedPort(51820, UDP, PortState.FILTERED, None)
    scanned = (ssh, redis, https, web, udp)
    expect = frozenset({(22, TCP), (443, TCP), (8080, TCP), (51820, UDP)})
    v6_context = Context(None, ipaddress.ip_address("2001:db8::7"), NatLayers.NO_NAT, IpFamily.IPV6)
    v4 = ExposureFamily(IpFamily.IPV4, True, CONTEXT.local_ip, CONTEXT.public_ip, False, "", "198.51.100.10", scanned)
    v6 = ExposureFamily(IpFamily.IPV6, True, None, v6_context.public_ip, False, "", "2001:db8::10", (ssh,))
    ports = (grade_scan(scanned, expect=expect, context=CONTEXT, host="cloud.example.org", now=NOW)
             + grade_scan((ssh,), expect=None, context=v6_context, host=None, now=NOW))  # fmt: skip
    report = ExposureReport("http://s", None, ports, (v4, v6), 1.0)
    assert report.bad and report.findings == () and report.port_findings == ((),) * len(ports)

    findings = explain_exposure(report)
    assert [(f.code, f.severity.value, f.title) for f in findings] == [
        ("exposure-ssh-accepts-passwords", "problem", "SSH on TCP 22 accepts passwords"),
        ("exposure-redis-without-authentication", "problem", "Redis on TCP 6379 answers anyone, without a password"),
        ("exposure-unexpected-open-port", "warning", "TCP 6379 is open: did you mean to expose it?"),
        ("exposure-tls-ok", "ok", "HTTPS on TCP 443: a trusted certificate"),
        ("exposure-expected-port-not-reachable", "problem", "TCP 8080 was expected open but is filtered"),
        ("exposure-udp-port-not-provable-here", "info", "UDP 51820: cannot tell from this scan"),
        ("exposure-ssh-accepts-passwords", "problem", "SSH on TCP 22 accepts passwords"),
        ("exposure-unexpected-open-port", "info", "TCP 22 is open: did you mean to expose it?"),
    ]
    assert "publickey, password" in findings[0].detail
    # The expected port's finding speaks the reachability check's verdict for it.
    unreachable = ports[3]
    assert unreachable.verdict is not None and unreachable.verdict.status is PortStatus.NOT_FORWARDED
    assert findings[4].advice == word_port(unreachable.verdict).advice

    explained = dataclasses.replace(report, findings=findings)
    grouped = [[(f.code, f.severity) for f in port] for port in explained.port_findings]
    assert grouped == [
        [("ssh-accepts-passwords", "problem")],
        [("redis-without-authentication", "problem"), ("unexpected-open-port", "warning")],
        [("tls-ok", "ok")],
        [("expected-port-not-reachable", "problem")],
        [("udp-port-not-provable-here", "info")],
        [("ssh-accepts-passwords", "problem"), ("unexpected-open-port", "info")],
    ]
    data = assert_valid_report(explained.to_dict())
    assert [(p["family"], p["port"], [f["title"] for f in p["findings"]]) for p in data["ports"]][-1] == (
        "ipv6", 22, ["SSH on TCP 22 accepts passwords", "TCP 22 is open: did you mean to expose it?"])
    with pytest.raises(ValueError, match="one finding per grade"):
        dataclasses.replace(report, findings=findings[:-1])
