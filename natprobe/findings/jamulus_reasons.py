"""The words of the Jamulus mode verdicts, and the report they go into.

:mod:`natprobe.verdicts.jamulus_verdicts` decides each mode (a status and a coded reason);
this module says it (:func:`word_mode`), assembles the report from what was observed
(:func:`assess_jamulus_modes`), and words the notes the measurement leaves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from natprobe.addressing import IPAddress, TransportAddress
from natprobe.findings.jamulus_findings import explain_jamulus
from natprobe.i18n import _
from natprobe.observations import HolePunchObservation
from natprobe.reports.jamulus_report import JamulusModesReport
from natprobe.reports.lifetime_report import LifetimeReport
from natprobe.verdicts.jamulus_verdicts import (
    ModeDecision,
    ModeVerdict,
    Said,
    private_mode_verdict,
    public_mode_verdict,
)
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.verdicts.reachability import PortVerdict
from natprobe.verdicts.why import AS_SAID, Why

__all__ = (
    "assess_jamulus_modes",
    "port_held_note",
    "refused_punches_note",
    "unmeasured_directory_reason",
    "unmeasured_lifetime_note",
    "word_mode",
)


def _clause(text: str) -> str:
    """``text`` without its final full stop, to embed it in a sentence."""
    return text.rstrip().rstrip(".")


def _where(address: IPAddress | None, port: int) -> str:
    return _("{address}:{port}", address=address, port=port) if address is not None else _("port {port}", port=port)


def _the_directory(directory: TransportAddress | None) -> str:
    return _("the directory at {address}", address=directory) if directory is not None else _("the directory")


def _reason(why: Why) -> str:
    p = why.get
    match why.code:
        case Said.PROBE_DID_NOT_RUN:
            return _("the unsolicited probe of the port did not run")
        case Said.PRIVATE_GOT_IN:
            return _(
                "an unsolicited packet from the echo server reached UDP {where} before this port had sent "
                "anything: a port forward (or no NAT at all) lets clients in",
                where=_where(p("address"), p("port")),
            )
        case Said.PRIVATE_KEPT_OUT:
            return _(
                "the echo server's unsolicited packet to UDP {where}, sent before anything had left the port, "
                "did not get in ({reason})",
                where=_where(p("address"), p("port")),
                reason=_clause(p("reason")),
            )
        case Said.PUBLIC_NOT_MEASURED:
            return _("public mode was not measured")
        case Said.REGISTRATION_REFUSED:
            return _("{directory} refused the registration (status {status})",
                     directory=_the_directory(p("directory")), status=p("status"))
        case Said.REGISTRATION_UNANSWERED:
            return _(
                "{directory} did not answer the registration (5 tries in 2.5 s, as Jamulus does): "
                "outbound UDP is blocked, or the echo server runs without its Jamulus directory (--jamulus-port)",
                directory=_the_directory(p("directory")),
            )
        case Said.PUNCH_DID_NOT_RUN:
            return _("the hole punch did not run")
        case Said.MAPPING_TOO_SHORT:
            return _(
                "the hole punch worked (a new client's ping to {published} was answered), but the NAT forgets "
                "an idle mapping within {seconds:g} s, before Jamulus' next {keepalive:g} s "
                "keep-alive: the listed address stops working between keep-alives",
                published=p("published"),
                seconds=p("seconds"),
                keepalive=p("keepalive"),
            )
        case Said.PUNCH_OPENS_WITH_RTT:
            return _(
                "after the directory-triggered packet, a new client's ping to the listed address {published} was "
                "answered in {ms:g} ms: the hole punch opens this NAT",
                published=p("published"),
                ms=p("ms"),
            )
        case Said.PUNCH_OPENS:
            return _(
                "after the directory-triggered packet, a new client's ping to the listed address {published} was "
                "answered: the hole punch opens this NAT",
                published=p("published"),
            )
        case Said.SYMMETRIC:
            published, source = p("published"), p("source")
            through = _("port {port}", port=source.port) if source.ip == published.ip else str(source)
            return _with_cgnat(_(
                "the registration left through {published}, but the packet to the new client left through "
                "{through}: the NAT gives every destination its own mapping (symmetric NAT), so the address a "
                "directory lists is closed to clients.",
                published=published,
                through=through,
            ), p("cgnat"))
        case Said.PUNCH_NEVER_ARRIVED:
            return _with_cgnat(_(
                "the directory asked for the hole punch, but the packet toward the new client never arrived "
                "(the request was lost, the mapping toward the directory is gone, or outbound UDP to new "
                "destinations is filtered)."
            ), p("cgnat"))
        case Said.FILTERED_AFTER_PUNCH:
            return _with_cgnat(_(
                "the hole-punch packet left through the listed address {published}, but the new client's ping to it "
                "was still dropped.",
                published=p("published"),
            ), p("cgnat"))
        case _code if _code == AS_SAID:
            return str(p("text"))
    raise ValueError(f"no words for the Jamulus reason {why.code!r}")


def _with_cgnat(reason: str, cgnat: bool) -> str:
    """``reason``, followed by a sentence on carrier-grade NAT when there is one."""
    if not cgnat:
        return reason
    return reason + " " + _("This network is behind carrier-grade NAT, whose behaviour decides this.")


def word_mode(decision: ModeDecision) -> ModeVerdict:
    """The mode verdict in the user's language."""
    return ModeVerdict(decision.works, decision.status, _reason(decision.why))


def assess_jamulus_modes(
    *,
    server: str,
    port: int,
    measured_port: int | None,
    port_in_use: bool,
    local_ip: IPAddress | None,
    public_ip: IPAddress | None,
    nat_layers: NatLayers,
    private_check: PortVerdict | None,
    directory: TransportAddress | None,
    registered: bool | None,
    registration_status: int | None = None,
    hole_punch: HolePunchObservation | None = None,
    hole_punch_error: str | None = None,
    punches_sent: int = 0,
    lifetime: LifetimeReport | None = None,
    notes: tuple[str, ...] = (),
    duration_s: float = 0.0,
) -> JamulusModesReport:
    """The report from what was observed: a verdict for each mode (decided, then worded), and
    the findings they lead to."""
    private = private_mode_verdict(private_check, port, public_ip)
    public = public_mode_verdict(
        measured_port=measured_port,
        directory=directory,
        registered=registered,
        registration_status=registration_status,
        punch=hole_punch,
        hole_punch_error=hole_punch_error,
        lifetime=lifetime,
        nat_layers=nat_layers,
    )
    report = JamulusModesReport(
        server=server,
        port=port,
        measured_port=measured_port,
        port_in_use=port_in_use,
        local_ip=local_ip,
        public_ip=public_ip,
        nat_layers=nat_layers,
        private_check=private_check,
        directory=directory,
        registered=registered,
        registration_status=registration_status,
        hole_punch=hole_punch,
        hole_punch_error=hole_punch_error,
        punches_sent=punches_sent,
        lifetime=lifetime,
        private_mode=word_mode(private),
        public_mode=word_mode(public),
        notes=notes,
        duration_s=duration_s,
    )
    return dataclasses.replace(report, findings=explain_jamulus(report))


# --- what the measurement notes in plain words (the measurement itself only observes) --------------


def port_held_note(port: int, measured_port: int) -> str:
    """Another program held ``port``: how each mode was measured instead."""
    return _(
        "Another program (a Jamulus server?) holds UDP {port}, so private mode was judged by probing "
        "that program, and public mode was measured from UDP port {local_port} instead: the NAT treats "
        "it alike unless {port} is forwarded. For a measurement of {port} itself, stop the program "
        "(or pass --port with a free port).",
        port=port,
        local_port=measured_port,
    )


def refused_punches_note(refusals: Sequence[str]) -> str:
    return _("Refused hole-punch requests: {requests}", requests="; ".join(refusals))


def unmeasured_lifetime_note(error: object) -> str:
    return _("the mapping lifetime could not be measured: {error}", error=error)


def unmeasured_directory_reason(server_ip: IPAddress) -> str:
    return _("the echo server's address {address} is IPv6; Jamulus directories are IPv4 only", address=server_ip)
