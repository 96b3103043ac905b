"""What each exposure grade means and what the self-hosting guides say to do (pure: grades in, sentences out).

The advice echoes the guides natprobe's users follow: expose only what you mean to; SSH with
keys (or at least fail2ban and a long random password), forwarded only if you administer from
outside; HTTPS with a real certificate (Let's Encrypt) and 443 forwarded too; never telnet,
file sharing, remote desktops or databases on the Internet (a VPN instead); the router's own
administration stays inside. And why it matters: an exposed machine sits on your LAN, so a
break-in there reaches your other devices.
"""

from __future__ import annotations

from natprobe.contract.exposure_route import ScannedPort
from natprobe.reports.finding import Finding, Severity
from natprobe.verdicts.exposure_grading import Code, Grade, Level
from natprobe.verdicts.reachability import PortVerdict

__all__ = ("explain_grade", "severity")

_SEVERITY = {Level.OK: Severity.OK, Level.INFO: Severity.INFO, Level.WARNING: Severity.WARNING, Level.BAD: Severity.PROBLEM}
_LAN = "An exposed machine is on your LAN: a break-in there reaches your other devices."
_VPN = (
    "Close the port forward, or reach this service through a VPN (WireGuard) or an SSH tunnel instead.",
    "If it must stay open: a long random password, updates, and a firewall rule that lets in only the "
    "addresses that need it.",
)


def severity(level: Level) -> Severity:
    return _SEVERITY[level]


def _name(port: ScannedPort) -> str:
    return f"{port.protocol.value.upper()} {port.port}"


def explain_grade(grade: Grade, port: ScannedPort, verdict: PortVerdict | None = None) -> Finding:
    """The finding for one grade of ``port``."""
    title, detail, advice = _text(grade, port, verdict)
    return Finding(_SEVERITY[grade.level], title, detail, advice)


def _text(grade: Grade, port: ScannedPort, verdict: PortVerdict | None) -> tuple[str, str, tuple[str, ...]]:
    where = _name(port)
    code = grade.code
    if code is Code.SSH_PASSWORDS:
        return (
            f"SSH on {where} accepts passwords",
            f"Before login the server offers: {grade.subject}. Password guessing bots try every SSH "
            f"server on the Internet all day. {_LAN}",
            (
                "Use keys only: in /etc/ssh/sshd_config set 'PasswordAuthentication no' and "
                "'KbdInteractiveAuthentication no', then restart sshd (keep a session open while testing).",
                "If you must keep passwords: install fail2ban and use a long random password.",
                "Forward SSH only if you administer this machine from outside.",
            ),
        )
    if code is Code.SSH_KEYS_ONLY:
        return (f"SSH on {where} accepts keys only", f"Offered before login: {grade.subject}.",
                ("Keep it updated; forward SSH only if you administer from outside.",))  # fmt: skip
    if code is Code.SSH_METHODS_UNKNOWN:
        return (f"SSH on {where}: login methods not learned", f"The server said {grade.subject or 'nothing'} "
                "but the key exchange did not reach the login step.",
                ("Make sure it accepts keys only ('PasswordAuthentication no').",))  # fmt: skip
    if code is Code.HTTP_WITHOUT_HTTPS:
        return (
            f"Plain HTTP on {where} and no HTTPS",
            "Passwords and pages travel unencrypted; browsers mark the site 'not secure'.",
            ("Get a free certificate from Let's Encrypt (certbot, or your web server's ACME module), serve "
             "HTTPS and forward TCP 443 too; then redirect HTTP to HTTPS.",),
        )  # fmt: skip
    if code is Code.HTTP_REDIRECTS:
        return (f"HTTP on {where} redirects to HTTPS", f"Redirects to {grade.subject}.", ())
    if code is Code.TLS_EXPIRED:
        return (
            f"The HTTPS certificate on {where} has expired",
            f"It expired on {grade.subject}; browsers refuse the site or warn every visitor.",
            ("Renew it, and let Let's Encrypt (certbot) renew it automatically from now on.",),
        )
    if code is Code.TLS_SELF_SIGNED:
        return (
            f"The HTTPS certificate on {where} is self-signed",
            f"Issued for {grade.subject or '?'} by itself: browsers warn, and visitors who learn to click "
            "through cannot tell an impostor.",
            ("Get a free certificate from Let's Encrypt for your domain name.",),
        )
    if code is Code.TLS_UNTRUSTED:
        return (f"The HTTPS certificate on {where} is not trusted", f"Verification failed: {grade.subject}.",
                ("Serve the whole chain, or get a certificate from Let's Encrypt.",))  # fmt: skip
    if code is Code.TLS_WRONG_NAME:
        host, _, names = grade.subject.partition("|")
        return (
            f"The HTTPS certificate on {where} is not for {host}",
            f"It names {names}; browsers reject it for {host}.",
            (f"Get a certificate that names {host} (Let's Encrypt), or fix the server's virtual host.",),
        )
    if code is Code.TLS_OK:
        names, _, expiry = grade.subject.partition("|")
        return (f"HTTPS on {where}: a trusted certificate", f"For {names}, valid until {expiry}.", ())
    if code is Code.REDIS_NO_AUTH:
        return (
            f"Redis on {where} answers anyone, without a password",
            f"Anyone on the Internet can read, change or wipe its data, and often run code on the machine. {_LAN}",
            _VPN[:1] + ("Bind Redis to 127.0.0.1 or the LAN address ('bind' in redis.conf), keep "
                        "'protected-mode yes' and set a password ('requirepass').",),
        )  # fmt: skip
    if code is Code.RISKY_SERVICE:
        service = port.service or "this service"
        title = (f"{service} is open to the Internet on {where}" if port.identified
                 else f"{where} is open to the Internet (usually {service})")  # fmt: skip
        return (title, f"{grade.subject[:1].upper()}{grade.subject[1:]}. {_LAN}",
                _VPN)  # fmt: skip
    if code is Code.PLAINTEXT_LOGIN:
        return (f"{grade.subject} on {where} sends passwords in clear text", _LAN,
                ("Use SFTP (over SSH, keys only) instead, or FTPS; close the forward if unused.",))  # fmt: skip
    if code is Code.MAIL:
        return (f"A mail server (SMTP) answers on {where}", port.banner or "",
                ("If you run mail on purpose: keep it updated and make sure it is not an open relay.",
                 "If not, close the forward."))  # fmt: skip
    if code is Code.ROUTER_ADMIN:
        what = "UPnP control" if grade.subject == "upnp" else "remote management (TR-069)"
        return (
            f"The router's {what} is reachable from the Internet on {where}",
            "Router administration from outside is how botnets take routers over.",
            ("In the router's settings turn remote administration / remote management off, and UPnP on the "
             "WAN side off; update the router's firmware.",
             "If this port is forwarded to a machine of yours (a NAS's admin page), close the forward."),
        )  # fmt: skip
    if code is Code.JAMULUS:
        version = f" {grade.subject}" if grade.subject else ""
        return (f"A Jamulus server{version} answers on {where}", "Musicians can connect.", ())
    if code is Code.UNKNOWN_SERVICE:
        said = f" It said: {grade.subject}" if grade.subject else " It said nothing natprobe recognises."
        return (f"Something answers on {where}", f"Port open ({port.service or 'unknown service'}).{said}",
                ("Find out which program listens there; if it needs no outside access, close the forward.",))  # fmt: skip
    if code is Code.UNEXPECTED:
        return (
            f"{where} is open: did you mean to expose it?",
            "Every open port is a door: expose only what you mean to.",
            ("If not, remove its port forward on the router (and UPnP mappings) or stop the service.",
             f"If yes, add it to --expect so natprobe knows ({port.port}{'/udp' if port.protocol.value == 'udp' else ''})."),
        )  # fmt: skip
    if code is Code.UDP_UNTESTABLE:
        return (
            f"{where}: cannot tell from this scan",
            "The scan speaks only Jamulus over UDP; other UDP services (WireGuard, games) stay silent.",
            (f"Prove it end to end with: natprobe check --udp {port.port}",),
        )
    # EXPECTED_UNREACHABLE
    reason = verdict.reason if verdict is not None else f"the port is {port.state.value}"
    advice = verdict.advice if verdict is not None else ()
    return (f"{where} was expected open but is {port.state.value}", reason, advice)
