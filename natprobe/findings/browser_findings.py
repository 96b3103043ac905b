"""What the echo server's web page tells a visitor (pure): the mapping seen through WebRTC, and
the UDP ports a browser cannot prove.

The page is one more client of the echo server's API, so its port verdicts come from
:func:`natprobe.verdicts.reachability.decide_port` and its Jamulus findings from
:mod:`natprobe.findings.jamulus_findings`; this module only adds what a browser sees
differently from the CLI.
"""

from __future__ import annotations

from natprobe.addressing import IpFamily
from natprobe.contract.terms import TransportProtocol
from natprobe.i18n import _
from natprobe.reports.finding import Finding, Severity
from natprobe.verdicts.behavior import MappingBehavior
from natprobe.verdicts.classify import Verdict
from natprobe.verdicts.reachability import PortStatus, PortVerdict

__all__ = ("cli_check_command", "explain_browser_mapping", "silent_udp_port")


def cli_check_command(port: int, server: str) -> str:
    """The command that proves a UDP port from the visitor's own machine."""
    return f"pip install natprobe && natprobe check --udp {port} --server {server}"


def silent_udp_port(port: int, family: IpFamily, server: str) -> PortVerdict:
    """A UDP port other than a service natprobe speaks: not probed from the page, and why.

    A web page cannot listen on a UDP port, and a silent port (most UDP services answer only
    a valid request: WireGuard, for one) cannot be told from a filtered one from outside."""
    return PortVerdict(
        protocol=TransportProtocol.UDP,
        port=port,
        reachable=None,
        status=PortStatus.UNTESTED,
        reason=_(
            "from outside, a silent UDP port cannot be told from a filtered one: most UDP services answer "
            "nothing to a stranger, and a web page cannot listen on UDP port {port} to receive a probe",
            port=port,
        ),
        advice=(
            _("Prove it from the machine that should receive UDP port {port}, with the port free: {command}",
              port=port, command=cli_check_command(port, server)),
        ),
        family=family,
    )


def explain_browser_mapping(verdict: Verdict[MappingBehavior] | None, webrtc: bool) -> Finding:
    """The mapping behaviour the page measured with WebRTC (``None``: no candidate at all)."""
    if verdict is None:
        detail = (
            _("The browser gathered no server-reflexive candidate from the echo server's STUN addresses: UDP to "
              "them is blocked here, or the browser limits WebRTC (a privacy setting or extension).")
            if webrtc
            else _("This browser does not offer WebRTC (RTCPeerConnection), or it is turned off.")
        )
        return Finding(
            Severity.WARNING, _("NAT mapping: not measured"), detail,
            (_("Run 'natprobe nat --server URL' from a computer on this network to measure it."),),
            code="browser-mapping-unknown",
        )
    value = verdict.value
    if value is MappingBehavior.ENDPOINT_INDEPENDENT:
        return Finding(
            Severity.OK,
            _("NAT mapping: endpoint-independent"),
            _("{reason}. The NAT keeps one public port per local port whatever the destination, so hole "
              "punching works: Jamulus public mode, games and calls can get through without a forward.",
              reason=verdict.reason),
            code="browser-mapping-endpoint-independent",
        )
    if value in (MappingBehavior.ADDRESS_DEPENDENT, MappingBehavior.ADDRESS_AND_PORT_DEPENDENT):
        return Finding(
            Severity.WARNING,
            _("NAT mapping: {mapping}", mapping=value.value),
            _("{reason}. The NAT gives every destination a different public port, so the port a directory or "
              "peer learns is not the one others can use: hole punching usually fails and peer-to-peer "
              "traffic needs a relay (TURN).", reason=verdict.reason),
            (
                _("For a server: a port forward still works, since it does not depend on mappings."),
                _("If the router has an option such as 'full-cone' or 'endpoint-independent' NAT, or "
                  "'disable port randomization', enable it."),
            ),
            code=f"browser-mapping-{value.value}",
        )
    return Finding(
        Severity.WARNING, _("NAT mapping: not decided"), verdict.reason,
        (_("Run 'natprobe nat --server URL' from a computer on this network to measure it."),),
        code=f"browser-mapping-{value.value}",
    )
