"""The report of ``natprobe router`` and the mapping records of ``natprobe check --map``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from natprobe.addressing import IPAddress
from natprobe.verdicts.router_verdicts import (
    ExternalMeaning,
    MappingOutcome,
    MappingProtocol,
    RouterMapping,
    mapping_dict,
)

__all__ = (
    "ROUTER_SCHEMA_ID",
    "ROUTER_VERSION",
    "MappingProtocol",
    "ExternalMeaning",
    "ProtocolAnswer",
    "RouterMapping",
    "RouterReport",
    "MappingOutcome",
)


ROUTER_SCHEMA_ID = "natprobe/router"
ROUTER_VERSION = 1


@dataclass(frozen=True, slots=True)
class ProtocolAnswer:
    """How one protocol fared on the gateway."""

    protocol: MappingProtocol
    answered: bool
    external_address: IPAddress | None = None
    detail: str = ""
    """What answered (e.g. "IGD:2, WANIPConnection:2") or why nothing usable did."""
    result: str | None = None
    """The protocol's result code name when it was not success (e.g. "ADDRESS_MISMATCH")."""


@dataclass(frozen=True, slots=True)
class RouterReport:
    gateway: IPAddress | None
    local_ip: IPAddress | None
    answers: tuple[ProtocolAnswer, ...]
    external_address: IPAddress | None
    meaning: ExternalMeaning
    address_mismatch: bool
    """PCP said ADDRESS_MISMATCH: a NAT sits between this host and the gateway."""
    mappings: tuple[RouterMapping, ...]
    duration_s: float

    @property
    def any_answered(self) -> bool:
        return any(a.answered for a in self.answers)

    def answer(self, protocol: MappingProtocol) -> ProtocolAnswer | None:
        return next((a for a in self.answers if a.protocol is protocol), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": ROUTER_SCHEMA_ID,
            "schema_version": ROUTER_VERSION,
            "gateway": None if self.gateway is None else str(self.gateway),
            "local_ip": None if self.local_ip is None else str(self.local_ip),
            "external_address": None if self.external_address is None else str(self.external_address),
            "external_meaning": self.meaning.value,
            "address_mismatch": self.address_mismatch,
            "protocols": [
                {
                    "protocol": a.protocol.value,
                    "answered": a.answered,
                    "external_address": None if a.external_address is None else str(a.external_address),
                    "detail": a.detail,
                    "result": a.result,
                }
                for a in self.answers
            ],
            "mappings": [mapping_dict(m) for m in self.mappings],
            "duration_ms": round(self.duration_s * 1000, 1),
        }


