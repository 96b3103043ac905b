"""The echo server plays a Jamulus directory, so a user can measure public mode on their own network.

A Jamulus server in *public mode* registers with a directory (``CLM_REGISTER_SERVER_EX``),
which keeps the NAT mapping alive with ``CLM_EMPTY_MESSAGE`` every 59 s and, whenever a
client asks for the list, tells the server to send an empty message to that client
(``CLM_SEND_EMPTY_MESSAGE``, the hole punch) so the server's NAT admits the client
(facts/jamulus.md §3). This module does the same, for ``natprobe explain jamulus``:

* **Registration** (UDP, on the primary address, ``--jamulus-port``, 22224 by default when
  the HTTP API runs; :mod:`natprobe_server.jamulus.protocol`): registrations are answered and
  remembered by their **UDP source ip:port**: that public address is what a directory publishes.
* **Keep-alive** (:mod:`natprobe_server.jamulus.keepalive`): ``CLM_EMPTY_MESSAGE`` to every
  registration every 59 s, or every N s (N >= 5, default minimum) when the registration's
  *city* is ``keepalive=N``.
* **Hole punch** (:meth:`JamulusDirectory.hole_punch`, behind ``POST /v1/jamulus/hole-punch``):
  a sans-I/O plan (:mod:`natprobe_server.jamulus.punch_plan`) run by a thin driver
  (:mod:`natprobe_server.jamulus.hole_punch`): an unsolicited ping from a stranger socket, the
  punch toward a fresh peer socket (its source port says whether the NAT kept one mapping for
  every destination), then a ping from the peer to the published address.

This module wires them: the socket, the table, the timer, and the checks before a punch.
The settings are :mod:`natprobe_server.config.jamulus`.

Safety (the echo server is a public reflector, DESIGN.md):

* Every datagram leaves toward a registration's **own source address** only; the HTTP
  route only punches a registration whose source IP is the requester's own (TCP) IP.
* Only well-formed frames built by :func:`natprobe.jamulus.encode` are sent.
* Bytes are bounded by bytes received: each registration has a byte budget credited with
  every valid frame it sends here and debited by every reply and keep-alive, so a spoofed
  registration draws at most as many bytes toward its victim as it cost. Hole punches are
  paid by the HTTP request body (like UDP probe-backs).
* Every source (IPv4 address, IPv6 /64) is rate limited
  (:class:`~natprobe_server.limits.RateLimiter`) before anything is parsed; the codec refuses
  names and cities longer than Jamulus allows; the table
  (:class:`natprobe.jamulus.directory_table.DirectoryTable`) is bounded in entries, bytes
  and per source, and keeps a registration beyond a short grace only when its source
  echoes a verification ping (a spoofed source cannot).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from natprobe.i18n import _
from natprobe.addressing import TransportAddress
from natprobe.contract.terms import HOLE_PUNCH_FULL_BUDGET, HOLE_PUNCH_MIN_BUDGET
from natprobe.errors import NetworkError
from natprobe.jamulus.directory_table import DirectoryTable, RegistrationInfo

from natprobe_server.config.jamulus import JamulusDirectoryConfig
from natprobe_server.jamulus.hole_punch import punch
from natprobe_server.jamulus.keepalive import keep_alive
from natprobe_server.jamulus.protocol import DirectoryProtocol, DirectoryStats
from natprobe_server.limits import RateLimiter

if TYPE_CHECKING:
    from natprobe.contract.hole_punch import HolePunchResponse

logger = logging.getLogger(__name__)

__all__ = ("DirectoryStats", "JamulusDirectory", "RegistrationNotFound")


class RegistrationNotFound(LookupError):
    """No registration by that name from the requester's address (the HTTP route answers 404)."""


class JamulusDirectory:
    """The directory emulation: one UDP socket, the table, the keep-alive timer, hole punches."""

    def __init__(self, config: JamulusDirectoryConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.table = DirectoryTable(config.table_limits)
        self.limiter = RateLimiter(config.rate_per_source, config.burst_per_source, config.rate_table_size)
        self.stats = DirectoryStats()
        self._protocol: DirectoryProtocol | None = None
        self._endpoint: TransportAddress | None = None
        self._timer: asyncio.Task[None] | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind ``ip:port`` and start the keep-alive timer; :class:`NetworkError` if the bind fails."""
        if self._protocol is not None:
            raise RuntimeError("the Jamulus directory is already running")
        loop = asyncio.get_running_loop()
        address = TransportAddress(self.config.ip, self.config.port)
        wake = asyncio.Event()
        try:
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: DirectoryProtocol(self.table, self.limiter, self.stats, self.clock, wake.set),
                local_addr=address.as_tuple(),
                family=socket.AF_INET,
            )
        except OSError as exc:
            raise NetworkError(_("cannot listen on udp {address} for the Jamulus directory: {error}", address=address,
                                 error=exc.strerror or exc)) from exc
        self._protocol = protocol
        self._endpoint = TransportAddress(self.config.ip, int(transport.get_extra_info("sockname")[1]))
        self._timer = asyncio.create_task(
            keep_alive(self.table, protocol.send, wake, self.clock, self.stats), name="jamulus-directory-keepalive"
        )
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
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()

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
        if self._endpoint is None or self._protocol is None:
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
        step (:data:`~natprobe.contract.terms.HOLE_PUNCH_MIN_BUDGET`) or ``source_ip`` is not
        IPv4, and :class:`NetworkError` when a probe socket cannot be bound.
        """
        protocol = self._protocol
        if protocol is None:
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
        return await punch(
            registration,
            source_ip=source_ip,
            public=self.config.public,
            byte_budget=byte_budget,
            registered_s_ago=max(0.0, self.clock() - registration.registered_at),
            directory_send=protocol.send,
        )
