"""natprobe: can the Internet reach my service? NAT and reachability diagnostics.

The public API, all importable from ``natprobe``:

* NAT behaviour discovery (RFC 5780 / RFC 4787 / RFC 3489 names): :func:`discover_nat`,
  :class:`DiscoveryOptions`, :class:`NatReport`, :class:`Mapping`, :class:`Filtering`,
  :class:`ClassicNatType`, and :func:`measure_mapping_lifetime`.
* Inbound reachability through a natprobe echo server: :func:`check_ports`,
  :class:`PortSpec`, :class:`Protocol`, :class:`CheckReport`, :class:`PortVerdict`,
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
    from natprobe.behavior.model import ClassicNatType, Filtering, Mapping
    from natprobe.check import CheckReport, PortSpec, check_ports
    from natprobe.discovery import DiscoveryOptions, discover_nat
    from natprobe.explain import Finding, Severity, explain_nat
    from natprobe.jamulus_explain import JamulusModesReport, explain_jamulus
    from natprobe.jamulus_modes import measure_jamulus_modes
    from natprobe.lifetime import measure_mapping_lifetime
    from natprobe.netinfo import read_local_context
    from natprobe.reachability import PortStatus, PortVerdict, Protocol
    from natprobe.report import LifetimeReport, NatReport
    from natprobe.stun.attributes import TransportAddress
    from natprobe.topology import NatLayers, assess_topology

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

# Loaded on first use (PEP 562): ``import natprobe.stun`` in the echo server must not pull in
# aiohttp and the whole client side, which would triple the server's memory.
_LAZY_EXPORTS = {
    "CheckReport": "natprobe.check",
    "ClassicNatType": "natprobe.behavior.model",
    "DiscoveryOptions": "natprobe.discovery",
    "Filtering": "natprobe.behavior.model",
    "Finding": "natprobe.explain",
    "JamulusModesReport": "natprobe.jamulus_explain",
    "LifetimeReport": "natprobe.report",
    "Mapping": "natprobe.behavior.model",
    "NatLayers": "natprobe.topology",
    "NatReport": "natprobe.report",
    "PortSpec": "natprobe.check",
    "PortStatus": "natprobe.reachability",
    "PortVerdict": "natprobe.reachability",
    "Protocol": "natprobe.reachability",
    "Severity": "natprobe.explain",
    "TransportAddress": "natprobe.stun.attributes",
    "assess_topology": "natprobe.topology",
    "check_ports": "natprobe.check",
    "discover_nat": "natprobe.discovery",
    "explain_jamulus": "natprobe.jamulus_explain",
    "explain_nat": "natprobe.explain",
    "measure_jamulus_modes": "natprobe.jamulus_modes",
    "measure_mapping_lifetime": "natprobe.lifetime",
    "read_local_context": "natprobe.netinfo",
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
    "Protocol",
    "ServerError",
    "Severity",
    "TransactionError",
    "TransactionTimeout",
    "TransportAddress",
    "assess_topology",
    "check_ports",
    "discover_nat",
    "explain_jamulus",
    "explain_nat",
    "measure_jamulus_modes",
    "measure_mapping_lifetime",
    "read_local_context",
)
