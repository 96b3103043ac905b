"""The echo server's HTTP API: ``whoami`` and "probe me back" (``natprobe check --server URL``).

Routes (all bodies JSON: the records of :mod:`natprobe.contract`, described by
:mod:`natprobe_server.api.openapi`, served at ``GET /v1/openapi.json``):

* ``GET /v1/whoami``: the requester's address as seen here, and where probe-backs come from.
* ``POST /v1/probe``: reach back to the requester on a port it names (UDP nonce, Jamulus
  ping, TCP connect/nonce, HTTP, HTTPS, SSH) and report what happened.
* ``POST /v1/explain``: natprobe's verdicts and findings for measurements the web page made
  (:mod:`natprobe_server.api.routes.explain`); the page itself is :mod:`natprobe_server.web`.
* ``POST /v1/jamulus/hole-punch``: the Jamulus directory emulation
  (:mod:`natprobe_server.jamulus.directory`) punches for a fresh peer toward a registration
  that came from the requester's own IP, and reports each step.

The echo server is a public reflector (DESIGN.md), so the handler enforces, in this order:

1. optional bearer token (401), compared in constant time;
2. body size cap (413) before anything is parsed;
3. a strict request schema (400, the records of :mod:`natprobe.contract`): unknown fields
   are refused, so a client that tries to name another address learns at once that it
   cannot: **the target IP is always the address of the TCP connection the request came in
   on** (the socket's peer, never a header such as ``X-Forwarded-For``);
4. operator port policy (403 ``port_not_allowed``);
5. a global and a per-source cap on probes in flight (429), checked before
6. the per-source token bucket (429 with ``Retry-After``) from
   :class:`natprobe_server.limits.RateLimiter`, an LRU map of bounded size;
7. UDP bytes sent per probe never exceed the HTTP request body (see :mod:`natprobe_server.probes.probe_back`).

Steps 1-3 and the peer's address family are one prologue every route shares
(:func:`natprobe_server.api.guards.accept`); the guards live in :mod:`natprobe_server.api.guards`,
one module per route family in :mod:`natprobe_server.api.routes`. Embed with :func:`create_app` or run with :func:`start_http_api`.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from natprobe.i18n import _
from natprobe.errors import NetworkError

from natprobe_server.api.connection_limits import (
    GATE_KEY,
    ConnectionGate,
    GatedSite,
    handler_options,
    http_connection_budget,
    quiet_accept_errors,
    raise_fd_limit,
    request_rules,
)
from natprobe_server.api.guards import STATE_KEY, ApiError, ApiState, ErrorCode
from natprobe_server.api.routes import explain as explain_route
from natprobe_server.api.routes import exposure as exposure_route
from natprobe_server.api.routes.about import openapi, whoami
from natprobe_server.api.routes.dns import dns_lookup
from natprobe_server.api.routes.jamulus import jamulus_hole_punch
from natprobe_server.api.routes.probe import probe
from natprobe_server.config.http import HttpApiConfig
from natprobe_server.jamulus.directory import JamulusDirectory
from natprobe_server.probes.probe_back import UdpProbeSocket
from natprobe_server.limits import InFlight, RateLimiter

logger = logging.getLogger(__name__)

__all__ = ("create_app", "start_http_api")


_STATUS_CODES = {401: ErrorCode.UNAUTHORIZED, 404: ErrorCode.NOT_FOUND, 429: ErrorCode.RATE_LIMITED}


@web.middleware
async def _json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error leaves as ``{"error": {"code", "message"}}``, including aiohttp's own 404/405."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _STATUS_CODES.get(exc.status, ErrorCode.INTERNAL if exc.status >= 500 else ErrorCode.BAD_REQUEST)
        if exc.status == 404:
            message = f"no such endpoint: {request.path}; see /v1/openapi.json"
        elif exc.status == 405:
            allowed = exc.headers.get("Allow", "")
            message = f"{request.method} is not allowed on {request.path}; use {allowed}"
        else:
            message = exc.reason
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return ApiError(exc.status, code, message, headers).response()
    except Exception:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        return ApiError(500, ErrorCode.INTERNAL, "the server failed while handling this request").response()


def _verify_context(config: HttpApiConfig) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=config.tls_ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise NetworkError(_("cannot load the TLS trust store {path}: {error}", path=config.tls_ca_file,
                             error=exc)) from exc


async def _plain_server_header(_request: web.Request, response: web.StreamResponse) -> None:
    # aiohttp's default names the Python and aiohttp versions: a gift to a scanner, no use to a client.
    response.headers["Server"] = "natprobe"


def create_app(
    config: HttpApiConfig,
    *,
    clock: Callable[[], float] = time.monotonic,
    jamulus: JamulusDirectory | None = None,
    extend: Callable[[web.Application], None] | None = None,
    limits_from: web.Application | None = None,
) -> web.Application:
    """The API as an aiohttp application. The UDP probe socket is bound when the app starts
    (``AppRunner.setup()``), which raises :class:`NetworkError` if it cannot be bound.

    ``clock`` drives the rate limiter (tests inject one). ``jamulus`` is the running directory
    emulation behind ``POST /v1/jamulus/hole-punch`` (without it that route answers 404).
    ``extend`` adds to the app before it is frozen (``/metrics``, :mod:`natprobe_server.api.metrics`).
    ``limits_from``: the app of the same server on the other address family, whose rate-limit
    table and in-flight caps this one shares (one budget for the server, not one per family).
    """
    app = web.Application(middlewares=[request_rules, _json_errors], client_max_size=config.max_body_bytes)
    app.on_response_prepare.append(_plain_server_header)
    app[GATE_KEY] = ConnectionGate(
        max_connections=config.max_connections,
        max_per_source=config.max_connections_per_source,
        request_timeout=config.request_timeout,
    )
    app[STATE_KEY] = ApiState(
        config=config,
        limiter=(limits_from[STATE_KEY].limiter if limits_from is not None
                 else RateLimiter(config.rate_per_s, config.burst, config.max_sources)),
        in_flight=(limits_from[STATE_KEY].in_flight if limits_from is not None
                   else InFlight(config.max_in_flight, config.max_in_flight_per_source)),
        clock=clock,
        verify_context=_verify_context(config),
        jamulus=jamulus,
        target_limiter=RateLimiter(config.target_rate_per_s, config.target_burst, config.max_sources),
    )
    app.router.add_get("/v1/whoami", whoami, allow_head=False)
    app.router.add_post("/v1/probe", probe)
    app.router.add_post("/v1/jamulus/hole-punch", jamulus_hole_punch)
    app.router.add_get("/v1/openapi.json", openapi, allow_head=False)
    app.router.add_post("/v1/dns", dns_lookup)
    if config.exposure_interval is None:
        exposure_route.register(app, clock=clock)
    else:
        exposure_route.register(app, clock=clock, interval=config.exposure_interval)
    explain_route.register(app)
    app.cleanup_ctx.append(_udp_probe_socket)
    if extend is not None:
        extend(app)
    return app


async def _udp_probe_socket(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE_KEY]
    if state.config.udp_probe_port:
        state.udp = await UdpProbeSocket.open(state.config.probe_source_ip, state.config.udp_probe_port)
        logger.info("UDP probe-backs leave from %s", state.udp.local)
    else:
        # Bound once now so a probe source address this host does not have fails at start.
        (await UdpProbeSocket.open(state.config.probe_source_ip, 0)).close()
        logger.info("UDP probe-backs leave from %s, a fresh port for each probe", state.config.probe_source_ip)
    try:
        yield
    finally:
        udp, state.udp = state.udp, None
        if udp is not None:
            udp.close()


async def start_http_api(
    config: HttpApiConfig,
    host: str,
    port: int,
    *,
    clock: Callable[[], float] = time.monotonic,
    jamulus: JamulusDirectory | None = None,
    extend: Callable[[web.Application], None] | None = None,
    limits_from: web.Application | None = None,
) -> tuple[web.AppRunner, int]:
    """Serve the API on ``host:port`` (0 = any free port); returns the runner and the bound port.

    Stop it with ``await runner.cleanup()``; the app is ``runner.app`` (its state under
    :data:`STATE_KEY`). Raises :class:`NetworkError` when the HTTP port or the UDP probe
    socket cannot be bound (nothing is left open then).
    """
    quiet_accept_errors()
    app = create_app(config, clock=clock, jamulus=jamulus, extend=extend, limits_from=limits_from)
    gate = app[GATE_KEY]
    gate.max_connections = max(1, min(gate.max_connections, http_connection_budget(raise_fd_limit())))
    # A stop waits this long for running probes (each is bounded by a few timeouts) before cancelling them.
    connection_options = handler_options(config.keepalive_timeout)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5.0, **connection_options)
    try:
        await runner.setup()  # binds the UDP probe socket
    except BaseException:
        await runner.cleanup()
        raise
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        await runner.cleanup()
        raise NetworkError(_("cannot listen for HTTP on {host}:{port}: {error}", host=host, port=port,
                             error=exc.strerror or exc)) from exc
    try:
        await GatedSite(runner, sock, gate, connection_options).start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    return runner, int(runner.addresses[0][1])

