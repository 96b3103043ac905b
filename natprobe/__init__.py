"""natprobe: can the Internet reach my service? NAT and reachability diagnostics.

The public API, all importable from ``natprobe``:

* NAT behaviour discovery (RFC 5780 / RFC 4787 / RFC 3489 names): :func:`discover_nat`,
  :class:`DiscoveryOptions`, :class:`NatReport`, :class:`Mapping`, :class:`Filtering`,
  :class:`ClassicNatType`, and :func:`measure_mapping_lifetime`.
* Inbound reachability through a natprobe echo server: :func:`check_ports`,
  :class:`PortSpec`, :class:`TransportProtocol`, :class:`CheckReport`, :class:`PortVerdict`,
  :class:`PortStatus`.
* Local context: :func:`read_local_context`, :func:`assess_topology`, :class:`NatLayers`.
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
    from natprobe.verdicts.reachability import PortStatus, PortVerdict
    from natprobe.contract.terms import TransportProtocol
    from natprobe.reports.lifetime_report import LifetimeReport
    from natprobe.reports.nat_report import NatReport
    from natprobe.addressing import TransportAddress
    from natprobe.verdicts.nat_layers import NatLayers, assess_topology

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

# Loaded on first use (PEP 562): ``import natprobe.stun`` in the echo server must not pull in
# aiohttp and the whole client side, which would triple the server's memory.
_LAZY_EXPORTS = {
    "CheckReport": "natprobe.reports.check_report",
    "ClassicNatType": "natprobe.verdicts.behavior",
    "DiscoveryOptions": "natprobe.measure.discovery",
    "Filtering": "natprobe.verdicts.behavior",
    "Finding": "natprobe.findings.finding",
    "JamulusModesReport": "natprobe.reports.jamulus_report",
    "LifetimeReport": "natprobe.reports.lifetime_report",
    "Mapping": "natprobe.verdicts.behavior",
    "NatLayers": "natprobe.verdicts.nat_layers",
    "NatReport": "natprobe.reports.nat_report",
    "PortSpec": "natprobe.verdicts.reachability",
    "PortStatus": "natprobe.verdicts.reachability",
    "PortVerdict": "natprobe.verdicts.reachability",
    "Severity": "natprobe.findings.finding",
    "TransportAddress": "natprobe.addressing",
    "TransportProtocol": "natprobe.contract.terms",
    "assess_topology": "natprobe.verdicts.nat_layers",
    "check_ports": "natprobe.measure.check",
    "discover_nat": "natprobe.measure.discovery",
    "explain_jamulus": "natprobe.findings.jamulus_findings",
    "explain_nat": "natprobe.findings.nat_findings",
    "measure_jamulus_modes": "natprobe.measure.jamulus_modes",
    "measure_mapping_lifetime": "natprobe.measure.lifetime",
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
    "Filtering",
    "Finding",
    "IntegrityError",
    "JamulusModesReport",
    "LabError",
    "LifetimeReport",
    "Mapping",
    "NatLayers",
    "NatReport",
    "NatprobeError",
    "NetworkError",
    "PortSpec",
    "PortStatus",
    "PortVerdict",
    "ServerError",
    "Severity",
    "TransactionError",
    "TransactionTimeout",
    "TransportAddress",
    "TransportProtocol",
    "assess_topology",
    "check_ports",
    "discover_nat",
    "explain_jamulus",
    "explain_nat",
    "measure_jamulus_modes",
    "measure_mapping_lifetime",
    "read_local_context",
)
