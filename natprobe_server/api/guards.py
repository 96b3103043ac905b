"""What every route of the HTTP API shares: its errors, its state and its guards.

The routes (:mod:`natprobe_server.api.routes`) import this module; the app
(:mod:`natprobe_server.api.app`) imports the routes. Every route that takes a body opens with
:func:`accept`, the one prologue: token, body cap, strict decode, the requester's own address
and its family, in that order; then it spends its admission (:func:`admitted`: the in-flight
cap, then the per-source token bucket; the exposure scan has its own interval gate).
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
from typing import Generic, NoReturn, TypeVar

from aiohttp import web

from natprobe.addressing import TransportAddress, source_key
from natprobe.contract import (
    API_SERVER_NAME,
    ErrorBody,
    ErrorCode,
    ErrorDetail,
    Record,
    encode,
)
from natprobe.errors import DecodeError

from natprobe_server.config.http import HttpApiConfig
from natprobe_server.jamulus.directory import JamulusDirectory
from natprobe_server.probes.probe_back import UdpProbeSocket
from natprobe_server.limits import InFlight, RateLimiter

__all__ = (
    "PROBES",
    "SCANS",
    "SERVER_NAME",
    "STATE_KEY",
    "Accepted",
    "ApiError",
    "ApiState",
    "ErrorCode",
    "FamilyRule",
    "accept",
    "admitted",
    "api_state",
    "bad_request",
    "check_token",
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


# --- the prologue -------------------------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FamilyRule:
    """A route that sends to the requester can only do so over the family it sends from."""

    sends: str
    """What the server does, in a sentence: "sends probes"."""
    verb: str
    """What it cannot do to another family's address: "probe"."""


PROBES = FamilyRule("sends probes", "probe")
SCANS = FamilyRule("scans", "scan")


@dataclass(frozen=True, slots=True)
class Accepted(Generic[T]):
    """A request past the prologue: its decoded body and who sent it."""

    request: T
    peer: TransportAddress
    """The TCP peer (:func:`peer_address`): the only address a route ever sends to."""
    body_size: int
    """Bytes of the body: what UDP probe-backs may spend at most (reflection safety)."""

    @property
    def source(self) -> str:
        """The limiters' key: the peer's IPv4 address or IPv6 /64."""
        return source_key(self.peer.ip)


async def accept(
    request: web.Request,
    decode: Callable[[bytes], T],
    family: FamilyRule | None = None,
    *,
    body_at_least: int = 0,
) -> Accepted[T]:
    """The prologue of every route with a body, in this order: the bearer token when the server
    has one (401), the body cap (413; the operator's, or ``body_at_least`` for a route whose
    requests are larger) before anything is parsed, a strict decode (400 with the decoder's
    sentence; ``decode`` raises :class:`DecodeError` or ``ValueError``), the peer, and with
    ``family`` the rule that the server reaches back only over its own family (400)."""
    config = api_state(request).config
    if config.token is not None:
        check_token(request, config.token)
    body = await read_body(request, max(config.max_body_bytes, body_at_least))
    try:
        decoded = decode(body)
    except (DecodeError, ValueError) as exc:
        bad_request(str(exc))
    peer = peer_address(request)
    source_ip = config.probe_source_ip
    if family is not None and peer.ip.version != source_ip.version:
        bad_request(
            f"this server {family.sends} from {source_ip} (IPv{source_ip.version}) and cannot {family.verb} your "
            f"IPv{peer.ip.version} address {peer.ip}; connect to the API over IPv{source_ip.version}"
        )
    return Accepted(decoded, peer, len(body))
