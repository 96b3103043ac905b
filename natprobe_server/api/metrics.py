"""``GET /metrics``: the echo server's counters in the Prometheus text format (prometheus-client).

Imported only when the HTTP API runs (and only if the ``natprobe[server]`` extra is
installed), so a STUN-only server never loads prometheus-client.

Most numbers are read at scrape time from the counters the services keep anyway (a custom
collector), so the UDP hot path pays nothing for them; only HTTP requests and probe-backs,
a few per second at most, increment prometheus counters directly.

Metrics (all prefixed ``natprobe_``):

* ``requests_total{service}`` and ``replies_total{service}``: ``stun_udp``, ``stun_tcp``,
  ``echo``, ``jamulus_directory``; HTTP requests are ``http_requests_total{route,status}``.
* ``dropped_total{service,reason}``: ``malformed``, ``ignored``, ``rate_limited``,
  ``connection_limit``, ``send_error``, ``budget`` (a Jamulus keep-alive its registration's
  byte budget could not pay), and the HTTP API's refused probes (``rate_limited``).
* ``probe_backs_total{protocol,mode,outcome}``: every probe the server sent back.
* ``rate_limiter_entries{limiter}``: the sources each limiter remembers now (bounded tables).
* ``probes_in_flight``, ``tcp_connections``.
* ``exposure_scans_total{outcome}``: ``scanned``, ``rate_limited``, ``busy`` (``POST /v1/exposure``);
  ``exposure_ports_scanned_total`` and ``exposure_ports_open_total``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from natprobe_server.api.routes.exposure import EXPOSURE_KEY, exposure_stats
from natprobe_server.probes.exposure_scan import ExposureStats
from natprobe.i18n import _
from natprobe.errors import NetworkError
from natprobe_server.api.guards import STATE_KEY, ApiState, peer_address

if TYPE_CHECKING:
    from natprobe_server.jamulus.directory import JamulusDirectory
    from natprobe_server.stun.server import EchoServer

__all__ = ("ServerCollector", "install_metrics", "start_metrics_site")

METRICS_PATH = "/metrics"


class ServerCollector(Collector):
    """Reads the running services' own counters at every scrape."""

    def __init__(
        self, server: EchoServer | None, api: ApiState | None, directory: JamulusDirectory | None,
        exposure: Callable[[], ExposureStats | None] = lambda: None,
    ) -> None:
        self.server = server
        self.api = api
        self.directory = directory
        self.exposure = exposure

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("natprobe_requests", "Requests received, by service", labels=["service"])
        replies = CounterMetricFamily("natprobe_replies", "Replies sent, by service", labels=["service"])
        dropped = CounterMetricFamily(
            "natprobe_dropped", "Input dropped without a reply, by service and reason", labels=["service", "reason"]
        )
        limiters = GaugeMetricFamily(
            "natprobe_rate_limiter_entries", "Sources remembered by each rate limiter", labels=["limiter"]
        )
        server = self.server
        if server is not None and server.running:
            stats = server.stats()
            udp_stun = stats.fast_path + stats.full_path
            udp_replies = stats.fast_path + stats.answered + stats.errors - stats.tcp_replies
            requests.add_metric(["stun_udp"], udp_stun)
            replies.add_metric(["stun_udp"], max(0, udp_replies))
            requests.add_metric(["stun_tcp"], stats.tcp_requests)
            replies.add_metric(["stun_tcp"], stats.tcp_replies)
            requests.add_metric(["echo"], stats.echoed)
            replies.add_metric(["echo"], stats.echoed)
            dropped.add_metric(["stun", "malformed"], stats.malformed)
            dropped.add_metric(["stun", "ignored"], stats.ignored)
            dropped.add_metric(["udp", "rate_limited"], stats.rate_limited)
            dropped.add_metric(["udp", "send_error"], stats.send_errors)
            dropped.add_metric(["stun_tcp", "connection_limit"], stats.tcp_refused)
            limiters.add_metric(["stun"], len(server.limiter))
        directory = self.directory
        if directory is not None:
            d = directory.stats
            requests.add_metric(["jamulus_directory"], d.received)
            replies.add_metric(["jamulus_directory"], d.registrations + d.refused)
            dropped.add_metric(["jamulus_directory", "malformed"], d.malformed)
            dropped.add_metric(["jamulus_directory", "rate_limited"], d.rate_limited)
            dropped.add_metric(["jamulus_directory", "send_error"], d.send_errors)
            dropped.add_metric(["jamulus_directory", "budget"], directory.table.budget_skipped)
            limiters.add_metric(["jamulus_directory"], len(directory.limiter))
        in_flight = GaugeMetricFamily("natprobe_probes_in_flight", "Probe-backs running now")
        api = self.api
        if api is not None:
            dropped.add_metric(["http_probe", "rate_limited"], api.rate_limited)
            limiters.add_metric(["http_probe"], len(api.limiter))
            in_flight.add_metric([], len(api.in_flight))
        yield from (requests, replies, dropped, limiters, in_flight)
        exposure = self.exposure()
        if exposure is not None:
            scans = CounterMetricFamily(
                "natprobe_exposure_scans", "Exposure scans (POST /v1/exposure), by outcome", labels=["outcome"]
            )
            scans.add_metric(["scanned"], exposure.scans)
            scans.add_metric(["rate_limited"], exposure.refused_rate_limited)
            scans.add_metric(["busy"], exposure.refused_busy)
            yield scans
            yield CounterMetricFamily(
                "natprobe_exposure_ports_scanned", "Ports the exposure scans probed", value=exposure.ports_scanned
            )
            yield CounterMetricFamily(
                "natprobe_exposure_ports_open", "Ports the exposure scans found open", value=exposure.ports_open
            )
        if server is not None and server.running:
            yield GaugeMetricFamily(
                "natprobe_tcp_connections", "Open STUN/TCP connections", value=server.stats().tcp_connections
            )


def install_metrics(
    app: web.Application, server: EchoServer | None = None, directory: JamulusDirectory | None = None
) -> CollectorRegistry:
    """Add ``GET /metrics`` and the counting middleware to ``app`` (before it starts).

    Each app gets its own registry (not prometheus-client's global one), so two servers in one
    process, or tests, never share counters.
    """
    registry = CollectorRegistry(auto_describe=True)
    state = app[STATE_KEY]
    # Read at scrape time: the exposure route may be registered after /metrics, or not at all.
    def exposure() -> ExposureStats | None:
        return exposure_stats(app) if EXPOSURE_KEY in app else None

    registry.register(ServerCollector(server, state, directory, exposure))
    http_requests = Counter(
        "natprobe_http_requests", "HTTP API requests, by route and status", ["route", "status"], registry=registry
    )
    probe_backs = Counter(
        "natprobe_probe_backs", "Probe-backs sent, by protocol, mode and outcome",
        ["protocol", "mode", "outcome"], registry=registry,
    )
    state.on_probe = lambda protocol, mode, outcome: probe_backs.labels(protocol, mode, outcome).inc()

    @web.middleware
    async def count_requests(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        # The route's pattern, never the raw path: a scanner's random paths must not grow the label set.
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        http_requests.labels(route, str(response.status)).inc()
        return response

    async def metrics(request: web.Request) -> web.Response:
        # The counters tell a stranger how busy the server is and who uses it: only the networks
        # the operator lists (default loopback) may read them, by the socket's peer, never a header.
        peer = peer_address(request).ip
        if not any(peer in network for network in state.config.metrics_networks if network.version == peer.version):
            raise web.HTTPNotFound()
        response = web.Response(body=generate_latest(registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    # Outermost, so it sees the status the JSON error middleware produced.
    app.middlewares.insert(0, count_requests)
    app.router.add_get(METRICS_PATH, metrics, allow_head=False)
    return registry


async def start_metrics_site(registry: CollectorRegistry, host: str, port: int) -> web.AppRunner:
    """Serve ``GET /metrics`` of ``registry``, and nothing else, on ``host:port`` (``--metrics-listen``).

    For an address the operator chose to expose to the scraper (a private interface): anyone
    who reaches it may read the counters. Stop it with ``await runner.cleanup()``."""

    async def metrics(_request: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def plain_server(_request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Server"] = "natprobe"

    app = web.Application()
    app.on_response_prepare.append(plain_server)
    app.router.add_get(METRICS_PATH, metrics, allow_head=False)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise NetworkError(_("cannot listen for /metrics on {host}:{port}: {error}", host=host, port=port,
                             error=exc.strerror or exc)) from exc
    return runner
