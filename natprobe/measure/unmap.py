"""``natprobe router --unmap PORT``: remove this host's mappings of a port before their lease ends.

``natprobe check --map --keep`` leaves mappings for their lease (600 s by default); this
takes them back. Only mappings that point at *this* host are touched, never a forward to
another machine:

* UPnP IGD lists its entries (a router running miniupnpd lists its PCP and NAT-PMP mappings
  there too): an entry of the port whose internal client is this host is deleted with
  ``DeletePortMapping``, and read back to prove it is gone.
* NAT-PMP (RFC 6886 section 3.4): a request with lifetime 0 for the internal port deletes
  the requesting client's own mapping of that port, and nobody else's.

PCP needs the mapping's nonce to delete it (RFC 6887 section 11.1), which a later natprobe
run does not have; a PCP mapping a router does not list over UPnP or NAT-PMP expires with its
lease.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass
from typing import Final

from natprobe.adapters.portmap_udp import GatewaySocket
from natprobe.errors import NetworkError, PortMappingError
from natprobe.measure.portmapping import RouterSession
from natprobe.portmap import natpmp
from natprobe.verdicts.router_verdicts import MappingProtocol

__all__ = ("UnmapOutcome", "UnmapResult", "unmap_port")

logger = logging.getLogger(__name__)

UNMAP_TIMEOUT_S: Final = 5.0
"""Bound of each protocol's removal (the router may be slow, never endless)."""


class UnmapResult(enum.StrEnum):
    REMOVED = "removed"
    CLEARED = "none-left"
    """NAT-PMP accepted the deletion: no mapping of the port to this host remains (it does not
    say whether there was one)."""
    NONE_HERE = "none-to-this-host"
    OTHER_HOST = "points-to-another-host"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class UnmapOutcome:
    """What happened to one protocol's mapping of the port over one mapping protocol."""

    protocol: str
    """``udp`` or ``tcp``."""
    port: int
    via: MappingProtocol
    result: UnmapResult
    detail: str = ""
    """The other host (OTHER_HOST) or why it failed (FAILED)."""


async def _unmap_upnp(session: RouterSession, proto: str, port: int, here: str) -> UnmapOutcome | None:
    igd = session.igd
    if igd is None:
        return None
    try:
        entry = await igd.get_mapping(proto.upper(), port)
    except PortMappingError as exc:
        return UnmapOutcome(proto, port, MappingProtocol.UPNP, UnmapResult.FAILED, str(exc))
    if entry is None:
        return UnmapOutcome(proto, port, MappingProtocol.UPNP, UnmapResult.NONE_HERE)
    if entry.internal_client != here:
        return UnmapOutcome(proto, port, MappingProtocol.UPNP, UnmapResult.OTHER_HOST,
                            f"{entry.internal_client}:{entry.internal_port}")
    try:
        await igd.delete_mapping(proto.upper(), port)
        gone = await igd.get_mapping(proto.upper(), port) is None
    except PortMappingError as exc:
        return UnmapOutcome(proto, port, MappingProtocol.UPNP, UnmapResult.FAILED, str(exc))
    if not gone:
        return UnmapOutcome(proto, port, MappingProtocol.UPNP, UnmapResult.FAILED,
                            "the router still lists the mapping after deleting it")
    return UnmapOutcome(proto, port, MappingProtocol.UPNP, UnmapResult.REMOVED)


async def _unmap_natpmp(session: RouterSession, proto: str, port: int) -> UnmapOutcome | None:
    gateway = session.report.gateway
    if gateway is None or not session.natpmp_ok:
        return None
    try:
        async with GatewaySocket(gateway) as gw:
            reply = await gw.request(
                natpmp.encode_mapping_request(udp=proto == "udp", internal_port=port, external_port=0, lifetime_s=0),
                natpmp.decode_response,
                lambda r: isinstance(r, natpmp.MappingResponse) and r.internal_port == port)
    except NetworkError as exc:
        return UnmapOutcome(proto, port, MappingProtocol.NATPMP, UnmapResult.FAILED, str(exc))
    if not isinstance(reply, natpmp.MappingResponse):
        return UnmapOutcome(proto, port, MappingProtocol.NATPMP, UnmapResult.FAILED, "no answer")
    if reply.result != natpmp.ResultCode.SUCCESS:
        name = reply.result.name if isinstance(reply.result, natpmp.ResultCode) else str(reply.result)
        return UnmapOutcome(proto, port, MappingProtocol.NATPMP, UnmapResult.FAILED, name)
    # Success deletes this client's mapping of the port if there was one (RFC 6886 section 3.4):
    # the reply does not say which, so UPnP's listing, read first, is the witness.
    return UnmapOutcome(proto, port, MappingProtocol.NATPMP, UnmapResult.CLEARED)


async def unmap_port(session: RouterSession, port: int, protocols: tuple[str, ...] = ("udp", "tcp")) -> tuple[UnmapOutcome, ...]:
    """Remove this host's mappings of ``port`` (each of ``protocols``) on the router of ``session``."""
    if not 1 <= port <= 65535:
        raise ValueError(f"port out of range: {port}")
    here = session.report.local_ip
    outcomes: list[UnmapOutcome] = []
    for proto in protocols:
        async with asyncio.timeout(UNMAP_TIMEOUT_S):
            upnp = await _unmap_upnp(session, proto, port, str(here)) if here is not None else None
        if upnp is not None:
            outcomes.append(upnp)
            if upnp.result is UnmapResult.OTHER_HOST:
                continue  # a NAT-PMP delete could not touch it, and nothing of ours is there
        async with asyncio.timeout(UNMAP_TIMEOUT_S):
            natpmp_outcome = await _unmap_natpmp(session, proto, port)
        if natpmp_outcome is not None:
            outcomes.append(natpmp_outcome)
    return tuple(outcomes)
