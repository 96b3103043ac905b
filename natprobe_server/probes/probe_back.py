"""Probe-back implementations: reach out to a requester's own address and report what answered.

The HTTP API (:mod:`natprobe_server.api.app`) decides *whether* to probe and *whom* (always the
address the request came from); this module does the probing, with asyncio, and returns
frozen result records. Nothing here chooses a target: every function takes the target it
is given, so the "only the requester" rule lives in one place, the API handler.

Bounds, because the echo server is a public reflector (DESIGN.md, facts/nat-and-stun.md §5):

* UDP: the caller passes a byte budget (the HTTP request body size); :func:`probe_udp_nonce`
  never sends more than it, and the Jamulus probe counts every byte it sends against it
  (:class:`_BudgetedJamulusSocket`), so a probe-back is never bigger than the request.
* Jamulus: only correctly framed connection-less messages, built by :mod:`natprobe.jamulus`
  (anything else makes a Jamulus server open a phantom channel, facts/jamulus.md §1).
* TCP: the connect, and then the whole exchange (TLS handshake, request, reply), are each
  bounded by ``timeout``; replies are read up to a fixed number of bytes
  (:data:`HTTP_MAX_HEAD`, :data:`SSH_MAX_READ`).

A silent or closed port is a result (``connected: false, error: "timeout"``), not an
exception. Only failures of the server itself (it cannot bind its probe source address)
raise :class:`~natprobe.errors.NetworkError`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import socket
import ssl
from dataclasses import dataclass
from datetime import timezone

from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID

from natprobe.version import __version__
from natprobe.errors import NetworkError
from natprobe.contract import (
    ConnectResult,
    HttpResult,
    HttpsResult,
    JamulusResult,
    ProbeError,
    ProbeResult,
    SshResult,
    TlsInfo,
    UdpNonceResult,
    UdpServiceResult,
)
from natprobe.contract.terms import UDP_SERVICE_ATTEMPTS
from natprobe.errors import DecodeError
from natprobe.udp_services import FirstPacket
from natprobe.contract.terms import JAMULUS_PROBE_RESEND_BYTES, JAMULUS_PROBE_ROUND_BYTES, JAMULUS_PROBE_ROUNDS
from natprobe.jamulus import OsType, encode
from natprobe.jamulus.messages import Message
from natprobe.addressing import IPAddress, TransportAddress
from natprobe.adapters.jamulus_socket import JamulusSocket, Peer

from natprobe_server.config.http import UDP_NONCE_SPACING
from natprobe_server.probes.streams import (
    REPORTED_TEXT_MAX,
    Failed,
    Stream,
    TlsFailed,
    clean_text,
    close_stream,
    connect,
    open_stream,
    os_error,
    reading_context,
    to_ms,
)

logger = logging.getLogger(__name__)

__all__ = (
    "HTTP_MAX_HEAD",
    "JAMULUS_MAX_ATTEMPTS",
    "REPORTED_TEXT_MAX",
    "SSH_MAX_BANNER",
    "SSH_MAX_READ",
    "UDP_NONCE_SPACING",
    "CertificateInfo",
    "HttpHead",
    "ProbeOutcome",
    "UdpProbeSocket",
    "describe_certificate",
    "jamulus_attempts",
    "parse_http_head",
    "probe_http",
    "probe_jamulus",
    "probe_ssh",
    "probe_tcp",
    "probe_udp_nonce",
    "probe_udp_service",
    "scan_ssh_banner",
)

HTTP_MAX_HEAD = 16 * 1024
"""Bytes of an HTTP response read at most (status line and headers)."""
SSH_MAX_BANNER = 255
"""RFC 4253 section 4.2: the identification string is at most 255 characters including CR LF."""
SSH_MAX_READ = 1024
"""Bytes read at most while looking for the SSH identification line (RFC 4253 section 4.2
lets a server send other lines first)."""
JAMULUS_MAX_ATTEMPTS = JAMULUS_PROBE_ROUNDS
"""Ping rounds at most; fewer when the byte budget allows fewer (see :func:`jamulus_attempts`)."""


# --- results (the records themselves are the contract's: natprobe.contract) ------------------


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """The parts of an X.509 certificate a self-hoster checks (whose name, who signed, until when)."""

    subject_cn: str | None
    san: tuple[str, ...]
    issuer_cn: str | None
    not_after: str | None
    """ISO 8601 UTC, e.g. ``"2026-05-01T12:00:00Z"``."""


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """A probe's result and the local address it left from (for HTTPS with a second
    handshake, the connection that sent the request)."""

    source: TransportAddress
    result: ProbeResult


# --- UDP nonce ---------------------------------------------------------------------------------


class _DiscardProtocol(asyncio.DatagramProtocol):
    """The probe socket never answers anything; whatever arrives is read and dropped."""

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        pass

    def error_received(self, exc: Exception) -> None:
        logger.debug("UDP probe socket error: %s", exc)


class UdpProbeSocket:
    """The UDP socket nonce probe-backs leave from: its own socket (never a STUN or API one),
    bound once at start so its port is stable and the client can tell probe-backs apart."""

    def __init__(self, transport: asyncio.DatagramTransport, local: TransportAddress) -> None:
        self._transport = transport
        self.local = local

    @classmethod
    async def open(cls, ip: IPAddress, port: int = 0) -> UdpProbeSocket:
        """Bind ``ip:port`` (0 = a port the OS picks). :class:`NetworkError` if that fails."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        try:
            transport, _ = await loop.create_datagram_endpoint(
                _DiscardProtocol, local_addr=(str(ip), port), family=family
            )
        except OSError as exc:
            raise NetworkError(
                f"cannot bind the UDP probe socket {TransportAddress(ip, port)}: {exc.strerror or exc}"
            ) from exc
        bound = transport.get_extra_info("sockname")
        return cls(transport, TransportAddress(ip, int(bound[1])))

    def send(self, payload: bytes, target: TransportAddress) -> None:
        self._transport.sendto(payload, target.as_tuple())

    def close(self) -> None:
        self._transport.close()


async def probe_udp_nonce(
    sock: UdpProbeSocket,
    target: TransportAddress,
    payload: bytes,
    *,
    count: int,
    byte_budget: int,
    spacing: float = UDP_NONCE_SPACING,
) -> ProbeOutcome:
    """Send ``payload`` to ``target`` up to ``count`` times, ``spacing`` s apart, never more than
    ``byte_budget`` bytes in all (so fewer datagrams when the budget is short)."""
    if count < 0 or byte_budget < 0 or not payload:
        raise ValueError("count and byte_budget must be >= 0 and the payload non-empty")
    allowed = min(count, byte_budget // len(payload))
    for index in range(allowed):
        if index:
            await asyncio.sleep(spacing)  # deliberate pacing, not a wait for an event
        sock.send(payload, target)
    return ProbeOutcome(sock.local, UdpNonceResult(sent=allowed))


# --- UDP services' first packets (OpenVPN, DNS, NTP, QUIC) --------------------------------------


class _FirstAnswer(asyncio.DatagramProtocol):
    """Keeps the first datagram from the target that parses as the answer to our request."""

    MAX_READ = 32
    """Datagrams looked at per probe, at most: a flood from the target cannot keep us parsing."""

    def __init__(self, packet: FirstPacket, seed: bytes) -> None:
        self._packet, self._seed, self._seen = packet, seed, 0
        self.answer = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self._seen += 1
        if self.answer.done() or self._seen > self.MAX_READ:
            return
        try:
            self.answer.set_result(self._packet.parse(data[:2048], self._seed).detail)
        except DecodeError:
            logger.debug("UDP %s probe: an answer that is not one (%d bytes)", self._packet.name, len(data))

    def error_received(self, exc: Exception) -> None:
        logger.debug("UDP %s probe socket error: %s", self._packet.name, exc)


async def probe_udp_service(
    target: TransportAddress, packet: FirstPacket, *, source_ip: IPAddress, timeout: float, byte_budget: int
) -> ProbeOutcome:
    """Send ``packet``'s first packet to ``target`` up to 3 times within ``timeout`` (never more
    bytes than ``byte_budget``), from a fresh socket connected to the target (so only the
    target's datagrams are read), and report the first real answer."""
    attempts = min(UDP_SERVICE_ATTEMPTS, byte_budget // packet.size)
    seed = os.urandom(16)
    request = packet.build(seed)
    family = socket.AF_INET6 if source_ip.version == 6 else socket.AF_INET
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _FirstAnswer(packet, seed), local_addr=(str(source_ip), 0), remote_addr=target.as_tuple(), family=family
    )
    source = TransportAddress(source_ip, int(transport.get_extra_info("sockname")[1]))
    started = loop.time()
    try:
        for attempt in range(attempts):
            transport.sendto(request)
            try:
                detail = await asyncio.wait_for(asyncio.shield(protocol.answer), timeout / attempts)
            except TimeoutError:
                continue
            return ProbeOutcome(source, UdpServiceResult(attempt + 1, True, to_ms(loop.time() - started), clean_text(detail)))
    finally:
        transport.close()
    return ProbeOutcome(source, UdpServiceResult(attempts, False, None, None))


# --- Jamulus -----------------------------------------------------------------------------------


def jamulus_attempts(byte_budget: int) -> int:
    """Ping rounds that fit ``byte_budget`` (with room for the one version re-ask), 1-3."""
    return max(1, min(JAMULUS_MAX_ATTEMPTS, (byte_budget - JAMULUS_PROBE_RESEND_BYTES) // JAMULUS_PROBE_ROUND_BYTES))


class _BudgetedJamulusSocket(JamulusSocket):
    """A :class:`JamulusSocket` that refuses to send past a byte budget (the hard guarantee
    behind "a probe-back is never bigger than the request", whatever the probe machine does)."""

    budget = 0
    sent_bytes = 0

    def send(self, message: Message, peer: Peer) -> None:
        size = len(encode(message))
        if self.sent_bytes + size > self.budget:
            logger.debug("Jamulus probe: byte budget %d reached, not sending %s", self.budget, type(message).__name__)
            return
        self.sent_bytes += size
        super().send(message, peer)


def _os_name(os: OsType | int | None) -> str | None:
    if os is None:
        return None
    return os.label if isinstance(os, OsType) else f"unknown OS ({os})"


async def probe_jamulus(
    target: TransportAddress,
    *,
    source_ip: IPAddress,
    timeout: float,
    byte_budget: int,
) -> ProbeOutcome:
    """Jamulus ping: ``CLM_PING_MS_WITHNUMCLIENTS`` + ``CLM_REQ_VERSION_AND_OS`` rounds over
    ``timeout`` s, from a fresh socket on ``source_ip``, within ``byte_budget`` bytes."""
    family = socket.AF_INET6 if source_ip.version == 6 else socket.AF_INET
    jsock = await _BudgetedJamulusSocket.open((str(source_ip), 0), family=family)
    assert isinstance(jsock, _BudgetedJamulusSocket)
    jsock.budget = byte_budget
    source = TransportAddress(source_ip, jsock.local_address[1])
    async with jsock:
        try:
            outcome = await jsock.ping(
                (target.ip, target.port),
                timeout=timeout,
                attempts=jamulus_attempts(byte_budget),
                plain_ping=False,
                request_version=True,
                probe_directory=False,  # a list request would make a directory punch holes for us
            )
        except NetworkError as exc:
            logger.info("Jamulus probe to %s could not send: %s", target, exc)
            return ProbeOutcome(source, JamulusResult(False, None, None, None, None))
    return ProbeOutcome(
        source,
        JamulusResult(
            answered=outcome.rtt is not None,
            rtt_ms=None if outcome.rtt is None else to_ms(outcome.rtt),
            clients=outcome.num_clients,
            version=outcome.version,
            os=_os_name(outcome.os),
        ),
    )


# --- TCP: connect, nonce ------------------------------------------------------------------------


async def probe_tcp(
    target: TransportAddress,
    *,
    source_ip: IPAddress,
    timeout: float,
    payload: bytes | None = None,
) -> ProbeOutcome:
    """Connect to ``target`` within ``timeout``; if connected and ``payload`` is given, write it, then close."""
    attempt = await connect(target, source_ip, timeout)
    if isinstance(attempt, Failed):
        return ProbeOutcome(attempt.source, ConnectResult(False, attempt.error, None))
    error: str | None = None
    try:
        _, writer = await asyncio.open_connection(sock=attempt.sock)
    except BaseException:
        attempt.sock.close()
        raise
    try:
        if payload is not None:
            try:
                async with asyncio.timeout(timeout):
                    writer.write(payload)
                    await writer.drain()
            except TimeoutError:
                error = ProbeError.TIMEOUT
            except OSError as exc:
                error = os_error(exc)
    finally:
        await close_stream(writer)
    return ProbeOutcome(attempt.source, ConnectResult(True, error, attempt.connect_ms))


# --- HTTP / HTTPS -------------------------------------------------------------------------------

_STATUS_LINE = re.compile(rb"HTTP/\d(?:\.\d)? (\d{3})(?: [^\r\n]*)?\r?", re.ASCII)


@dataclass(frozen=True, slots=True)
class HttpHead:
    """A parsed response head: the status and the two headers a reachability check reports."""

    status: int
    server: str | None
    location: str | None


def parse_http_head(data: bytes) -> HttpHead | None:
    """The status line and headers at the start of ``data`` (possibly cut short).

    ``None`` when ``data`` does not begin with a complete HTTP/1.x status line. Only complete
    header lines are read; the first ``Server`` and ``Location`` win. Never raises.
    """
    lines = data.split(b"\n")
    if len(lines) < 2:  # no complete status line yet
        return None
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        return None
    headers: dict[str, str] = {}
    for raw in lines[1:-1]:  # the last piece has no newline: incomplete, or the empty rest
        line = raw.rstrip(b"\r")
        if not line:
            break
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            continue  # obs-fold or junk: skip it rather than guess
        key = name.decode("latin-1").lower()
        if key in ("server", "location") and key not in headers:
            headers[key] = clean_text(value.decode("latin-1"))
    return HttpHead(int(match.group(1)), headers.get("server"), headers.get("location"))


async def _read_http_head(reader: asyncio.StreamReader, limit: int) -> tuple[bytes, bool]:
    """Read until the end of the head, ``limit`` bytes, or EOF; returns (data, eof)."""
    data = bytearray()
    while len(data) < limit:  # every pass adds at least one byte or returns
        chunk = await reader.read(limit - len(data))
        if not chunk:
            return bytes(data), True
        data += chunk
        if b"\r\n\r\n" in data or b"\n\n" in data:
            break
    return bytes(data), False


def _host_header(host: str | None, target: TransportAddress, default_port: int) -> str:
    name = host if host is not None else (f"[{target.ip}]" if target.ip.version == 6 else str(target.ip))
    # RFC 9110 section 7.2: the port goes in Host unless it is the scheme's default.
    return name if target.port == default_port else f"{name}:{target.port}"


def describe_certificate(der: bytes) -> CertificateInfo:
    """Subject CN, subjectAltName entries, issuer CN and expiry of a DER certificate.

    A certificate that does not parse gives empty fields (it is still reported as unverified).
    """
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        logger.debug("peer certificate does not parse: %s", exc)
        return CertificateInfo(None, (), None, None)

    def common_name(name: x509.Name) -> str | None:
        try:
            attributes = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        except ValueError:
            return None
        if not attributes:
            return None
        value = attributes[0].value
        return clean_text(value if isinstance(value, str) else value.decode("utf-8", "replace"))

    san: list[str] = []
    try:
        extension = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except (x509.ExtensionNotFound, ValueError):
        pass
    else:
        names = extension.value
        if isinstance(names, x509.SubjectAlternativeName):
            san.extend(clean_text(n) for n in names.get_values_for_type(x509.DNSName))
            san.extend(str(ip) for ip in names.get_values_for_type(x509.IPAddress))
    try:
        expiry: str | None = cert.not_valid_after_utc.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        expiry = None
    return CertificateInfo(common_name(cert.subject), tuple(san[:32]), common_name(cert.issuer), expiry)


async def _get(stream: Stream, host_header: str, timeout: float, path: str = "/") -> tuple[HttpHead | None, str | None]:
    """Send ``GET path`` and read the head; returns (head, error)."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: natprobe-echo/{__version__}\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    ).encode("ascii")
    data = b""
    try:
        async with asyncio.timeout(timeout):
            stream.writer.write(request)
            await stream.writer.drain()
            data, eof = await _read_http_head(stream.reader, HTTP_MAX_HEAD)
    except TimeoutError:
        head = parse_http_head(data)
        return head, None if head is not None else ProbeError.TIMEOUT
    except OSError as exc:  # ConnectionResetError and friends (ssl.SSLError is an OSError too)
        return None, ProbeError.TLS if isinstance(exc, ssl.SSLError) else os_error(exc)
    head = parse_http_head(data)
    if head is not None:
        return head, None
    if eof and not data:
        return None, ProbeError.CLOSED
    return None, ProbeError.PROTOCOL


async def probe_http(
    target: TransportAddress,
    *,
    source_ip: IPAddress,
    timeout: float,
    host: str | None = None,
    verify_context: ssl.SSLContext | None = None,
    https: bool = False,
    path: str = "/",
) -> ProbeOutcome:
    """``GET path`` with ``Host: host`` (or the target IP); for ``https`` a TLS handshake first.

    HTTPS: the handshake is tried with ``verify_context`` (default: the system trust store,
    hostname checked against ``host`` or the target IP). If only certificate verification
    fails, a second connection reads the certificate without trusting it, and the GET goes
    over that one; ``tls.verified`` tells which happened.
    """
    default_port = 443 if https else 80
    host_header = _host_header(host, target, default_port)
    server_name = host if host is not None else str(target.ip)

    tls: TlsInfo | None = None
    if not https:
        opened = await open_stream(target, source_ip, timeout, None, server_name)
        if isinstance(opened, TlsFailed):  # cannot happen without a context
            raise AssertionError("TLS failure on a plain connection")
        if isinstance(opened, Failed):
            return ProbeOutcome(opened.source, HttpResult(opened.connected, opened.error, None, None, None))
    else:
        context = verify_context if verify_context is not None else _default_verify_context()
        opened = await open_stream(target, source_ip, timeout, context, server_name)
        verify_error: str | None = None
        if isinstance(opened, TlsFailed) and opened.verify_failed:
            verify_error = opened.message
            opened = await open_stream(target, source_ip, timeout, reading_context(), server_name)
        if isinstance(opened, Failed):
            # Connected at least once (a first, verifying handshake reached the certificate) counts.
            connected = opened.connected or verify_error is not None
            tls = _unknown_tls(verify_error or f"TLS handshake did not complete ({opened.error})") if connected else None
            return ProbeOutcome(opened.source, HttpsResult(connected, opened.error, None, None, None, tls))
        if isinstance(opened, TlsFailed):  # the handshake itself failed (not TLS, no common version...)
            tls = _unknown_tls(verify_error or opened.message)
            return ProbeOutcome(opened.source, HttpsResult(True, ProbeError.TLS, None, None, None, tls))
        tls = _tls_info(opened.writer, verified=verify_error is None, verify_error=verify_error)
    try:
        head, error = await _get(opened, host_header, timeout, path)
    finally:
        await close_stream(opened.writer)
    status = None if head is None else head.status
    server_header = None if head is None else head.server
    location = None if head is None else head.location
    if https:
        return ProbeOutcome(opened.source, HttpsResult(True, error, status, server_header, location, tls))
    return ProbeOutcome(opened.source, HttpResult(True, error, status, server_header, location))


def _unknown_tls(verify_error: str | None) -> TlsInfo:
    return TlsInfo(None, None, (), None, None, False, verify_error)


def _tls_info(writer: asyncio.StreamWriter, *, verified: bool, verify_error: str | None) -> TlsInfo:
    ssl_object = writer.get_extra_info("ssl_object")
    version: str | None = None
    cert = CertificateInfo(None, (), None, None)
    if isinstance(ssl_object, (ssl.SSLObject, ssl.SSLSocket)):
        version = ssl_object.version()
        der = ssl_object.getpeercert(binary_form=True)
        if der:
            cert = describe_certificate(der)
    return TlsInfo(version, cert.subject_cn, cert.san, cert.issuer_cn, cert.not_after, verified, verify_error)


@functools.cache
def _default_verify_context() -> ssl.SSLContext:
    """The system trust store, hostname checking on (what a browser or curl would decide)."""
    return ssl.create_default_context()


# --- SSH ----------------------------------------------------------------------------------------


def scan_ssh_banner(data: bytes) -> tuple[str | None, bool]:
    """Look for the SSH identification line in ``data``; returns ``(banner, done)``.

    ``(banner, True)``: found. ``(None, True)``: it cannot come any more (a line starting
    ``SSH-`` longer than :data:`SSH_MAX_BANNER`, or :data:`SSH_MAX_READ` bytes without one).
    ``(None, False)``: read more. Other lines before it are allowed (RFC 4253 section 4.2).
    """
    *complete, tail = data.split(b"\n")
    for line in complete:
        if line.startswith(b"SSH-"):
            if len(line) + 1 > SSH_MAX_BANNER:
                return None, True
            return clean_text(line.rstrip(b"\r").decode("ascii", "replace")), True
    if tail.startswith(b"SSH-") and len(tail) >= SSH_MAX_BANNER:
        return None, True
    if len(data) >= SSH_MAX_READ:
        return None, True
    return None, False


async def probe_ssh(target: TransportAddress, *, source_ip: IPAddress, timeout: float) -> ProbeOutcome:
    """Connect and read the server's identification line (an SSH server speaks first)."""
    opened = await open_stream(target, source_ip, timeout, None, str(target.ip))
    if isinstance(opened, TlsFailed):
        raise AssertionError("TLS failure on a plain connection")
    if isinstance(opened, Failed):
        return ProbeOutcome(opened.source, SshResult(opened.connected, opened.error, None))
    data = bytearray()
    banner: str | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(timeout):
            while True:  # bounded: every pass adds a byte or ends, and SSH_MAX_READ ends it
                chunk = await opened.reader.read(SSH_MAX_READ - len(data))
                if not chunk:
                    error = ProbeError.CLOSED if not data else ProbeError.PROTOCOL
                    break
                data += chunk
                banner, done = scan_ssh_banner(bytes(data))
                if done:
                    if banner is None:
                        error = ProbeError.PROTOCOL
                    break
    except TimeoutError:
        error = ProbeError.TIMEOUT if not data else ProbeError.PROTOCOL
    except OSError as exc:
        error = os_error(exc)
    finally:
        await close_stream(opened.writer)
    return ProbeOutcome(opened.source, SshResult(True, error, banner))
