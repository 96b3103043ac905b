"""Start and stop the whole echo server: bind every socket, run UDP and TCP, stop on a signal.

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

import argparse
import asyncio
import contextlib
import dataclasses
import errno
import importlib.util
import ipaddress
import logging
import random
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from natprobe.errors import NetworkError
from natprobe.i18n import _
from natprobe.addressing import TransportAddress

from natprobe_server.config.stun import EchoServerConfig, config_from_args, configs_from_args  # noqa: F401 (re-exported)
from natprobe.addressing import IPAddress
from natprobe.i18n import _
from natprobe_server.config.stun import add_arguments as add_stun_arguments
from natprobe_server.config.file import apply_file, load_config_file, mark_defaults
from natprobe_server.config.http import HttpApiConfig
from natprobe_server.config.http import add_arguments as add_http_arguments
from natprobe_server.config.http import config_from_args as http_config_from_args
from natprobe_server.jamulus.directory import JamulusDirectory, JamulusDirectoryConfig
from natprobe_server.jamulus.directory import add_arguments as add_jamulus_arguments
from natprobe_server.jamulus.directory import config_from_args as jamulus_config_from_args
from natprobe_server.ratelimit import RateLimiter
from natprobe_server.stun.service import StunService, Topology
from natprobe_server.stun.tcp import TcpServer
from natprobe_server.web.config import WebPage, web_page_from_args
from natprobe_server.web.config import add_arguments as add_web_arguments
from natprobe_server.config.systemd_unit import (
    DEFAULT_CONFIG_PATH,
    DEFAULT_TOKEN_PATH,
    HIDDEN_DIRECTORIES,
    hidden_from_unit,
    systemd_unit,
)
from natprobe_server.stun.udp import UdpServer

if TYPE_CHECKING:
    from aiohttp import web

logger = logging.getLogger(__name__)

__all__ = ("EchoServer", "ServerStats", "print_ready", "serve_until_signalled")

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
        reason = "that address is not configured on this host"
    elif code == errno.EADDRINUSE:
        reason = "the port is already in use"
    elif code == errno.EACCES:
        reason = "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
    else:
        reason = failure.error.strerror or str(failure.error)
    return f"cannot listen on {failure.what}: {reason}"


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
        for _ in range(_RANDOM_BASE_ATTEMPTS):
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
        raise NetworkError(f"no free port pair found in {_RANDOM_BASE_ATTEMPTS} attempts; last: {_explain(last)}")

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


async def _start_directory(config: JamulusDirectoryConfig | None, required: bool) -> JamulusDirectory | None:
    """The Jamulus directory emulation, or ``None`` when it is off (or optional and cannot bind)."""
    if config is None:
        return None
    directory = JamulusDirectory(config)
    try:
        await directory.start()
    except NetworkError as exc:
        if required:
            raise
        logger.warning("%s; running without the Jamulus directory (use --jamulus-port to pick a port)", exc)
        return None
    return directory


async def serve_until_signalled(
    config: EchoServerConfig,
    *,
    http: HttpApiConfig | None = None,
    http_port: int | None = None,
    jamulus: JamulusDirectoryConfig | None = None,
    jamulus_required: bool = True,
    on_ready: Callable[[EchoServer, str], None] | None = None,
    other_families: Sequence[EchoServerConfig] = (),
    web_page: WebPage | None = None,
) -> ServerStats:
    """Run the server (and, with ``http_port``, the probe-back HTTP API; with ``jamulus``, the
    Jamulus directory emulation behind ``POST /v1/jamulus/hole-punch``) until SIGINT or SIGTERM.

    ``other_families`` serves the same on the other address family (an IPv6 primary next to
    an IPv4 one): its own STUN/echo sockets and its own HTTP API on the same port, whose
    probe-backs leave from that family's address, so each requester is probed over the family
    it came in on. The Jamulus directory stays on ``config``'s family (directories are IPv4).
    ``web_page``: the web checker served at ``/`` on every family's HTTP API (None: no page).

    ``on_ready`` gets the first family's server and the readiness line once everything is bound.
    Raises :class:`NetworkError` when binding fails (for the directory only if
    ``jamulus_required``; otherwise it is left off with a warning); nothing stays open then.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        async with contextlib.AsyncExitStack() as stack:
            server = await stack.enter_async_context(EchoServer(config))
            others = [await stack.enter_async_context(EchoServer(c)) for c in other_families]
            line = " ".join([server.describe(), *(f"| {s.describe()}" for s in others)])
            directory = await _start_directory(jamulus, jamulus_required)
            if directory is not None:
                stack.push_async_callback(directory.stop)
            if http_port is not None:
                from natprobe_server.api.app import start_http_api  # aiohttp only when serving HTTP

                http = http or _http_config(config)
                registries: list[Any] = []  # the /metrics registry (prometheus-client stays in api.metrics)
                runner, bound = await start_http_api(
                    http, str(config.primary), http_port, jamulus=directory,
                    extend=_with_web(_metrics_installer(server, directory, registries), web_page),
                )
                stack.push_async_callback(runner.cleanup)
                if http.metrics_listen is not None and registries:
                    from natprobe_server.api.metrics import start_metrics_site

                    metrics_ip, metrics_port = http.metrics_listen
                    metrics_runner = await start_metrics_site(registries[0], str(metrics_ip), metrics_port)
                    stack.push_async_callback(metrics_runner.cleanup)
                endpoints = [TransportAddress(config.primary, bound)]
                for other in other_families:
                    # The same port on every family, so one URL port serves a name with A and AAAA;
                    # probe-backs leave from that family's own address.
                    family_http = _http_config(other, like=http)
                    # One rate-limit table and one in-flight cap for every family: switching
                    # families does not buy a second budget on this server.
                    other_runner, _ = await start_http_api(family_http, str(other.primary), bound,
                                                           extend=_with_web(None, web_page), limits_from=runner.app)
                    stack.push_async_callback(other_runner.cleanup)
                    endpoints.append(TransportAddress(other.primary, bound))
                line += f" http={','.join(str(e) for e in endpoints)}"
            if http_port is not None or jamulus is not None:
                line += f" jamulus={directory.endpoint if directory is not None else '-'}"
            if on_ready is not None:
                on_ready(server, line)
            await stop.wait()
            stats = server.stats()
        logger.info("stopped: %s", stats)
        return stats
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


def _metrics_installer(
    server: EchoServer, directory: JamulusDirectory | None, registries: list[Any] | None = None,
) -> Callable[[web.Application], None] | None:
    """What adds ``GET /metrics`` to the HTTP API, or ``None`` (with a warning) without prometheus-client."""
    try:
        from natprobe_server.api.metrics import install_metrics  # prometheus-client: the natprobe[server] extra
    except ImportError:
        logger.warning("no /metrics: prometheus-client is not installed (pip install '.[server]' in the natprobe clone)")
        return None

    def install(app: web.Application) -> None:
        registry = install_metrics(app, server, directory)
        if registries is not None:
            registries.append(registry)  # for --metrics-listen

    return install


def _with_web(
    extend: Callable[[web.Application], None] | None, page: WebPage | None
) -> Callable[[web.Application], None] | None:
    """``extend`` plus the web checker (:mod:`natprobe_server.web`) when it is on."""
    if page is None:
        return extend

    def install(app: web.Application) -> None:
        from natprobe_server.web.page import install_web

        if extend is not None:
            extend(app)
        install_web(app, page)

    return install


def print_ready(server: EchoServer, line: str) -> None:
    """Write the readiness line to stdout and flush it at once (parents wait for it)."""
    print(line, flush=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every option of the echo server: STUN/echo (``natprobe_server.config.stun``), the HTTP API, the
    Jamulus directory emulation, ``--config`` and ``--systemd-unit``."""
    add_stun_arguments(parser)
    add_http_arguments(parser)
    add_jamulus_arguments(parser)
    add_web_arguments(parser)
    parser.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help=_("logging level (INFO logs one line per probe-back)"),
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=_("read options from this TOML file (keys: the long options with _ for -); the command line wins"),
    )
    parser.add_argument(
        "--systemd-unit",
        action="store_true",
        help=_("print a hardened systemd unit that runs this server with --config (default {path}) and exit",
               path=DEFAULT_CONFIG_PATH),
    )
    mark_defaults(parser)


def resolve_args(args: argparse.Namespace, prog: str) -> argparse.Namespace:
    """The options with the ``--config`` file merged in (command line first); ``ValueError`` on a bad file."""
    values: dict[str, object] = {}
    config_path = getattr(args, "config", None)
    if config_path is not None:
        parser = argparse.ArgumentParser(prog=prog)
        add_arguments(parser)
        values = load_config_file(config_path, parser)
    return apply_file(args, values)


def run_from_args(args: argparse.Namespace, prog: str) -> int:
    """Shared by ``python -m natprobe_server`` and ``natprobe serve``: 0 after a signal, 2 bad options, 3 bind failure."""
    try:
        args = resolve_args(args, prog)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    if args.systemd_unit:
        # The credential line only when the token file exists: systemd refuses to start a
        # unit whose LoadCredential= source is missing.
        token = DEFAULT_TOKEN_PATH if DEFAULT_TOKEN_PATH.exists() else None
        config = args.config or DEFAULT_CONFIG_PATH
        hidden = hidden_from_unit(config, token)
        if hidden:
            print(_("{prog}: this unit could not start: {paths} lies under {hidden}, which the unit hides from the "
                    "service (PrivateTmp=yes, ProtectHome=yes). Install natprobe for the service outside them, e.g. "
                    "python3 -m venv /opt/natprobe && /opt/natprobe/bin/pip install '/path/to/natprobe-clone[server]', "
                    "put the configuration in /etc/natprobe/, then run /opt/natprobe/bin/natprobe serve --systemd-unit",
                    prog=prog, paths=", ".join(str(p) for p in hidden),
                    hidden=", ".join(str(d) for d in HIDDEN_DIRECTORIES)), file=sys.stderr)
            return 2
        print(systemd_unit(config, token=token), end="")
        return 0
    if args.log_level is not None:
        logging.getLogger().setLevel(args.log_level)
    try:
        config, *other_families = configs_from_args(args)
        probe_ip = config.alternate or config.primary
        public = config.public_of(probe_ip)
        http = http_config_from_args(args, probe_ip, public if public != probe_ip else None)
        jamulus, jamulus_required = jamulus_config_from_args(args, config.primary, _public_pairs(config))
        web_page = web_page_from_args(args, [_public_addresses(c) for c in (config, *other_families)], config.port)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    missing = [name for name in ("cryptography", "asyncssh") if importlib.util.find_spec(name) is None]
    if args.http_port is not None and missing:
        print(_("{prog}: the HTTP API (--http-port) needs the server extra ({missing}): pip install '.[server]' "
                "in the natprobe clone (natprobe is not on PyPI)", prog=prog, missing=", ".join(missing)),
              file=sys.stderr)
        return 2
    try:
        asyncio.run(
            serve_until_signalled(
                config,
                http=http,
                http_port=args.http_port,
                jamulus=jamulus,
                jamulus_required=jamulus_required,
                on_ready=print_ready,
                other_families=other_families,
                web_page=web_page,
            )
        )
    except NetworkError as exc:
        print(_("{prog}: error: {error}", prog=prog, error=exc), file=sys.stderr)
        return 3
    return 0


def _http_config(config: EchoServerConfig, like: HttpApiConfig | None = None) -> HttpApiConfig:
    """The HTTP API's config for ``config``'s family: probes leave from its alternate (else its
    primary), told to clients by its public address behind a 1:1 NAT; the rest as in ``like``."""
    probe_ip = config.alternate or config.primary
    public = config.public_of(probe_ip)
    public_ip = public if public != probe_ip else None
    own = tuple(dict.fromkeys(a for ip in (config.primary, config.alternate) if ip is not None
                              for a in (ip, config.public_of(ip))))
    if like is None:
        return HttpApiConfig(probe_source_ip=probe_ip, probe_source_public_ip=public_ip, own_addresses=own)
    return dataclasses.replace(like, probe_source_ip=probe_ip, probe_source_public_ip=public_ip, own_addresses=own)


def _public_addresses(config: EchoServerConfig) -> tuple[IPAddress, IPAddress | None]:
    """The primary and alternate addresses clients reach (behind a 1:1 NAT: the public ones)."""
    alternate = None if config.alternate is None else config.public_of(config.alternate)
    return config.public_of(config.primary), alternate


def _public_pairs(config: EchoServerConfig) -> tuple[tuple[ipaddress.IPv4Address, ipaddress.IPv4Address], ...]:
    """(private, public) pairs of the IPv4 addresses that sit behind a 1:1 NAT."""
    pairs = []
    for ip in (config.primary, config.alternate):
        public = None if ip is None else config.public_of(ip)
        if isinstance(ip, ipaddress.IPv4Address) and isinstance(public, ipaddress.IPv4Address) and public != ip:
            pairs.append((ip, public))
    return tuple(pairs)
