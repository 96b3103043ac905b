"""The report of ``natprobe check``: each port's verdict, the NAT layers, hairpinning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from natprobe.addressing import IPAddress
from natprobe.recverr import Hop
from natprobe.verdicts.nat_layers import TopologyVerdict
from natprobe.contract import TransportProtocol, to_json_object
from natprobe.verdicts.reachability import PortVerdict

__all__ = ("CheckReport", "HairpinResult")


@dataclass(frozen=True, slots=True)
class HairpinResult:
    protocol: TransportProtocol
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
                    "reachable": p.reachable,
                    "status": p.status.value,
                    "reason": p.reason,
                    "advice": list(p.advice),
                    "proof": p.proof,
                    "details": {} if p.details is None else to_json_object(p.details),
                }
                for p in self.ports
            ],
            "hairpin": [
                {"port": h.port, "protocol": h.protocol.value, "works": h.works, "reason": h.reason, "advice": list(h.advice)}
                for h in self.hairpin
            ],
            "duration_ms": round(self.duration_s * 1000, 1),
        }
