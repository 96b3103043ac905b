"""The echo server's HTTP API: ``whoami`` and "probe me back" (``natprobe check --server URL``).

Routes (all bodies JSON: the records of :mod:`natprobe.contract`, described by
:mod:`echo_server.openapi`, served at ``GET /v1/openapi.json``):

* ``GET /v1/whoami``: the requester's address as seen here, and where probe-backs come from.
* ``POST /v1/probe``: reach back to the requester on a port it names (UDP nonce, Jamulus
  ping, TCP connect/nonce, HTTP, HTTPS, SSH) and report what happened.
* ``POST /v1/jamulus/hole-punch``: the Jamulus directory emulation
  (:mod:`echo_server.jamulus_directory`) punches for a fresh peer toward a registration
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
   :class:`echo_server.ratelimit.RateLimiter`, an LRU map of bounded size;
7. UDP bytes sent per probe never exceed the HTTP request body (see :mod:`echo_server.probe_back`).

Embed with :func:`create_app` or run with :func:`start_http_api`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import logging
import math
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import NoReturn

from aiohttp import web

from natprobe import __version__
from natprobe.contract import (
    API_SERVER_NAME,
    Endpoint,
    ErrorBody,
    ErrorCode,
    ErrorDetail,
    ProbeMode,
    ProbeRequest,
    ProbeResponse,
    Record,
    TransportProtocol,
    WhoAmI,
    decode_hole_punch_request,
    decode_probe_request,
    encode,
)
from natprobe.errors import DecodeError, NetworkError
from natprobe.addressing import TransportAddress

from echo_server import probe_back
from echo_server.jamulus_directory import JamulusDirectory, RegistrationNotFound
from echo_server.openapi import openapi_document
from echo_server.http_limits import (
    GATE_KEY,
    ConnectionGate,
    GatedSite,
    handler_options,
    http_connection_budget,
    quiet_accept_errors,
    raise_fd_limit,
    request_rules,
)
from echo_server.probe_back import ProbeOutcome, UdpProbeSocket
from echo_server.http_config import (
    DEFAULT_BURST,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_IN_FLIGHT_PER_SOURCE,
    DEFAULT_MAX_SOURCES,
    DEFAULT_RATE_PER_S,
    HttpApiConfig,
    add_arguments,
    config_from_args,
)
from echo_server.ratelimit import RateLimiter, source_key

logger = logging.getLogger(__name__)

__all__ = (
    "DEFAULT_BURST",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_MAX_IN_FLIGHT_PER_SOURCE",
    "DEFAULT_MAX_SOURCES",
    "DEFAULT_RATE_PER_S",
    "SERVER_NAME",
    "ApiError",
    "ApiState",
    "ErrorCode",
    "HttpApiConfig",
    "InFlight",
    "STATE_KEY",
    "add_arguments",
    "config_from_args",
    "create_app",
    "parse_hole_punch_request",
    "parse_probe_request",
    "source_key",
    "start_http_api",
)

SERVER_NAME = API_SERVER_NAME


# --- errors -------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer: HTTP status, machine code, a sentence for a person, extra headers."""

    def __init__(self, status: int, code: ErrorCode, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> web.Response:
        return _record_response(ErrorBody(ErrorDetail(self.code, self.message)), status=self.status, headers=self.headers)


def _record_response(record: Record, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """``record`` as a JSON answer, encoded by the contract (the client decodes it with the same type)."""
    return web.Response(body=encode(record), status=status, headers=headers, content_type="application/json")


def _bad(message: str) -> NoReturn:
    raise ApiError(400, ErrorCode.BAD_REQUEST, message)


# --- the request --------------------------------------------------------------------------------


def parse_probe_request(body: bytes) -> ProbeRequest:
    """Validate a probe request body; :class:`ApiError` (400) with a plain sentence if it is wrong."""
    try:
        return decode_probe_request(body)
    except DecodeError as exc:
        _bad(str(exc))


def parse_hole_punch_request(body: bytes) -> str:
    """Validate a ``POST /v1/jamulus/hole-punch`` body; the registration name, or :class:`ApiError` (400)."""
    try:
        return decode_hole_punch_request(body).name
    except DecodeError as exc:
        _bad(str(exc))


# --- in-flight cap ------------------------------------------------------------------------------


class InFlight:
    """Probes running now: at most ``limit`` in all and ``per_source`` for one source.

    Single-threaded (the event loop), so check-and-take needs no lock. Only running probes
    have an entry, so the map holds at most ``limit`` keys.
    """

    __slots__ = ("limit", "per_source", "_by_source", "_total")

    def __init__(self, limit: int, per_source: int) -> None:
        self.limit = limit
        self.per_source = per_source
        self._by_source: dict[str, int] = {}
        self._total = 0

    def __len__(self) -> int:
        return self._total

    def sources(self) -> int:
        return len(self._by_source)

    def try_enter(self, key: str) -> str | None:
        """Take a slot for ``key``; ``None`` if taken, else why not (a sentence)."""
        if self._total >= self.limit:
            return f"the server is running its maximum of {self.limit} probes; retry in a moment"
        if self._by_source.get(key, 0) >= self.per_source:
            return f"at most {self.per_source} probes may run at once for one address; wait for one to finish"
        self._by_source[key] = self._by_source.get(key, 0) + 1
        self._total += 1
        return None

    def leave(self, key: str) -> None:
        count = self._by_source[key] - 1
        if count:
            self._by_source[key] = count
        else:
            del self._by_source[key]
        self._total -= 1


# --- application --------------------------------------------------------------------------------


@dataclass(slots=True)
class ApiState:
    """The running API's mutable parts (one per application)."""

    config: HttpApiConfig
    limiter: RateLimiter
    in_flight: InFlight
    clock: Callable[[], float]
    verify_context: ssl.SSLContext
    udp: UdpProbeSocket | None = None
    jamulus: JamulusDirectory | None = None
    """The Jamulus directory emulation, when the server runs one."""
    probes: int = 0
    """Probes run since start."""
    rate_limited: int = 0
    """Probes refused by the rate limiter or the in-flight cap."""
    on_probe: Callable[[str, str, str], None] | None = None
    """Told (protocol, mode, outcome) after every probe-back (the /metrics counters)."""


def probe_outcome(result: object) -> str:
    """One word for a probe-back's result, for the log line and the metrics label."""
    for attribute, yes, no in (("answered", "answered", "silent"), ("connected", "connected", "not_connected")):
        value = getattr(result, attribute, None)
        if isinstance(value, bool):
            return yes if value else no
    sent = getattr(result, "sent", None)
    if isinstance(sent, int):
        return "sent" if sent else "not_sent"
    return "done"


STATE_KEY = web.AppKey("natprobe_http_api_state", ApiState)


def _peer(request: web.Request) -> TransportAddress:
    """The TCP peer of this request: the only address this API ever probes.

    Deliberately the socket's peer, not ``request.remote`` as a middleware may rewrite it from
    ``Forwarded`` / ``X-Forwarded-For``: a header must never choose whom the server probes.
    """
    transport = request.transport
    peername = None if transport is None else transport.get_extra_info("peername")
    if not isinstance(peername, tuple) or len(peername) < 2:
        raise ApiError(500, ErrorCode.INTERNAL, "the server cannot tell which address this request came from")
    ip = ipaddress.ip_address(str(peername[0]))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return TransportAddress(ip, int(peername[1]))


def _state(request: web.Request) -> ApiState:
    return request.app[STATE_KEY]


def _check_token(request: web.Request, token: str) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    # Digests of equal length, compared in constant time: neither the token's value nor its
    # length leaks through timing.
    given = hashlib.sha256(credentials.strip().encode("utf-8", "replace")).digest()
    ok = hmac.compare_digest(given, hashlib.sha256(token.encode("ascii")).digest()) and scheme.lower() == "bearer"
    if not ok:
        message = (
            "this server needs a token: send 'Authorization: Bearer <token>'"
            if not header
            else "the token is not valid for this server"
        )
        raise ApiError(401, ErrorCode.UNAUTHORIZED, message, {"WWW-Authenticate": f'Bearer realm="{SERVER_NAME}"'})


async def _read_body(request: web.Request, limit: int) -> bytes:
    too_large = ApiError(413, ErrorCode.BAD_REQUEST, f"the request body is larger than {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    data = bytearray()
    while True:  # bounded: stops past ``limit`` bytes or at the end of the body
        chunk = await request.content.read(limit + 1 - len(data))
        if not chunk:
            return bytes(data)
        data += chunk
        if len(data) > limit:
            raise too_large


@contextlib.contextmanager
def _admitted(state: ApiState, key: str) -> Iterator[None]:
    """Hold one in-flight slot for ``key`` and spend one rate-limit token, or refuse with 429."""
    refusal = state.in_flight.try_enter(key)
    if refusal is not None:
        state.rate_limited += 1
        raise ApiError(429, ErrorCode.RATE_LIMITED, refusal, {"Retry-After": "1"})
    try:
        if not state.limiter.allow(key, state.clock()):
            state.rate_limited += 1
            # With fewer than one token left, the next one is at most 1/rate seconds away.
            config = state.config
            wait = max(1, math.ceil(1.0 / config.rate_per_s))
            raise ApiError(
                429,
                ErrorCode.RATE_LIMITED,
                f"too many probes from {key}: {config.burst:g} at once, then {config.rate_per_s:g} per second",
                {"Retry-After": str(wait)},
            )
        yield
    finally:
        state.in_flight.leave(key)


async def whoami(request: web.Request) -> web.Response:
    """``GET /v1/whoami``."""
    state = _state(request)
    peer = _peer(request)
    udp = state.udp
    return _record_response(
        WhoAmI(
            ip=str(peer.ip),
            port=peer.port,
            server=SERVER_NAME,
            version=__version__,
            probe_source_ip=str(state.config.advertised_source_ip),
            udp_probe_port=0 if udp is None else udp.local.port,
            auth_required=state.config.token is not None,
        )
    )


async def openapi(request: web.Request) -> web.Response:
    """``GET /v1/openapi.json``."""
    return web.json_response(openapi_document())


async def probe(request: web.Request) -> web.Response:
    """``POST /v1/probe``."""
    state = _state(request)
    config = state.config
    if config.token is not None:
        _check_token(request, config.token)
    body = await _read_body(request, config.max_body_bytes)
    spec = parse_probe_request(body)
    peer = _peer(request)
    if peer.ip.version != config.probe_source_ip.version:
        _bad(
            f"this server sends probes from {config.probe_source_ip} (IPv{config.probe_source_ip.version}) "
            f"and cannot probe your IPv{peer.ip.version} address {peer.ip}; "
            f"connect to the API over IPv{config.probe_source_ip.version}"
        )
    if spec.port in config.denied_ports:
        raise ApiError(403, ErrorCode.PORT_NOT_ALLOWED, f"this server does not probe port {spec.port}")
    with _admitted(state, source_key(peer.ip)):
        target = TransportAddress(peer.ip, spec.port)
        start = time.monotonic()  # not the injectable rate-limit clock: this is a measurement
        try:
            outcome = await _run(state, spec, target, len(body))
        except NetworkError as exc:
            logger.error("probe-back for %s: %s/%s to port %d: server error: %s",
                         peer.ip, spec.protocol.value, spec.mode.value, spec.port, exc)
            if state.on_probe is not None:
                state.on_probe(spec.protocol.value, spec.mode.value, "server_error")
            raise ApiError(500, ErrorCode.INTERNAL, f"the server could not send the probe: {exc}") from exc
        elapsed_ms = round((time.monotonic() - start) * 1000.0, 3)
        state.probes += 1
    verdict = probe_outcome(outcome.result)
    # One line per probe-back, enough to answer an abuse complaint: who asked, what, the outcome.
    logger.info("probe-back for %s: %s/%s to port %d from %s: %s %s", peer.ip, spec.protocol.value,
                spec.mode.value, spec.port, outcome.source, verdict, encode(outcome.result).decode())
    if state.on_probe is not None:
        state.on_probe(spec.protocol.value, spec.mode.value, verdict)
    return _record_response(
        ProbeResponse(
            target=Endpoint.of(target),
            protocol=spec.protocol,
            mode=spec.mode,
            source=Endpoint.of(outcome.source),
            result=outcome.result,
            elapsed_ms=elapsed_ms,
        )
    )


@contextlib.asynccontextmanager
async def _udp_probe_source(state: ApiState) -> AsyncIterator[UdpProbeSocket]:
    """The socket a UDP nonce probe leaves from: the operator's fixed one, or a fresh port.

    A fresh port per probe by default: a NAT keeps a conntrack entry for an earlier probe's flow
    for a while after a forward is removed, and a probe on the same 5-tuple would still be let
    in through it (a false "reachable")."""
    if state.udp is not None:
        yield state.udp
        return
    fresh = await UdpProbeSocket.open(state.config.probe_source_ip, 0)
    try:
        yield fresh
    finally:
        fresh.close()


async def _run(state: ApiState, spec: ProbeRequest, target: TransportAddress, body_size: int) -> ProbeOutcome:
    source_ip = state.config.probe_source_ip
    payload = spec.payload
    if spec.protocol is TransportProtocol.UDP:
        if payload is not None:
            async with _udp_probe_source(state) as sock:
                return await probe_back.probe_udp_nonce(
                    sock,
                    target,
                    payload,
                    count=spec.datagrams,
                    byte_budget=body_size,
                    spacing=state.config.udp_nonce_spacing,
                )
        return await probe_back.probe_jamulus(target, source_ip=source_ip, timeout=spec.timeout, byte_budget=body_size)
    if payload is not None:
        return await probe_back.probe_tcp(target, source_ip=source_ip, timeout=spec.timeout, payload=payload)
    if spec.mode is ProbeMode.CONNECT:
        return await probe_back.probe_tcp(target, source_ip=source_ip, timeout=spec.timeout)
    if spec.mode is ProbeMode.SSH:
        return await probe_back.probe_ssh(target, source_ip=source_ip, timeout=spec.timeout)
    return await probe_back.probe_http(
        target,
        source_ip=source_ip,
        timeout=spec.timeout,
        host=spec.virtual_host,
        verify_context=state.verify_context,
        https=spec.mode is ProbeMode.HTTPS,
    )


async def jamulus_hole_punch(request: web.Request) -> web.Response:
    """``POST /v1/jamulus/hole-punch``: same token, in-flight and rate rules as ``/v1/probe``."""
    state = _state(request)
    config = state.config
    if config.token is not None:
        _check_token(request, config.token)
    body = await _read_body(request, config.max_body_bytes)
    name = parse_hole_punch_request(body)
    directory = state.jamulus
    if directory is None:
        raise ApiError(
            404,
            ErrorCode.NOT_FOUND,
            "this echo server does not play a Jamulus directory (its operator can turn it on with --jamulus-port)",
        )
    peer = _peer(request)
    if peer.ip.version != 4 or config.probe_source_ip.version != 4:
        _bad("Jamulus directories and hole punches are IPv4 only; connect to the API over IPv4")
    with _admitted(state, source_key(peer.ip)):
        try:
            result = await directory.hole_punch(name, peer.ip, source_ip=config.probe_source_ip, byte_budget=len(body))
        except RegistrationNotFound as exc:
            raise ApiError(404, ErrorCode.NOT_FOUND, str(exc)) from exc
        except ValueError as exc:
            _bad(str(exc))
        except NetworkError as exc:
            logger.error("Jamulus hole punch for %s failed: %s", peer.ip, exc)
            raise ApiError(500, ErrorCode.INTERNAL, f"the server could not run the hole punch: {exc}") from exc
        state.probes += 1
    verdict = "punched" if result.hole_punch.received else "not_punched"
    logger.info("probe-back for %s: udp/jamulus-hole-punch to %s (%s): %s %s", peer.ip, result.published.address, name,
                verdict, encode(result).decode())
    if state.on_probe is not None:
        state.on_probe("udp", "jamulus-hole-punch", verdict)
    return _record_response(result)


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
        raise NetworkError(f"cannot load the TLS trust store {config.tls_ca_file}: {exc}") from exc


async def _plain_server_header(_request: web.Request, response: web.StreamResponse) -> None:
    # aiohttp's default names the Python and aiohttp versions: a gift to a scanner, no use to a client.
    response.headers["Server"] = "natprobe"


def create_app(
    config: HttpApiConfig,
    *,
    clock: Callable[[], float] = time.monotonic,
    jamulus: JamulusDirectory | None = None,
    extend: Callable[[web.Application], None] | None = None,
) -> web.Application:
    """The API as an aiohttp application. The UDP probe socket is bound when the app starts
    (``AppRunner.setup()``), which raises :class:`NetworkError` if it cannot be bound.

    ``clock`` drives the rate limiter (tests inject one). ``jamulus`` is the running directory
    emulation behind ``POST /v1/jamulus/hole-punch`` (without it that route answers 404).
    ``extend`` adds to the app before it is frozen (``/metrics``, :mod:`echo_server.metrics`).
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
        limiter=RateLimiter(config.rate_per_s, config.burst, config.max_sources),
        in_flight=InFlight(config.max_in_flight, config.max_in_flight_per_source),
        clock=clock,
        verify_context=_verify_context(config),
        jamulus=jamulus,
    )
    app.router.add_get("/v1/whoami", whoami, allow_head=False)
    app.router.add_post("/v1/probe", probe)
    app.router.add_post("/v1/jamulus/hole-punch", jamulus_hole_punch)
    app.router.add_get("/v1/openapi.json", openapi, allow_head=False)
    from echo_server.dns_route import dns_lookup  # its module imports this one

    app.router.add_post("/v1/dns", dns_lookup)
    # POST /v1/exposure lives in its own module, which uses this one's helpers (hence imported here).
    from echo_server import exposure_route

    exposure_route.register(app, clock=clock)
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
) -> tuple[web.AppRunner, int]:
    """Serve the API on ``host:port`` (0 = any free port); returns the runner and the bound port.

    Stop it with ``await runner.cleanup()``; the app is ``runner.app`` (its state under
    :data:`STATE_KEY`). Raises :class:`NetworkError` when the HTTP port or the UDP probe
    socket cannot be bound (nothing is left open then).
    """
    quiet_accept_errors()
    app = create_app(config, clock=clock, jamulus=jamulus, extend=extend)
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
        raise NetworkError(f"cannot listen for HTTP on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        await GatedSite(runner, sock, gate, connection_options).start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    return runner, int(runner.addresses[0][1])


# --- command line -------------------------------------------------------------------------------
