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
from natprobe.i18n import N_, _
from natprobe.reports.exposure_report import ExposureReport
from natprobe.reports.finding import Finding, Severity
from natprobe.verdicts.exposure_grading import Code, Grade, Level
from natprobe.findings.port_words import word_port
from natprobe.verdicts.reachability import PortDecision

__all__ = ("explain_exposure", "explain_grade", "severity")

_SEVERITY = {Level.OK: Severity.OK, Level.INFO: Severity.INFO, Level.WARNING: Severity.WARNING, Level.BAD: Severity.PROBLEM}
# Why each service the guides say never to leave open is a risk (keys: exposure_grading.RISKY).
_RISKS = {
    "telnet": N_("telnet sends passwords in clear text"),
    "smb": N_("Windows file sharing (SMB) is a favourite target of worms and ransomware"),
    "rdp": N_("Remote Desktop is brute-forced all day long on the Internet"),
    "vnc": N_("VNC often has a weak password or none"),
    "mssql": N_("a database server"),
    "mysql": N_("a database server"),
    "postgresql": N_("a database server"),
    "mongodb": N_("a database server"),
    "redis": N_("Redis is a database meant for trusted networks"),
    "mqtt": N_("an MQTT broker often accepts anonymous clients"),
}
_LAN = N_("An exposed machine is on your LAN: a break-in there reaches your other devices.")
_VPN = (
    N_("Close the port forward, or reach this service through a VPN (WireGuard) or an SSH tunnel instead."),
    N_(
        "If it must stay open: a long random password, updates, and a firewall rule that lets in only the "
        "addresses that need it."
    ),
)


def severity(level: Level) -> Severity:
    return _SEVERITY[level]


def _name(port: ScannedPort) -> str:
    return f"{port.protocol.value.upper()} {port.port}"


def explain_exposure(report: ExposureReport) -> tuple[Finding, ...]:
    """The findings of an exposure scan: one per grade, port after port in the report's order
    (what :attr:`ExposureReport.findings` holds; :attr:`ExposureReport.port_findings` groups them)."""
    return tuple(explain_grade(grade, port.scanned, port.verdict) for port in report.ports for grade in port.grades)


def explain_grade(grade: Grade, port: ScannedPort, verdict: PortDecision | None = None) -> Finding:
    """The finding for one grade of ``port``."""
    title, detail, advice = _text(grade, port, verdict)
    return Finding(_SEVERITY[grade.level], title, detail, advice, code=f"exposure-{grade.code.value}")


def _text(grade: Grade, port: ScannedPort, decision: PortDecision | None) -> tuple[str, str, tuple[str, ...]]:
    verdict = None if decision is None else word_port(decision)
    where = _name(port)
    code = grade.code
    lan = _(_LAN)
    if code is Code.SSH_PASSWORDS:
        return (
            _("SSH on {where} accepts passwords", where=where),
            _(
                "Before login the server offers: {methods}. Password guessing bots try every SSH server on the "
                "Internet all day. {lan}",
                methods=grade.subject,
                lan=lan,
            ),
            (
                _(
                    "Use keys only: in /etc/ssh/sshd_config set 'PasswordAuthentication no' and "
                    "'KbdInteractiveAuthentication no', then restart sshd (keep a session open while testing)."
                ),
                _("If you must keep passwords: install fail2ban and use a long random password."),
                _("Forward SSH only if you administer this machine from outside."),
            ),
        )
    if code is Code.SSH_KEYS_ONLY:
        return (
            _("SSH on {where} accepts keys only", where=where),
            _("Offered before login: {methods}.", methods=grade.subject),
            (_("Keep it updated; forward SSH only if you administer from outside."),),
        )
    if code is Code.SSH_METHODS_UNKNOWN:
        said = (
            _("The server said {banner} but the key exchange did not reach the login step.", banner=grade.subject)
            if grade.subject
            else _("The server said nothing and the key exchange did not reach the login step.")
        )
        return (
            _("SSH on {where}: login methods not learned", where=where),
            said,
            (_("Make sure it accepts keys only ('PasswordAuthentication no')."),),
        )
    if code is Code.HTTP_WITHOUT_HTTPS:
        return (
            _("Plain HTTP on {where} and no HTTPS", where=where),
            _("Passwords and pages travel unencrypted; browsers mark the site 'not secure'."),
            (
                _(
                    "Get a free certificate from Let's Encrypt (certbot, or your web server's ACME module), serve "
                    "HTTPS and forward TCP 443 too; then redirect HTTP to HTTPS."
                ),
            ),
        )
    if code is Code.HTTP_NO_REDIRECT:
        return (
            _("Plain HTTP on {where} serves pages instead of redirecting to HTTPS", where=where),
            _("HTTPS is served too, but whoever types the bare name or follows an http:// link stays on "
              "unencrypted HTTP (it answered {status}), and can be tampered with on the way.", status=grade.subject),
            (
                _("Make plain HTTP answer every request with a permanent redirect (301 or 308) to the same "
                  "address over https://, e.g. in nginx: return 301 https://$host$request_uri;"),
            ),
        )
    if code is Code.HTTP_REDIRECTS:
        return (
            _("HTTP on {where} redirects to HTTPS", where=where),
            _("Redirects to {location}.", location=grade.subject),
            (),
        )
    if code is Code.TLS_EXPIRED:
        return (
            _("The HTTPS certificate on {where} has expired", where=where),
            _("It expired on {date}; browsers refuse the site or warn every visitor.", date=grade.subject),
            (_("Renew it, and let Let's Encrypt (certbot) renew it automatically from now on."),),
        )
    if code is Code.TLS_SELF_SIGNED:
        return (
            _("The HTTPS certificate on {where} is self-signed", where=where),
            _(
                "Issued for {names} by itself: browsers warn, and visitors who learn to click through cannot tell "
                "an impostor.",
                names=grade.subject or "?",
            ),
            (_("Get a free certificate from Let's Encrypt for your domain name."),),
        )
    if code is Code.TLS_UNTRUSTED:
        return (
            _("The HTTPS certificate on {where} is not trusted", where=where),
            _("Verification failed: {error}.", error=grade.subject),
            (_("Serve the whole chain, or get a certificate from Let's Encrypt."),),
        )
    if code is Code.TLS_WRONG_NAME:
        host, _sep, names = grade.subject.partition("|")
        return (
            _("The HTTPS certificate on {where} is not for {host}", where=where, host=host),
            _("It names {names}; browsers reject it for {host}.", names=names, host=host),
            (_("Get a certificate that names {host} (Let's Encrypt), or fix the server's virtual host.", host=host),),
        )
    if code is Code.TLS_OK:
        names, _sep, expiry = grade.subject.partition("|")
        return (
            _("HTTPS on {where}: a trusted certificate", where=where),
            _("For {names}, valid until {expiry}.", names=names, expiry=expiry),
            (),
        )
    if code is Code.REDIS_NO_AUTH:
        return (
            _("Redis on {where} answers anyone, without a password", where=where),
            _(
                "Anyone on the Internet can read, change or wipe its data, and often run code on the machine. {lan}",
                lan=lan,
            ),
            (
                _(_VPN[0]),
                _(
                    "Bind Redis to 127.0.0.1 or the LAN address ('bind' in redis.conf), keep "
                    "'protected-mode yes' and set a password ('requirepass')."
                ),
            ),
        )
    if code is Code.RISKY_SERVICE:
        service = port.service or _("this service")
        if port.identified:
            title = _("{service} is open to the Internet on {where}", service=service, where=where)
        else:
            title = _("{where} is open to the Internet (usually {service})", where=where, service=service)
        risk = _(_RISKS[grade.subject]) if grade.subject in _RISKS else grade.subject
        return (title, f"{risk[:1].upper()}{risk[1:]}. {lan}", tuple(_(advice) for advice in _VPN))
    if code is Code.PLAINTEXT_LOGIN:
        return (
            _("{service} on {where} sends passwords in clear text", service=grade.subject, where=where),
            lan,
            (_("Use SFTP (over SSH, keys only) instead, or FTPS; close the forward if unused."),),
        )
    if code is Code.MAIL:
        return (
            _("A mail server (SMTP) answers on {where}", where=where),
            port.banner or "",
            (
                _("If you run mail on purpose: keep it updated and make sure it is not an open relay."),
                _("If not, close the forward."),
            ),
        )
    if code is Code.ROUTER_ADMIN:
        if grade.subject == "upnp":
            title = _("The router's UPnP control is reachable from the Internet on {where}", where=where)
        else:
            title = _("The router's remote management (TR-069) is reachable from the Internet on {where}", where=where)
        return (
            title,
            _("Router administration from outside is how botnets take routers over."),
            (
                _(
                    "In the router's settings turn remote administration / remote management off, and UPnP on the "
                    "WAN side off; update the router's firmware."
                ),
                _("If this port is forwarded to a machine of yours (a NAS's admin page), close the forward."),
            ),
        )
    if code is Code.JAMULUS:
        if grade.subject:
            title = _("A Jamulus server {version} answers on {where}", version=grade.subject, where=where)
        else:
            title = _("A Jamulus server answers on {where}", where=where)
        return (title, _("Musicians can connect."), ())
    if code is Code.UNKNOWN_SERVICE:
        service = port.service or _("unknown service")
        if grade.subject:
            detail = _("Port open ({service}). It said: {said}", service=service, said=grade.subject)
        else:
            detail = _("Port open ({service}). It said nothing natprobe recognises.", service=service)
        return (
            _("Something answers on {where}", where=where),
            detail,
            (_("Find out which program listens there; if it needs no outside access, close the forward."),),
        )
    if code is Code.UNEXPECTED:
        expect = f"{port.port}{'/udp' if port.protocol.value == 'udp' else ''}"
        return (
            _("{where} is open: did you mean to expose it?", where=where),
            _("Every open port is a door: expose only what you mean to."),
            (
                _("If not, remove its port forward on the router (and UPnP mappings) or stop the service."),
                _("If yes, add it to --expect so natprobe knows ({port}).", port=expect),
            ),
        )
    if code is Code.UDP_UNTESTABLE:
        return (
            _("{where}: cannot tell from this scan", where=where),
            _("The scan speaks only Jamulus over UDP; other UDP services (WireGuard, games) stay silent."),
            (_("Prove it end to end with: natprobe check --udp {port}", port=port.port),),
        )
    # EXPECTED_UNREACHABLE
    reason = verdict.reason if verdict is not None else _("the port is {state}", state=port.state.value)
    advice = verdict.advice if verdict is not None else ()
    return (_("{where} was expected open but is {state}", where=where, state=port.state.value), reason, advice)
