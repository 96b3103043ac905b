"""``natprobe router --unmap PORT``: remove this host's mappings of a port before their lease ends.

``natprobe check --map --keep`` leaves mappings for their lease (600 s by default); this
takes them back. Only mappings that point at *this* host are touched, never a forward to
another machine:

* UPnP IGD lists its entries (a router running miniupnpd lists its PCP and NAT-PMP mappings
  there too): an entry of the port whose internal client is this host is deleted with
  ``DeletePortMapping``, and read back to prove it is gone.
* NAT-PMP (RFC 6886 section 3.4): a request with lifetime 0 for the internal port deletes
  the requesting client's own mapping of that port, and nobody else's.
* PCP (RFC 6887 section 15): a MAP with lifetime 0 deletes a mapping only when it carries the
  nonce that made it. ``check --map --keep`` records that nonce
  (:mod:`natprobe.adapters.kept_mappings`), so a PCP mapping natprobe kept on this gateway is
  deleted first, then its record is dropped. A PCP mapping natprobe has no record of (another
  program's, or a record lost) expires with its lease.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from natprobe.adapters.portmap_udp import GatewaySocket
from natprobe.errors import NetworkError, PortMappingError
from natprobe.adapters.kept_mappings import KeptMappings
from natprobe.measure.portmapping import RouterSession, delete_pcp_mapping
from natprobe.portmap import natpmp, pcp
from natprobe.verdicts.router_verdicts import KeptMapping, MappingProtocol

__all__ = ("UnmapOutcome", "UnmapResult", "kept_on", "unmap_port")

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


async def _unmap_pcp(session: RouterSession, record: KeptMapping) -> UnmapOutcome:
    """Delete a PCP mapping natprobe kept, with its recorded nonce."""
    proto, port = record.protocol, record.internal_port
    try:
        reply = await delete_pcp_mapping(record.gateway, udp=proto == "udp", internal_port=port, nonce=record.nonce)
    except NetworkError as exc:
        return UnmapOutcome(proto, port, MappingProtocol.PCP, UnmapResult.FAILED, str(exc))
    if reply is None:
        return UnmapOutcome(proto, port, MappingProtocol.PCP, UnmapResult.FAILED, "no answer")
    if reply.result != pcp.ResultCode.SUCCESS:
        name = reply.result.name if isinstance(reply.result, pcp.ResultCode) else str(reply.result)
        return UnmapOutcome(proto, port, MappingProtocol.PCP, UnmapResult.FAILED, name)
    # SUCCESS: the mapping of that nonce no longer exists (deleted now, or gone already).
    return UnmapOutcome(proto, port, MappingProtocol.PCP, UnmapResult.REMOVED)


def kept_on(session: RouterSession, records: Sequence[KeptMapping], port: int, proto: str) -> list[KeptMapping]:
    """The records of ``port`` (internal or external) over ``proto`` on this session's gateway."""
    return [r for r in records if r.protocol == proto and port in (r.internal_port, r.external_port)
            and r.gateway == session.report.gateway]


async def unmap_port(session: RouterSession, port: int, protocols: tuple[str, ...] = ("udp", "tcp"), *,
                     kept: KeptMappings | None = None) -> tuple[UnmapOutcome, ...]:
    """Remove this host's mappings of ``port`` (each of ``protocols``) on the router of ``session``;
    a PCP mapping with the nonce ``kept`` recorded for it (default: the user's state file),
    whose records of removed mappings are then dropped."""
    if not 1 <= port <= 65535:
        raise ValueError(f"port out of range: {port}")
    store = kept if kept is not None else KeptMappings()
    records = store.load()
    here = session.report.local_ip
    outcomes: list[UnmapOutcome] = []
    removed: list[KeptMapping] = []
    for proto in protocols:
        mine = kept_on(session, records, port, proto)
        for record in mine:
            if record.via is MappingProtocol.PCP:
                async with asyncio.timeout(UNMAP_TIMEOUT_S):
                    outcome = await _unmap_pcp(session, record)
                outcomes.append(outcome)
                if outcome.result is UnmapResult.REMOVED:
                    removed.append(record)
        count = len(outcomes)
        async with asyncio.timeout(UNMAP_TIMEOUT_S):
            upnp = await _unmap_upnp(session, proto, port, str(here)) if here is not None else None
        if upnp is not None:
            outcomes.append(upnp)
        # A mapping to another host: a NAT-PMP delete could not touch it, and nothing of ours is there.
        if upnp is None or upnp.result is not UnmapResult.OTHER_HOST:
            async with asyncio.timeout(UNMAP_TIMEOUT_S):
                natpmp_outcome = await _unmap_natpmp(session, proto, port)
            if natpmp_outcome is not None:
                outcomes.append(natpmp_outcome)
        # A UPnP or NAT-PMP record is done with once the router says nothing of ours is left.
        answers = outcomes[count:]
        if answers and not any(o.result is UnmapResult.FAILED for o in answers):
            removed += [r for r in mine if r.via is not MappingProtocol.PCP]
    if removed:
        store.discard(removed)
    return tuple(outcomes)
