"""natprobe's own listener on a port under test through a relay: I/O adapter.

It waits for the one-time token and notes what a service on this port would have learned
about the client: the socket's peer, a PROXY protocol header in front of the stream, the
``X-Forwarded-For`` / ``Forwarded`` headers of an HTTP request, and for UDP the local address
and interface the datagram arrived on (IP_PKTINFO), from which the reply's route is asked of
the kernel (``ip route get PEER from LOCAL``: no privilege needed).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import json
import logging
import shutil
import socket
import struct
import subprocess
from dataclasses import dataclass

from natprobe.addressing import IPAddress
from natprobe.contract.terms import HTTP_NONCE_PATH, NONCE_PREFIX, TransportProtocol
from natprobe.errors import DecodeError, NetworkError
from natprobe.proxy_header import ProxyHeader, header_length, parse_proxy_header

__all__ = ("Arrival", "RelayListener", "open_relay_listener", "reply_interface")

logger = logging.getLogger(__name__)

_MAX_HEAD = 8192
_READ_TIMEOUT_S = 3.0
_IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


@dataclass(frozen=True, slots=True)
class Arrival:
    """The token arrived: from whom, with which header, where."""

    peer: IPAddress
    proxy: ProxyHeader | None = None
    forwarded_for: str | None = None
    local: IPAddress | None = None
    interface: str | None = None


def _ip(text: str) -> IPAddress:
    ip = ipaddress.ip_address(text.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _forwarded(head: bytes) -> str | None:
    values = []
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() in (b"x-forwarded-for", b"forwarded"):
            values.append(value.strip().decode("latin-1")[:200])
    return ", ".join(values) if values else None


class RelayListener:
    """Waits for ``token`` on one port; ``arrival`` once it came (see the module docstring)."""

    def __init__(self, protocol: TransportProtocol, token: str) -> None:
        self.protocol = protocol
        self.token = token
        self.nonce = NONCE_PREFIX + token.encode("ascii")
        self.received = asyncio.Event()
        self.arrival: Arrival | None = None
        self._server: asyncio.Server | None = None
        self._udp: socket.socket | None = None

    # --- TCP -----------------------------------------------------------------------------------

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        try:
            async with asyncio.timeout(_READ_TIMEOUT_S):
                data = b""
                while len(data) < _MAX_HEAD:  # bounded by size and time
                    chunk = await reader.read(_MAX_HEAD - len(data))
                    if not chunk:
                        break
                    data += chunk
                    if self._complete(data):
                        break
            self._consume(data, _ip(str(peername[0])), writer)
        except (TimeoutError, OSError, DecodeError, ValueError) as exc:
            logger.debug("relay listener: connection from %s: %s", peername, exc)
        finally:
            with contextlib.suppress(OSError):
                writer.close()

    def _complete(self, data: bytes) -> bool:
        length = header_length(data)
        if length is None or len(data) < length:
            return False
        body = data[length:]
        if body.startswith(b"GET "):
            return b"\r\n\r\n" in body
        return len(body) >= len(self.nonce)

    def _consume(self, data: bytes, peer: IPAddress, writer: asyncio.StreamWriter) -> None:
        proxy = parse_proxy_header(data)
        body = data[proxy.length:] if proxy is not None else data
        forwarded = None
        if body.startswith(b"GET "):
            head = body.partition(b"\r\n\r\n")[0]
            path = head.split(b"\r\n", 1)[0].split(b" ")[1:2]
            ok = path == [(HTTP_NONCE_PATH + self.token).encode()]
            forwarded = _forwarded(head)
            writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n" if ok
                         else b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        else:
            ok = body[: len(self.nonce)] == self.nonce
        if ok and not self.received.is_set():
            self.arrival = Arrival(peer, proxy, forwarded)
            self.received.set()

    # --- UDP -----------------------------------------------------------------------------------

    def _on_datagram(self) -> None:
        assert self._udp is not None
        for _ in range(64):  # bounded per wake-up
            try:
                data, ancillary, _flags, address = self._udp.recvmsg(2048, socket.CMSG_SPACE(12))
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                logger.debug("relay listener: %s", exc)
                return
            if data != self.nonce or self.received.is_set():
                continue
            local: IPAddress | None = None
            interface: str | None = None
            for level, kind, value in ancillary:
                if level == socket.IPPROTO_IP and kind == _IP_PKTINFO and len(value) >= 12:
                    index, _spec, destination = struct.unpack("=I4s4s", value[:12])
                    local = ipaddress.IPv4Address(destination)
                    with contextlib.suppress(OSError):
                        interface = socket.if_indextoname(index)
            self.arrival = Arrival(_ip(address[0]), local=local, interface=interface)
            self.received.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._udp is not None:
            asyncio.get_running_loop().remove_reader(self._udp.fileno())
            self._udp.close()


async def open_relay_listener(protocol: TransportProtocol, port: int, token: str,
                              listen_ip: str = "0.0.0.0") -> RelayListener | None:
    """Listen on ``port`` for ``token``; ``None`` when something else holds the port."""
    listener = RelayListener(protocol, token)
    try:
        if protocol is TransportProtocol.TCP:
            listener._server = await asyncio.start_server(listener._on_connection, listen_ip, port, reuse_address=True)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)
                sock.setblocking(False)
                sock.bind((listen_ip, port))
            except OSError:
                sock.close()
                raise
            listener._udp = sock
            asyncio.get_running_loop().add_reader(sock.fileno(), listener._on_datagram)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            return None
        raise NetworkError(f"cannot listen on {protocol.value} port {port}: {exc.strerror}") from exc
    return listener


async def reply_interface(destination: IPAddress, source: IPAddress) -> str | None:
    """The interface the kernel routes a packet from ``source`` to ``destination`` out of
    (policy rules included); ``None`` where ``ip`` is missing or cannot tell."""
    binary = shutil.which("ip")
    if binary is None:
        return None
    try:
        proc = await asyncio.create_subprocess_exec(
            binary, "-j", "route", "get", str(destination), "from", str(source),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        async with asyncio.timeout(2.0):
            out, _err = await proc.communicate()
    except (OSError, TimeoutError) as exc:
        logger.debug("ip route get: %s", exc)
        with contextlib.suppress(ProcessLookupError, UnboundLocalError):
            proc.kill()
        return None
    try:
        routes = json.loads(out or b"[]")
        device = routes[0].get("dev") if routes else None
    except (ValueError, AttributeError, IndexError):
        return None
    return device if isinstance(device, str) else None
