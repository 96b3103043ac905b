"""A small HTTP/1.1 client for the echo server's JSON API: one keep-alive connection, bounded.

Why not aiohttp here: importing aiohttp costs more than a whole ``natprobe check`` at LAN
speed (about 0.1-0.2 s of start-up before the first packet), and the echo client needs only
``GET``/``POST`` with a JSON body on one connection (RFC 9112: a request line, headers, a
body framed by ``Content-Length`` or chunked). Everything a server sends is bounded: the
header block (:data:`MAX_HEAD`) and the body (:data:`MAX_BODY`); anything else is
:class:`HttpError`. TLS (``https://``) loads :mod:`ssl` only when used.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Final

from natprobe.i18n import _

__all__ = ("HttpConnection", "HttpError", "HttpTimeout", "MAX_BODY", "MAX_HEAD")

MAX_HEAD: Final = 16 * 1024
"""Status line and headers: the echo server sends a few hundred bytes."""
MAX_BODY: Final = 8 * 1024 * 1024
"""The largest answer accepted (an exposure scan of many ports is the biggest, some KiB)."""


class HttpError(Exception):
    """The connection failed or the server's answer is not HTTP/1.1 natprobe can read."""


class HttpTimeout(HttpError):
    """No connection within the connect bound (``connect`` says which one)."""

    def __init__(self, message: str, *, connect: bool) -> None:
        super().__init__(message)
        self.connect = connect


class HttpConnection:
    """``await conn.request("GET", "/v1/whoami", {})`` -> ``(status, body)``; ``await conn.close()``.

    The connection opens on the first request and is reused while the server keeps it open.
    """

    def __init__(self, host: str, port: int, *, tls: bool = False, family: int = socket.AF_UNSPEC,
                 local_ip: str | None = None, connect_timeout: float | None = None,
                 address: str | None = None) -> None:
        """``address``: connect there instead of resolving ``host`` again (the caller resolved
        it already); ``host`` still names the server in ``Host`` and the TLS SNI."""
        self.host = host
        self.address = address
        self.port = port
        self.tls = tls
        self.family = family
        self.local_ip = local_ip
        self.connect_timeout = connect_timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def _authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.tls else 80
        return host if self.port == default else f"{host}:{self.port}"

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        context = None
        if self.tls:
            import ssl  # only for https:// servers

            context = ssl.create_default_context()
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await asyncio.open_connection(
                    self.address or self.host, self.port, family=self.family, ssl=context, limit=MAX_HEAD,
                    local_addr=None if self.local_ip is None else (self.local_ip, 0),
                    server_hostname=self.host if self.tls else None,
                )
        except TimeoutError as exc:
            raise HttpTimeout(_("no connection within {seconds:g} s", seconds=self.connect_timeout), connect=True) from exc
        except OSError as exc:
            # asyncio puts "Connect call failed (addr)" in strerror: the errno's own words say more.
            raise HttpError((os.strerror(exc.errno) if exc.errno else "") or exc.strerror or str(exc)
                            or type(exc).__name__) from exc

    async def request(self, method: str, target: str, headers: dict[str, str],
                      body: bytes | None = None) -> tuple[int, bytes]:
        """Send one request and read its whole answer."""
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await self._connect()
        reader, writer = self._reader, self._writer
        assert reader is not None
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._authority}", "User-Agent: natprobe",
                 "Accept: application/json"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body or b'')}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        try:
            await writer.drain()
            status, keep_alive, answer = await _read_response(reader, method)
        except asyncio.CancelledError:
            # An answer may still come on this connection: it must never be read as the next one's.
            self._abandon()
            raise
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            await self.close()
            if isinstance(exc, asyncio.IncompleteReadError):
                raise HttpError(_("the server closed the connection before its answer was complete")) from exc
            if isinstance(exc, (asyncio.LimitOverrunError, ValueError)):
                raise HttpError(_("not an HTTP/1.1 answer natprobe can read: {error}", error=exc)) from exc
            raise HttpError(_("connection to {server} failed: {error}", server=self._authority, error=exc.strerror or exc)) from exc
        if not keep_alive:
            await self.close()
        return status, answer

    def _abandon(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
            except (OSError, TimeoutError):
                pass


async def _read_response(reader: asyncio.StreamReader, method: str) -> tuple[int, bool, bytes]:
    """``(status, keep_alive, body)``; ValueError for an answer that is not HTTP/1.x."""
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        status, fields = parse_head(head)
        if status >= 200 or status == 101:
            break  # 1xx interim answers (100 Continue) precede the real one
    keep_alive = fields.get("connection", "").lower() != "close"
    if method == "HEAD" or status in (204, 304):
        return status, keep_alive, b""
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return status, keep_alive, await _read_chunked(reader)
    if "content-length" in fields:
        length = int(fields["content-length"])
        if not 0 <= length <= MAX_BODY:
            raise ValueError(f"a body of {length} bytes")
        return status, keep_alive, await reader.readexactly(length)
    data = await reader.read(MAX_BODY + 1)  # delimited by the close (RFC 9112 section 6.3)
    body = bytearray(data)
    while data and len(body) <= MAX_BODY:
        data = await reader.read(MAX_BODY + 1 - len(body))
        body += data
    if len(body) > MAX_BODY:
        raise ValueError(f"a body of more than {MAX_BODY} bytes")
    return status, False, bytes(body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size < 0 or len(body) + size > MAX_BODY:
            raise ValueError(f"a body of more than {MAX_BODY} bytes")
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise ValueError("a chunk without its CRLF")


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """The status code and the header fields (lower-case names) of a response head."""
    lines = head.decode("latin-1").split("\r\n")
    version, _space, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise ValueError(f"status line {lines[0][:80]!r}")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"header line {line[:80]!r}")
        fields[name.strip().lower()] = value.strip()
    return int(code), fields
