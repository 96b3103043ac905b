"""Loopback peers for the probe-back and API tests: certificates, scripted TCP servers, UDP sinks.

Every peer binds 127.0.0.1 (or the address a test names inside 127.0.0.0/8) on a port the OS
picks; the fixtures ``closed_tcp_port`` and ``udp_sink`` (tests/server/conftest.py) hand them out.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOCALHOST = ipaddress.IPv4Address("127.0.0.1")
NONCE = "0123456789abcdef0123456789ABCDEF"


# =====================================================================================
# Helpers shared with test_http_api.py
# =====================================================================================


@dataclass
class Pki:
    """PEM files on disk: a test CA, a leaf it signed, and a self-signed certificate."""

    ca_cert: Path
    leaf_cert: Path
    leaf_key: Path
    self_signed_cert: Path
    self_signed_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _certificate(
    subject: str,
    issuer: str,
    public_key: ec.EllipticCurvePublicKey,
    signing_key: ec.EllipticCurvePrivateKey,
    *,
    dns: list[str],
    ips: list[str] = [],
    ca: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(datetime.datetime(2031, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(signing_key, hashes.SHA256())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def make_pki(directory: Path, name: str = "probe.test") -> Pki:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("natprobe test CA", "natprobe test CA", ca_key.public_key(), ca_key, dns=[], ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _certificate(name, "natprobe test CA", leaf_key.public_key(), ca_key, dns=[name, f"www.{name}"], ips=["127.0.0.1"])
    self_key = ec.generate_private_key(ec.SECP256R1())
    self_signed = _certificate(name, name, self_key.public_key(), self_key, dns=[name])
    pki = Pki(
        directory / "ca.pem",
        directory / "leaf.pem",
        directory / "leaf.key",
        directory / "self.pem",
        directory / "self.key",
    )
    pki.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.leaf_cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    _write_key(pki.leaf_key, leaf_key)
    pki.self_signed_cert.write_bytes(self_signed.public_bytes(serialization.Encoding.PEM))
    _write_key(pki.self_signed_key, self_key)
    return pki


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@dataclass
class Scripted:
    """A loopback TCP server; every connection runs ``script`` and what it read is recorded."""

    port: int
    received: list[bytes] = field(default_factory=list)
    peers: list[tuple[str, int]] = field(default_factory=list)
    accepted: asyncio.Queue[None] = field(default_factory=asyncio.Queue)
    connections: asyncio.Queue[None] = field(default_factory=asyncio.Queue)
    """One item per connection that has finished."""
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def next_connection(self, timeout: float = 5.0) -> None:
        """Wait (bounded) until one more connection has finished."""
        async with asyncio.timeout(timeout):
            await self.connections.get()

    async def next_accept(self, timeout: float = 5.0) -> None:
        """Wait (bounded) until one more connection has been accepted."""
        async with asyncio.timeout(timeout):
            await self.accepted.get()


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, Scripted], Awaitable[None]]


@asynccontextmanager
async def tcp_server(script: Script, *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> AsyncIterator[Scripted]:
    state = Scripted(0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.peers.append(writer.get_extra_info("peername")[:2])
        state.accepted.put_nowait(None)
        try:
            await script(reader, writer, state)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the prober went away, or the test is over
        finally:
            writer.close()
            state.connections.put_nowait(None)

    server = await asyncio.start_server(handle, host, 0, ssl=tls)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        state.release.set()
        server.close()
        await server.wait_closed()


async def read_all(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: Scripted) -> None:
    """Record everything until the peer closes."""
    state.received.append(await reader.read(4096))
    while chunk := await reader.read(4096):
        state.received[-1] += chunk


def http_responder(head: bytes) -> Script:
    """Read the request head, record it, send ``head`` (and close)."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: Scripted) -> None:
        state.received.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(head)
        await writer.drain()

    return script


def sender(data: bytes, *, hold: bool = False) -> Script:
    """Send ``data``; with ``hold`` wait for ``state.release`` first (keeps a probe in flight)."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: Scripted) -> None:
        if hold:
            await state.release.wait()
        writer.write(data)
        await writer.drain()
        while await reader.read(4096):  # until the prober closes
            pass

    return script


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: Scripted) -> None:
    """Accept, read, never answer; until the prober closes."""
    while await reader.read(4096):
        pass


class UdpSink:
    """A bound UDP socket the test reads from (bounded waits, never sleeps)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]

    async def receive(self, count: int, timeout: float = 5.0) -> list[tuple[bytes, tuple[str, int]]]:
        loop = asyncio.get_running_loop()
        got = []
        async with asyncio.timeout(timeout):
            for _ in range(count):
                data, addr = await loop.sock_recvfrom(self.sock, 65536)
                got.append((data, addr))
        return got

    def pending(self) -> list[bytes]:
        """Everything already queued (non-blocking)."""
        out = []
        for _ in range(1000):
            try:
                out.append(self.sock.recv(65536))
            except BlockingIOError:
                break
        return out

    def close(self) -> None:
        self.sock.close()


async def greeting_server(ip: str, greeting: bytes | None, reply: bytes | None = None) -> asyncio.Server:
    """A TCP service on ``ip`` that says ``greeting`` on connect (and ``reply`` to what it is sent)."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if greeting:
            writer.write(greeting)
        if reply is not None:
            try:
                await asyncio.wait_for(reader.read(1024), 2.0)
            except (TimeoutError, OSError):
                pass
            writer.write(reply)
        try:
            await writer.drain()
            await asyncio.wait_for(reader.read(1024), 2.0)
        except (TimeoutError, OSError):
            pass
        writer.close()

    return await asyncio.start_server(handle, ip, 0)


def server_port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])
