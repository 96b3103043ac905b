"""What a reachability check means for the services behind its ports (Jamulus on UDP 22124 or
``PORT:jamulus``; a silent service such as WireGuard), as findings: the check's ``explain``, like :func:`explain_nat`
for discovery. :func:`natprobe.check_ports` attaches them to the report it returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from natprobe.addressing import IpFamily
from natprobe.findings.jamulus_findings import jamulus_check_findings
from natprobe.findings.silent_findings import silent_port_findings
from natprobe.reports.check_report import CheckReport
from natprobe.reports.finding import Finding
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.verdicts.port_spec import PortSpec

__all__ = ("explain_check",)


def explain_check(
    report: CheckReport, ports: Sequence[PortSpec], layers: Mapping[IpFamily, NatLayers] | None = None
) -> tuple[Finding, ...]:
    """The findings of ``report``, family after family, most important first within each.

    ``ports``: the specs that were checked, in order (they name the services); ``layers``: each
    tested family's NAT layers (default: the report's own topology, the first tested family's).
    """
    known = layers or {}
    findings: list[Finding] = []
    for status in report.families:
        if not status.tested:
            continue
        verdicts = [v for v in report.ports if v.family is status.family]
        findings.extend(jamulus_check_findings(ports, verdicts, known.get(status.family, report.topology.layers)))
        findings.extend(silent_port_findings(verdicts))
    return tuple(findings)
