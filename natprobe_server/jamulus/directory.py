"""The echo server plays a Jamulus directory, so a user can measure public mode on their own network.

A Jamulus server in *public mode* registers with a directory (``CLM_REGISTER_SERVER_EX``),
which keeps the NAT mapping alive with ``CLM_EMPTY_MESSAGE`` every 59 s and, whenever a
client asks for the list, tells the server to send an empty message to that client
(``CLM_SEND_EMPTY_MESSAGE``, the hole punch) so the server's NAT admits the client
(facts/jamulus.md §3). This module does the same, for ``natprobe explain jamulus``:

* **Registration** (UDP, on the primary address, ``--jamulus-port``, 22224 by default when
  the HTTP API runs): ``CLM_REGISTER_SERVER_EX`` / ``CLM_REGISTER_SERVER`` are answered with
  ``CLM_REGISTER_SERVER_RESP(0)`` (``1``, "list full", when the table is full) and remembered
  by their **UDP source ip:port**: that public address is what a directory publishes.
  ``CLM_UNREGISTER_SERVER`` removes the sender's entry.
* **Keep-alive**: ``CLM_EMPTY_MESSAGE`` to every registration every 59 s, or every N s
  (N >= 5, default minimum) when the registration's *city* is ``keepalive=N``.
* **Hole punch** (:meth:`JamulusDirectory.hole_punch`, behind ``POST /v1/jamulus/hole-punch``):
  from a fresh "stranger" socket an unsolicited ``CLM_PING_MS`` to the published address;
  then ``CLM_SEND_EMPTY_MESSAGE(peer)`` from the directory socket to the registration; the
  punch (``CLM_EMPTY_MESSAGE``) is awaited at the fresh "peer" socket (its source port says
  whether the NAT kept one mapping for every destination); finally ``CLM_PING_MS`` from the
  peer to the published address.

Safety (the echo server is a public reflector, DESIGN.md):

* Every datagram leaves toward a registration's **own source address** only; the HTTP
  route only punches a registration whose source IP is the requester's own (TCP) IP.
* Only well-formed frames built by :func:`natprobe.jamulus.encode` are sent.
* Bytes are bounded by bytes received: each registration has a byte budget credited with
  every valid frame it sends here and debited by every reply and keep-alive, so a spoofed
  registration draws at most as many bytes toward its victim as it cost. Hole punches are
  paid by the HTTP request body (like UDP probe-backs).
* Every source (IPv4 address, IPv6 /64) is rate limited
  (:class:`~natprobe_server.ratelimit.RateLimiter`) before anything is parsed; the codec refuses
  names and cities longer than Jamulus allows; the table
  (:class:`natprobe.jamulus.directory_table.DirectoryTable`) is bounded in entries, bytes
  and per source, and keeps a registration beyond a short grace only when its source
  echoes a verification ping (a spoofed source cannot).

Datagrams are handled synchronously in ``datagram_received`` (a decode and a dictionary
update): as in :mod:`natprobe_server.stun.udp`, the kernel's receive buffer is the only queue.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from natprobe.errors import DecodeError, NetworkError
from natprobe.jamulus import (
    JAMULUS_KEEPALIVE_S,
    EmptyMessage,
    ESvrRegResult,
    Message,
    PingMs,
    RegisterServer,
    RegisterServerEx,
    RegisterServerResp,
    SendEmptyMessage,
    UnregisterServer,
    decode,
    encode,
)
from natprobe.i18n import _
from natprobe.addressing import TransportAddress
from natprobe.contract.terms import (
    HOLE_PUNCH_FULL_BUDGET,
    HOLE_PUNCH_MIN_BUDGET,
    HOLE_PUNCH_PEER_PINGS,
    HOLE_PUNCH_REQUESTS,
    HOLE_PUNCH_STRANGER_PINGS,
)
from natprobe.jamulus.directory_table import (
    EMPTY_BYTES,
    PING_BYTES,
    RESP_BYTES,
    SEND_EMPTY_BYTES,
    DirectoryTable,
    RegistrationInfo,
    TableLimits,
    requested_keepalive,
)

from natprobe_server.config.stun import count_argument, port_argument, positive_float
from natprobe_server.ratelimit import RateLimiter, source_key

if TYPE_CHECKING:
    from natprobe.contract.hole_punch import HolePunchResponse, PingStep

logger = logging.getLogger(__name__)

__all__ = (
    "DEFAULT_JAMULUS_PORT",
    "EMPTY_BYTES",
    "HOLE_PUNCH_MIN_BUDGET",
    "HOLE_PUNCH_FULL_BUDGET",
    "JAMULUS_KEEPALIVE_S",
    "PING_BYTES",
    "RESP_BYTES",
    "SEND_EMPTY_BYTES",
    "DirectoryStats",
    "DirectoryTable",
    "JamulusDirectory",
    "JamulusDirectoryConfig",
    "RegistrationInfo",
    "RegistrationNotFound",
    "add_arguments",
    "config_from_args",
    "requested_keepalive",
)

DEFAULT_JAMULUS_PORT = 22224
"""The port of Jamulus' second any-genre directory (src/global.h); any port works."""
DEFAULT_VERIFY_GRACE_S = 10.0
DEFAULT_MAX_TABLE_BYTES = 512 * 1024

_PING_SPACING_S = 0.4
_PUNCH_SPACING_S = 0.5
_INBOX_LIMIT = 64
# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JamulusDirectoryConfig:
    """Where the directory listens and how much it keeps."""

    ip: ipaddress.IPv4Address
    port: int = DEFAULT_JAMULUS_PORT
    """0 = a port the OS picks (tests)."""
    max_registrations: int = 1024
    max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES
    """The table's entries, counted as a fixed overhead plus name and city each."""
    max_per_ip: int = 8
    """Registrations per source IPv4 address (or IPv6 /64)."""
    registration_ttl_s: float = 1200.0
    """Entries are forgotten this long after their last registration. A Jamulus server
    re-registers every 15 min, so 20 min keeps a real one listed without a gap."""
    keepalive_s: float = JAMULUS_KEEPALIVE_S
    min_keepalive_s: float = 5.0
    verify_grace_s: float = DEFAULT_VERIFY_GRACE_S
    """A registration whose source has not echoed a verification ping by then is dropped
    (a spoofed one never can)."""
    rate_per_source: float = 2.0
    """Datagrams per second per source IP (Jamulus registers at most twice a second)."""
    burst_per_source: float = 10.0
    rate_table_size: int = 10_000
    public_ips: tuple[tuple[ipaddress.IPv4Address, ipaddress.IPv4Address], ...] = ()
    """Behind a 1:1 NAT: (private, public) pairs of the server's addresses. A hole punch names
    the peer by its public address, the only one a Jamulus server out there can send to."""

    def public(self, ip: ipaddress.IPv4Address) -> ipaddress.IPv4Address:
        """The address the outside knows this server's ``ip`` by."""
        return dict(self.public_ips).get(ip, ip)

    def __post_init__(self) -> None:
        if not isinstance(self.ip, ipaddress.IPv4Address):
            raise ValueError("the Jamulus directory is IPv4 only (CLM_SEND_EMPTY_MESSAGE carries an IPv4 address)")
        if self.ip.is_unspecified or self.ip.is_multicast:
            raise ValueError("the Jamulus directory needs a specific unicast address")
        if not 0 <= self.port <= 0xFFFF:
            raise ValueError(f"Jamulus port out of range: {self.port}")
        if self.rate_table_size < 1 or self.rate_per_source <= 0 or self.burst_per_source < 1:
            raise ValueError("rate_table_size must be >= 1, rate_per_source > 0, burst_per_source >= 1")
        self.table_limits  # validates the table's share of the settings

    @property
    def table_limits(self) -> TableLimits:
        return TableLimits(
            max_registrations=self.max_registrations,
            max_bytes=self.max_table_bytes,
            max_per_source=self.max_per_ip,
            registration_ttl_s=self.registration_ttl_s,
            keepalive_s=self.keepalive_s,
            min_keepalive_s=self.min_keepalive_s,
            verify_grace_s=self.verify_grace_s,
        )


class RegistrationNotFound(LookupError):
    """No registration by that name from the requester's address (the HTTP route answers 404)."""


@dataclass(slots=True)
class DirectoryStats:
    received: int = 0
    rate_limited: int = 0
    malformed: int = 0
    registrations: int = 0
    refused: int = 0
    keepalives_sent: int = 0
    verify_pings: int = 0
    hole_punches: int = 0
    send_errors: int = 0


# --- sockets ---------------------------------------------------------------------------------


def _peer_of(addr: tuple[str | object, ...]) -> TransportAddress | None:
    try:
        return TransportAddress(ipaddress.ip_address(str(addr[0]).partition("%")[0]), int(str(addr[1])))
    except (ValueError, IndexError):
        return None


class _DirectoryProtocol(asyncio.DatagramProtocol):
    def __init__(self, owner: JamulusDirectory) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.owner._on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        logger.debug("Jamulus directory socket: %s", exc)


class _Collector(asyncio.DatagramProtocol):
    """A probe socket's receive side: valid frames into a bounded inbox; the rest dropped."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[tuple[Message, TransportAddress, float]] = asyncio.Queue(_INBOX_LIMIT)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        source = _peer_of(addr)
        if source is None:
            return
        try:
            message = decode(data)
        except DecodeError:
            return
        try:
            self.inbox.put_nowait((message, source, time.monotonic()))
        except asyncio.QueueFull:
            pass

    def error_received(self, exc: Exception) -> None:
        logger.debug("hole-punch probe socket: %s", exc)


@dataclass(slots=True)
class _ProbeSocket:
    transport: asyncio.DatagramTransport
    collector: _Collector
    local: TransportAddress
    budget: list[int]
    """Shared with the other sockets of the same hole punch: bytes they may still send."""

    @classmethod
    async def open(cls, ip: ipaddress.IPv4Address, budget: list[int]) -> _ProbeSocket:
        loop = asyncio.get_running_loop()
        try:
            transport, collector = await loop.create_datagram_endpoint(
                _Collector, local_addr=(str(ip), 0), family=socket.AF_INET
            )
        except OSError as exc:
            raise NetworkError(f"cannot bind a hole-punch probe socket on {ip}: {exc.strerror or exc}") from exc
        port = int(transport.get_extra_info("sockname")[1])
        return cls(transport, collector, TransportAddress(ip, port), budget)

    def send(self, message: Message, target: TransportAddress) -> bool:
        data = encode(message)
        if self.budget[0] < len(data):
            return False
        self.budget[0] -= len(data)
        self.transport.sendto(data, target.as_tuple())
        return True

    def close(self) -> None:
        self.transport.close()


async def _ping(sock: _ProbeSocket, target: TransportAddress, attempts: int) -> PingStep:
    """Up to ``attempts`` pings ``_PING_SPACING_S`` apart; an echo counts only from ``target``."""
    from natprobe.contract.base import Endpoint  # see JamulusDirectory.hole_punch
    from natprobe.contract.hole_punch import PingStep

    loop = asyncio.get_running_loop()
    stamp = secrets.randbits(32)
    sent_at: dict[int, float] = {}
    start = loop.time()
    for attempt in range(attempts):
        value = (stamp + attempt) & 0xFFFFFFFF
        if not sock.send(PingMs(value), target):
            break
        sent_at[value] = time.monotonic()
        until = start + (attempt + 1) * _PING_SPACING_S
        while True:
            try:
                async with asyncio.timeout_at(until):
                    message, source, received_at = await sock.collector.inbox.get()
            except TimeoutError:
                break
            if source == target and isinstance(message, PingMs) and message.time_ms in sent_at:
                rtt = round((received_at - sent_at[message.time_ms]) * 1000.0, 3)
                return PingStep(Endpoint.of(sock.local), len(sent_at), True, max(0.0, rtt))
    return PingStep(Endpoint.of(sock.local), len(sent_at), False, None)


class JamulusDirectory:
    """The directory emulation: one UDP socket, the table, the keep-alive timer, hole punches."""

    def __init__(self, config: JamulusDirectoryConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.table = DirectoryTable(config.table_limits)
        self.limiter = RateLimiter(config.rate_per_source, config.burst_per_source, config.rate_table_size)
        self.stats = DirectoryStats()
        self._transport: asyncio.DatagramTransport | None = None
        self._endpoint: TransportAddress | None = None
        self._timer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind ``ip:port`` and start the keep-alive timer; :class:`NetworkError` if the bind fails."""
        if self._transport is not None:
            raise RuntimeError("the Jamulus directory is already running")
        loop = asyncio.get_running_loop()
        address = TransportAddress(self.config.ip, self.config.port)
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _DirectoryProtocol(self), local_addr=address.as_tuple(), family=socket.AF_INET
            )
        except OSError as exc:
            raise NetworkError(f"cannot listen on udp {address} for the Jamulus directory: {exc.strerror or exc}") from exc
        self._transport = transport
        self._endpoint = TransportAddress(self.config.ip, int(transport.get_extra_info("sockname")[1]))
        self._wake = asyncio.Event()
        self._timer = asyncio.create_task(self._keepalive_loop(), name="jamulus-directory-keepalive")
        logger.info("Jamulus directory emulation on udp %s", self._endpoint)

    async def stop(self) -> None:
        """Stop the timer and close the socket (idempotent)."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            try:
                await timer
            except asyncio.CancelledError:
                pass
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    async def __aenter__(self) -> JamulusDirectory:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def endpoint(self) -> TransportAddress:
        """The bound address (the port is the real one when ``port=0`` was asked)."""
        if self._endpoint is None or self._transport is None:
            raise RuntimeError("the Jamulus directory is not running")
        return self._endpoint

    @property
    def advertised_endpoint(self) -> TransportAddress:
        """:attr:`endpoint` as a client reaches it (its public address behind a 1:1 NAT)."""
        endpoint = self.endpoint
        assert isinstance(endpoint.ip, ipaddress.IPv4Address)  # the directory binds IPv4 only
        return TransportAddress(self.config.public(endpoint.ip), endpoint.port)

    def registrations(self) -> tuple[RegistrationInfo, ...]:
        return self.table.entries()

    # --- datagrams ------------------------------------------------------------------------------

    def _send(self, message: Message, target: TransportAddress) -> None:
        """Send from the directory socket; callers only ever pass a registration's own source."""
        if self._transport is None:
            return
        try:
            self._transport.sendto(encode(message), target.as_tuple())
        except OSError:
            self.stats.send_errors += 1

    def _on_datagram(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.stats.received += 1
        source = _peer_of(addr)
        if source is None:
            return
        now = self.clock()
        if not self.limiter.allow(source_key(source.ip), now):
            self.stats.rate_limited += 1
            return
        try:
            message = decode(data)
        except DecodeError:
            self.stats.malformed += 1  # audio or junk: a directory ignores it
            return
        if isinstance(message, (RegisterServerEx, RegisterServer)):
            was_empty = len(self.table) == 0
            status = self.table.register(source, message, len(data), now)
            if status is ESvrRegResult.REGISTERED:
                self.stats.registrations += 1
                logger.info("Jamulus registration %r from %s", message.name, source)
            else:
                self.stats.refused += 1
            self._send(RegisterServerResp(status), source)  # paid by the request (>= 40 bytes vs 10)
            if was_empty or status is ESvrRegResult.REGISTERED:
                self._wake.set()
        elif isinstance(message, UnregisterServer):
            if self.table.unregister(source):
                logger.info("Jamulus registration from %s withdrawn", source)
        else:
            # Keep-alives, verification ping echoes, list requests and the rest: credited
            # (this is not a listing directory); a ping echo may verify the registration.
            self.table.received(source, message, len(data))

    async def _keepalive_loop(self) -> None:
        while True:
            now = self.clock()
            for target, message in self.table.due(now):
                self._send(message, target)
                if isinstance(message, EmptyMessage):
                    self.stats.keepalives_sent += 1
                else:
                    self.stats.verify_pings += 1
            deadline = self.table.next_deadline()
            self._wake.clear()
            timeout = None if deadline is None else max(0.05, deadline - self.clock())
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass

    # --- hole punch -----------------------------------------------------------------------------

    async def hole_punch(
        self,
        name: str,
        requester: ipaddress.IPv4Address | ipaddress.IPv6Address,
        *,
        source_ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
        byte_budget: int,
    ) -> HolePunchResponse:
        """Punch for a fresh peer, as a directory does for a client that asks for the list.

        Raises :class:`RegistrationNotFound` when no registration called ``name`` came from
        ``requester``'s IP, ``ValueError`` when ``byte_budget`` cannot pay for one try of each
        step (:data:`HOLE_PUNCH_MIN_BUDGET`) or ``source_ip`` is not IPv4, and
        :class:`NetworkError` when a probe socket cannot be bound.
        """
        # The answer is the HTTP contract's record, imported here: a server without the HTTP
        # API never loads msgspec (benchmarks/README.md, "The HTTP contract's library").
        from natprobe.contract.base import Endpoint
        from natprobe.contract.hole_punch import HolePunchResponse, HolePunchStep

        if self._transport is None:
            raise RuntimeError("the Jamulus directory is not running")
        if not isinstance(source_ip, ipaddress.IPv4Address):
            raise ValueError("hole punches need an IPv4 probe source address")
        if byte_budget < HOLE_PUNCH_MIN_BUDGET:
            raise ValueError(
                f"the request body must be at least {HOLE_PUNCH_MIN_BUDGET} bytes (pad it with spaces; "
                f"{HOLE_PUNCH_FULL_BUDGET} pays for every retry): the server never sends more UDP bytes than it"
            )
        registration = self.table.find(name, requester, self.clock())
        if registration is None:
            raise RegistrationNotFound(
                f"no Jamulus registration named {name!r} came from your address {requester}; register with "
                f"the directory at udp {self.advertised_endpoint} from this address first (registrations from other "
                "addresses are never punched for you)"
            )
        self.stats.hole_punches += 1
        target = registration.source
        loop = asyncio.get_running_loop()
        started = loop.time()
        registered_s_ago = max(0.0, self.clock() - registration.registered_at)
        # One budget for the three sockets; each step keeps room for the ones after it.
        budget = [byte_budget]
        stranger = await _ProbeSocket.open(source_ip, budget)
        try:
            peer = await _ProbeSocket.open(source_ip, budget)
        except BaseException:
            stranger.close()
            raise
        try:
            # a) A stranger that nothing has sent to: only a forward or full-cone NAT lets it in.
            #    Its own socket, so that its (dropped) pings leave no NAT state on the peer's path.
            stranger_attempts = min(HOLE_PUNCH_STRANGER_PINGS, (budget[0] - SEND_EMPTY_BYTES - PING_BYTES) // PING_BYTES)
            unsolicited = await _ping(stranger, target, stranger_attempts)

            # b) + c) "send an empty message to the peer", resent until the punch arrives.
            assert isinstance(peer.local.ip, ipaddress.IPv4Address)
            peer_public = TransportAddress(self.config.public(peer.local.ip), peer.local.port)
            assert isinstance(peer_public.ip, ipaddress.IPv4Address)
            request = SendEmptyMessage(peer_public.ip, peer_public.port)
            punch_source: TransportAddress | None = None
            punch_after: float | None = None
            requests = 0
            first_request = time.monotonic()
            for attempt in range(HOLE_PUNCH_REQUESTS):
                if budget[0] - SEND_EMPTY_BYTES < PING_BYTES:
                    break
                budget[0] -= SEND_EMPTY_BYTES
                self._send(request, target)
                requests += 1
                if attempt == 0:
                    first_request = time.monotonic()
                until = loop.time() + _PUNCH_SPACING_S
                while punch_source is None:
                    try:
                        async with asyncio.timeout_at(until):
                            message, source, received_at = await peer.collector.inbox.get()
                    except TimeoutError:
                        break
                    # From any address: a NAT with "arbitrary" address pooling (RFC 4787 section 4.1)
                    # may send it from another public IP, and that is worth reporting.
                    if isinstance(message, EmptyMessage):
                        punch_source = source
                        punch_after = round(max(0.0, received_at - first_request) * 1000.0, 3)
                if punch_source is not None:
                    break

            # d) The peer pings the published address, as a client pings the listed server.
            punched = await _ping(peer, target, min(HOLE_PUNCH_PEER_PINGS, budget[0] // PING_BYTES))
        finally:
            stranger.close()
            peer.close()
        elapsed = round((loop.time() - started) * 1000.0, 3)
        return HolePunchResponse(
            name=registration.name,
            published=Endpoint.of(target),
            registered_s_ago=round(registered_s_ago, 3),
            keepalive_interval_s=registration.keepalive_s,
            unsolicited=unsolicited,
            hole_punch=HolePunchStep(
                peer=Endpoint.of(peer_public),
                requests_sent=requests,
                received=punch_source is not None,
                source=None if punch_source is None else Endpoint.of(punch_source),
                after_ms=punch_after,
            ),
            punched_ping=punched,
            udp_bytes_sent=byte_budget - budget[0],
            elapsed_ms=elapsed,
        )


# --- command line ----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--jamulus-port`` / ``--no-jamulus`` (shared by ``python -m natprobe_server`` and ``natprobe serve``)."""
    parser.add_argument(
        "--jamulus-port",
        type=port_argument,
        metavar="P",
        help=_(
            "play a Jamulus directory on UDP P of the primary address, for 'natprobe explain jamulus' "
            "(default: {port} when --http-port is given, else off; 0 = any free port)", port=DEFAULT_JAMULUS_PORT
        ),
    )
    parser.add_argument("--no-jamulus", action="store_true", help=_("do not play a Jamulus directory"))
    parser.add_argument(
        "--jamulus-verify-grace",
        type=positive_float,
        default=DEFAULT_VERIFY_GRACE_S,
        metavar="S",
        help=_("drop a registration whose address does not echo the directory's ping within S seconds "
               "(default %(default)s)"),
    )
    parser.add_argument(
        "--jamulus-max-table-bytes",
        type=count_argument,
        default=DEFAULT_MAX_TABLE_BYTES,
        metavar="N",
        help=_("memory the registration table may use, in bytes (default %(default)s)"),
    )


def config_from_args(
    args: argparse.Namespace,
    primary: ipaddress.IPv4Address | ipaddress.IPv6Address,
    public_ips: tuple[tuple[ipaddress.IPv4Address, ipaddress.IPv4Address], ...] = (),
) -> tuple[JamulusDirectoryConfig | None, bool]:
    """The directory config (``None``: off) and whether it was asked for explicitly.

    Implicit (``--http-port`` without ``--jamulus-port``): a busy port or an IPv6 primary only
    turns the directory off, with a warning. Explicit: those are errors.
    """
    explicit = args.jamulus_port is not None
    if args.no_jamulus:
        if explicit:
            raise ValueError("--jamulus-port and --no-jamulus contradict each other")
        return None, False
    if not explicit and getattr(args, "http_port", None) is None:
        return None, False
    if not isinstance(primary, ipaddress.IPv4Address):
        if explicit:
            raise ValueError("the Jamulus directory needs an IPv4 --primary address (Jamulus directories are IPv4 only)")
        return None, False
    port = args.jamulus_port if explicit else DEFAULT_JAMULUS_PORT
    return JamulusDirectoryConfig(
        ip=primary,
        port=port,
        verify_grace_s=float(getattr(args, "jamulus_verify_grace", DEFAULT_VERIFY_GRACE_S)),
        max_table_bytes=int(getattr(args, "jamulus_max_table_bytes", DEFAULT_MAX_TABLE_BYTES)),
        public_ips=public_ips,
    ), explicit
