"""The report of ``natprobe check``: each port's verdict, the NAT layers, hairpinning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from natprobe.addressing import IPAddress, IpFamily
from natprobe.recverr import Hop
from natprobe.reports.dns_report import DnsReport
from natprobe.verdicts.nat_layers import TopologyVerdict
from natprobe.verdicts.reachability import PortVerdict, Protocol

__all__ = ("CheckReport", "FamilyResult", "HairpinResult")


@dataclass(frozen=True, slots=True)
class FamilyResult:
    """Whether a family was tested, from which address, and why not when it was not."""

    family: IpFamily
    tested: bool
    local_ip: IPAddress | None
    """The address the check was sent from (over IPv6: the stable global address)."""
    public_ip: IPAddress | None
    """The address the echo server saw over this family."""
    temporary_address: bool
    """``local_ip`` is a temporary privacy address (there was no stable one)."""
    note: str


@dataclass(frozen=True, slots=True)
class HairpinResult:
    protocol: Protocol
    port: int
    works: bool | None
    reason: str
    advice: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckReport:
    server: str
    public_ip: IPAddress
    local_ip: IPAddress | None
    topology: TopologyVerdict
    hops: tuple[Hop, ...]
    ports: tuple[PortVerdict, ...]
    hairpin: tuple[HairpinResult, ...]
    duration_s: float
    families: tuple[FamilyResult, ...] = ()
    """Per address family: tested or not, and why (``ports`` holds every family's verdicts)."""
    has_global_ipv6: bool | None = None
    """This host has a global IPv6 address (None: IPv6 was not asked about)."""
    dns: DnsReport | None = None
    """The ``--host`` name's records against the public addresses (None: no name given)."""

    @property
    def all_reachable(self) -> bool:
        return all(p.reachable for p in self.ports)

    @property
    def any_tested(self) -> bool:
        return any(p.reachable is not None for p in self.ports)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "natprobe/check-report",
            "schema_version": 1,
            "server": self.server,
            "public_ip": str(self.public_ip),
            "local_ip": None if self.local_ip is None else str(self.local_ip),
            "nat_layers": self.topology.layers.value,
            "topology": {
                "layers": self.topology.layers.value,
                "confidence": self.topology.confidence.value,
                "evidence": list(self.topology.evidence),
            },
            "hops": [
                {"ttl": h.ttl, "ip": None if h.address is None else str(h.address), "outcome": h.outcome.value}
                for h in self.hops
            ],
            "ports": [
                {
                    "port": p.port,
                    "protocol": p.protocol.value,
                    "family": p.family.value,
                    "reachable": p.reachable,
                    "status": p.status.value,
                    "reason": p.reason,
                    "advice": list(p.advice),
                    "proof": p.proof,
                    "details": p.details,
                }
                for p in self.ports
            ],
            "hairpin": [
                {"port": h.port, "protocol": h.protocol.value, "works": h.works, "reason": h.reason, "advice": list(h.advice)}
                for h in self.hairpin
            ],
            "families": [
                {
                    "family": f.family.value,
                    "tested": f.tested,
                    "local_ip": None if f.local_ip is None else str(f.local_ip),
                    "public_ip": None if f.public_ip is None else str(f.public_ip),
                    "temporary_address": f.temporary_address,
                    "note": f.note,
                }
                for f in self.families
            ],
            "has_global_ipv6": self.has_global_ipv6,
            "dns": None if self.dns is None else self.dns.body(),
            "duration_ms": round(self.duration_s * 1000, 1),
        }
