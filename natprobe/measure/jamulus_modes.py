"""Measure Jamulus public mode against private mode from this network (``natprobe explain jamulus``).

The steps, all against the user's own echo server (``natprobe serve --http-port N``, which
plays a Jamulus directory on UDP 22224 of its address, see ``natprobe_server.jamulus.directory``):

0. **Private mode first**, before anything has left the Jamulus port: the echo server sends
   an unsolicited probe to this network's public address on that port
   (:func:`natprobe.measure.check.check_ports`). Only a forward (or no NAT) lets it in.
1. **Registration**: from the Jamulus port, ``CLM_REGISTER_SERVER_EX`` (name: a per-test
   nonce) to the directory, resent every 500 ms up to 5 times as Jamulus does, until
   ``CLM_REGISTER_SERVER_RESP``. This creates the mapping a directory publishes.
2. **Acting as the Jamulus server** while the measurement runs: pings are echoed as a server
   echoes them, and ``CLM_SEND_EMPTY_MESSAGE`` is obeyed **only** when it comes from the
   directory's exact ip:port and names the echo server's announced probe address, at most
   :data:`MAX_PUNCHES` times (never a blind reflector).
3. **Hole punch**: ``POST /v1/jamulus/hole-punch`` makes the directory ping from a stranger,
   ask for the punch toward a fresh peer and ping from that peer; its answer and what this
   side saw are combined.
4. Optionally the **mapping lifetime** (:func:`natprobe.measure.lifetime.measure_mapping_lifetime`
   against the echo server's STUN port), concurrently, to compare with the 59 s keep-alive.

If another program (a real Jamulus server) holds the port, private mode is judged by the
check's service probe and public mode is measured from an ephemeral port, and the report
says so. The verdicts and the explanation are pure: :mod:`natprobe.verdicts.jamulus_verdicts`, :mod:`natprobe.findings.jamulus_findings`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import ipaddress
import logging
import re
import secrets
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from natprobe.version import __version__
from natprobe.i18n import _
from natprobe.verdicts.port_spec import PortSpec
from natprobe.measure.check import CheckOptions, check_ports
from natprobe.errors import DecodeError, NatprobeError, NetworkError, ServerError
from natprobe.jamulus.messages import DIRECTORY_PORT
from natprobe.jamulus import (
    EmptyMessage,
    ESvrRegResult,
    Message,
    OsType,
    PingMs,
    PingMsWithNumClients,
    RegisterServerEx,
    RegisterServerResp,
    SendEmptyMessage,
    UnregisterServer,
    decode,
    encode,
)
from natprobe.findings.jamulus_reasons import assess_jamulus_modes, port_held_note, refused_punches_note, unmeasured_directory_reason, unmeasured_lifetime_note
from natprobe.observations import CapabilitySet, HolePunchObservation
from natprobe.reports.jamulus_report import JamulusModesReport
from natprobe.measure.lifetime import LifetimeOptions, LifetimeProgress, measure_mapping_lifetime
from natprobe.verdicts.reachability import PortVerdict
from natprobe.contract import REGISTRATION_NAME_PATTERN, HolePunchResponse, TransportProtocol
from natprobe.reports.lifetime_report import LifetimeReport
from natprobe.addressing import IPAddress, IpFamily, TransportAddress
from natprobe.adapters.echo_client import EchoApiClient
from natprobe.adapters.resolve import resolve_host, url_host

__all__ = (
    "DEFAULT_DIRECTORY_PORT",
    "DEFAULT_JAMULUS_PORT",
    "DEFAULT_STUN_PORT",
    "MAX_ECHOES",
    "MAX_PUNCHES",
    "JamulusModesOptions",
    "measure_jamulus_modes",
    "registration_name",
)

logger = logging.getLogger(__name__)

DEFAULT_JAMULUS_PORT = 22124
DEFAULT_DIRECTORY_PORT = DIRECTORY_PORT
DEFAULT_STUN_PORT = 3478
REGISTER_INTERVAL_S = 0.5
"""``REGISTER_SERVER_TIME_OUT_MS`` (src/global.h)."""
REGISTER_ATTEMPTS = 5
"""``REGISTER_SERVER_RETRY_LIMIT``."""
MAX_PUNCHES = 4
"""Hole-punch requests natprobe obeys per measurement (the directory sends at most 3)."""
MAX_ECHOES = 32
"""Pings natprobe echoes per measurement (the directory sends at most 5)."""
_NAME = re.compile(REGISTRATION_NAME_PATTERN, re.ASCII)
_API_TIMEOUT_S = 15.0
"""The hole punch takes at most ~4 s on the server; the rest is margin for slow links."""


def registration_name() -> str:
    """A per-test registration name: ``np-`` and 16 hex digits (19 characters, Jamulus allows 20)."""
    return "np-" + secrets.token_hex(8)


def _os_type() -> OsType:
    if sys.platform.startswith("linux"):
        return OsType.LINUX
    if sys.platform == "darwin":
        return OsType.MACOS
    if sys.platform.startswith("win"):
        return OsType.WINDOWS
    return OsType.UNIX


def _peer(addr: tuple[str | Any, ...]) -> TransportAddress | None:
    try:
        return TransportAddress(ipaddress.ip_address(str(addr[0]).partition("%")[0]), int(addr[1]))
    except (ValueError, IndexError, TypeError):
        return None


@dataclass(slots=True)
class _ServerSide:
    """What this side saw while acting as the Jamulus server."""

    response: RegisterServerResp | None = None
    punches: list[TransportAddress] = field(default_factory=list)
    refused_punches: list[str] = field(default_factory=list)
    pings_from: list[TransportAddress] = field(default_factory=list)
    keepalives: int = 0


class _JamulusServerRole(asyncio.DatagramProtocol):
    """natprobe as a Jamulus server on the port under test, for the measurement only.

    Answers only valid frames (a ping is echoed with its own size, so nothing is amplified)
    and obeys hole-punch requests only from the directory, toward the echo server's own probe
    address, a bounded number of times.
    """

    def __init__(self, directory: TransportAddress, punch_ip: IPAddress) -> None:
        self.directory = directory
        self.punch_ip = punch_ip
        self.seen = _ServerSide()
        self.registered = asyncio.Event()
        self.transport: asyncio.DatagramTransport | None = None
        self._echoes = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's selector datagram transport does not inherit DatagramTransport; it is one.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def send(self, message: Message, target: TransportAddress) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(encode(message), target.as_tuple())

    def datagram_received(self, data: bytes, addr: tuple[str | Any, ...]) -> None:
        source = _peer(addr)
        if source is None:
            return
        try:
            message = decode(data)
        except DecodeError:
            return  # audio or junk: a server without channels has nothing to say
        if source == self.directory:
            self._from_directory(message)
            return
        if isinstance(message, (PingMs, PingMsWithNumClients)):
            self.seen.pings_from.append(source)
            if self._echoes < MAX_ECHOES:
                self._echoes += 1
                reply: Message = message if isinstance(message, PingMs) else PingMsWithNumClients(message.time_ms, 0)
                self.send(reply, source)

    def _from_directory(self, message: Message) -> None:
        if isinstance(message, RegisterServerResp):
            if self.seen.response is None:
                self.seen.response = message
            self.registered.set()
        elif isinstance(message, EmptyMessage):
            self.seen.keepalives += 1
        elif isinstance(message, PingMs):
            # Echoed, as Jamulus does: a directory pings a registration to prove its address is
            # not spoofed (the echo server keeps an unverified one only for a short grace).
            self.send(message, self.directory)
        elif isinstance(message, SendEmptyMessage):
            target = TransportAddress(message.ip, message.port)
            if message.ip != self.punch_ip or message.port == 0:
                self.seen.refused_punches.append(f"{target} is not the echo server's probe address {self.punch_ip}")
            elif len(self.seen.punches) >= MAX_PUNCHES:
                self.seen.refused_punches.append(f"{target}: more than {MAX_PUNCHES} hole punches asked")
            else:
                self.seen.punches.append(target)
                self.send(EmptyMessage(), target)  # the server half of the hole punch

    def error_received(self, exc: Exception) -> None:
        logger.debug("Jamulus port: %s", exc)


def _port_free(listen_ip: str, port: int) -> bool:
    """Can this process bind UDP ``listen_ip:port`` right now? (The socket is closed at once.)"""
    family = socket.AF_INET6 if ":" in listen_ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((listen_ip, port))
        except OSError:
            return False
    return True


async def _bind(listen_ip: str, port: int, protocol: _JamulusServerRole) -> tuple[asyncio.DatagramTransport, bool]:
    """Bind the Jamulus port, or an ephemeral one when it is taken; (transport, was the port taken)."""
    loop = asyncio.get_running_loop()
    for _attempt in range(3):
        try:
            transport, _protocol = await loop.create_datagram_endpoint(lambda: protocol, local_addr=(listen_ip, port))
            return transport, False
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise NetworkError(f"cannot bind UDP {listen_ip}:{port}: {exc.strerror or exc}") from exc
        # The check's own listener on this port may still be closing: asyncio closes a datagram
        # socket on the next loop iteration, so give it one before calling the port taken.
        await asyncio.sleep(0)
    try:
        transport, _protocol = await loop.create_datagram_endpoint(lambda: protocol, local_addr=(listen_ip, 0))
    except OSError as exc:
        raise NetworkError(f"cannot bind a UDP port on {listen_ip}: {exc.strerror or exc}") from exc
    return transport, True


async def _register(role: _JamulusServerRole, message: RegisterServerEx) -> RegisterServerResp | None:
    """Send the registration every 500 ms, 5 times at most, until the directory answers."""
    for _attempt in range(REGISTER_ATTEMPTS):
        role.send(message, role.directory)
        try:
            async with asyncio.timeout(REGISTER_INTERVAL_S):
                await role.registered.wait()
        except TimeoutError:
            continue
        return role.seen.response
    return None


def _observation(answer: HolePunchResponse) -> HolePunchObservation:
    """The echo server's hole-punch answer (decoded and validated by the contract) as the
    verdict's input."""
    punch = answer.hole_punch
    return HolePunchObservation(
        published=answer.published.address,
        unsolicited_answered=answer.unsolicited.answered,
        punch_received=punch.received,
        punch_source=None if punch.source is None else punch.source.address,
        punched_ping_answered=answer.punched_ping.answered,
        punched_rtt_ms=answer.punched_ping.rtt_ms,
        keepalive_s=answer.keepalive_interval_s,
    )


async def _lifetime(
    server_ip: IPAddress,
    stun_port: int,
    max_wait_s: float,
    bind_ip: IPAddress,
    progress: Callable[[LifetimeProgress], None] | None,
) -> LifetimeReport | str:
    try:
        return await measure_mapping_lifetime(
            TransportAddress(server_ip, stun_port), LifetimeOptions(max_wait_s, bind_ip), progress=progress
        )
    except NatprobeError as exc:
        return unmeasured_lifetime_note(exc)


@dataclass(frozen=True, slots=True)
class JamulusModesOptions:
    """Knobs of :func:`measure_jamulus_modes`; the defaults suit an interactive run."""

    port: int = DEFAULT_JAMULUS_PORT
    """The Jamulus server port asked about."""
    token: str | None = None
    """The echo server's shared token, if it requires one."""
    lifetime_max_s: float | None = None
    """Also measure the idle mapping lifetime, up to this long (it runs alongside the rest)."""
    directory_port: int = DEFAULT_DIRECTORY_PORT
    """The echo server's Jamulus directory port."""
    stun_port: int = DEFAULT_STUN_PORT
    """The echo server's STUN port (for the lifetime)."""
    listen_ip: IPAddress = ipaddress.IPv4Address("0.0.0.0")
    """Local address natprobe listens on and registers from."""
    trace: bool = True
    """Trace the first hops to tell carrier-grade NAT apart."""
    probe_timeout: float = 2.0
    name: str | None = None
    """The registration name (default: a fresh :func:`registration_name`)."""
    capabilities: CapabilitySet | None = None
    """What this machine can measure (default: probed once); a test injects a set with
    facilities switched off."""


async def measure_jamulus_modes(
    server_url: str,
    options: JamulusModesOptions = JamulusModesOptions(),
    *,
    progress: Callable[[str], None] | None = None,
    lifetime_progress: Callable[[LifetimeProgress], None] | None = None,
) -> JamulusModesReport:
    """Measure why Jamulus public mode needs no port forward here (or why it fails) and whether
    private mode is reachable, through the echo server at ``server_url`` (``http://host:port``).

    Takes a few seconds (plus about the mapping lifetime, up to ``lifetime_max_s``, when that
    is asked for; it runs concurrently). ``progress`` gets a sentence per step, ``lifetime_progress``
    the lifetime measurement's state about once a second. Raises
    :class:`~natprobe.errors.ServerError` when the echo server cannot be reached at all;
    everything else is an observation in the report.
    """
    port, token, lifetime_max_s = options.port, options.token, options.lifetime_max_s
    directory_port, stun_port, name = options.directory_port, options.stun_port, options.name
    listen_ip = str(options.listen_ip)
    if not 1 <= port <= 65535 or not 1 <= directory_port <= 65535 or not 1 <= stun_port <= 65535:
        raise ValueError("ports must be within 1..65535")
    if lifetime_max_s is not None and not 2 <= lifetime_max_s <= 3600:
        raise ValueError("lifetime_max_s must be between 2 and 3600 seconds")
    if name is not None and not _NAME.search(name):
        raise ValueError("name must be 1 to 20 characters A-Z a-z 0-9 . _ ~ - (the echo server's rule)")
    started = time.monotonic()
    say = progress or (lambda _text: None)
    server_ip = await resolve_host(url_host(server_url))
    notes: list[str] = []
    # The lifetime measurement runs alongside the rest (it takes about the lifetime); it is
    # cancelled if anything else fails, so no task outlives this call.
    lifetime_task = (
        asyncio.create_task(_lifetime(server_ip, stun_port, lifetime_max_s, options.listen_ip, lifetime_progress))
        if lifetime_max_s is not None
        else None
    )
    try:
        say(_("private mode: is UDP {port} reachable before it has sent anything?", port=port))
        # A free port is proven with a nonce natprobe listens for; a held one (a running Jamulus
        # server, presumably) is pinged the way a client would.
        service = None if _port_free(listen_ip, port) else "jamulus"
        check = await check_ports(
            server_url,
            [PortSpec(TransportProtocol.UDP, port, service)],
            # Jamulus modes are an IPv4 question (directories are IPv4): no IPv6 round here.
            CheckOptions(token=token, trace=options.trace, listen_ip=options.listen_ip,
                         probe_timeout=options.probe_timeout, families=(IpFamily.IPV4,),
                         capabilities=options.capabilities),
        )
        if not check.server_reached:
            raise ServerError("; ".join(dict.fromkeys(port.reason for port in check.ports)))
        private_check: PortVerdict | None = check.ports[0] if check.ports else None
        public = await _measure_public(
            server_url, server_ip, port, directory_port, token, listen_ip, name or registration_name(), notes, say
        )
        lifetime: LifetimeReport | None = None
        if lifetime_task is not None:
            say(_("mapping lifetime: waiting up to {seconds:g} s", seconds=lifetime_max_s))
            outcome = await lifetime_task
            if isinstance(outcome, str):
                notes.append(outcome)
            else:
                lifetime = outcome
    finally:
        if lifetime_task is not None and not lifetime_task.done():
            lifetime_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lifetime_task
    report = assess_jamulus_modes(
        server=server_url,
        port=port,
        measured_port=public.measured_port,
        port_in_use=public.port_in_use,
        local_ip=check.local_ip,
        public_ip=check.public_ip,
        nat_layers=check.topology.layers,
        private_check=private_check,
        directory=public.directory,
        registered=public.registered,
        registration_status=public.registration_status,
        hole_punch=public.observation,
        hole_punch_error=public.error,
        punches_sent=public.punches_sent,
        lifetime=lifetime,
        notes=tuple(notes),
        duration_s=time.monotonic() - started,
    )
    return dataclasses.replace(report, limits=check.limits)


@dataclass(slots=True)
class _Public:
    measured_port: int | None = None
    port_in_use: bool = False
    directory: TransportAddress | None = None
    registered: bool | None = None
    registration_status: int | None = None
    observation: HolePunchObservation | None = None
    error: str | None = None
    punches_sent: int = 0


async def _measure_public(
    server_url: str,
    server_ip: IPAddress,
    port: int,
    directory_port: int,
    token: str | None,
    listen_ip: str,
    name: str,
    notes: list[str],
    say: Callable[[str], None],
) -> _Public:
    """Steps 1-3: register from the port, act as the server, ask for the hole punch."""
    result = _Public()
    if not isinstance(server_ip, ipaddress.IPv4Address):
        result.error = unmeasured_directory_reason(server_ip)
        return result
    directory = TransportAddress(server_ip, directory_port)
    result.directory = directory
    async with EchoApiClient(server_url, token=token, timeout=_API_TIMEOUT_S) as api:
        whoami = await api.whoami()
        role = _JamulusServerRole(directory, whoami.probe_source)
        transport, taken = await _bind(listen_ip, port, role)
        try:
            local_port = int(transport.get_extra_info("sockname")[1])
            result.measured_port, result.port_in_use = local_port, taken
            if taken:
                notes.append(port_held_note(port, local_port))
            say(_("public mode: registering with the directory at {directory} from UDP {port}",
                  directory=directory, port=local_port))
            local_ip = transport.get_extra_info("sockname")[0]
            internal = "" if local_ip in ("0.0.0.0", "::") else str(local_ip)
            registration = RegisterServerEx(
                port=local_port,
                country=0,
                max_clients=10,
                permanent=False,
                name=name,
                internal_address=internal if len(internal) <= 15 else "",
                city="",
                os=_os_type(),
                version=f"natprobe {__version__}"[:30],
            )
            response = await _register(role, registration)
            if response is None:
                result.registered = False
                return result
            result.registration_status = int(response.status)
            result.registered = response.status == ESvrRegResult.REGISTERED
            if not result.registered:
                return result
            say(_("public mode: asking the directory for a hole punch toward a new client"))
            try:
                answer = await api.jamulus_hole_punch(name)
                result.observation = _observation(answer)
            except ServerError as exc:
                result.error = str(exc)
            role.send(UnregisterServer(), directory)  # as Jamulus does on quit
        finally:
            result.punches_sent = len(role.seen.punches)
            if role.seen.refused_punches:
                notes.append(refused_punches_note(role.seen.refused_punches))
            transport.close()
    return result
