"""Ask the default gateway about port mapping (UPnP IGD, NAT-PMP, PCP), and map ports safely.

:func:`probe_router` asks all three concurrently in one short window and reports what each
said. :func:`mapped_ports` is an async context manager that creates mappings with the best
protocol on offer (PCP, then NAT-PMP, then UPnP), each with a finite lease, and removes every
one it created on the way out -- normal exit, error, timeout or cancellation (Ctrl-C cancels
``asyncio.run``'s task, which runs the ``finally``) -- unless asked to keep them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, ip_address
from typing import Any, Final

from natprobe.adapters.capabilities import probe_capabilities
from natprobe.adapters.interfaces import (
    DEFAULT_TOWARD_V6,
    ENV_GATEWAY,
    gateway_from_environment,
    ipv6_source_toward,
    read_local_context,
    source_address_toward,
)
from natprobe.adapters.kept_mappings import KeptMappings
from natprobe.adapters.portmap_udp import GatewaySocket
from natprobe.adapters.upnp_igd import IgdClient, UpnpMapping, discover_igd
from natprobe.addressing import IPAddress
from natprobe.errors import NetworkError, PortMappingError
from natprobe.i18n import _
from natprobe.portmap import natpmp, pcp
from natprobe.reports.router_report import ProtocolAnswer, RouterReport
from natprobe.findings.facility_words import word_limits
from natprobe.findings.router_findings import explain_router
from natprobe.observations import CapabilitySet, Facility
from natprobe.verdicts.limits import leaned_on
from natprobe.verdicts.router_verdicts import (
    ExternalMeaning,
    KeptMapping,
    MappingOutcome,
    MappingProtocol,
    RouterMapping,
    external_meaning,
)

__all__ = ("DEFAULT_LEASE_S", "ENV_GATEWAY", "RouterSession", "delete_pcp_mapping", "gateway_from_environment",
           "probe_router", "mapped_ports")

logger = logging.getLogger(__name__)

DEFAULT_LEASE_S: Final = 600
"""Long enough for a check and for a user to test by hand; short enough that a mapping left by
a killed natprobe expires on its own within ten minutes."""
REMOVE_TIMEOUT_S: Final = 5.0
DESCRIPTION: Final = "natprobe check"
_MISMATCH_CHECK_PORT: Final = 9
"""The discard port: the PCP address check names it, and nobody maps it."""


class RouterSession:
    """What :func:`probe_router` learnt (:attr:`report`, a record), plus the live handles
    :func:`mapped_ports` uses -- a handle, not a record, so it is not a dataclass."""

    __slots__ = ("report", "igd", "pcp_ok", "natpmp_ok", "upnp_mappings", "silent_after_s")

    def __init__(self, report: RouterReport, igd: IgdClient | None = None, pcp_ok: bool = False,
                 natpmp_ok: bool = False, upnp_mappings: tuple[UpnpMapping, ...] = (),
                 silent_after_s: float | None = None) -> None:
        self.report = report
        self.silent_after_s = silent_after_s
        """Some protocol had not answered when the probes were done, after this long; None: all did."""
        self.igd = igd
        self.pcp_ok = pcp_ok
        self.natpmp_ok = natpmp_ok
        self.upnp_mappings = upnp_mappings


def _parse(text: str) -> IPAddress | None:
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


async def _ask_pcp(gateway: IPAddress, timeout_ladder: tuple[float, ...]) -> ProtocolAnswer:
    async with GatewaySocket(gateway, ladder=timeout_ladder) as gw:
        client = ip_address(gw.local_address)
        reply = await gw.request(pcp.encode_announce_request(client), pcp.decode_response,
                                 lambda r: r.opcode == pcp.Opcode.ANNOUNCE)
    if reply is None:
        return ProtocolAnswer(MappingProtocol.PCP, False, detail=_("no answer on UDP {port}", port=5351))
    if reply.version == 0:
        return ProtocolAnswer(MappingProtocol.PCP, False, detail=_("the gateway speaks NAT-PMP only"),
                              result="UNSUPP_VERSION")
    result = reply.result
    if result == pcp.ResultCode.SUCCESS:
        # Some servers (miniupnpd) check the client address only on MAP (RFC 6887 section 8.3
        # asks it of every request). A MAP *deletion* under a fresh nonce cannot remove anything
        # (section 15: another nonce gets NOT_AUTHORIZED) and is checked like any MAP.
        async with GatewaySocket(gateway, ladder=timeout_ladder) as gw:
            nonce = secrets.token_bytes(pcp.NONCE_SIZE)
            check = pcp.encode_map_request(client=ip_address(gw.local_address), nonce=nonce, udp=True,
                                           internal_port=_MISMATCH_CHECK_PORT, external_port=0, lifetime_s=0)
            checked = await gw.request(check, pcp.decode_response, lambda r: r.opcode == pcp.Opcode.MAP)
        if checked is not None and checked.result == pcp.ResultCode.ADDRESS_MISMATCH:
            result = checked.result
    if result == pcp.ResultCode.SUCCESS:
        return ProtocolAnswer(MappingProtocol.PCP, True, detail=_("PCP version {version}", version=reply.version))
    name = result.name if isinstance(result, pcp.ResultCode) else str(result)
    # ADDRESS_MISMATCH is an answer, and the most telling one: a NAT between us and it.
    return ProtocolAnswer(MappingProtocol.PCP, True, detail=_("PCP version {version}", version=reply.version), result=name)


async def _ask_natpmp(gateway: IPAddress, timeout_ladder: tuple[float, ...]) -> ProtocolAnswer:
    async with GatewaySocket(gateway, ladder=timeout_ladder) as gw:
        reply = await gw.request(natpmp.encode_external_address_request(), natpmp.decode_response,
                                 lambda r: not isinstance(r, natpmp.MappingResponse))
    if reply is None:
        return ProtocolAnswer(MappingProtocol.NATPMP, False, detail=_("no answer on UDP {port}", port=5351))
    if isinstance(reply, natpmp.UnsupportedVersion):
        return ProtocolAnswer(MappingProtocol.NATPMP, False, detail=_("the gateway answered with version {version}", version=reply.version),
                              result="UNSUPPORTED_VERSION")
    if not isinstance(reply, natpmp.ExternalAddressResponse):  # filtered out above; typed here
        return ProtocolAnswer(MappingProtocol.NATPMP, False, detail=_("an unexpected reply"))
    if reply.result != natpmp.ResultCode.SUCCESS:
        name = reply.result.name if isinstance(reply.result, natpmp.ResultCode) else str(reply.result)
        return ProtocolAnswer(MappingProtocol.NATPMP, True, detail=_("no external address"), result=name)
    return ProtocolAnswer(MappingProtocol.NATPMP, True, external_address=reply.external_address)


async def _ask_upnp(gateway: IPv4Address, timeout: float,
                    list_mappings: bool = True) -> tuple[ProtocolAnswer, IgdClient | None, tuple[UpnpMapping, ...]]:
    try:
        igd = await discover_igd(gateway, timeout=timeout)
    except PortMappingError as exc:
        return ProtocolAnswer(MappingProtocol.UPNP, False, detail=str(exc)), None, ()
    if igd is None:
        return ProtocolAnswer(MappingProtocol.UPNP, False, detail=_("no UPnP IGD answered")), None, ()
    service = igd.service_type.rsplit(":", 2)
    detail = f"IGD:{igd.igd_version}, {service[-2]}:{service[-1]}"
    try:
        external_text = await igd.external_address()
    except PortMappingError as exc:
        return ProtocolAnswer(MappingProtocol.UPNP, True, detail=detail, result=str(exc)), igd, ()
    try:
        mappings = await igd.list_mappings() if list_mappings else ()
    except PortMappingError:
        mappings = ()
    external = _parse(external_text)
    return ProtocolAnswer(MappingProtocol.UPNP, True, external, detail=detail,
                          result=None if external else _("no external address")), igd, mappings


async def _ask_upnp_unless_known(
    natpmp_task: asyncio.Task[ProtocolAnswer], gateway: IPv4Address, timeout: float,
) -> tuple[ProtocolAnswer, IgdClient | None, tuple[UpnpMapping, ...]]:
    """UPnP for evidence only: once NAT-PMP has told the external address (one datagram, the
    quickest of the three), UPnP's description and SOAP exchange (and the client library
    behind them) would add nothing but time."""
    upnp = asyncio.ensure_future(_ask_upnp(gateway, timeout, False))
    try:
        await asyncio.wait({natpmp_task, upnp}, return_when=asyncio.FIRST_COMPLETED)
        if not upnp.done() and natpmp_task.done() and not natpmp_task.cancelled() and natpmp_task.exception() is None:
            if natpmp_task.result().external_address is not None:
                return ProtocolAnswer(MappingProtocol.UPNP, False,
                                      detail=_("not asked further: NAT-PMP gave the external address")), None, ()
        return await upnp
    finally:
        if not upnp.done():
            upnp.cancel()
            await asyncio.gather(upnp, return_exceptions=True)


async def _unfailing(protocol: MappingProtocol, ask: Coroutine[Any, Any, ProtocolAnswer]) -> ProtocolAnswer:
    """An OS error on the way to the gateway is that protocol's answer, not the report's end."""
    try:
        return await ask
    except NetworkError as exc:
        return ProtocolAnswer(protocol, False, detail=str(exc))


async def probe_router(*, gateway: IPAddress | None = None, timeout: float = 2.0,
                       until: asyncio.Event | None = None, list_mappings: bool = True,
                       capabilities: CapabilitySet | None = None) -> RouterSession:
    """Ask the default gateway (or ``gateway``) over PCP, NAT-PMP and UPnP, concurrently.

    Evidence, not a mapping: each protocol gets one request and one LAN round trip's worth of
    patience, bounded by ``timeout`` -- the retransmission schedules of RFC 6887 section 8.1.1
    and RFC 6886 section 3.1 are for creating mappings. When ``until`` is set first (the probes
    it accompanies are done), the protocols still silent are reported as such at once
    (:attr:`RouterSession.silent_after_s`), never waited for. ``list_mappings`` reads the
    router's UPnP table too (one SOAP call per entry), which only ``--map`` needs.
    ``capabilities``: what this machine can measure (default: probed once); the report's
    ``limits`` name the missing facilities its answer leaned on."""
    started = time.monotonic()
    capabilities = capabilities or probe_capabilities()
    leaned: list[Facility] = []
    # Whether this host has global IPv6 does not depend on the router: read it first, so even a
    # host without an IPv4 gateway learns it (a UDP connect() picks the source; nothing is sent).
    flags = capabilities.has(Facility.IPV6_TEMPORARY)
    ipv6_address = ipv6_source_toward(DEFAULT_TOWARD_V6, None if flags else ()).address
    if ipv6_address is not None:
        leaned.append(Facility.IPV6_TEMPORARY)
    if gateway is None:
        gateway = gateway_from_environment()
    if gateway is None:
        leaned.append(Facility.INTERFACES)  # the default gateway is the interfaces' to tell
        if capabilities.has(Facility.INTERFACES):
            context = read_local_context()
            gateway = context.gateway_v4.address if context.gateway_v4 is not None else None
    limits = word_limits(leaned_on(capabilities, leaned))
    if gateway is None or not isinstance(gateway, IPv4Address):
        report = RouterReport(None, None, (), None, ExternalMeaning.UNKNOWN, False, (), time.monotonic() - started,
                              ipv6_address, ipv6_address is not None, limits=limits)
        return RouterSession(dataclasses.replace(report, findings=explain_router(report)))
    try:
        local_ip: IPAddress | None = source_address_toward(gateway)
    except NetworkError:
        local_ip = None
    ladder = (timeout,)
    pcp_task = asyncio.create_task(_unfailing(MappingProtocol.PCP, _ask_pcp(gateway, ladder)))
    natpmp_task = asyncio.create_task(_unfailing(MappingProtocol.NATPMP, _ask_natpmp(gateway, ladder)))
    upnp_task = asyncio.create_task(
        _ask_upnp(gateway, timeout, list_mappings) if list_mappings
        else _ask_upnp_unless_known(natpmp_task, gateway, timeout))
    tasks = (pcp_task, natpmp_task, upnp_task)
    silent_after_s = await _until_done_or(tasks, until, started)
    silent = _("no answer within {ms} ms", ms=round(1000 * (silent_after_s or 0.0)))
    pcp_answer = pcp_task.result() if not pcp_task.cancelled() else ProtocolAnswer(MappingProtocol.PCP, False, detail=silent)
    natpmp_answer = (natpmp_task.result() if not natpmp_task.cancelled()
                     else ProtocolAnswer(MappingProtocol.NATPMP, False, detail=silent))
    if upnp_task.cancelled():
        upnp_task_result: tuple[ProtocolAnswer, IgdClient | None, tuple[UpnpMapping, ...]] = (
            ProtocolAnswer(MappingProtocol.UPNP, False, detail=silent), None, ())
    else:
        upnp_task_result = upnp_task.result()
    upnp_answer, igd, listed = upnp_task_result
    answers = (pcp_answer, natpmp_answer, upnp_answer)
    external = next((a.external_address for a in answers if a.external_address is not None), None)
    meaning = external_meaning(external)
    if external is None and any(a.answered for a in answers):
        meaning = ExternalMeaning.NONE
    here = str(local_ip) if local_ip is not None else None
    mappings = tuple(
        RouterMapping(m.protocol, m.external_port, m.internal_client, m.internal_port, m.description,
                      m.lease_s, m.internal_client == here)
        for m in listed
    )
    report = RouterReport(
        gateway=gateway, local_ip=local_ip, answers=answers, external_address=external, meaning=meaning,
        address_mismatch=answers[0].result == "ADDRESS_MISMATCH", mappings=mappings,
        duration_s=time.monotonic() - started, ipv6_address=ipv6_address, has_global_ipv6=ipv6_address is not None,
        limits=limits,
    )
    report = dataclasses.replace(report, findings=explain_router(report))
    pcp_ok = answers[0].answered and answers[0].result is None
    natpmp_ok = answers[1].answered and answers[1].result is None
    return RouterSession(report, igd, pcp_ok, natpmp_ok, listed, silent_after_s)


async def _until_done_or(tasks: Sequence[asyncio.Task[Any]], until: asyncio.Event | None,
                         started: float) -> float | None:
    """Wait for ``tasks``; if ``until`` is set first, cancel those still running and return
    how long they had been waiting (None: every task finished)."""
    stopper = asyncio.ensure_future(until.wait()) if until is not None else None
    waiting: set[asyncio.Future[Any]] = set(tasks)
    try:
        while waiting:
            done, waiting = await asyncio.wait(waiting | ({stopper} if stopper is not None else set()),
                                               return_when=asyncio.FIRST_COMPLETED)
            if stopper is not None and stopper in done:
                break
            if stopper is not None:
                waiting.discard(stopper)
    finally:
        if stopper is not None:
            stopper.cancel()
        unfinished = [t for t in tasks if not t.done()]
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
    if not any(t.cancelled() for t in tasks):
        return None
    return time.monotonic() - started


# --------------------------------------------------------------------------- mapping


@dataclass
class _Live:
    outcome: MappingOutcome
    nonce: bytes = b""


async def _map_pcp(gateway: IPAddress, udp: bool, port: int, lease_s: int,
                   nonce: bytes) -> tuple[_Live | None, str | None]:
    async with GatewaySocket(gateway) as gw:
        client = ip_address(gw.local_address)
        request = pcp.encode_map_request(client=client, nonce=nonce, udp=udp, internal_port=port,
                                         external_port=port, lifetime_s=lease_s)
        reply = await gw.request(request, pcp.decode_response, lambda r: r.map is None or r.map.nonce == nonce)
    if reply is None:
        return None, _("PCP: no answer")
    if reply.result != pcp.ResultCode.SUCCESS or reply.map is None:
        name = reply.result.name if isinstance(reply.result, pcp.ResultCode) else str(reply.result)
        return None, _("the router refused the PCP mapping ({result})", result=name)
    outcome = MappingOutcome("udp" if udp else "tcp", port, MappingProtocol.PCP, True, reply.map.external_port,
                             reply.lifetime_s, reply.map.external_address)
    return _Live(outcome, nonce), None


async def _map_natpmp(gateway: IPAddress, udp: bool, port: int, lease_s: int,
                      external: IPAddress | None) -> tuple[_Live | None, str | None]:
    async with GatewaySocket(gateway) as gw:
        reply = await gw.request(
            natpmp.encode_mapping_request(udp=udp, internal_port=port, external_port=port, lifetime_s=lease_s),
            natpmp.decode_response, lambda r: isinstance(r, natpmp.MappingResponse) and r.internal_port == port)
    if not isinstance(reply, natpmp.MappingResponse):
        return None, _("NAT-PMP: no answer")
    if reply.result != natpmp.ResultCode.SUCCESS:
        name = reply.result.name if isinstance(reply.result, natpmp.ResultCode) else str(reply.result)
        return None, _("the router refused the NAT-PMP mapping ({result})", result=name)
    outcome = MappingOutcome("udp" if udp else "tcp", port, MappingProtocol.NATPMP, True, reply.external_port,
                             reply.lifetime_s, external)
    return _Live(outcome), None


async def _map_upnp(igd: IgdClient, here: str, udp: bool, port: int, lease_s: int,
                    external: IPAddress | None) -> tuple[_Live | None, str | None, RouterMapping | None]:
    proto = "UDP" if udp else "TCP"
    try:
        existing = await igd.get_mapping(proto, port)
    except PortMappingError:
        existing = None
    if existing is not None and existing.internal_client != here:
        rule = RouterMapping(proto, port, existing.internal_client, existing.internal_port, existing.description,
                             existing.lease_s, False)
        return None, None, rule
    try:
        await igd.add_mapping(proto, port, here, port, lease_s, DESCRIPTION)
    except PortMappingError as exc:
        if exc.code == 725:  # OnlyPermanentLeasesSupported: never leave a permanent one behind
            return None, _("the router only accepts permanent UPnP mappings, which natprobe does not create"), None
        return None, _("the router refused the UPnP mapping: {error}", error=exc), None
    outcome = MappingOutcome(proto.lower(), port, MappingProtocol.UPNP, True, port, lease_s, external)
    return _Live(outcome), None, None


async def delete_pcp_mapping(gateway: IPAddress, *, udp: bool, internal_port: int,
                             nonce: bytes) -> pcp.PcpResponse | None:
    """Delete a PCP mapping: a MAP with lifetime 0 and the nonce, protocol and internal port that
    made it (RFC 6887 section 15; another nonce gets NOT_AUTHORIZED). SUCCESS also when the
    mapping was gone already. The gateway's reply, or None when it did not answer."""
    async with GatewaySocket(gateway) as gw:
        request = pcp.encode_map_request(client=ip_address(gw.local_address), nonce=nonce, udp=udp,
                                         internal_port=internal_port, external_port=0, lifetime_s=0)
        return await gw.request(request, pcp.decode_response, lambda r: r.map is None or r.map.nonce == nonce)


async def _remove(session: RouterSession, live: _Live) -> bool:
    outcome = live.outcome
    gateway = session.report.gateway
    udp = outcome.protocol == "udp"
    try:
        async with asyncio.timeout(REMOVE_TIMEOUT_S):
            if outcome.via is MappingProtocol.PCP and gateway is not None:
                reply = await delete_pcp_mapping(gateway, udp=udp, internal_port=outcome.port, nonce=live.nonce)
                return reply is not None and reply.result == pcp.ResultCode.SUCCESS
            if outcome.via is MappingProtocol.NATPMP and gateway is not None:
                async with GatewaySocket(gateway) as gw:
                    reply2 = await gw.request(
                        natpmp.encode_mapping_request(udp=udp, internal_port=outcome.port, external_port=0,
                                                      lifetime_s=0),
                        natpmp.decode_response, lambda r: isinstance(r, natpmp.MappingResponse))
                return isinstance(reply2, natpmp.MappingResponse) and reply2.result == natpmp.ResultCode.SUCCESS
            if outcome.via is MappingProtocol.UPNP and session.igd is not None:
                await session.igd.delete_mapping(outcome.protocol.upper(), outcome.external_port or outcome.port)
                return True
    except (PortMappingError, NetworkError, TimeoutError) as exc:
        logger.warning("could not remove the %s mapping of port %d: %s", outcome.via, outcome.port, exc)
    return False


async def _same_port(session: RouterSession, live: _Live) -> tuple[_Live | None, str | None]:
    """PCP and NAT-PMP may grant another external port when the one asked for is taken (by
    another host, often): the service would not be reachable on its port, so undo it."""
    outcome = live.outcome
    if outcome.external_port in (None, outcome.port):
        return live, None
    removed = await asyncio.shield(_remove(session, live))
    facts = {"external_port": outcome.external_port, "port": outcome.port, "lease": outcome.lease_s}
    if removed:
        return None, _("the router offered external port {external_port} instead of {port} (that port is already "
                       "taken on the router, perhaps forwarded to another host)", **facts)
    return None, _("the router offered external port {external_port} instead of {port} (that port is already "
                   "taken on the router, perhaps forwarded to another host); removing that offer failed, it expires "
                   "after {lease} s", **facts)


@contextlib.asynccontextmanager
async def _undone_if_cancelled(session: RouterSession, via: MappingProtocol, udp: bool, port: int,
                               nonce: bytes = b"") -> AsyncIterator[None]:
    """Ctrl-C while a request is in flight: the router may have made the mapping without
    natprobe hearing back, so ask for its deletion anyway. Safe for PCP (only the holder of the
    nonce can delete) and NAT-PMP (a gateway deletes only this client's NAT-PMP mapping of
    that internal port, which natprobe's request would have replaced anyway)."""
    try:
        yield
    except asyncio.CancelledError:
        guess = MappingOutcome("udp" if udp else "tcp", port, via, True, port)
        await asyncio.shield(_remove(session, _Live(guess, nonce)))
        raise


async def _create(session: RouterSession, udp: bool, port: int, lease_s: int) -> _Live | MappingOutcome:
    report = session.report
    gateway = report.gateway
    proto = "udp" if udp else "tcp"
    here = str(report.local_ip) if report.local_ip is not None else None
    reasons: list[str] = []
    # An existing rule for this port that points elsewhere is the finding; never replace it.
    listed = next((m for m in session.upnp_mappings if m.protocol == proto.upper() and m.external_port == port), None)
    if listed is not None and listed.internal_client != here:
        rule = RouterMapping(listed.protocol, port, listed.internal_client, listed.internal_port, listed.description,
                             listed.lease_s, False)
        return MappingOutcome(proto, port, None, False, conflict=rule)
    if report.address_mismatch:
        return MappingOutcome(proto, port, None, False, refused=_(
            "a NAT sits between this host and the gateway (PCP ADDRESS_MISMATCH): a mapping there would point "
            "at that NAT, not at this host, so natprobe asked for none"))
    if gateway is not None and session.pcp_ok:
        nonce = secrets.token_bytes(pcp.NONCE_SIZE)
        async with _undone_if_cancelled(session, MappingProtocol.PCP, udp, port, nonce):
            live, why = await _map_pcp(gateway, udp, port, lease_s, nonce)
        if live is not None:
            live, why = await _same_port(session, live)
            if live is not None:
                return live
        reasons.append(why or "")
    if gateway is not None and session.natpmp_ok:
        async with _undone_if_cancelled(session, MappingProtocol.NATPMP, udp, port):
            live, why = await _map_natpmp(gateway, udp, port, lease_s, report.external_address)
        if live is not None:
            live, why = await _same_port(session, live)
            if live is not None:
                return live
        reasons.append(why or "")
    if session.igd is not None and here is not None:
        # No blind undo for UPnP: a deletion by port could remove a forward that was not natprobe's.
        live, why, conflict = await _map_upnp(session.igd, here, udp, port, lease_s, report.external_address)
        if conflict is not None:
            return MappingOutcome(proto, port, None, False, conflict=conflict)
        if live is not None:
            return live
        reasons.append(why or "")
    if not reasons:
        reasons.append(_("no router answered UPnP, NAT-PMP or PCP, so natprobe could not ask for a mapping"))
    return MappingOutcome(proto, port, None, False, refused="; ".join(dict.fromkeys(r for r in reasons if r)))


@contextlib.asynccontextmanager
async def mapped_ports(
    session: RouterSession, ports: Sequence[tuple[bool, int]], *, lease_s: int = DEFAULT_LEASE_S, keep: bool = False,
    kept: KeptMappings | None = None,
) -> AsyncIterator[list[MappingOutcome]]:
    """Create a mapping of each ``(udp, port)`` to this host; yield the outcomes; remove them.

    The list yielded is updated in place on exit (``removed``), so a caller that keeps it
    sees the final state. Removal runs on every exit path and is bounded in time. With
    ``keep``, each mapping is recorded as soon as it exists, in ``kept`` (default: the user's
    state file, :mod:`natprobe.adapters.kept_mappings`), for ``natprobe router --unmap``.
    """
    if not 0 < lease_s <= 86400:
        raise ValueError(_("the lease must be within 1..86400 seconds: natprobe never creates a permanent mapping"))
    outcomes: list[MappingOutcome] = []
    live: list[_Live] = []
    record = (kept if kept is not None else KeptMappings()) if keep else None
    try:
        for udp, port in ports:
            made = await _create(session, udp, port, lease_s)
            if isinstance(made, _Live):
                live.append(made)
                outcomes.append(made.outcome)
                if record is not None:
                    _record_kept(record, session, made, lease_s)
            else:
                outcomes.append(made)
        yield outcomes
    finally:
        for item in live:
            index = outcomes.index(item.outcome)
            if keep:
                outcomes[index] = _replace(item.outcome, kept=True)
                continue
            # Shielded: a second cancellation must not interrupt the clean-up halfway.
            removed = await asyncio.shield(_remove(session, item))
            outcomes[index] = _replace(item.outcome, removed=removed)


def _record_kept(record: KeptMappings, session: RouterSession, live: _Live, lease_s: int) -> None:
    outcome, gateway = live.outcome, session.report.gateway
    if gateway is None or outcome.via is None:
        return
    record.add(KeptMapping(outcome.protocol, outcome.port, outcome.external_port or outcome.port, gateway,
                           outcome.via, time.time() + (outcome.lease_s or lease_s), live.nonce))


def _replace(outcome: MappingOutcome, *, kept: bool = False, removed: bool | None = None) -> MappingOutcome:
    return dataclasses.replace(outcome, kept=kept, removed=removed)
