"""The exposure scan: what the requester's own public address answers on a bounded port list.

:mod:`natprobe_server.api.routes.exposure` decides *whom* (always the address the request came from)
and *whether* (token, rate limits); this module only scans the target it is given, with the
probes of :mod:`natprobe_server.probes.probe_back` where they fit (TCP connect, HTTP/HTTPS heads with the
certificate, the Jamulus ping) and two exchanges of its own that stop before any login:

* the first bytes a service sends by itself (SSH, FTP, SMTP, telnet, VNC, MySQL speak first);
* SSH: the authentication methods the server offers, learned with asyncssh's
  ``get_server_auth_methods`` (RFC 4252 section 5.2: the ``none`` request, which the server
  answers with the list; no password, key or keyboard-interactive answer is ever sent);
* Redis: one ``PING`` (``+PONG`` means anyone may use it; ``-NOAUTH`` that it wants a password).

Bounds: at most :data:`CONCURRENCY` ports at once, each step bounded by a timeout, the whole
scan by a deadline (a port still running then is reported with what was learned so far);
UDP bytes sent never exceed the budget the request paid for (see ``probe_jamulus``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import ssl
from dataclasses import dataclass, field
from typing import Any

from natprobe.addressing import IPAddress, TransportAddress
from natprobe.contract.exposure_route import (
    SCAN_DEADLINE_S,
    HttpDetails,
    PortState,
    ScannedPort,
    ScanProtocol,
    SshDetails,
    TlsDetails,
)

from natprobe.contract import HttpResult, HttpsResult, JamulusResult, ProbeError

from natprobe_server.probes import probe_back
from natprobe_server.probes.streams import Failed, Stream, clean_text, close_stream, connect, open_stream

logger = logging.getLogger(__name__)

__all__ = ("CONCURRENCY", "ExposureStats", "ScanLimits", "banner_text", "identify_banner", "scan_address", "summary")

CONCURRENCY = 24
"""Ports probed at once: the 21 default ports and a few expected ones in one round, so a scan of
a router that drops everything takes one connect timeout, not two. Still a small burst to one
address (a scan runs only for the requester's own address, within the route's rate limit)."""
BANNER_MAX = 512
"""Bytes of a service's greeting read at most."""
WEB_FIRST_PLAIN = frozenset({"http", "http-alt", "upnp", "tr-069"})
WEB_FIRST_TLS = frozenset({"https", "https-alt"})


@dataclass(frozen=True, slots=True)
class ScanLimits:
    connect_timeout: float = 2.0
    banner_wait: float = 1.0
    """How long a silent service may take to greet before it is taken for one that waits."""
    exchange_timeout: float = 2.5
    """Each later step (TLS handshake, HTTP head, SSH key exchange, Redis PING)."""
    udp_timeout: float = 2.0
    deadline: float = SCAN_DEADLINE_S
    concurrency: int = CONCURRENCY


# --- limits and counters (the route uses these) ------------------------------------------------


@dataclass(slots=True)
class ExposureStats:
    """Counters of the exposure route, for the operator's /metrics (engineer "deploy" wires them)."""

    scans: int = 0
    refused_rate_limited: int = 0
    refused_busy: int = 0
    ports_scanned: int = 0
    ports_open: int = 0
    seconds_total: float = 0.0
    last_scan_ports: dict[str, int] = field(default_factory=dict)
    """State -> count of the last scan."""


# --- one TCP port -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Scan:
    """One port's scan under way: the record as known so far (reported as is if the deadline
    interrupts it), and the port's usual service, which picks the probes."""

    hint: str | None
    seen: ScannedPort

    @classmethod
    def start(cls, port: int, protocol: ScanProtocol, hint: str | None) -> _Scan:
        # Silence until something answers: filtered, with the usual service as the guess.
        return cls(hint, ScannedPort(port, protocol, PortState.FILTERED, hint, error="timeout"))

    def learn(self, **found: Any) -> None:
        """What the probes learned (fields of :class:`ScannedPort`)."""
        self.seen = dataclasses.replace(self.seen, **found)


def identify_banner(data: bytes, port: int) -> str | None:
    """The service a greeting comes from, or ``None``. Pure; ``data`` is what the peer sent first."""
    if data.startswith(b"SSH-"):
        return "ssh"
    if data[:1] == b"\xff" and len(data) >= 3 and data[1] in range(0xFB, 0xFF):
        return "telnet"  # IAC WILL/WONT/DO/DONT: RFC 854 option negotiation
    if data.startswith(b"RFB "):
        return "vnc"
    if data.startswith(b"220"):
        return "smtp" if b"SMTP" in data.upper() or port in (25, 587) else "ftp"
    if len(data) >= 5 and data[3] == 0 and data[4] in (0x0A, 0xFF) and int.from_bytes(data[:3], "little") == len(data) - 4:
        return "mysql"  # a MySQL handshake (protocol 10) or its "host not allowed" error packet
    return None


def banner_text(data: bytes, service: str | None) -> str | None:
    """What to show of a greeting: its first line as text, the version of a MySQL handshake,
    a telnet greeting without its option negotiation. Pure; cut and cleaned."""
    if service == "mysql" and data[4:5] == b"\x0a":
        version = data[5:].split(b"\0", 1)[0]
        return "MySQL protocol 10, server " + clean_text(version.decode("latin-1"))
    if service == "telnet":
        data = re.sub(rb"\xff[\xfb-\xfe].|\xff[^\xfb-\xfe]", b"", data, flags=re.DOTALL)
    return clean_text(data.split(b"\n", 1)[0].decode("latin-1")) or None


async def _read_greeting(reader: asyncio.StreamReader, wait: float) -> bytes:
    data = b""
    try:
        async with asyncio.timeout(wait):
            while len(data) < BANNER_MAX and b"\n" not in data:  # every pass adds a byte or ends
                chunk = await reader.read(BANNER_MAX - len(data))
                if not chunk:
                    break
                data += chunk
    except TimeoutError:
        pass
    except OSError:
        pass
    return data


async def _redis_ping(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> bytes:
    """``PING`` (RESP inline command) and the first reply line; b"" if none."""
    try:
        async with asyncio.timeout(timeout):
            writer.write(b"PING\r\n")
            await writer.drain()
            return await reader.readline()
    except (TimeoutError, OSError, ValueError):
        return b""


def _tls_details(result: HttpsResult) -> TlsDetails | None:
    tls = result.tls
    if tls is None or tls.version is None:
        return None
    error = (tls.verify_error or "").lower()
    self_signed = ("self-signed" in error or "self signed" in error) or (
        not tls.verified and tls.issuer_cn is not None and tls.issuer_cn == tls.subject_cn
    )
    return TlsDetails(
        tls.version, tls.subject_cn, tls.san, tls.issuer_cn, tls.not_after, tls.verified, tls.verify_error, self_signed
    )


async def _web(scan: _Scan, target: TransportAddress, source_ip: IPAddress, host: str | None,
               context: ssl.SSLContext, limits: ScanLimits) -> None:
    """HTTP and/or HTTPS on a port that did not greet: the order follows the port's usual use."""
    order = (True, False) if scan.hint in WEB_FIRST_TLS or scan.hint is None else (False, True)
    for https in order:
        outcome = await probe_back.probe_http(
            target, source_ip=source_ip, timeout=limits.exchange_timeout, host=host, verify_context=context, https=https
        )
        result = outcome.result
        assert isinstance(result, (HttpResult, HttpsResult))  # probe_http returns nothing else
        tls = _tls_details(result) if isinstance(result, HttpsResult) else None
        if result.status is not None or tls is not None:
            http = None if result.status is None else HttpDetails(result.status, result.server_header, result.location)
            scan.learn(service="https" if https else "http", identified=True, tls=tls, http=http)
            return


async def _ssh_methods(target: TransportAddress, source_ip: IPAddress, timeout: float) -> tuple[str, ...] | None:
    """What the SSH server offers before login (RFC 4252 section 5.2), with no credential sent."""
    import asyncssh  # heavy (its own crypto tables): loaded only when an SSH server answers

    logging.getLogger("asyncssh").setLevel(logging.WARNING)  # one line per connection otherwise
    attempt = await connect(target, source_ip, timeout)
    if isinstance(attempt, Failed):
        return None
    try:
        async with asyncio.timeout(timeout):
            # known_hosts=None (inside): any host key is accepted, nothing is trusted or stored;
            # config=None: no ~/.ssh/config of the server's user is read.
            methods = await asyncssh.get_server_auth_methods(
                sock=attempt.sock, username="natprobe", config=None, client_version="natprobe_exposure"
            )
    except Exception as exc:  # whatever a hostile peer makes asyncssh raise, we learned nothing
        logger.debug("SSH auth methods of %s not learned: %r", target, exc)
        attempt.sock.close()
        return None
    return tuple(clean_text(method) for method in methods[:16])


async def _scan_tcp(scan: _Scan, target: TransportAddress, source_ip: IPAddress, host: str | None,
                    context: ssl.SSLContext, limits: ScanLimits) -> None:
    opened = await open_stream(target, source_ip, limits.connect_timeout, None, str(target.ip))
    if isinstance(opened, Failed):
        # Refused (RST) or rejected (ICMP) is an answer: closed. Silence is filtered.
        closed = opened.error in (ProbeError.REFUSED, ProbeError.UNREACHABLE)
        scan.learn(state=PortState.CLOSED if closed else PortState.FILTERED, error=opened.error)
        return
    if not isinstance(opened, Stream):  # a plain connection has no TLS step
        return
    scan.learn(state=PortState.OPEN, error=None)
    try:
        greeting = await _read_greeting(opened.reader, limits.banner_wait)
        reply = b""
        if not greeting and scan.hint == "redis":
            reply = await _redis_ping(opened.reader, opened.writer, limits.exchange_timeout)
    finally:
        await close_stream(opened.writer)
    if greeting:
        service = identify_banner(greeting, target.port)
        banner = banner_text(greeting, service)
        scan.learn(banner=banner)
        if service is not None:
            scan.learn(service=service, identified=True)
        if service == "ssh":
            scan.learn(ssh=SshDetails(banner, None))
            methods = await _ssh_methods(target, source_ip, limits.exchange_timeout)
            scan.learn(ssh=SshDetails(banner, methods))
        return
    if reply:
        scan.learn(banner=banner_text(reply, None))
        if reply[:1] in (b"+", b"-"):  # a RESP simple string or error: Redis answered
            scan.learn(service="redis", identified=True)
            if reply.startswith(b"+PONG"):
                scan.learn(auth_required=False)
            elif reply.startswith((b"-NOAUTH", b"-DENIED")):
                scan.learn(auth_required=True)
        return
    if scan.hint is None or scan.hint in WEB_FIRST_PLAIN or scan.hint in WEB_FIRST_TLS:
        await _web(scan, target, source_ip, host, context, limits)


async def _scan_udp(scan: _Scan, target: TransportAddress, source_ip: IPAddress, budget: int,
                    limits: ScanLimits) -> None:
    outcome = await probe_back.probe_jamulus(target, source_ip=source_ip, timeout=limits.udp_timeout, byte_budget=budget)
    result = outcome.result
    if isinstance(result, JamulusResult) and result.answered:
        scan.learn(state=PortState.OPEN, error=None, service="jamulus", identified=True, jamulus_version=result.version)
    else:
        # No ICMP is read here, so UDP is never "closed": no answer to a Jamulus ping is all we know.
        scan.learn(error="no answer to a Jamulus ping")


async def scan_address(
    target_ip: IPAddress,
    ports: tuple[tuple[int, ScanProtocol, str | None], ...],
    *,
    source_ip: IPAddress,
    verify_context: ssl.SSLContext,
    udp_budget: int,
    host: str | None = None,
    limits: ScanLimits = ScanLimits(),
) -> tuple[ScannedPort, ...]:
    """Scan ``ports`` (port, protocol, usual service) of ``target_ip`` from ``source_ip``.

    ``udp_budget``: UDP bytes the whole scan may send (split evenly over the UDP ports).
    ``verify_context`` decides ``tls.verified`` (the server's trust store; names are the
    client's to judge). Returns one result per port, in the order given, within ``limits.deadline``.
    """
    udp_count = sum(1 for _, protocol, _ in ports if protocol is ScanProtocol.UDP)
    per_udp = udp_budget // udp_count if udp_count else 0
    scans = [_Scan.start(port, protocol, hint) for port, protocol, hint in ports]
    semaphore = asyncio.Semaphore(limits.concurrency)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.deadline

    async def one(scan: _Scan) -> None:
        target = TransportAddress(target_ip, scan.seen.port)
        try:
            async with asyncio.timeout_at(deadline):
                async with semaphore:
                    if scan.seen.protocol is ScanProtocol.TCP:
                        await _scan_tcp(scan, target, source_ip, host, verify_context, limits)
                    else:
                        await _scan_udp(scan, target, source_ip, per_udp, limits)
        except TimeoutError:
            if scan.seen.state is not PortState.OPEN:
                scan.learn(error="the scan's time limit came first")
        except Exception:  # one port's surprise must not cost the requester the whole scan
            logger.exception("exposure scan of %s failed on this port", target)
            scan.learn(error="the server failed while probing this port")

    async with asyncio.TaskGroup() as group:
        for scan in scans:
            group.create_task(one(scan))
    return tuple(scan.seen for scan in scans)


def summary(ports: tuple[ScannedPort, ...]) -> dict[str, int]:
    """How many ports ended in each state."""
    counts = {state.value: 0 for state in PortState}
    for port in ports:
        counts[port.state.value] += 1
    return counts

