"""``GET /v1/whoami`` (the requester's address as seen here) and ``GET /v1/openapi.json``."""

from __future__ import annotations

from aiohttp import web

from natprobe.contract import WhoAmI
from natprobe.version import __version__

from natprobe_server.api.guards import SERVER_NAME, api_state, peer_address, record_response
from natprobe_server.api.openapi import openapi_document

__all__ = ("openapi", "whoami")


async def whoami(request: web.Request) -> web.Response:
    """``GET /v1/whoami``."""
    state = api_state(request)
    peer = peer_address(request)
    udp = state.udp
    response = record_response(
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
    # The web page asks each family's address of this server who the visitor is (another
    # origin); a simple GET with no credentials, and the answer only names the asker.
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


async def openapi(request: web.Request) -> web.Response:
    """``GET /v1/openapi.json``."""
    return web.json_response(openapi_document())
