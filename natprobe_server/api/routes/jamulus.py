"""``POST /v1/jamulus/hole-punch``: same token, in-flight and rate rules as ``/v1/probe``."""

from __future__ import annotations

import logging

from aiohttp import web

from natprobe.contract import decode_hole_punch_request, encode
from natprobe.errors import NetworkError

from natprobe_server.api.guards import ApiError, ErrorCode, accept, admitted, api_state, bad_request, record_response
from natprobe_server.jamulus.directory import RegistrationNotFound

logger = logging.getLogger(__name__)

__all__ = ("jamulus_hole_punch",)


async def jamulus_hole_punch(request: web.Request) -> web.Response:
    """``POST /v1/jamulus/hole-punch``: same token, in-flight and rate rules as ``/v1/probe``."""
    state = api_state(request)
    config = state.config
    accepted = await accept(request, decode_hole_punch_request)
    name, peer = accepted.request.name, accepted.peer
    directory = state.jamulus
    if directory is None:
        raise ApiError(
            404,
            ErrorCode.NOT_FOUND,
            "this echo server does not play a Jamulus directory (its operator can turn it on with --jamulus-port)",
        )
    if peer.ip.version != 4 or config.probe_source_ip.version != 4:
        bad_request("Jamulus directories and hole punches are IPv4 only; connect to the API over IPv4")
    with admitted(state, accepted.source):
        try:
            result = await directory.hole_punch(
                name, peer.ip, source_ip=config.probe_source_ip, byte_budget=accepted.body_size
            )
        except RegistrationNotFound as exc:
            raise ApiError(404, ErrorCode.NOT_FOUND, str(exc)) from exc
        except ValueError as exc:
            bad_request(str(exc))
        except NetworkError as exc:
            logger.error("Jamulus hole punch for %s failed: %s", peer.ip, exc)
            raise ApiError(500, ErrorCode.INTERNAL, f"the server could not run the hole punch: {exc}") from exc
        state.probes += 1
    verdict = "punched" if result.hole_punch.received else "not_punched"
    logger.info("probe-back for %s: udp/jamulus-hole-punch to %s (%s): %s %s", peer.ip, result.published.address, name,
                verdict, encode(result).decode())
    if state.on_probe is not None:
        state.on_probe("udp", "jamulus-hole-punch", verdict)
    return record_response(result)
