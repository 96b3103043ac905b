"""Wire a running echo server: the STUN/echo sockets of each family, the HTTP API (with
``/metrics``) and the Jamulus directory emulation, until SIGINT or SIGTERM.

The parts are built elsewhere: the sockets in :mod:`natprobe_server.stun.server`, the API in
:mod:`natprobe_server.api.app`, the directory in :mod:`natprobe_server.jamulus.directory`,
the options in :mod:`natprobe_server.config`; the command line in :mod:`natprobe_server.command`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from natprobe.i18n import _
from natprobe.addressing import TransportAddress
from natprobe.errors import NetworkError

from natprobe_server.config.http import HttpApiConfig
from natprobe_server.config.jamulus import JamulusDirectoryConfig
from natprobe_server.config.stun import EchoServerConfig
from natprobe_server.config.web import WebPage
from natprobe_server.jamulus.directory import JamulusDirectory
from natprobe_server.stun.server import EchoServer, ServerStats

if TYPE_CHECKING:
    from aiohttp import web

logger = logging.getLogger(__name__)

__all__ = ("EchoServer", "ServerStats", "print_ready", "serve_until_signalled")


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
        logger.warning("%s", _("{error}; running without the Jamulus directory (use --jamulus-port to pick a port)",
                                 error=exc))
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
        logger.warning("%s", _("no /metrics: prometheus-client is not installed (pip install '.[server]' in the "
                               "natprobe clone)"))
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
