"""What every route of the HTTP API shares: its errors, its state and its guards.

The routes (:mod:`natprobe_server.api.routes`) import this module; the app
(:mod:`natprobe_server.api.app`) imports the routes. The guards run in the order the app's
docstring gives: token, body cap, strict decode, the requester's own address, in-flight cap,
then the per-source token bucket.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import math
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NoReturn

from aiohttp import web

from natprobe.addressing import TransportAddress
from natprobe.contract import (
    API_SERVER_NAME,
    ErrorBody,
    ErrorCode,
    ErrorDetail,
    ProbeRequest,
    Record,
    decode_hole_punch_request,
    decode_probe_request,
    encode,
)
from natprobe.errors import DecodeError

from natprobe_server.config.http import HttpApiConfig
from natprobe_server.jamulus.directory import JamulusDirectory
from natprobe_server.probes.probe_back import UdpProbeSocket
from natprobe_server.ratelimit import RateLimiter

__all__ = (
    "SERVER_NAME",
    "STATE_KEY",
    "ApiError",
    "ApiState",
    "ErrorCode",
    "InFlight",
    "admitted",
    "api_state",
    "bad_request",
    "check_token",
    "parse_hole_punch_request",
    "parse_probe_request",
    "peer_address",
    "probe_outcome",
    "read_body",
    "record_response",
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
        return record_response(ErrorBody(ErrorDetail(self.code, self.message)), status=self.status, headers=self.headers)


def record_response(record: Record, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """``record`` as a JSON answer, encoded by the contract (the client decodes it with the same type)."""
    return web.Response(body=encode(record), status=status, headers=headers, content_type="application/json")


def bad_request(message: str) -> NoReturn:
    raise ApiError(400, ErrorCode.BAD_REQUEST, message)


# --- the request --------------------------------------------------------------------------------


def parse_probe_request(body: bytes) -> ProbeRequest:
    """Validate a probe request body; :class:`ApiError` (400) with a plain sentence if it is wrong."""
    try:
        return decode_probe_request(body)
    except DecodeError as exc:
        bad_request(str(exc))


def parse_hole_punch_request(body: bytes) -> str:
    """Validate a ``POST /v1/jamulus/hole-punch`` body; the registration name, or :class:`ApiError` (400)."""
    try:
        return decode_hole_punch_request(body).name
    except DecodeError as exc:
        bad_request(str(exc))


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


# --- the running API's state --------------------------------------------------------------------------------


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
    target_limiter: RateLimiter | None = None
    """Relay probes per target (IPv4 address or IPv6 /64), in addition to the per-source limit."""


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


def peer_address(request: web.Request) -> TransportAddress:
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


def api_state(request: web.Request) -> ApiState:
    return request.app[STATE_KEY]


def check_token(request: web.Request, token: str) -> None:
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


async def read_body(request: web.Request, limit: int) -> bytes:
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
def admitted(state: ApiState, key: str) -> Iterator[None]:
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
