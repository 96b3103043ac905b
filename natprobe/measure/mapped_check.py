"""``natprobe check --map``: open the ports that are not reachable through the router, prove
them from outside exactly as a manual forward is proven, and close them again.

A separate wrapper around :func:`natprobe.measure.check.check_ports` (which it calls twice:
before, to find what is not reachable; during, while the mappings exist), so the check itself
stays the single place where reachability is decided: the router's word never makes a port
"reachable", only the echo server's probe does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from natprobe.measure.check import check_ports
from natprobe.measure.portmapping import DEFAULT_LEASE_S, mapped_ports, probe_router
from natprobe.reports.check_report import CheckReport
from natprobe.reports.router_report import RouterReport
from natprobe.verdicts.nat_layers import NatLayers, assess_topology
from natprobe.verdicts.reachability import PortSpec, PortVerdict, Protocol
from natprobe.verdicts.router_verdicts import MappingOutcome, with_router_evidence

__all__ = ("MappedCheck", "check_ports_with_mapping")


@dataclass(frozen=True, slots=True)
class MappedCheck:
    """The check report (verdicts with the router's evidence) and what natprobe mapped."""

    report: CheckReport
    router: RouterReport
    mappings: tuple[MappingOutcome, ...]
    lease_s: int
    keep: bool

    def to_dict(self) -> dict[str, Any]:
        data = self.report.to_dict()
        data["router"] = self.router.to_dict()
        data["mappings"] = [m.to_dict() for m in self.mappings]
        return data


async def check_ports_with_mapping(
    server: str,
    ports: Sequence[PortSpec],
    *,
    keep: bool = False,
    lease_s: int = DEFAULT_LEASE_S,
    router_timeout: float = 2.0,
    **check_options: Any,
) -> MappedCheck:
    """Check ``ports``; map those not reachable, check them again, then unmap (unless ``keep``)."""
    before = await check_ports(server, ports, **check_options)
    session = await probe_router(timeout=router_timeout)
    router = session.report
    topology = assess_topology(before.local_ip, before.public_ip, hops=tuple(h.address for h in before.hops),
                               gateway_external=router.external_address)
    before = dataclasses.replace(before, topology=topology)
    todo = [spec for spec, verdict in zip(ports, before.ports) if verdict.reachable is not True]
    if not todo:
        return MappedCheck(before, router, (), lease_s, keep)
    async with mapped_ports(session, [(s.protocol is Protocol.UDP, s.port) for s in todo],
                            lease_s=lease_s, keep=keep) as outcomes:
        created = [spec for spec, outcome in zip(todo, outcomes) if outcome.created]
        # The hop trace was made already: the second check only needs the probes.
        again = {**check_options, "trace": False}
        during = await check_ports(server, created, **again) if created else None
    # ``outcomes`` now says whether each mapping was removed or kept.
    by_port: dict[tuple[Protocol, int], PortVerdict] = {}
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
