"""The report of ``natprobe check``: each port's verdict, the NAT layers, hairpinning, findings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from natprobe.addressing import IPAddress, IpFamily
from natprobe.recverr import Hop, HopOutcome
from natprobe.reports.dns_report import DNS_SCHEMA, DnsReport
from natprobe.reports.family_result import FAMILY_RESULT_PROPERTIES, FamilyResult
from natprobe.reports.finding import Finding
from natprobe.reports.relay_report import RELAY_BODY, RelayReport
from natprobe.reports.doctor_report import LIMIT, Limit, limit_to_dict
from natprobe.reports.json_schema import (
    BOOL_OR_NULL,
    FINDING,
    STRING_LIST,
    STRING_OR_NULL,
    JsonSchema,
    embedded,
    enum_of,
    nullable,
    obj,
    report_schema,
)
from natprobe.verdicts.nat_layers import Confidence, NatLayers, TopologyVerdict
from natprobe.contract import TransportProtocol, to_json_object
from natprobe.verdicts.reachability import HairpinResult, PortStatus, PortVerdict

__all__ = ("CHECK_SCHEMA", "CHECK_SCHEMA_ID", "CHECK_VERSION", "CheckReport")

CHECK_SCHEMA_ID = "natprobe/check"
CHECK_VERSION = 7
"""2: the id was ``natprobe/check-report``; the NAT layers are only ``topology.layers`` (no
top-level ``nat_layers``); ``findings`` replaces the optional ``jamulus`` list.
3: each port carries its ``family``; ``families``, ``has_global_ipv6`` and ``dns`` (the
``--host`` name check, a :data:`~natprobe.reports.dns_report.DNS_SCHEMA` body) are added.
4: a port's ``status`` may be ``arrived-service-silent`` (a silent program holds the port and the
token reached this host's interface), and ``limits`` lists the facilities this machine lacked
that limited the conclusions (:data:`~natprobe.reports.doctor_report.LIMIT`).
5: ``relay`` (null, or the relay check when ``--host NAME`` leads to a relay: a
:data:`~natprobe.reports.relay_report.RELAY_SCHEMA` body) and ``advice`` (what to do when a
port forward cannot work: the remedies in order, each with its check command).
6: a limit's ``facility`` may be ``bind-below-1024`` (natprobe could not listen on a free port
below 1024 itself: that port's verdict is ``not-tested``, and ``limits`` says why).
7: ``server`` and ``public_ip`` may be null: no echo server was configured (``server`` null), or
none was reached (``public_ip`` null). The report is then still printed, every port
``not-tested`` with the reason, and ``families`` says per family why it was not tested."""


@dataclass(frozen=True, slots=True)
class CheckReport:
    server: str | None
    """The echo server's URL (None: no echo server was configured, nothing could be tested)."""
    public_ip: IPAddress | None
    """The address the echo server saw (None: no echo server was reached)."""
    local_ip: IPAddress | None
    topology: TopologyVerdict
    hops: tuple[Hop, ...]
    ports: tuple[PortVerdict, ...]
    hairpin: tuple[HairpinResult, ...]
    duration_s: float
    findings: tuple[Finding, ...] = ()
    """What the verdicts mean for the services behind the ports (today: Jamulus on UDP 22124 or
    ``PORT:jamulus``), most important first (:func:`natprobe.findings.check_findings.explain_check`,
    attached by :func:`natprobe.check_ports`)."""
    families: tuple[FamilyResult, ...] = ()
    """Per address family: tested or not, and why (``ports`` holds every family's verdicts)."""
    has_global_ipv6: bool | None = None
    """This host has a global IPv6 address (None: IPv6 was not asked about)."""
    dns: DnsReport | None = None
    """The ``--host`` name's records against the public addresses (None: no name given)."""
    relay: RelayReport | None = None
    """The path through the relay ``--host NAME`` points at (None: NAME points here, or no name)."""
    advice: tuple[Finding, ...] = ()
    """When a port forward cannot work here (CGNAT, double NAT): the remedies, in order."""
    limits: tuple[Limit, ...] = ()
    """Facilities this machine lacked that limited the conclusions (what ``natprobe doctor`` lists)."""

    @property
    def all_reachable(self) -> bool:
        """Every port reachable, directly or (for the name's visitors) through its relay."""
        via_relay = self.relay.reachable_ports() if self.relay is not None else set()
        return all(p.reachable or (p.protocol, p.port) in via_relay for p in self.ports)

    @property
    def server_reached(self) -> bool:
        """The echo server answered over some family (else every port is ``not-tested``, and the
        ports' reason and ``families`` say why)."""
        return self.public_ip is not None

    @property
    def any_tested(self) -> bool:
        return any(p.reachable is not None for p in self.ports)

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON form (:data:`CHECK_SCHEMA`)."""
        return {
            "schema": CHECK_SCHEMA_ID,
            "schema_version": CHECK_VERSION,
            "server": self.server,
            "public_ip": None if self.public_ip is None else str(self.public_ip),
            "local_ip": None if self.local_ip is None else str(self.local_ip),
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
                    "details": {} if p.details is None else to_json_object(p.details),
                }
                for p in self.ports
            ],
            "hairpin": [
                {"port": h.port, "protocol": h.protocol.value, "works": h.works, "reason": h.reason, "advice": list(h.advice)}
                for h in self.hairpin
            ],
            "findings": [f.to_dict() for f in self.findings],
            "families": [f.to_dict() for f in self.families],
            "has_global_ipv6": self.has_global_ipv6,
            "dns": None if self.dns is None else self.dns.body(),
            "relay": None if self.relay is None else self.relay.body(),
            "advice": [f.to_dict() for f in self.advice],
            "limits": [limit_to_dict(entry) for entry in self.limits],
            "duration_ms": round(self.duration_s * 1000, 1),
        }


_PORT_NUMBER: JsonSchema = {"type": "integer", "minimum": 1, "maximum": 65535}

_DNS_BODY: JsonSchema = embedded(DNS_SCHEMA)
# Inside the check report the name check carries no schema id of its own (no duration, no
# limits: the check's own speak for the whole run).
_OWN_DNS_KEYS = ("schema", "schema_version", "duration_ms", "limits")
_DNS_BODY = {
    **_DNS_BODY,
    "properties": {k: v for k, v in _DNS_BODY["properties"].items() if k not in _OWN_DNS_KEYS},
    "required": [k for k in _DNS_BODY["required"] if k not in _OWN_DNS_KEYS],
}

CHECK_SCHEMA: JsonSchema = report_schema(
    CHECK_SCHEMA_ID,
    CHECK_VERSION,
    "Inbound reachability of ports, proven from outside (natprobe check)",
    {
        "server": {**STRING_OR_NULL, "description": "The echo server's URL; null (since version 7): none was "
                   "configured, and every port is not-tested"},
        "public_ip": {**STRING_OR_NULL, "description": "The address the echo server saw; null (since version 7): "
                      "no echo server was reached, and every port is not-tested with the reason"},
        "local_ip": STRING_OR_NULL,
        "topology": obj(
            {"layers": enum_of(NatLayers), "confidence": enum_of(Confidence), "evidence": STRING_LIST}
        ),
        "hops": {
            "type": "array",
            "items": obj(
                {"ttl": {"type": "integer", "minimum": 1}, "ip": STRING_OR_NULL, "outcome": enum_of(HopOutcome)}
            ),
        },
        "ports": {
            "type": "array",
            "items": obj(
                {
                    "port": _PORT_NUMBER,
                    "protocol": enum_of(TransportProtocol),
                    "family": enum_of(IpFamily),
                    "reachable": BOOL_OR_NULL,
                    "status": enum_of(PortStatus),
                    "reason": {"type": "string"},
                    "advice": STRING_LIST,
                    "proof": STRING_OR_NULL,
                    "details": {"type": "object"},
                }
            ),
        },
        "hairpin": {
            "type": "array",
            "items": obj(
                {
                    "port": _PORT_NUMBER,
                    "protocol": enum_of(TransportProtocol),
                    "works": BOOL_OR_NULL,
                    "reason": {"type": "string"},
                    "advice": STRING_LIST,
                }
            ),
        },
        "findings": {"type": "array", "items": FINDING},
        "families": {"type": "array", "items": obj(FAMILY_RESULT_PROPERTIES)},
        "has_global_ipv6": BOOL_OR_NULL,
        "dns": nullable(_DNS_BODY),
        "relay": nullable(obj(RELAY_BODY)),
        "advice": {"type": "array", "items": FINDING},
        "limits": {"type": "array", "items": LIMIT},
        "duration_ms": {"type": "number"},
    },
)
