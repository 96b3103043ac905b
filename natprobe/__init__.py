"""natprobe: can the Internet reach my service? NAT and reachability diagnostics.

The public API, all importable from ``natprobe``:

* NAT behaviour discovery (RFC 5780 / RFC 4787 / RFC 3489 names): :func:`discover_nat`,
  :class:`DiscoveryOptions`, :class:`NatReport`, :class:`Mapping`, :class:`Filtering`,
  :class:`ClassicNatType`, and :func:`measure_mapping_lifetime`.
* Inbound reachability through a natprobe echo server: :func:`check_ports`,
  :class:`PortSpec`, :class:`Protocol`, :class:`CheckReport`, :class:`PortVerdict`,
  :class:`PortStatus`.
* Local context: :func:`read_local_context`, :func:`assess_topology`, :class:`NatLayers`.
* The router's view (UPnP IGD, NAT-PMP, PCP): :func:`probe_router`, :class:`RouterReport`,
  :func:`explain_router`; mapping with proof: :func:`check_ports_with_mapping`,
  :func:`mapped_ports` (removes what it created on every exit path), :class:`MappingOutcome`.
* Jamulus public vs private mode, measured: :func:`measure_jamulus_modes`,
  :class:`JamulusModesReport`, :func:`explain_jamulus`.
* Plain-language findings: :func:`explain_nat`, :class:`Finding`, :class:`Severity`.
* Errors: :class:`NatprobeError` and its subclasses (see :mod:`natprobe.errors`).

Lower layers have their own modules: :mod:`natprobe.stun` (sans-I/O STUN codec),
:mod:`natprobe.jamulus` (Jamulus codec), :mod:`natprobe.lab` (the network-namespace NAT lab).
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from natprobe.errors import (
    DecodeError,
    ErrorResponse,
    IntegrityError,
    LabError,
    NatprobeError,
    NetworkError,
    PortMappingError,
    ServerError,
    TransactionError,
    TransactionTimeout,
)

if TYPE_CHECKING:
    from natprobe.verdicts.behavior import ClassicNatType, Filtering, Mapping
    from natprobe.reports.check_report import CheckReport
    from natprobe.verdicts.reachability import PortSpec
    from natprobe.measure.check import check_ports
    from natprobe.measure.discovery import DiscoveryOptions, discover_nat
    from natprobe.findings.finding import Finding, Severity
    from natprobe.findings.nat_findings import explain_nat
    from natprobe.reports.jamulus_report import JamulusModesReport
    from natprobe.findings.jamulus_findings import explain_jamulus
    from natprobe.measure.jamulus_modes import measure_jamulus_modes
    from natprobe.measure.lifetime import measure_mapping_lifetime
    from natprobe.adapters.interfaces import read_local_context
    from natprobe.verdicts.reachability import PortStatus, PortVerdict, Protocol
    from natprobe.reports.lifetime_report import LifetimeReport
    from natprobe.reports.nat_report import NatReport
    from natprobe.addressing import TransportAddress
    from natprobe.verdicts.nat_layers import NatLayers, assess_topology
    from natprobe.verdicts.router_verdicts import ExternalMeaning
    from natprobe.verdicts.router_verdicts import MappingOutcome
    from natprobe.verdicts.router_verdicts import MappingProtocol
    from natprobe.verdicts.router_verdicts import RouterMapping
    from natprobe.reports.router_report import ProtocolAnswer
    from natprobe.reports.router_report import RouterReport
    from natprobe.measure.portmapping import RouterSession
    from natprobe.measure.portmapping import probe_router
    from natprobe.measure.portmapping import mapped_ports
    from natprobe.measure.mapped_check import MappedCheck
    from natprobe.measure.mapped_check import check_ports_with_mapping
    from natprobe.findings.router_findings import explain_router

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

# Loaded on first use (PEP 562): ``import natprobe.stun`` in the echo server must not pull in
# aiohttp and the whole client side, which would triple the server's memory.
_LAZY_EXPORTS = {
    "CheckReport": "natprobe.reports.check_report",
    "ClassicNatType": "natprobe.verdicts.behavior",
    "DiscoveryOptions": "natprobe.measure.discovery",
    "ExternalMeaning": "natprobe.verdicts.router_verdicts",
    "Filtering": "natprobe.verdicts.behavior",
    "Finding": "natprobe.findings.finding",
    "JamulusModesReport": "natprobe.reports.jamulus_report",
    "LifetimeReport": "natprobe.reports.lifetime_report",
    "MappedCheck": "natprobe.measure.mapped_check",
    "Mapping": "natprobe.verdicts.behavior",
    "MappingOutcome": "natprobe.verdicts.router_verdicts",
    "MappingProtocol": "natprobe.verdicts.router_verdicts",
    "NatLayers": "natprobe.verdicts.nat_layers",
    "NatReport": "natprobe.reports.nat_report",
    "PortSpec": "natprobe.verdicts.reachability",
    "PortStatus": "natprobe.verdicts.reachability",
    "PortVerdict": "natprobe.verdicts.reachability",
    "Protocol": "natprobe.verdicts.reachability",
    "ProtocolAnswer": "natprobe.reports.router_report",
    "RouterMapping": "natprobe.verdicts.router_verdicts",
    "RouterReport": "natprobe.reports.router_report",
    "RouterSession": "natprobe.measure.portmapping",
    "Severity": "natprobe.findings.finding",
    "TransportAddress": "natprobe.addressing",
    "assess_topology": "natprobe.verdicts.nat_layers",
    "check_ports": "natprobe.measure.check",
    "check_ports_with_mapping": "natprobe.measure.mapped_check",
    "discover_nat": "natprobe.measure.discovery",
    "explain_jamulus": "natprobe.findings.jamulus_findings",
    "explain_nat": "natprobe.findings.nat_findings",
    "explain_router": "natprobe.findings.router_findings",
    "mapped_ports": "natprobe.measure.portmapping",
    "measure_jamulus_modes": "natprobe.measure.jamulus_modes",
    "measure_mapping_lifetime": "natprobe.measure.lifetime",
    "probe_router": "natprobe.measure.portmapping",
    "read_local_context": "natprobe.adapters.interfaces",
}


def __getattr__(name: str) -> Any:
    module = _LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'natprobe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

__all__ = (
    "__version__",
    "CheckReport",
    "ClassicNatType",
    "DecodeError",
    "DiscoveryOptions",
    "ErrorResponse",
    "ExternalMeaning",
    "Filtering",
    "Finding",
    "IntegrityError",
    "JamulusModesReport",
    "LabError",
    "LifetimeReport",
    "MappedCheck",
    "Mapping",
    "MappingOutcome",
    "MappingProtocol",
    "NatLayers",
    "NatReport",
    "NatprobeError",
    "NetworkError",
    "PortMappingError",
    "PortSpec",
    "PortStatus",
    "PortVerdict",
    "Protocol",
    "ProtocolAnswer",
    "RouterMapping",
    "RouterReport",
    "RouterSession",
    "ServerError",
    "Severity",
    "TransactionError",
    "TransactionTimeout",
    "TransportAddress",
    "assess_topology",
    "check_ports",
    "check_ports_with_mapping",
    "discover_nat",
    "explain_jamulus",
    "explain_nat",
    "explain_router",
    "mapped_ports",
    "measure_jamulus_modes",
    "measure_mapping_lifetime",
    "probe_router",
    "read_local_context",
)
