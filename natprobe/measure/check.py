"""``natprobe check``: prove from outside that a forwarded port works, and say why not.

For each port: if it is free here, natprobe listens on it and asks the echo server to send a
one-time token to this network's public address on that port — receipt proves the whole path
(router forward, firewalls, this host). If a service already holds the port, the echo server
speaks that service's protocol instead (Jamulus, HTTP, TLS, SSH, or a bare TCP connect) and
reports what answered. Meanwhile a packet watcher notes whether the probe reached this host's
interface at all, which separates "dropped by this host's firewall" from "never arrived".
The local context (this host's address, the public address the server saw, the routers on
the way) tells a missing forward from carrier-grade NAT.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address

from natprobe.errors import NatprobeError, NetworkError, ServerError
from natprobe.findings.jamulus_findings import jamulus_check_findings
from natprobe.reports.check_report import CheckReport
from natprobe.recverr import Hop
from natprobe.adapters.hops import trace_hops
from natprobe.adapters.interfaces import source_address_toward
from natprobe.verdicts.reachability import (
    SERVICE_BY_NAME,
    WELL_KNOWN_SERVICE,
    Context,
    PortSpec,
    PortObservation,
    HairpinResult,
    decide_hairpin,
    decide_port,
    held_udp_port_reason,
)
from natprobe.contract import HOST_MODES, NONCE_PREFIX, ProbeMode, ProbeRequest, TransportProtocol, WhoAmI
from natprobe.addressing import IPAddress
from natprobe.verdicts.nat_layers import assess_topology
from natprobe.adapters.resolve import resolve_host, url_host
from natprobe.adapters.echo_client import EchoApiClient
from natprobe.adapters.sniff import ArrivalWatcher, Match

logger = logging.getLogger(__name__)

ARRIVAL_GRACE_S = 1.0
"""How long to keep listening after the echo server says it has sent the probe."""
TRACE_PORT = 33434
"""Traceroute's classic port: nothing listens there, so the path's end answers "port unreachable"."""

class _UdpListener(asyncio.DatagramProtocol):
    def __init__(self, nonce: bytes) -> None:
        self.nonce = nonce
        self.received = asyncio.Event()
        self.closed = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data == self.nonce:
            self.received.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


class _Listener:
    """natprobe's own socket on the port under test, waiting for the nonce."""

    def __init__(self, handle: asyncio.DatagramTransport | asyncio.Server, received: asyncio.Event,
                 closed: asyncio.Event | None = None) -> None:
        self._handle = handle
        self.received = received
        self._closed = closed

    async def close(self) -> None:
        """Close and wait until the port is really free again.

        ``DatagramTransport.close()`` only schedules the socket's close for the next loop
        iteration; binding the same port right after (the hairpin test does) would fail
        with EADDRINUSE and be taken for "a program holds the port".
        """
        self._handle.close()
        if isinstance(self._handle, asyncio.Server):
            await self._handle.wait_closed()
        elif self._closed is not None:
            try:
                async with asyncio.timeout(1.0):  # one loop iteration in practice
                    await self._closed.wait()
            except TimeoutError:
                logger.debug("UDP listener on the port under test did not report its close")


async def _open_listener(spec: PortSpec, nonce: bytes, listen_ip: str) -> _Listener | None:
    """Listen on the port for the nonce; ``None`` if something else holds it (or we may not bind)."""
    loop = asyncio.get_running_loop()
    try:
        if spec.protocol is TransportProtocol.UDP:
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: _UdpListener(nonce), local_addr=(listen_ip, spec.port)
            )
            return _Listener(transport, protocol.received, protocol.closed)
        received = asyncio.Event()

        async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                data = await asyncio.wait_for(reader.readexactly(len(nonce)), 3.0)
                if data == nonce:
                    received.set()
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(on_connection, listen_ip, spec.port, reuse_address=True)
        return _Listener(server, received)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            return None
        raise NetworkError(f"cannot listen on {spec.protocol.value} port {spec.port}: {exc.strerror}") from exc


def _mode_for_taken_port(spec: PortSpec) -> ProbeMode | None:
    if spec.service is not None:
        return SERVICE_BY_NAME[spec.service][1]
    mode = WELL_KNOWN_SERVICE.get((spec.protocol, spec.port))
    if mode is not None:
        return mode
    return ProbeMode.CONNECT if spec.protocol is TransportProtocol.TCP else None


async def _observe_port(
    api: EchoApiClient, spec: PortSpec, whoami: WhoAmI, listen_ip: str, timeout: float
) -> PortObservation:
    token = secrets.token_hex(16)
    nonce = NONCE_PREFIX + token.encode()
    forced = SERVICE_BY_NAME[spec.service][1] if spec.service else None
    listener = None if forced is not None else await _open_listener(spec, nonce, listen_ip)
    mode = ProbeMode.NONCE if listener is not None else (forced or _mode_for_taken_port(spec))
    if mode is None:
        return PortObservation(
            spec.protocol, spec.port, ProbeMode.NONCE, listening=False,
            error=held_udp_port_reason(spec.port),
        )
    source = whoami.probe_source
    watch = Match(spec.protocol.value, source, spec.port) if source.version == 4 else None
    try:
        async with ArrivalWatcher(watch) as watcher:
            request = ProbeRequest.build(
                spec.protocol, spec.port, mode,
                nonce=token if mode is ProbeMode.NONCE else None,
                host=spec.host if mode in HOST_MODES and spec.host else None,
                timeout=timeout,
            )
            try:
                answer = await api.probe(request)
            except ServerError as exc:
                return PortObservation(spec.protocol, spec.port, mode, listener is not None, error=str(exc))
            received: bool | None = None
            if listener is not None:
                event = listener.received
                try:
                    async with asyncio.timeout(ARRIVAL_GRACE_S):
                        await event.wait()
                except TimeoutError:
                    pass
                received = event.is_set()
            elif watcher.seen is False:
                await asyncio.sleep(0.2)  # let a late frame reach the watcher
            return PortObservation(
                spec.protocol, spec.port, mode, listener is not None,
                nonce_received=received, seen_on_interface=watcher.seen,
                server_result=answer.result,
                service=spec.service or (mode.value if mode is not ProbeMode.NONCE else None),
            )
    finally:
        if listener is not None:
            await listener.close()


async def _hairpin(spec: PortSpec, public_ip: IPAddress, listen_ip: str) -> HairpinResult:
    """From this host to its own public address and port: does the router loop it back?"""
    nonce = NONCE_PREFIX + secrets.token_hex(16).encode()
    listener = await _open_listener(spec, nonce, listen_ip)
    try:
        if spec.protocol is TransportProtocol.UDP:
            if listener is None:
                return decide_hairpin(spec.protocol, spec.port, public_ip, None)
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(listen_ip, 0))
            try:
                for _ in range(5):
                    transport.sendto(nonce, (str(public_ip), spec.port))
                    try:
                        async with asyncio.timeout(0.2):
                            await listener.received.wait()
                        break
                    except TimeoutError:
                        continue
            finally:
                transport.close()
            works = listener.received.is_set()
        else:
            try:
                async with asyncio.timeout(2.0):
                    _, writer = await asyncio.open_connection(str(public_ip), spec.port)
                    try:
                        writer.write(nonce)
                        await writer.drain()
                        if listener is not None:
                            # A connection alone could be accepted by another machine (or the
                            # router): the loop-back works only if the nonce lands on our port.
                            await listener.received.wait()
                    finally:
                        writer.close()
                works = True
            except (TimeoutError, OSError):
                works = False
    finally:
        if listener is not None:
            await listener.close()
    return decide_hairpin(spec.protocol, spec.port, public_ip, works)


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """Knobs of :func:`check_ports`; the defaults suit an interactive run."""

    token: str | None = None
    """The echo server's shared token, if it requires one."""
    hairpin: bool = False
    """Also test reaching this host through its own public address (NAT loopback)."""
    trace: bool = True
    """Trace the first hops toward the server, to tell carrier-grade NAT apart."""
    listen_ip: IPAddress = IPv4Address("0.0.0.0")
    """Local address natprobe listens on for the probe-back."""
    probe_timeout: float = 2.0
    """Seconds the echo server waits for each probe's answer."""


async def check_ports(server: str, ports: Sequence[PortSpec], options: CheckOptions = CheckOptions()) -> CheckReport:
    """Check each port from outside through the echo server at ``server`` (``http://host:port``).

    Raises :class:`~natprobe.errors.ServerError` when the echo server cannot be reached at all
    (nothing could be tested); per-port problems are verdicts, not exceptions. The report's
    findings say what the verdicts of Jamulus ports (UDP 22124, or ``service="jamulus"``) mean.
    """
    token, probe_timeout, listen_ip = options.token, options.probe_timeout, str(options.listen_ip)
    if not ports:
        raise ValueError("no ports to check")
    started = time.monotonic()
    server_ip = await resolve_host(url_host(server))
    # HTTPS probes take up to four steps of probe_timeout each on the server; connecting to
    # the server itself must not: a server that is down behind a dropping firewall would
    # otherwise keep the user waiting for the whole probe bound before "could not test".
    async with EchoApiClient(
        server, token=token, timeout=5 * probe_timeout + 2.0, connect_timeout=probe_timeout + 1.0
    ) as api:
        whoami = await api.whoami()
        try:
            local_ip: IPAddress | None = source_address_toward(server_ip)
        except NetworkError:
            local_ip = None
        hops: tuple[Hop, ...] = ()
        if options.trace and server_ip.version == 4:
            try:
                hops = await trace_hops(server_ip, TRACE_PORT, max_hops=5, timeout=1.0)
            except NatprobeError as exc:
                logger.debug("hop trace failed: %s", exc)
        topology = assess_topology(local_ip, whoami.public_ip, hops=tuple(h.address for h in hops))
        context = Context(local_ip, whoami.public_ip, topology.layers)
        verdicts = []
        for spec in ports:  # one at a time: concurrent probes would confuse the packet watcher
            observation = await _observe_port(api, spec, whoami, listen_ip, probe_timeout)
            verdicts.append(decide_port(observation, context))
        hairpins = tuple([await _hairpin(spec, whoami.public_ip, listen_ip) for spec in ports]) if options.hairpin else ()
    return CheckReport(
        server=server,
        public_ip=whoami.public_ip,
        local_ip=local_ip,
        topology=topology,
        hops=hops,
        ports=tuple(verdicts),
        hairpin=hairpins,
        duration_s=time.monotonic() - started,
        findings=jamulus_check_findings(ports, verdicts, topology.layers),
    )


__all__ = ("CheckOptions", "check_ports")
