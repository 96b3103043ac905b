"""Grade what an exposure scan found, port by port, with the self-hosting guides' rules (pure).

Input: the echo server's scan of this network's public address
(:class:`~natprobe.contract.exposure_route.ExposureResponse`), the ports the user meant to expose
(``--expect``), the host name they serve (for certificate names), the local context and the
time. Output: for each port that matters (open, or expected), an :class:`ExposedPort`: its
state and a tuple of :class:`Grade` codes with a level. The report carries these decisions;
:func:`natprobe.findings.exposure_findings.explain_exposure` words them.

An expected port that is not open gets the reachability check's own verdict
(:func:`natprobe.verdicts.reachability.decide_port`): one code path for "is it reachable, and why".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timezone

from natprobe.addressing import IpFamily
from natprobe.contract import ConnectResult, JamulusResult, ProbeMode, TransportProtocol
from natprobe.contract.exposure_route import PortState, ScannedPort, ScanProtocol
from natprobe.verdicts.reachability import Context, PortDecision, decide_port
from natprobe.observations import PortObservation

__all__ = (
    "Code",
    "ExposedPort",
    "Grade",
    "Level",
    "certificate_expired",
    "grade_port",
    "grade_scan",
    "name_matches",
)


class Level(enum.StrEnum):
    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    BAD = "bad"
    """Counts against the exit status: something a guide says to fix."""


class Code(enum.StrEnum):
    """Stable finding codes (the text is the findings module's)."""

    SSH_PASSWORDS = "ssh-accepts-passwords"
    SSH_KEYS_ONLY = "ssh-keys-only"
    SSH_METHODS_UNKNOWN = "ssh-methods-unknown"
    HTTP_WITHOUT_HTTPS = "http-without-https"
    HTTP_REDIRECTS = "http-redirects-to-https"
    HTTP_NO_REDIRECT = "http-serves-without-redirect-to-https"
    TLS_EXPIRED = "tls-certificate-expired"
    TLS_SELF_SIGNED = "tls-self-signed"
    TLS_WRONG_NAME = "tls-wrong-name"
    TLS_UNTRUSTED = "tls-untrusted"
    TLS_OK = "tls-ok"
    RISKY_SERVICE = "risky-service-exposed"
    REDIS_NO_AUTH = "redis-without-authentication"
    PLAINTEXT_LOGIN = "plaintext-login-service"
    MAIL = "mail-server"
    ROUTER_ADMIN = "router-admin-exposed"
    JAMULUS = "jamulus-server"
    UNKNOWN_SERVICE = "unidentified-service"
    UNEXPECTED = "unexpected-open-port"
    EXPECTED_UNREACHABLE = "expected-port-not-reachable"
    UDP_UNTESTABLE = "udp-port-not-provable-here"


@dataclass(frozen=True, slots=True)
class Grade:
    code: Code
    level: Level
    subject: str = ""
    """What the finding is about, for the wording (a certificate name, a version, a method list,
    the risky service's name)."""


@dataclass(frozen=True, slots=True)
class ExposedPort:
    """A port worth a word (open, or expected): what the scan saw of it and its grades."""

    scanned: ScannedPort
    expected: bool
    grades: tuple[Grade, ...]
    verdict: PortDecision | None = None
    """The reachability decision, for an expected port that is not open."""
    family: IpFamily = IpFamily.IPV4
    """The family the port was scanned over."""

    @property
    def worst(self) -> Level:
        order = list(Level)
        return max((g.level for g in self.grades), key=order.index, default=Level.OK)


# Services the guides say never to leave open to the Internet: close them or reach them over a VPN.
RISKY = frozenset({"telnet", "smb", "rdp", "vnc", "mssql", "mysql", "postgresql", "mongodb", "redis", "mqtt"})
ROUTER_ADMIN = {"upnp", "tr-069"}
WEB = {"http", "https"}


def certificate_expired(not_after: str | None, now: datetime) -> bool | None:
    """Whether an ISO 8601 UTC ``not_after`` is before ``now`` (``None``: unknown)."""
    if not_after is None:
        return None
    try:
        expiry = datetime.strptime(not_after, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return expiry < now


def name_matches(host: str, names: tuple[str, ...]) -> bool:
    """RFC 6125 section 6.4: exact, or a wildcard in the left-most label only."""
    host = host.lower().rstrip(".")
    for name in names:
        name = name.lower().rstrip(".")
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def _tls_grades(port: ScannedPort, host: str | None, now: datetime) -> list[Grade]:
    tls = port.tls
    if tls is None:
        return []
    grades: list[Grade] = []
    names = tls.san or ((tls.subject_cn,) if tls.subject_cn else ())
    if certificate_expired(tls.not_after, now):
        grades.append(Grade(Code.TLS_EXPIRED, Level.BAD, tls.not_after or ""))
    if tls.self_signed:
        grades.append(Grade(Code.TLS_SELF_SIGNED, Level.WARNING, ", ".join(names)))
    elif not tls.verified and not grades:
        grades.append(Grade(Code.TLS_UNTRUSTED, Level.WARNING, tls.verify_error or ""))
    if host is not None and names and not name_matches(host, names):
        grades.append(Grade(Code.TLS_WRONG_NAME, Level.WARNING, f"{host}|{', '.join(names)}"))
    if not grades:
        grades.append(Grade(Code.TLS_OK, Level.OK, f"{', '.join(names)}|{tls.not_after or '?'}"))
    return grades


def grade_port(port: ScannedPort, *, https_elsewhere: bool, host: str | None, now: datetime) -> tuple[Grade, ...]:
    """What the guides say about one open port (its expectation is graded by :func:`grade_scan`)."""
    if port.state is not PortState.OPEN:
        return ()
    service = port.service or ""
    grades: list[Grade] = []
    if service == "ssh":
        methods = port.ssh.auth_methods if port.ssh is not None else None
        if methods is None:
            grades.append(Grade(Code.SSH_METHODS_UNKNOWN, Level.INFO, port.banner or ""))
        elif {"password", "keyboard-interactive"} & set(methods):
            grades.append(Grade(Code.SSH_PASSWORDS, Level.BAD, ", ".join(methods)))
        else:
            grades.append(Grade(Code.SSH_KEYS_ONLY, Level.OK, ", ".join(methods)))
    elif service == "redis" and port.identified:
        if port.auth_required is False:
            grades.append(Grade(Code.REDIS_NO_AUTH, Level.BAD))
        else:
            grades.append(Grade(Code.RISKY_SERVICE, Level.BAD, "redis"))
    elif service in RISKY:
        grades.append(Grade(Code.RISKY_SERVICE, Level.BAD, service))
    elif service == "ftp":
        grades.append(Grade(Code.PLAINTEXT_LOGIN, Level.WARNING, "FTP"))
    elif service == "smtp":
        grades.append(Grade(Code.MAIL, Level.INFO))
    elif service in ROUTER_ADMIN:
        grades.append(Grade(Code.ROUTER_ADMIN, Level.BAD, service))
    elif service == "https":
        grades.extend(_tls_grades(port, host, now))
    elif service == "http":
        location = port.http.location if port.http is not None else None
        if location is not None and location.lower().startswith("https://"):
            grades.append(Grade(Code.HTTP_REDIRECTS, Level.OK, location))
        elif not https_elsewhere:
            grades.append(Grade(Code.HTTP_WITHOUT_HTTPS, Level.WARNING))
        elif port.http is not None and port.http.status is not None and 200 <= port.http.status < 300:
            # HTTPS exists, yet plain HTTP serves the pages: whoever types the bare name stays
            # unencrypted (Mozilla's HTTP Observatory fails a site for the missing redirect).
            grades.append(Grade(Code.HTTP_NO_REDIRECT, Level.WARNING, str(port.http.status)))
    elif service == "jamulus":
        grades.append(Grade(Code.JAMULUS, Level.OK, port.jamulus_version or ""))
    else:
        grades.append(Grade(Code.UNKNOWN_SERVICE, Level.INFO, port.banner or ""))
    return tuple(grades)


def _expected_verdict(port: ScannedPort, context: Context) -> PortDecision:
    """The reachability check's decision for an expected port that is not open."""
    if port.protocol is ScanProtocol.UDP:
        observation = PortObservation(TransportProtocol.UDP, port.port, ProbeMode.JAMULUS, listening=False,
                                      server_result=JamulusResult(False, None, None, None, None),
                                      service=port.service)  # fmt: skip
    else:
        observation = PortObservation(TransportProtocol.TCP, port.port, ProbeMode.CONNECT, listening=False,
                                      server_result=ConnectResult(False, port.error, None),
                                      service=port.service)  # fmt: skip
    return decide_port(observation, context)


def grade_scan(
    ports: tuple[ScannedPort, ...],
    *,
    expect: frozenset[tuple[int, ScanProtocol]] | None,
    context: Context,
    host: str | None,
    now: datetime,
) -> tuple[ExposedPort, ...]:
    """Every open port, and every expected port, graded; in scan order.

    ``expect``: the ports the user meant to expose (``None``: not said, so an open port is only
    worth a reminder, not a question).
    """
    https_elsewhere = any(p.state is PortState.OPEN and p.service == "https" for p in ports)
    graded: list[ExposedPort] = []
    family = context.family
    for port in ports:
        expected = expect is not None and (port.port, port.protocol) in expect
        if port.state is PortState.OPEN:
            grades = list(grade_port(port, https_elsewhere=https_elsewhere, host=host, now=now))
            if not expected:
                grades.append(Grade(Code.UNEXPECTED, Level.WARNING if expect is not None else Level.INFO))
            graded.append(ExposedPort(port, expected, tuple(grades), family=family))
        elif expected and port.protocol is ScanProtocol.UDP and port.service != "jamulus":
            # Only Jamulus is spoken over UDP here; silence from another UDP service proves nothing.
            graded.append(ExposedPort(port, True, (Grade(Code.UDP_UNTESTABLE, Level.INFO),), family=family))
        elif expected:
            verdict = _expected_verdict(port, context)
            graded.append(ExposedPort(port, True, (Grade(Code.EXPECTED_UNREACHABLE, Level.BAD),), verdict, family))
    return tuple(graded)
