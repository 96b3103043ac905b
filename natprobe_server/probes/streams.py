"""TCP and TLS streams to a requester, shared by the probe-backs and the exposure scan.

One connect path (bound to the server's probe source address, so the source port is known
even when the connect fails), one way to open TLS and read what answered, one way to close
(gracefully within :data:`CLOSE_GRACE`, else abort), and one cleaner for peer-chosen text.
Failures are values (:class:`Failed`, :class:`TlsFailed`), never exceptions: a silent or
closed port is a result. Only the server's own failure (it cannot bind its source address)
raises :class:`~natprobe.errors.NetworkError`.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import socket
import ssl
from dataclasses import dataclass

from natprobe.addressing import IPAddress, TransportAddress
from natprobe.contract import ProbeError
from natprobe.errors import NetworkError

__all__ = (
    "CLOSE_GRACE",
    "REPORTED_TEXT_MAX",
    "Connected",
    "Failed",
    "Stream",
    "TlsFailed",
    "clean_text",
    "close_stream",
    "connect",
    "open_stream",
    "os_error",
    "reading_context",
    "tls_failure",
    "to_ms",
)

REPORTED_TEXT_MAX = 256
"""Header values and similar peer-chosen strings are cut to this many characters in results."""

CLOSE_GRACE = 1.0
"""Seconds a graceful close (FIN, TLS close_notify) may take before the connection is aborted."""


_ERRNO_ERRORS = {
    errno.ECONNREFUSED: ProbeError.REFUSED,
    errno.EHOSTUNREACH: ProbeError.UNREACHABLE,
    errno.ENETUNREACH: ProbeError.UNREACHABLE,
    errno.ETIMEDOUT: ProbeError.TIMEOUT,
    errno.ECONNRESET: ProbeError.RESET,
    errno.EPIPE: ProbeError.RESET,
}


def os_error(exc: OSError) -> str:
    if exc.errno is not None and exc.errno in _ERRNO_ERRORS:
        return _ERRNO_ERRORS[exc.errno]
    if exc.errno is not None and exc.errno in errno.errorcode:
        return errno.errorcode[exc.errno].lower()
    return "error"


def clean_text(text: str) -> str:
    """Printable text only, cut to :data:`REPORTED_TEXT_MAX`: peers choose these strings."""
    printable = "".join(ch if ch.isprintable() else "\ufffd" for ch in text.strip())
    return printable[:REPORTED_TEXT_MAX]


def to_ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)

@dataclass(slots=True)
class Connected:
    sock: socket.socket
    source: TransportAddress
    connect_ms: float


@dataclass(frozen=True, slots=True)
class Failed:
    source: TransportAddress
    error: str
    connected: bool = False
    """TCP connected, and what came after (the TLS handshake) failed."""


def _tcp_socket(source_ip: IPAddress) -> tuple[socket.socket, TransportAddress]:
    """A non-blocking TCP socket bound to ``source_ip`` (so the source port is known even when
    the connect fails: the client can match it in its firewall log)."""
    family = socket.AF_INET6 if source_ip.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.bind((str(source_ip), 0))
    except OSError as exc:
        sock.close()
        raise NetworkError(f"cannot bind a TCP probe socket on {source_ip}: {exc.strerror or exc}") from exc
    return sock, TransportAddress(source_ip, int(sock.getsockname()[1]))


async def connect(target: TransportAddress, source_ip: IPAddress, timeout: float) -> Connected | Failed:
    loop = asyncio.get_running_loop()
    sock, source = _tcp_socket(source_ip)
    start = loop.time()
    try:
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, target.as_tuple())
    except TimeoutError:
        sock.close()
        return Failed(source, ProbeError.TIMEOUT)
    except OSError as exc:
        sock.close()
        return Failed(source, os_error(exc))
    except BaseException:
        sock.close()
        raise
    return Connected(sock, source, to_ms(loop.time() - start))


async def close_stream(writer: asyncio.StreamWriter) -> None:
    """Close gracefully if the peer lets us within :data:`CLOSE_GRACE`, else abort."""
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_GRACE):
            await writer.wait_closed()
    except (TimeoutError, OSError, ssl.SSLError):
        writer.transport.abort()



@functools.cache
def reading_context() -> ssl.SSLContext:
    """A context that completes any handshake so the certificate can be read (never trusts it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(slots=True)
class Stream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    source: TransportAddress
    connect_ms: float


@dataclass(frozen=True, slots=True)
class TlsFailed:
    source: TransportAddress
    verify_failed: bool
    message: str


async def open_stream(
    target: TransportAddress,
    source_ip: IPAddress,
    timeout: float,
    context: ssl.SSLContext | None,
    server_name: str,
) -> Stream | Failed | TlsFailed:
    """Connect (≤ ``timeout``), then wrap in TLS with ``context`` if given (≤ ``timeout``)."""
    attempt = await connect(target, source_ip, timeout)
    if isinstance(attempt, Failed):
        return attempt
    try:
        async with asyncio.timeout(timeout):
            if context is None:
                reader, writer = await asyncio.open_connection(sock=attempt.sock)
            else:
                reader, writer = await asyncio.open_connection(
                    sock=attempt.sock, ssl=context, server_hostname=server_name, ssl_handshake_timeout=timeout
                )
    except ssl.SSLCertVerificationError as exc:
        attempt.sock.close()
        return TlsFailed(attempt.source, True, clean_text(exc.verify_message or str(exc)))
    except ssl.SSLError as exc:
        attempt.sock.close()
        return TlsFailed(attempt.source, False, tls_failure(exc))
    except TimeoutError:
        attempt.sock.close()
        return Failed(attempt.source, ProbeError.TIMEOUT, connected=True)
    except OSError as exc:
        attempt.sock.close()
        # EOF or RST during the handshake: something answered TCP but not TLS.
        return Failed(attempt.source, os_error(exc) if exc.errno is not None else ProbeError.CLOSED, connected=True)
    except BaseException:
        attempt.sock.close()
        raise
    return Stream(reader, writer, attempt.source, attempt.connect_ms)


def tls_failure(exc: ssl.SSLError) -> str:
    reason = str(exc.reason).replace("_", " ").lower() if exc.reason else str(exc)
    hint = " (the port seems to speak plain HTTP, not TLS)" if exc.reason == "WRONG_VERSION_NUMBER" else ""
    return clean_text(f"TLS handshake failed: {reason}{hint}")
