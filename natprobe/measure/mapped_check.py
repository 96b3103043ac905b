"""``natprobe check --map``: open the ports that are not reachable through the router, prove
them from outside exactly as a manual forward is proven, and close them again.

A separate wrapper around :func:`natprobe.measure.check.check_ports` (which it calls twice:
before, to find what is not reachable; during, while the mappings exist), so the check itself
stays the single place where reachability is decided: the router's word never makes a port
"reachable", only the echo server's probe does.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from natprobe.measure.check import CheckOptions, check_ports
from natprobe.contract.terms import TransportProtocol
from natprobe.observations import Facility
from natprobe.verdicts.port_spec import PortSpec

if TYPE_CHECKING:
    from natprobe.adapters.kept_mappings import KeptMappings
    from natprobe.measure.portmapping import RouterSession
    from natprobe.observations import CapabilitySet
    from natprobe.reports.check_report import CheckReport
    from natprobe.reports.router_report import MappedCheck, RouterReport
    from natprobe.verdicts.reachability import PortVerdict

__all__ = ("check_ports_with_router", "check_ports_with_mapping")

DEFAULT_LEASE_S = 600
"""``natprobe.measure.portmapping.DEFAULT_LEASE_S`` (a test keeps them equal), not imported
from there: the router's modules load only once the check's first packet is out."""


async def _ask_router(timeout: float, until: asyncio.Event | None, list_mappings: bool,
                      capabilities: CapabilitySet | None) -> RouterSession:
    # One turn of the loop first: the check, started just before, creates its per-family tasks
    # and opens its connection to the echo server (the first packet); the router's modules
    # then load in a thread while that connection is under way. Only a matter of speed.
    await asyncio.sleep(0)
    await asyncio.to_thread(importlib.import_module, "natprobe.measure.portmapping")
    from natprobe.measure.portmapping import probe_router

    return await probe_router(timeout=timeout, until=until, list_mappings=list_mappings, capabilities=capabilities)


async def _checked_with_router(server: str, ports: Sequence[PortSpec], router_timeout: float,
                               options: CheckOptions, *, bounded: bool) -> tuple[CheckReport, RouterSession]:
    """The check with the router asked beside it. ``bounded``: the router's evidence counts only
    if it has arrived when the probes are done (a silent router costs nothing); else (``--map``,
    which needs the router's full answer) it is waited for, up to ``router_timeout``."""
    probes_done = asyncio.Event() if bounded else None
    # Not a TaskGroup: the check's own errors (ServerError: nothing could be tested) must reach
    # the caller as themselves, not wrapped in an ExceptionGroup; the router probe never raises.
    router_task = asyncio.create_task(_ask_router(router_timeout, probes_done, not bounded, options.capabilities))
    try:
        report = await check_ports(server, ports, options)
    except BaseException:
        router_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await router_task
        raise
    if probes_done is not None:
        probes_done.set()
    session = await router_task
    from natprobe.findings.router_findings import router_silent
    from natprobe.findings.router_reasons import with_gateway_topology
    from natprobe.findings.topology_words import assess_topology

    # Without the interfaces the router could not be found: the check's router evidence is what
    # that limited, and the check's limits say so too.
    unknown_gateway = tuple(e for e in session.report.limits if e.facility is Facility.INTERFACES)
    if unknown_gateway and not any(e.facility is Facility.INTERFACES for e in report.limits):
        report = dataclasses.replace(report, limits=(*report.limits, *unknown_gateway))
    gateway = session.report.external_address
    if gateway is None:
        if session.silent_after_s is not None and session.report.gateway is not None:
            report = dataclasses.replace(report, findings=(*report.findings, router_silent(session.silent_after_s)))
        return report, session
    topology = assess_topology(report.local_ip, report.public_ip, hops=tuple(h.address for h in report.hops),
                               gateway_external=gateway)
    verdicts = tuple(with_gateway_topology(v, report.topology.layers, topology.layers, gateway) for v in report.ports)
    return dataclasses.replace(report, topology=topology, ports=verdicts), session


async def check_ports_with_router(
    server: str, ports: Sequence[PortSpec], options: CheckOptions = CheckOptions(), *, router_timeout: float = 1.0,
) -> tuple[CheckReport, RouterReport]:
    """:func:`check_ports`, with the router asked (read-only, concurrently) for its external
    address, which joins the topology evidence and explains a missing forward (CGNAT, double NAT).
    The router's answer is not waited for once the probes are done: its silence then becomes
    the ``router-silent`` finding."""
    report, session = await _checked_with_router(server, ports, router_timeout, options, bounded=True)
    return report, session.report


async def check_ports_with_mapping(
    server: str,
    ports: Sequence[PortSpec],
    options: CheckOptions = CheckOptions(),
    *,
    keep: bool = False,
    lease_s: int = DEFAULT_LEASE_S,
    router_timeout: float = 2.0,
    kept: KeptMappings | None = None,
) -> MappedCheck:
    """Check ``ports``; map those not reachable, check them again, then unmap (unless ``keep``:
    then they are recorded in ``kept``, by default the user's state file, see :func:`mapped_ports`)."""
    from natprobe.findings.router_reasons import with_router_evidence
    from natprobe.measure.portmapping import mapped_ports
    from natprobe.reports.router_report import MappedCheck
    from natprobe.verdicts.nat_layers import NatLayers

    before, session = await _checked_with_router(server, ports, router_timeout, options, bounded=False)
    router = session.report
    topology = before.topology
    todo = [spec for spec, verdict in zip(ports, before.ports) if verdict.reachable is not True]
    if not todo or not before.server_reached:  # no echo server to prove a mapping: map nothing
        return MappedCheck(before, router, (), lease_s, keep)
    async with mapped_ports(session, [(s.protocol is TransportProtocol.UDP, s.port) for s in todo],
                            lease_s=lease_s, keep=keep, kept=kept) as outcomes:
        created = [spec for spec, outcome in zip(todo, outcomes) if outcome.created]
        # The hop trace was made already: the second check only needs the probes.
        again = dataclasses.replace(options, trace=False)
        during = await check_ports(server, created, again) if created else None
    # ``outcomes`` now says whether each mapping was removed or kept.
    by_port: dict[tuple[TransportProtocol, int], PortVerdict] = {}
    if during is not None:
        by_port = {(v.protocol, v.port): v for v in during.ports}
    cgnat = topology.layers is NatLayers.CGNAT
    final: list[PortVerdict] = []
    outcome_of = {(s.protocol, s.port): o for s, o in zip(todo, outcomes)}
    for verdict in before.ports:
        outcome = outcome_of.get((verdict.protocol, verdict.port))
        if outcome is None:
            final.append(verdict)
            continue
        probed = by_port.get((verdict.protocol, verdict.port), verdict)
        final.append(with_router_evidence(probed, outcome, cgnat_seen=cgnat))
    report = dataclasses.replace(before, ports=tuple(final))
    return MappedCheck(report, router, tuple(outcomes), lease_s, keep)
