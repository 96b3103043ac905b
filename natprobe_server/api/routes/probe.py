"""``POST /v1/probe``: reach back to the requester on a port it names and report what happened.

UDP nonce, Jamulus ping, TCP connect/nonce, HTTP, HTTPS and SSH; always to the address the
request came from (:func:`~natprobe_server.api.guards.peer_address`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from natprobe.addressing import TransportAddress
from natprobe.udp_services import FIRST_PACKETS
from natprobe.contract import Endpoint, ProbeMode, ProbeRequest, ProbeResponse, TransportProtocol, encode
from natprobe.errors import NetworkError

from natprobe.contract import decode_probe_request

from natprobe_server.api.guards import (
    PROBES,
    ApiError,
    ApiState,
    ErrorCode,
    accept,
    admitted,
    api_state,
    probe_outcome,
    record_response,
)
from natprobe_server.api.relay_guard import authorize_relay
from natprobe_server.probes import probe_back
from natprobe_server.probes.probe_back import ProbeOutcome, UdpProbeSocket

logger = logging.getLogger(__name__)

__all__ = ("probe",)


async def probe(request: web.Request) -> web.Response:
    """``POST /v1/probe``."""
    state = api_state(request)
    accepted = await accept(request, decode_probe_request, PROBES)
    spec, peer = accepted.request, accepted.peer
    if spec.port in state.config.denied_ports:
        raise ApiError(403, ErrorCode.PORT_NOT_ALLOWED, f"this server does not probe port {spec.port}")
    relay = spec.relay_target
    with admitted(state, accepted.source):
        target = TransportAddress(peer.ip, spec.port)
        if relay is not None:
            grant = await authorize_relay(state, peer.ip, relay)
            target = TransportAddress(relay.ip, spec.port)
            logger.info("relay probe for %s to %s (%s): %s", peer.ip, relay.ip, relay.name, grant.detail)
        start = time.monotonic()  # not the injectable rate-limit clock: this is a measurement
        try:
            outcome = await _run(state, spec, target, accepted.body_size)
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
    via = "" if relay is None else f" (relay {relay.ip} for {relay.name})"
    logger.info("probe-back for %s: %s/%s to port %d%s from %s: %s %s", peer.ip, spec.protocol.value,
                spec.mode.value, spec.port, via, outcome.source, verdict, encode(outcome.result).decode())
    if state.on_probe is not None:
        state.on_probe(spec.protocol.value, spec.mode.value, verdict)
    return record_response(
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
        if spec.mode.value in FIRST_PACKETS:
            return await probe_back.probe_udp_service(target, FIRST_PACKETS[spec.mode.value], source_ip=source_ip,
                                                      timeout=spec.timeout, byte_budget=body_size)
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
        path=spec.http_path,
    )
