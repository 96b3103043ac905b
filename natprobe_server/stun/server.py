"""The STUN and echo sockets of one address family: bind every socket, run UDP and TCP, stop.

::

    config = EchoServerConfig(primary=ip_address("127.0.0.1"), alternate=ip_address("127.0.0.2"), port=0)
    async with EchoServer(config) as server:
        print(server.port, server.udp_endpoints)

Every socket is bound before anything is served, so a bad address or a busy port is one
:class:`~natprobe.errors.NetworkError` with a plain message and nothing left open. With
``port=0`` the server picks a free base port N such that N, N+1 (and N+2 for the default echo
port) are free on every address: the OS cannot hand out an adjacent pair, so random bases are
tried (a bounded number of times).
"""

from __future__ import annotations

import errno
import logging
import random
import socket
from dataclasses import dataclass
from types import TracebackType

from natprobe.i18n import _
from natprobe.addressing import IPAddress, TransportAddress
from natprobe.errors import NetworkError

from natprobe_server.config.stun import EchoServerConfig
from natprobe_server.limits import RateLimiter
from natprobe_server.stun.service import StunService, Topology
from natprobe_server.stun.tcp import TcpServer
from natprobe_server.stun.udp import UdpServer

logger = logging.getLogger(__name__)

__all__ = ("EchoServer", "ServerStats")

_RANDOM_BASE_RANGE = (20000, 60000)
"""Where ``port=0`` looks for a free base port (even numbers only). It overlaps Linux's
ephemeral range, so a collision with a client socket is possible: that is an "in use" error,
and the next random base is tried."""
_RANDOM_BASE_ATTEMPTS = 64
_TCP_BACKLOG = 128


@dataclass(frozen=True, slots=True)
class ServerStats:
    """A snapshot of the server's counters."""

    received: int
    """UDP datagrams read (STUN and echo)."""
    fast_path: int
    full_path: int
    echoed: int
    rate_limited: int
    send_errors: int
    answered: int
    """Success responses built by the full path (the fast path counts separately)."""
    errors: int
    ignored: int
    malformed: int
    tcp_connections: int
    tcp_refused: int
    tcp_evicted: int = 0
    """Idle STUN/TCP connections closed to make room for a new one."""
    tcp_cut: int = 0
    """STUN/TCP connections closed for a message too slow, or a request of an unknown method."""
    tcp_requests: int = 0
    tcp_replies: int = 0


@dataclass(slots=True)
class _Sockets:
    port: int
    stun_udp: dict[TransportAddress, socket.socket]
    stun_tcp: dict[TransportAddress, socket.socket]
    echo: socket.socket | None

    def all(self) -> list[socket.socket]:
        sockets = [*self.stun_udp.values(), *self.stun_tcp.values()]
        if self.echo is not None:
            sockets.append(self.echo)
        return sockets

    def close(self) -> None:
        for sock in self.all():
            sock.close()


class _BindFailure(Exception):
    def __init__(self, what: str, error: OSError) -> None:
        super().__init__(what)
        self.what = what
        self.error = error


def _family(ip: IPAddress) -> socket.AddressFamily:
    return socket.AF_INET if ip.version == 4 else socket.AF_INET6


def _bind(kind: socket.SocketKind, ip: IPAddress, port: int, receive_buffer: int | None) -> socket.socket:
    sock = socket.socket(_family(ip), kind)
    try:
        if kind == socket.SOCK_STREAM:
            # Lets a restarted server reuse ports whose old connections sit in TIME_WAIT. Not
            # for UDP: there it would let two servers share a port and hide "port in use".
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        elif receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        if ip.version == 6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((str(ip), port))
        if kind == socket.SOCK_STREAM:
            sock.listen(_TCP_BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        proto = "tcp" if kind == socket.SOCK_STREAM else "udp"
        raise _BindFailure(f"{proto} {TransportAddress(ip, port)}", exc) from exc
    return sock


def _bind_all(config: EchoServerConfig, base: int, echo_port: int | None) -> _Sockets:
    """Bind every socket for base port ``base``; on any failure close what was opened and raise."""
    bound = _Sockets(base, {}, {}, None)
    try:
        topology = Topology(config.primary, config.alternate, base)
        for endpoint in topology.endpoints:
            bound.stun_udp[endpoint] = _bind(socket.SOCK_DGRAM, endpoint.ip, endpoint.port, config.receive_buffer)
        if config.tcp:
            for endpoint in topology.endpoints:
                bound.stun_tcp[endpoint] = _bind(socket.SOCK_STREAM, endpoint.ip, endpoint.port, None)
        if echo_port is not None:
            bound.echo = _bind(socket.SOCK_DGRAM, config.primary, echo_port, config.receive_buffer)
    except BaseException:
        bound.close()
        raise
    return bound


def _explain(failure: _BindFailure) -> str:
    code = failure.error.errno
    if code == errno.EADDRNOTAVAIL:
        reason = _("that address is not configured on this host")
    elif code == errno.EADDRINUSE:
        reason = _("the port is already in use")
    elif code == errno.EACCES:
        reason = _("permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)")
    else:
        reason = failure.error.strerror or str(failure.error)
    return _("cannot listen on {what}: {reason}", what=failure.what, reason=reason)


class EchoServer:
    """The echo server: STUN over UDP (+TCP) on the RFC 5780 port pair, and a UDP echo.

    Use as ``async with EchoServer(config) as server`` or call :meth:`start` / :meth:`stop`.
    After start, :attr:`port`, :attr:`echo_port` and the endpoint tuples give the actual
    bound addresses.
    """

    def __init__(self, config: EchoServerConfig) -> None:
        self.config = config
        self.limiter = RateLimiter(config.rate_per_source, config.burst_per_source, config.rate_table_size)
        self._sockets: _Sockets | None = None
        self._service: StunService | None = None
        self._udp: UdpServer | None = None
        self._tcp: TcpServer | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind everything and start serving. Raises :class:`NetworkError` if a socket cannot be bound."""
        if self._sockets is not None:
            raise RuntimeError("the server is already running")
        sockets = self._bind()
        try:
            topology = self._topology(sockets.port)
            service = StunService(topology, padding_mtu=self.config.padding_mtu, software=self.config.software)
            udp = UdpServer(
                service,
                sockets.stun_udp,
                sockets.echo,
                self.limiter,
                max_batch=self.config.max_batch,
                poll_interval=self.config.udp_poll_interval,
            )
            self._sockets, self._service, self._udp = sockets, service, udp
            udp.start()
            if sockets.stun_tcp:
                tcp = TcpServer(
                    service,
                    sockets.stun_tcp,
                    self.limiter,
                    max_connections=self.config.max_tcp_connections,
                    max_per_source=self.config.max_tcp_per_source,
                    idle_timeout=self.config.tcp_idle_timeout,
                    message_timeout=self.config.tcp_message_timeout,
                )
                self._tcp = tcp
                await tcp.start()
        except BaseException:
            await self.stop()
            sockets.close()
            raise
        logger.info("%s", self.describe())

    async def stop(self) -> None:
        """Stop serving and close every socket (idempotent)."""
        udp, self._udp = self._udp, None
        tcp, self._tcp = self._tcp, None
        sockets, self._sockets = self._sockets, None
        if udp is not None:
            udp.stop()
        if tcp is not None:
            await tcp.stop()
        if sockets is not None:
            sockets.close()

    async def __aenter__(self) -> EchoServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _bind(self) -> _Sockets:
        config = self.config
        if config.port != 0:
            try:
                return _bind_all(config, config.port, config.effective_echo_port)
            except _BindFailure as failure:
                raise NetworkError(_explain(failure)) from failure.error
        # Port 0: random even bases until every socket binds; only "in use" is worth a retry.
        last: _BindFailure | None = None
        for _attempt in range(_RANDOM_BASE_ATTEMPTS):
            base = random.randrange(*_RANDOM_BASE_RANGE, 2)
            echo_port = config.effective_echo_port
            if config.echo and config.echo_port is None:
                echo_port = base + 2
            try:
                return _bind_all(config, base, echo_port)
            except _BindFailure as failure:
                if failure.error.errno != errno.EADDRINUSE:
                    raise NetworkError(_explain(failure)) from failure.error
                last = failure
        assert last is not None
        raise NetworkError(_("no free port pair found in {count} attempts; last: {error}", count=_RANDOM_BASE_ATTEMPTS,
                             error=_explain(last)))

    # --- what is running ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._sockets is not None

    def _require(self) -> _Sockets:
        if self._sockets is None:
            raise RuntimeError("the server is not running")
        return self._sockets

    @property
    def port(self) -> int:
        """The base port N actually bound (STUN on N and N+1)."""
        return self._require().port

    @property
    def topology(self) -> Topology:
        return self._topology(self.port)

    def _topology(self, port: int) -> Topology:
        config = self.config
        return Topology(config.primary, config.alternate, port, config.primary_public, config.alternate_public)

    @property
    def udp_endpoints(self) -> tuple[TransportAddress, ...]:
        """STUN/UDP addresses: primary:N, primary:N+1 (, alternate:N, alternate:N+1)."""
        return tuple(self._require().stun_udp)

    @property
    def tcp_endpoints(self) -> tuple[TransportAddress, ...]:
        """STUN/TCP addresses (empty when TCP is off)."""
        return tuple(self._require().stun_tcp)

    @property
    def echo_endpoint(self) -> TransportAddress | None:
        echo = self._require().echo
        if echo is None:
            return None
        return TransportAddress(self.config.primary, echo.getsockname()[1])

    @property
    def echo_port(self) -> int | None:
        endpoint = self.echo_endpoint
        return None if endpoint is None else endpoint.port

    def stats(self) -> ServerStats:
        udp, service, tcp = self._udp, self._service, self._tcp
        if udp is None or service is None:
            raise RuntimeError("the server is not running")
        return ServerStats(
            received=udp.stats.received,
            fast_path=udp.stats.fast_path,
            full_path=udp.stats.full_path,
            echoed=udp.stats.echoed,
            rate_limited=udp.stats.rate_limited,
            send_errors=udp.stats.send_errors,
            answered=service.stats.answered,
            errors=service.stats.errors,
            ignored=service.stats.ignored,
            malformed=service.stats.malformed,
            tcp_connections=0 if tcp is None else len(tcp.connections),
            tcp_refused=0 if tcp is None else tcp.refused,
            tcp_evicted=0 if tcp is None else tcp.stats.evicted,
            tcp_cut=0 if tcp is None else tcp.stats.message_timeouts + tcp.stats.unknown_method,
            tcp_requests=service.stats.tcp_requests,
            tcp_replies=service.stats.tcp_replies,
        )

    def describe(self) -> str:
        """The one-line readiness message: ``listening port=N stun_udp=... stun_tcp=... echo_udp=...``."""

        def join(endpoints: tuple[TransportAddress, ...]) -> str:
            return ",".join(str(e) for e in endpoints) or "-"

        echo = self.echo_endpoint
        mode = "rfc5780" if self.config.alternate is not None else "single-address"
        line = (
            f"listening port={self.port} mode={mode} stun_udp={join(self.udp_endpoints)} "
            f"stun_tcp={join(self.tcp_endpoints)} echo_udp={echo if echo is not None else '-'}"
        )
        config = self.config
        if config.primary_public is not None or config.alternate_public is not None:
            ips = [config.primary] if config.alternate is None else [config.primary, config.alternate]
            line += " public=" + ",".join(f"{ip}->{config.public_of(ip)}" for ip in ips)
        return line
