"""natprobe: can the Internet reach my service? NAT and reachability diagnostics.

The top level holds what a user starts from: the entry functions, their options records, the
reports they return, the findings and the error tree.

* NAT behaviour discovery (RFC 5780 / RFC 4787 / RFC 3489 names): :func:`discover_nat` with
  :class:`DiscoveryOptions` returns a :class:`NatReport`; :func:`measure_mapping_lifetime`
  with :class:`LifetimeOptions` returns a :class:`LifetimeReport`. Their parts (behaviours,
  verdicts, observations, NAT layers, hops): :mod:`natprobe.nat`.
* Inbound reachability through a natprobe echo server: :func:`check_ports` with
  :class:`CheckOptions` and a :class:`PortSpec` per port (a :class:`TransportProtocol` and a
  number) returns a :class:`CheckReport`; its parts (port verdicts, the echo server's result
  records, hairpinning, per-family status): :mod:`natprobe.reach`.
* Does a name point here: :func:`check_name` with :class:`NameCheckOptions` returns a
  :class:`DnsReport`; its parts: :mod:`natprobe.names`.
* The router's view (UPnP IGD, NAT-PMP, PCP): :func:`probe_router` returns a
  :class:`RouterSession` (its :class:`RouterReport`); mapping with proof:
  :func:`check_ports_with_mapping`, :func:`check_ports_with_router`, :func:`mapped_ports`
  (removes what it created on every exit path); the parts: :mod:`natprobe.router`.
* Behind CGNAT, a tunnel or relay to a public host: :func:`check_relay` with
  :class:`RelayCheckOptions` returns a :class:`RelayReport`; its parts: :mod:`natprobe.relays`.
* What the Internet sees of this network: :func:`scan_exposure` with :class:`ExposureOptions`
  returns an :class:`ExposureReport`; its parts: :mod:`natprobe.exposed`.
* Jamulus public vs private mode, measured: :func:`measure_jamulus_modes` with
  :class:`JamulusModesOptions` returns a :class:`JamulusModesReport`; its parts, and Jamulus
  ping and directory list: :mod:`natprobe.jamulus_check`.
* This host's addresses and gateway: :func:`read_local_context`; what this host lets natprobe
  do (ICMP errors, packet capture, interface flags...): :func:`probe_capabilities` and the
  ``natprobe doctor`` :class:`DoctorReport`, whose parts are in :mod:`natprobe.doctor`. Addresses, families and
  scopes (:class:`~natprobe.addressing.IpFamily`...): :mod:`natprobe.addressing`.
* Plain-language findings: every report carries its own (``report.findings``: :class:`Finding`
  records with a :class:`Severity`); the functions that word a report again (in another
  language, say) sit with its parts: :func:`natprobe.nat.explain_nat`,
  :func:`natprobe.router.explain_router`, :func:`natprobe.jamulus_check.explain_jamulus`,
  :func:`natprobe.exposed.explain_exposure`.
* Errors: :class:`NatprobeError` and its subclasses (the tree is drawn in :mod:`natprobe.errors`).

Every type a public record holds is exported from exactly one of these modules. Measurement
functions take one options record each (the defaults suit an interactive run); local
addresses are :mod:`ipaddress` objects. Each report's JSON form (``to_dict``) has a JSON
Schema: :mod:`natprobe.reports.catalog`, ``natprobe schema``.

Lower layers have their own modules: :mod:`natprobe.stun` (sans-I/O STUN codec),
:mod:`natprobe.jamulus` (Jamulus codec), :mod:`natprobe.lab` (the network-namespace NAT lab).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from natprobe.lazy_exports import load_lazy_export as _load_lazy_export
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
    from natprobe.adapters.interfaces import read_local_context
    from natprobe.contract.terms import TransportProtocol
    from natprobe.measure.check import CheckOptions, check_ports
    from natprobe.measure.discovery import DiscoveryOptions, discover_nat
    from natprobe.measure.exposure import ExposureOptions, scan_exposure
    from natprobe.measure.jamulus_modes import JamulusModesOptions, measure_jamulus_modes
    from natprobe.measure.lifetime import LifetimeOptions, measure_mapping_lifetime
    from natprobe.measure.mapped_check import check_ports_with_mapping, check_ports_with_router
    from natprobe.measure.name_check import NameCheckOptions, check_name
    from natprobe.measure.portmapping import RouterSession, mapped_ports, probe_router
    from natprobe.reports.check_report import CheckReport
    from natprobe.reports.dns_report import DnsReport
    from natprobe.reports.exposure_report import ExposureReport
    from natprobe.reports.finding import Finding, Severity
    from natprobe.reports.jamulus_report import JamulusModesReport
    from natprobe.reports.lifetime_report import LifetimeReport
    from natprobe.reports.nat_report import NatReport
    from natprobe.reports.router_report import RouterReport
    from natprobe.verdicts.port_spec import PortSpec
    from natprobe.reports.doctor_report import DoctorReport
    from natprobe.measure.relay_check import RelayCheckOptions, check_relay
    from natprobe.reports.relay_report import RelayReport
    from natprobe.adapters.capabilities import probe_capabilities

from natprobe.version import __version__  # written once, in the leaf module natprobe.version

logging.getLogger(__name__).addHandler(logging.NullHandler())

# Loaded on first use (PEP 562): ``import natprobe.stun`` in the echo server must not pull in
# aiohttp and the whole client side, which would triple the server's memory.
_LAZY_EXPORTS = {
    "CheckOptions": "natprobe.measure.check",
    "CheckReport": "natprobe.reports.check_report",
    "DiscoveryOptions": "natprobe.measure.discovery",
    "DnsReport": "natprobe.reports.dns_report",
    "DoctorReport": "natprobe.reports.doctor_report",
    "ExposureOptions": "natprobe.measure.exposure",
    "ExposureReport": "natprobe.reports.exposure_report",
    "Finding": "natprobe.reports.finding",
    "JamulusModesOptions": "natprobe.measure.jamulus_modes",
    "JamulusModesReport": "natprobe.reports.jamulus_report",
    "LifetimeOptions": "natprobe.measure.lifetime",
    "LifetimeReport": "natprobe.reports.lifetime_report",
    "NameCheckOptions": "natprobe.measure.name_check",
    "NatReport": "natprobe.reports.nat_report",
    "PortSpec": "natprobe.verdicts.port_spec",
    "RelayCheckOptions": "natprobe.measure.relay_check",
    "RelayReport": "natprobe.reports.relay_report",
    "RouterReport": "natprobe.reports.router_report",
    "RouterSession": "natprobe.measure.portmapping",
    "Severity": "natprobe.reports.finding",
    "TransportProtocol": "natprobe.contract.terms",
    "check_name": "natprobe.measure.name_check",
    "check_ports": "natprobe.measure.check",
    "check_ports_with_mapping": "natprobe.measure.mapped_check",
    "check_ports_with_router": "natprobe.measure.mapped_check",
    "check_relay": "natprobe.measure.relay_check",
    "discover_nat": "natprobe.measure.discovery",
    "mapped_ports": "natprobe.measure.portmapping",
    "measure_jamulus_modes": "natprobe.measure.jamulus_modes",
    "measure_mapping_lifetime": "natprobe.measure.lifetime",
    "probe_capabilities": "natprobe.adapters.capabilities",
    "probe_router": "natprobe.measure.portmapping",
    "read_local_context": "natprobe.adapters.interfaces",
    "scan_exposure": "natprobe.measure.exposure",
}


# Names that left the top level for their topic's module: still reachable here, with a warning,
# for one release (not cached, so every use warns; not in __all__ or dir()).
_MOVED = {
    "explain_jamulus": "natprobe.jamulus_check",
    "explain_nat": "natprobe.nat",
    "explain_router": "natprobe.router",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib
        import warnings

        warnings.warn(f"natprobe.{name} moved to {_MOVED[name]}.{name}", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    return _load_lazy_export(__name__, _LAZY_EXPORTS, globals(), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = (
    "__version__",
    "CheckOptions",
    "CheckReport",
    "DecodeError",
    "DiscoveryOptions",
    "DnsReport",
    "DoctorReport",
    "ErrorResponse",
    "ExposureOptions",
    "ExposureReport",
    "Finding",
    "IntegrityError",
    "JamulusModesOptions",
    "JamulusModesReport",
    "LabError",
    "LifetimeOptions",
    "LifetimeReport",
    "NameCheckOptions",
    "NatReport",
    "NatprobeError",
    "NetworkError",
    "PortMappingError",
    "PortSpec",
    "RelayCheckOptions",
    "RelayReport",
    "RouterReport",
    "RouterSession",
    "ServerError",
    "Severity",
    "TransactionError",
    "TransactionTimeout",
    "TransportProtocol",
    "check_name",
    "check_ports",
    "check_ports_with_mapping",
    "check_ports_with_router",
    "check_relay",
    "discover_nat",
    "mapped_ports",
    "measure_jamulus_modes",
    "measure_mapping_lifetime",
    "probe_capabilities",
    "probe_router",
    "read_local_context",
    "scan_exposure",
)
