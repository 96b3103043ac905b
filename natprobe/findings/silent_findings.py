"""Findings for ports a silent program holds (WireGuard, OpenVPN with tls-auth, unknown UDP services).

The verdict (:data:`~natprobe.verdicts.reachability.PortStatus.ARRIVED_SILENT`) decides; this
says it as a finding with a stable code, so a monitoring script matches
``port-arrived-service-silent`` instead of raising a false alarm on every WireGuard install.
"""

from __future__ import annotations

from collections.abc import Sequence

from natprobe.i18n import _
from natprobe.reports.finding import Finding, Severity
from natprobe.verdicts.reachability import PortStatus, PortVerdict

__all__ = ("silent_port_findings",)


def silent_port_findings(verdicts: Sequence[PortVerdict]) -> tuple[Finding, ...]:
    """One finding per port where a silent program's port was proven by the token's arrival."""
    return tuple(
        Finding(
            Severity.OK,
            _("{protocol} port {port} over IPv{version}: the probe arrived; the program holding the port stayed silent",
              protocol=v.protocol.value.upper(), port=v.port, version=v.family.version),
            v.reason,
            v.advice,
            code="port-arrived-service-silent",
        )
        for v in verdicts
        if v.status is PortStatus.ARRIVED_SILENT
    )
