"""What a stranger can hold of the HTTP API: connections, time, log lines (issue #9).

The routes (:mod:`natprobe_server.api.app`) bound what a *request* may cost; this module bounds
what a *connection* may cost, around them, without touching a route:

* :class:`ConnectionGate` caps connections per source (the IPv4 address or the IPv6 /64,
  :func:`~natprobe_server.limits.source_key`) and in total, the total kept below the file
  descriptor limit (:func:`raise_fd_limit` lifts the soft limit to the hard one at start,
  and :func:`http_connection_budget` leaves room for one accept batch and for STUN over TCP
  and the probes).
  A full table closes the connection idle the longest (not inside a handler) to make room,
  so idle keep-alives cannot lock out a newcomer. Each connection must deliver a whole
  request (headers and body) within ``request_timeout`` of its start or of its previous
  answer (slowloris), and idle keep-alives close after ``keepalive_timeout`` (aiohttp's
  default is an hour).
* :func:`request_rules` (a middleware): ``POST`` bodies must be ``application/json`` (415
  otherwise: ``text/plain`` would make a probe a CORS "simple request" any web page could
  trigger from its visitors' browsers; no preflight is ever answered, so cross-origin
  JSON posts are refused by the browsers themselves) and must not be content-encoded (415:
  a body that does not inflate was a 500 and a traceback).
* :class:`LineBudget` turns aiohttp's traceback per malformed request (~570 bytes each, a
  disk-filling lever) into at most one short line per second, with a count of what was
  left out; the same budget covers asyncio's "accept() out of system resource" message.

The gate sits in a protocol wrapper around aiohttp's own request handler (:class:`GatedSite`),
so aiohttp still parses HTTP; only public aiohttp API is used.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from natprobe_server.limits import RateLimiter, SourceCounts, source_key

logger = logging.getLogger(__name__)

__all__ = (
    "GATE_KEY",
    "ConnectionGate",
    "GatedSite",
    "LineBudget",
    "handler_options",
    "http_connection_budget",
    "protocol_logger",
    "raise_fd_limit",
    "request_rules",
)

_JSON = "application/json"


# --- log lines ----------------------------------------------------------------------------------


class LineBudget(logging.Filter):
    """Let at most ``burst`` records through, then ``per_s`` a second; strip tracebacks.

    A record that passes becomes one short line (the exception's type and first 120
    characters); the next line that passes says how many were left out meanwhile.
    """

    def __init__(self, per_s: float = 1.0, burst: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.per_s = per_s
        self.burst = burst
        self.clock = clock
        self._bucket = RateLimiter(per_s, burst, 1)  # one source: this logger
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._bucket.allow("", self.clock()):
            self.suppressed += 1
            return False
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text = f"{text}: {type(exc).__name__}: {exc}"
        text = " ".join(text.split())[:160]
        if self.suppressed:
            text += f" ({self.suppressed} similar lines left out)"
            self.suppressed = 0
        record.msg, record.args = text, None
        record.exc_info = record.exc_text = record.stack_info = None
        return True


_PROTOCOL_LOGGER = "natprobe_server.api.connection_limits.protocol"


def protocol_logger() -> logging.Logger:
    """The logger aiohttp's request handler writes to (malformed requests), budgeted."""
    log = logging.getLogger(_PROTOCOL_LOGGER)
    if not any(isinstance(f, LineBudget) for f in log.filters):
        log.addFilter(LineBudget())
    return log


class _AcceptErrors(LineBudget):
    """The budget for asyncio's accept() failures only; its other messages pass untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "accept" not in str(record.msg):
            return True
        return super().filter(record)


def quiet_accept_errors() -> None:
    """Bound asyncio's "socket.accept() out of system resource" lines (idempotent)."""
    log = logging.getLogger("asyncio")
    if not any(isinstance(f, _AcceptErrors) for f in log.filters):
        log.addFilter(_AcceptErrors())


# --- file descriptors ---------------------------------------------------------------------------


def raise_fd_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit where allowed; return the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # not allowed here: keep the soft limit and size the caps from it
    return soft


ACCEPT_BATCH = 100
"""Connections asyncio accepts per readiness callback (``create_server``'s default backlog):
a refused or evicted one closes only on the loop's next turn, so this many may be open on
top of the cap for a moment."""


def http_connection_budget(fd_limit: int) -> int:
    """HTTP connections that stay clear of ``fd_limit``: half of what one accept batch leaves,
    the other half for STUN over TCP, probes and the server's own sockets. Below the limit,
    accept() never fails, so asyncio never logs its "out of system resource" loop."""
    return max(1, (fd_limit - ACCEPT_BATCH) // 2)


# --- connections --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Slot:
    key: str
    transport: asyncio.Transport
    since: float
    busy: bool = False
    deadline: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class GateStats:
    refused: int = 0
    """Connections reset at once: per-source cap, or every slot inside a handler."""
    evicted: int = 0
    """Idle connections closed to make room for a new one."""
    timed_out: int = 0
    """Connections closed for not delivering a whole request in time."""


@dataclass(slots=True)
class ConnectionGate:
    """Connection slots per source and in total, with a request deadline per connection."""

    max_connections: int
    max_per_source: int
    request_timeout: float
    clock: Callable[[], float] = time.monotonic
    stats: GateStats = field(default_factory=GateStats)
    _slots: dict[object, _Slot] = field(default_factory=dict)
    _per_source: SourceCounts = field(init=False)

    def __post_init__(self) -> None:
        self._per_source = SourceCounts(self.max_per_source)

    def __len__(self) -> int:
        return len(self._slots)

    def admit(self, owner: object, transport: asyncio.Transport) -> bool:
        """A slot for a new connection (``owner`` identifies it), or ``False``: reset it."""
        peer = transport.get_extra_info("peername")
        key = source_key(str(peer[0])) if isinstance(peer, tuple) and peer else "?"
        if self._per_source.full(key):
            self.stats.refused += 1
            return False
        if len(self._slots) >= self.max_connections:
            idle = [(slot.since, o) for o, slot in self._slots.items() if not slot.busy]
            if not idle:
                self.stats.refused += 1
                return False
            _, victim = min(idle, key=lambda item: item[0])
            self.stats.evicted += 1
            self._slots[victim].transport.abort()
            self.release(victim)
        slot = _Slot(key, transport, self.clock())
        self._slots[owner] = slot
        self._per_source.add(key)
        self._arm(owner, slot)
        return True

    def release(self, owner: object) -> None:
        slot = self._slots.pop(owner, None)
        if slot is None:
            return
        if slot.deadline is not None:
            slot.deadline.cancel()
        self._per_source.remove(slot.key)

    def request_started(self, owner: object) -> float | None:
        """A request's headers are in; returns the seconds left for its body (``None``: not gated)."""
        slot = self._slots.get(owner)
        if slot is None:
            return None
        slot.busy = True
        if slot.deadline is not None:
            slot.deadline.cancel()
            slot.deadline = None
        return max(0.0, slot.since + self.request_timeout - self.clock())

    def request_done(self, owner: object) -> None:
        """Answered: the connection is idle again, and its next request has a fresh deadline."""
        slot = self._slots.get(owner)
        if slot is None:
            return
        slot.busy = False
        slot.since = self.clock()
        self._arm(owner, slot)

    def _arm(self, owner: object, slot: _Slot) -> None:
        if slot.deadline is not None:
            slot.deadline.cancel()
        slot.deadline = asyncio.get_running_loop().call_later(self.request_timeout, self._expire, owner)

    def _expire(self, owner: object) -> None:
        slot = self._slots.get(owner)
        if slot is None or slot.busy:
            return
        slot.deadline = None
        self.stats.timed_out += 1
        slot.transport.abort()


GATE_KEY = web.AppKey("natprobe_http_gate", ConnectionGate)


class _GatedProtocol(asyncio.Protocol):
    """aiohttp's request handler behind the gate: refused connections never reach it."""

    def __init__(self, gate: ConnectionGate, inner: asyncio.Protocol) -> None:
        self._gate = gate
        self._inner = inner
        self._admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not isinstance(transport, asyncio.Transport):
            transport.close()
            return
        if not self._gate.admit(self._inner, transport):
            transport.abort()
            return
        self._admitted = True
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._admitted:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._admitted else None

    def pause_writing(self) -> None:
        if self._admitted:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._admitted:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._gate.release(self._inner)
        if self._admitted:
            self._inner.connection_lost(exc)


def handler_options(keepalive_timeout: float) -> dict[str, Any]:
    """aiohttp's per-connection options, for the runner and for :class:`GatedSite` alike."""
    return {
        "keepalive_timeout": keepalive_timeout,  # aiohttp's default is an hour
        "lingering_time": 0.0,  # a body left unread (refused early) closes the connection, no 10 s wait
        "logger": protocol_logger(),
    }


class _JsonErrorHandler(RequestHandler):
    """aiohttp's request handler, answering what its parser refuses in the API's JSON shape.

    A request aiohttp cannot parse (negative Content-Length, Content-Length with
    Transfer-Encoding, an over-long URL or header, an HTTP/2 preface) never reaches the
    application: aiohttp answers it itself, in plain text, after logging a traceback. Here
    it gets the same ``{"error": {...}}`` body as every other refusal, and one short line
    in the budgeted log.
    """

    __slots__ = ()

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        text = " ".join(str(message or exc or "malformed request").split())[:200]
        self.logger.warning("refused a malformed HTTP request from %s: %s", request.remote, text)
        if request.writer.output_size > 0:
            raise ConnectionError("a response was already sent; the connection is closed instead")
        code = "internal" if status >= 500 else "bad_request"
        response = web.json_response({"error": {"code": code, "message": text}}, status=status)
        response.force_close()
        return response


class GatedSite(web.BaseSite):
    """Serve a runner on an already bound and listening socket, every connection through ``gate``.

    ``options`` are the runner's :func:`handler_options`: each connection's handler is built
    here (a :class:`_JsonErrorHandler`) with the same settings the runner was given.
    """

    __slots__ = ("_sock", "_gate", "_options")

    def __init__(
        self, runner: web.BaseRunner, sock: socket.socket, gate: ConnectionGate, options: dict[str, Any]
    ) -> None:
        super().__init__(runner)
        self._sock = sock
        self._gate = gate
        self._options = options

    @property
    def name(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        if server is None:
            raise RuntimeError("the runner is not set up")
        gate, options = self._gate, self._options
        loop = asyncio.get_running_loop()

        def connection() -> _GatedProtocol:
            return _GatedProtocol(gate, _JsonErrorHandler(server, loop=loop, **options))

        self._server = await loop.create_server(connection, sock=self._sock)


# --- requests -----------------------------------------------------------------------------------


def _refuse(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"code": "bad_request", "message": message}}, status=status)


@web.middleware
async def request_rules(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Body type and encoding rules, the request deadline, and the gate's busy mark."""
    gate = request.app.get(GATE_KEY)
    owner = request.protocol
    left = gate.request_started(owner) if gate is not None else None
    try:
        if request.method == "POST":
            if request.content_type != _JSON:
                return _refuse(415, f"send the body as {_JSON} (got {request.content_type or 'no Content-Type'})")
            encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                return _refuse(415, f"this server takes uncompressed bodies only (got Content-Encoding {encoding[:40]})")
            if left is not None and request.body_exists:
                try:
                    async with asyncio.timeout(left):
                        await request.content.wait_eof()
                except TimeoutError:
                    if gate is not None:
                        gate.stats.timed_out += 1
                    response = _refuse(408, "the request body did not arrive in time")
                    response.force_close()
                    return response
        return await handler(request)
    finally:
        if gate is not None:
            gate.request_done(owner)
