"""``POST /v1/exposure``: scan the requester's own public address (:mod:`natprobe_server.probes.exposure_scan`).

Safety, in this order (the same rules as ``/v1/probe``, with a scan's own rate limit):

1. the bearer token, when the server has one (401);
2. the body size cap (413), then a strict schema (400): there is no field for a target, and
   unknown fields are refused, so a request naming another address is refused at once;
3. the target is the TCP peer of the request, never a header;
4. at most one scan per :data:`~natprobe.contract.exposure_route.MIN_SCAN_INTERVAL_S` per source
   address and per IPv6 /64 (429 with ``Retry-After``), and a few scans at once in all (429);
5. the port list is the server's (:data:`~natprobe.contract.exposure_route.DEFAULT_PORTS`) plus at
   most :data:`~natprobe.contract.exposure_route.MAX_EXTRA_PORTS`, less the operator's denied ports;
   UDP bytes sent never exceed the request body;
6. one log line per scan, and counters in :class:`~natprobe_server.probes.exposure_scan.ExposureStats`.
"""

from __future__ import annotations

import logging
import math
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from natprobe.contract.exposure_route import MIN_SCAN_INTERVAL_S, ExposureResponse, decode_request, encode

from natprobe_server.api.guards import SCANS, ApiError, ErrorCode, accept, api_state
from natprobe_server.limits import ScanGate
from natprobe_server.probes.exposure_scan import ExposureStats, ScanLimits, scan_address, summary

logger = logging.getLogger(__name__)

__all__ = ("EXPOSURE_KEY", "ExposureState", "exposure_stats", "register")


@dataclass(slots=True)
class ExposureState:
    gate: ScanGate
    stats: ExposureStats
    clock: Callable[[], float]
    limits: ScanLimits
    context: ssl.SSLContext | None = None


EXPOSURE_KEY = web.AppKey("natprobe_exposure_state", ExposureState)


def register(
    app: web.Application,
    *,
    interval: float = MIN_SCAN_INTERVAL_S,
    clock: Callable[[], float] = time.monotonic,
    limits: ScanLimits = ScanLimits(),
) -> None:
    """Add ``POST /v1/exposure`` to the API ``app`` (made by :func:`natprobe_server.api.app.create_app`)."""
    app[EXPOSURE_KEY] = ExposureState(ScanGate(interval), ExposureStats(), clock, limits)
    app.router.add_post("/v1/exposure", exposure)


def exposure_stats(app: web.Application) -> ExposureStats:
    """The route's counters (for ``/metrics``)."""
    return app[EXPOSURE_KEY].stats


def _verify_context(state: ExposureState, ca_file: str | None) -> ssl.SSLContext:
    """The server's trust store with no name check: the scan connects by address, so a name
    mismatch says nothing; the client judges the names against the host it serves."""
    if state.context is None:
        context = ssl.create_default_context(cafile=ca_file)
        context.check_hostname = False
        state.context = context
    return state.context


async def exposure(request: web.Request) -> web.Response:
    """``POST /v1/exposure``."""
    config = api_state(request).config
    state = request.app[EXPOSURE_KEY]
    accepted = await accept(request, decode_request, SCANS)
    spec, peer = accepted.request, accepted.peer
    gate = state.gate
    wait = gate.wait(peer.ip, state.clock())
    if wait > 0:
        state.stats.refused_rate_limited += 1
        retry = max(1, math.ceil(wait))
        raise ApiError(
            429,
            ErrorCode.RATE_LIMITED,
            f"one exposure scan per {gate.interval:g} s per address (and per IPv6 /64): {peer.ip} scanned "
            f"recently; retry in {retry} s",
            {"Retry-After": str(retry)},
        )
    if gate.running >= gate.max_running:
        state.stats.refused_busy += 1
        raise ApiError(
            429,
            ErrorCode.RATE_LIMITED,
            f"the server is running its maximum of {gate.max_running} exposure scans; retry in a few seconds",
            {"Retry-After": "5"},
        )
    gate.admit(peer.ip, state.clock())
    ports = tuple(p for p in spec.ports() if p[0] not in config.denied_ports)
    gate.running += 1
    started = time.monotonic()  # a measurement, not the injectable rate-limit clock
    try:
        results = await scan_address(
            peer.ip,
            ports,
            source_ip=config.probe_source_ip,
            verify_context=_verify_context(state, config.tls_ca_file),
            udp_budget=accepted.body_size,
            host=spec.host,
            limits=state.limits,
        )
    finally:
        gate.running -= 1
    elapsed = time.monotonic() - started
    counts = summary(results)
    stats = state.stats
    stats.scans += 1
    stats.ports_scanned += len(results)
    stats.ports_open += counts["open"]
    stats.seconds_total += elapsed
    stats.last_scan_ports = counts
    opened = ",".join(f"{p.port}/{p.protocol.value}={p.service}" for p in results if p.state.value == "open")
    logger.info(
        "exposure scan of %s from %s: %d ports in %.1f s, %s; open: %s",
        peer.ip, config.probe_source_ip, len(results), elapsed, counts, opened or "none",
    )  # fmt: skip
    answer = ExposureResponse(
        target=str(peer.ip), ports=results, elapsed_ms=round(elapsed * 1000.0, 3), source=str(config.probe_source_ip)
    )
    return web.Response(body=encode(answer), content_type="application/json")

