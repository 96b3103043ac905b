"""natprobe: can the Internet reach my service? NAT and reachability diagnostics.

The public API, all importable from ``natprobe``:

* NAT behaviour discovery (RFC 5780 / RFC 4787 / RFC 3489 names): :func:`discover_nat` with
  :class:`DiscoveryOptions` returns a :class:`NatReport` (:class:`MappingBehavior`,
  :class:`FilteringBehavior`, :class:`ClassicNatType`, each a :class:`Verdict`);
  :func:`measure_mapping_lifetime` with :class:`LifetimeOptions` returns a :class:`LifetimeReport`.
* Inbound reachability through a natprobe echo server: :func:`check_ports` with
  :class:`CheckOptions` and :class:`PortSpec` (a :class:`TransportProtocol` and a port)
  returns a :class:`CheckReport` (a :class:`PortVerdict` per port, holding the echo server's
  result record such as :class:`ConnectResult` or :class:`HttpsResult`; :class:`HairpinResult`,
  its :class:`Finding` list).
* Local context: :func:`read_local_context`, :func:`assess_topology`, :class:`NatLayers`.
* The router's view (UPnP IGD, NAT-PMP, PCP): :func:`probe_router`, :class:`RouterReport`,
  :func:`explain_router`; mapping with proof: :func:`check_ports_with_mapping`,
  :func:`mapped_ports` (removes what it created on every exit path), :class:`MappingOutcome`.
* What the Internet sees of this network: :func:`scan_exposure` with :class:`ExposureOptions`
  returns an :class:`ExposureReport`.
* Jamulus public vs private mode, measured: :func:`measure_jamulus_modes` with
  :class:`JamulusModesOptions` returns a :class:`JamulusModesReport`; :func:`explain_jamulus`.
* Plain-language findings: :func:`explain_nat`, :class:`Finding`, :class:`Severity`.
* Errors: :class:`NatprobeError` and its subclasses (see :mod:`natprobe.errors`).

Every type a public record or options record holds is exported here too. Measurement
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
    from natprobe.addressing import AddressScope, IpFamily, TransportAddress
    from natprobe.contract.exposure_route import HttpDetails, PortRef, PortState, ScannedPort, SshDetails, TlsDetails
    from natprobe.findings.jamulus_findings import explain_jamulus
    from natprobe.findings.nat_findings import explain_nat
    from natprobe.jamulus.messages import OsType
    from natprobe.measure.check import CheckOptions, check_ports
    from natprobe.measure.discovery import DiscoveryOptions, discover_nat
    from natprobe.measure.exposure import ExposureOptions, scan_exposure
    from natprobe.measure.jamulus_modes import JamulusModesOptions, measure_jamulus_modes
    from natprobe.measure.lifetime import Clock, LifetimeOptions, LifetimeProgress, measure_mapping_lifetime
    from natprobe.measure.name_check import NameCheckOptions, check_name
    from natprobe.recverr import Hop, HopOutcome
    from natprobe.reports.check_report import CheckReport, FamilyResult
    from natprobe.reports.dns_report import DnsReport
    from natprobe.reports.exposure_report import ExposedPort, ExposureFamily, ExposureReport, PortFinding
    from natprobe.reports.finding import Finding, Severity
    from natprobe.reports.jamulus_report import JamulusModesReport, JamulusPingResult, JamulusServerEntry, JamulusServerList
    from natprobe.reports.lifetime_report import LifetimeReport, LifetimeTrial
    from natprobe.reports.nat_report import NatReport
    from natprobe.stun.transaction import RetransmissionPolicy
    from natprobe.verdicts.behavior import ClassicNatType, FilteringBehavior, MappingBehavior, Observation, Probe
    from natprobe.verdicts.classify import Verdict
    from natprobe.verdicts.dns_verdicts import DnsVerdict, FamilyDnsVerdict, FamilyLookup, LookupStatus
    from natprobe.verdicts.jamulus_verdicts import HolePunchObservation, ModeStatus, ModeVerdict
    from natprobe.verdicts.nat_layers import Confidence, NatLayers, TopologyVerdict, assess_topology
    from natprobe.verdicts.router_verdicts import ExternalMeaning
    from natprobe.verdicts.router_verdicts import MappingOutcome
    from natprobe.verdicts.router_verdicts import MappingProtocol
    from natprobe.verdicts.router_verdicts import RouterMapping
    from natprobe.reports.router_report import ProtocolAnswer
    from natprobe.reports.router_report import RouterReport
    from natprobe.measure.portmapping import RouterSession
    from natprobe.measure.portmapping import probe_router
    from natprobe.measure.portmapping import mapped_ports
    from natprobe.reports.router_report import MappedCheck
    from natprobe.measure.mapped_check import check_ports_with_mapping
    from natprobe.measure.mapped_check import check_ports_with_router
    from natprobe.findings.router_findings import explain_router
    from natprobe.verdicts.reachability import HairpinResult, PortSpec, PortStatus, PortVerdict
    from natprobe.contract.probe_route import (
        ConnectResult,
        HttpResult,
        HttpsResult,
        JamulusResult,
        SshResult,
        TlsInfo,
        UdpNonceResult,
        UdpServiceResult,
    )
    from natprobe.contract.terms import TransportProtocol
    from natprobe.verdicts.relay_verdicts import ClientAddress
    from natprobe.proxy_header import ProxyHeader
    from natprobe.verdicts.relay_verdicts import ProxyProtocol
    from natprobe.measure.relay_check import RelayCheckOptions
    from natprobe.verdicts.relay_verdicts import RelayObservation
    from natprobe.verdicts.relay_verdicts import RelayPortVerdict
    from natprobe.reports.relay_report import RelayReport
    from natprobe.verdicts.relay_verdicts import RelayStatus
    from natprobe.verdicts.relay_verdicts import RelayVia
    from natprobe.verdicts.relay_verdicts import ReplyRoute
    from natprobe.measure.relay_check import check_relay
    from natprobe.verdicts.facilities import Availability
    from natprobe.verdicts.facilities import CapabilitySet
    from natprobe.verdicts.facilities import Facility
    from natprobe.verdicts.facilities import Missing
    from natprobe.reports.doctor_report import DoctorReport
    from natprobe.adapters.capabilities import probe_capabilities
    from natprobe.verdicts.port_holder import PortHolder
    from natprobe.verdicts.port_holder import HolderKind

from natprobe.version import __version__  # written once, in the leaf module natprobe.version

logging.getLogger(__name__).addHandler(logging.NullHandler())

# Loaded on first use (PEP 562): ``import natprobe.stun`` in the echo server must not pull in
# aiohttp and the whole client side, which would triple the server's memory.
_LAZY_EXPORTS = {
    "AddressScope": "natprobe.addressing",
    "CheckOptions": "natprobe.measure.check",
    "CheckReport": "natprobe.reports.check_report",
    "ClassicNatType": "natprobe.verdicts.behavior",
    "Clock": "natprobe.measure.lifetime",
    "Confidence": "natprobe.verdicts.nat_layers",
    "ConnectResult": "natprobe.contract.probe_route",
    "DiscoveryOptions": "natprobe.measure.discovery",
    "DnsReport": "natprobe.reports.dns_report",
    "DnsVerdict": "natprobe.verdicts.dns_verdicts",
    "ExposedPort": "natprobe.reports.exposure_report",
    "ExposureFamily": "natprobe.reports.exposure_report",
    "ExposureOptions": "natprobe.measure.exposure",
    "ExposureReport": "natprobe.reports.exposure_report",
    "ExternalMeaning": "natprobe.verdicts.router_verdicts",
    "FamilyDnsVerdict": "natprobe.verdicts.dns_verdicts",
    "FamilyLookup": "natprobe.verdicts.dns_verdicts",
    "FamilyResult": "natprobe.reports.check_report",
    "FilteringBehavior": "natprobe.verdicts.behavior",
    "Finding": "natprobe.reports.finding",
    "HairpinResult": "natprobe.verdicts.reachability",
    "HolePunchObservation": "natprobe.verdicts.jamulus_verdicts",
    "Hop": "natprobe.recverr",
    "HopOutcome": "natprobe.recverr",
    "HttpDetails": "natprobe.contract.exposure_route",
    "IpFamily": "natprobe.addressing",
    "HttpResult": "natprobe.contract.probe_route",
    "HttpsResult": "natprobe.contract.probe_route",
    "JamulusModesOptions": "natprobe.measure.jamulus_modes",
    "JamulusModesReport": "natprobe.reports.jamulus_report",
    "JamulusPingResult": "natprobe.reports.jamulus_report",
    "JamulusResult": "natprobe.contract.probe_route",
    "JamulusServerEntry": "natprobe.reports.jamulus_report",
    "JamulusServerList": "natprobe.reports.jamulus_report",
    "LifetimeOptions": "natprobe.measure.lifetime",
    "LifetimeProgress": "natprobe.measure.lifetime",
    "LifetimeReport": "natprobe.reports.lifetime_report",
    "LifetimeTrial": "natprobe.reports.lifetime_report",
    "LookupStatus": "natprobe.verdicts.dns_verdicts",
    "MappedCheck": "natprobe.reports.router_report",
    "MappingBehavior": "natprobe.verdicts.behavior",
    "MappingOutcome": "natprobe.verdicts.router_verdicts",
    "MappingProtocol": "natprobe.verdicts.router_verdicts",
    "ModeStatus": "natprobe.verdicts.jamulus_verdicts",
    "ModeVerdict": "natprobe.verdicts.jamulus_verdicts",
    "NameCheckOptions": "natprobe.measure.name_check",
    "NatLayers": "natprobe.verdicts.nat_layers",
    "NatReport": "natprobe.reports.nat_report",
    "Observation": "natprobe.verdicts.behavior",
    "OsType": "natprobe.jamulus.messages",
    "PortFinding": "natprobe.reports.exposure_report",
    "PortRef": "natprobe.contract.exposure_route",
    "PortSpec": "natprobe.verdicts.reachability",
    "PortState": "natprobe.contract.exposure_route",
    "PortStatus": "natprobe.verdicts.reachability",
    "PortVerdict": "natprobe.verdicts.reachability",
    "Availability": "natprobe.verdicts.facilities",
    "CapabilitySet": "natprobe.verdicts.facilities",
    "Facility": "natprobe.verdicts.facilities",
    "Missing": "natprobe.verdicts.facilities",
    "DoctorReport": "natprobe.reports.doctor_report",
    "probe_capabilities": "natprobe.adapters.capabilities",
    "PortHolder": "natprobe.verdicts.port_holder",
    "HolderKind": "natprobe.verdicts.port_holder",
    "Probe": "natprobe.verdicts.behavior",
    "ProtocolAnswer": "natprobe.reports.router_report",
    "ClientAddress": "natprobe.verdicts.relay_verdicts",
    "ProxyHeader": "natprobe.proxy_header",
    "ProxyProtocol": "natprobe.verdicts.relay_verdicts",
    "RelayCheckOptions": "natprobe.measure.relay_check",
    "RelayObservation": "natprobe.verdicts.relay_verdicts",
    "RelayPortVerdict": "natprobe.verdicts.relay_verdicts",
    "RelayReport": "natprobe.reports.relay_report",
    "RelayStatus": "natprobe.verdicts.relay_verdicts",
    "RelayVia": "natprobe.verdicts.relay_verdicts",
    "ReplyRoute": "natprobe.verdicts.relay_verdicts",
    "check_relay": "natprobe.measure.relay_check",
    "RetransmissionPolicy": "natprobe.stun.transaction",
    "RouterMapping": "natprobe.verdicts.router_verdicts",
    "RouterReport": "natprobe.reports.router_report",
    "RouterSession": "natprobe.measure.portmapping",
    "ScannedPort": "natprobe.contract.exposure_route",
    "Severity": "natprobe.reports.finding",
    "SshDetails": "natprobe.contract.exposure_route",
    "SshResult": "natprobe.contract.probe_route",
    "TlsDetails": "natprobe.contract.exposure_route",
    "TlsInfo": "natprobe.contract.probe_route",
    "TopologyVerdict": "natprobe.verdicts.nat_layers",
    "TransportAddress": "natprobe.addressing",
    "TransportProtocol": "natprobe.contract.terms",
    "UdpNonceResult": "natprobe.contract.probe_route",
    "UdpServiceResult": "natprobe.contract.probe_route",
    "Verdict": "natprobe.verdicts.classify",
    "assess_topology": "natprobe.verdicts.nat_layers",
    "check_name": "natprobe.measure.name_check",
    "check_ports": "natprobe.measure.check",
    "check_ports_with_mapping": "natprobe.measure.mapped_check",
    "check_ports_with_router": "natprobe.measure.mapped_check",
    "discover_nat": "natprobe.measure.discovery",
    "explain_jamulus": "natprobe.findings.jamulus_findings",
    "explain_nat": "natprobe.findings.nat_findings",
    "explain_router": "natprobe.findings.router_findings",
    "mapped_ports": "natprobe.measure.portmapping",
    "measure_jamulus_modes": "natprobe.measure.jamulus_modes",
    "measure_mapping_lifetime": "natprobe.measure.lifetime",
    "probe_router": "natprobe.measure.portmapping",
    "read_local_context": "natprobe.adapters.interfaces",
    "scan_exposure": "natprobe.measure.exposure",
}


def __getattr__(name: str) -> Any:
    return _load_lazy_export(__name__, _LAZY_EXPORTS, globals(), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = (
    "__version__",
    "AddressScope",
    "Availability",
    "CapabilitySet",
    "CheckOptions",
    "CheckReport",
    "ClassicNatType",
    "ClientAddress",
    "Clock",
    "Confidence",
    "ConnectResult",
    "DecodeError",
    "DiscoveryOptions",
    "DnsReport",
    "DnsVerdict",
    "DoctorReport",
    "ErrorResponse",
    "ExposedPort",
    "ExposureFamily",
    "ExposureOptions",
    "ExposureReport",
    "ExternalMeaning",
    "Facility",
    "FamilyDnsVerdict",
    "FamilyLookup",
    "FamilyResult",
    "FilteringBehavior",
    "Finding",
    "HairpinResult",
    "HolderKind",
    "HolePunchObservation",
    "Hop",
    "HopOutcome",
    "HttpDetails",
    "HttpResult",
    "HttpsResult",
    "IntegrityError",
    "IpFamily",
    "JamulusModesOptions",
    "JamulusModesReport",
    "JamulusPingResult",
    "JamulusResult",
    "JamulusServerEntry",
    "JamulusServerList",
    "LabError",
    "LifetimeOptions",
    "LifetimeProgress",
    "LifetimeReport",
    "LifetimeTrial",
    "LookupStatus",
    "MappedCheck",
    "MappingBehavior",
    "MappingOutcome",
    "MappingProtocol",
    "Missing",
    "ModeStatus",
    "ModeVerdict",
    "NameCheckOptions",
    "NatLayers",
    "NatReport",
    "NatprobeError",
    "NetworkError",
    "Observation",
    "OsType",
    "PortFinding",
    "PortHolder",
    "PortMappingError",
    "PortRef",
    "PortSpec",
    "PortState",
    "PortStatus",
    "PortVerdict",
    "Probe",
    "ProtocolAnswer",
    "ProxyHeader",
    "ProxyProtocol",
    "RelayCheckOptions",
    "RelayObservation",
    "RelayPortVerdict",
    "RelayReport",
    "RelayStatus",
    "RelayVia",
    "ReplyRoute",
    "RetransmissionPolicy",
    "RouterMapping",
    "RouterReport",
    "RouterSession",
    "ScannedPort",
    "ServerError",
    "Severity",
    "SshDetails",
    "SshResult",
    "TlsDetails",
    "TlsInfo",
    "TopologyVerdict",
    "TransactionError",
    "TransactionTimeout",
    "TransportAddress",
    "TransportProtocol",
    "UdpNonceResult",
    "UdpServiceResult",
    "Verdict",
    "assess_topology",
    "check_name",
    "check_ports",
    "check_ports_with_mapping",
    "check_ports_with_router",
    "check_relay",
    "discover_nat",
    "explain_jamulus",
    "explain_nat",
    "explain_router",
    "mapped_ports",
    "measure_jamulus_modes",
    "measure_mapping_lifetime",
    "probe_capabilities",
    "probe_router",
    "read_local_context",
    "scan_exposure",
)
