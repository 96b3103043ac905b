"""Jamulus public mode versus private mode: the verdict for each mode (pure).

Why the two modes differ behind a NAT (facts/jamulus.md §3):

* **Public mode** (registered with a directory): the server *sends* first. Its registration
  creates a NAT mapping whose public ip:port is what the directory lists; both sides send a
  keep-alive every 59 s, which refreshes it; and when a client asks the directory for the
  list, the directory tells the server to send an empty message to that client, an outbound
  packet that opens the server's NAT filter for exactly that client.
* **Private mode** (unregistered): the server sends nothing until a client has reached it, so
  no mapping exists and every inbound packet is dropped unless a port forward exists.
* Public mode fails anyway when the NAT maps every destination to a different port
  (symmetric NAT: the listed port is not the one the punch opened), when the mapping expires
  between 59 s keep-alives, or when something drops the punch; carrier-grade NAT makes private
  mode impossible and often brings those failures with it.

:func:`private_mode_verdict` and :func:`public_mode_verdict` judge what ``natprobe explain
jamulus`` observed; :mod:`natprobe.reports.jamulus_report` assembles them into the report and
:mod:`natprobe.findings.jamulus_findings` explains it. No I/O here.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol as TypingProtocol

from natprobe.observations import HolePunchObservation
from natprobe.addressing import IPAddress, TransportAddress
from natprobe.jamulus import JAMULUS_KEEPALIVE_S
from natprobe.i18n import _
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.verdicts.reachability import PortStatus, PortVerdict

__all__ = (
    "HolePunchObservation",
    "LifetimeBounds",
    "ModeStatus",
    "ModeVerdict",
    "keepalive_outlives",
    "private_mode_verdict",
    "port_held_note",
    "public_mode_verdict",
    "refused_punches_note",
    "unmeasured_directory_reason",
    "unmeasured_lifetime_note",
)


class ModeStatus(enum.StrEnum):
    """Why a Jamulus mode works or not; the stable strings scripts rely on."""

    WORKS = "works"
    NEEDS_PORT_FORWARD = "needs-port-forward"
    """Private mode: nothing admits a stranger's first packet."""
    HOST_FIREWALL = "dropped-by-host-firewall"
    CGNAT = "behind-cgnat"
    SYMMETRIC_NAT = "symmetric-nat"
    """The hole punch left from another public port than the one a directory lists."""
    NO_HOLE_PUNCH = "hole-punch-not-received"
    FILTERED = "filtered-after-hole-punch"
    MAPPING_TOO_SHORT = "mapping-expires-between-keepalives"
    DIRECTORY_UNREACHABLE = "directory-unreachable"
    NOT_MEASURED = "not-measured"


@dataclass(frozen=True, slots=True)
class ModeVerdict:
    works: bool | None
    """None: not measured, or the measurement could not decide."""
    status: ModeStatus
    reason: str






class LifetimeBounds(TypingProtocol):
    """What a mapping-lifetime measurement bracketed (a :class:`~natprobe.LifetimeReport` is one)."""

    @property
    def at_least_s(self) -> float | None: ...

    @property
    def at_most_s(self) -> float | None: ...


def keepalive_outlives(lifetime: LifetimeBounds | None) -> bool | None:
    """True: idle mappings outlive 59 s; False: they expire within it; None: not measured or
    the bracket straddles 59 s (or the measurement stopped before 59 s)."""
    if lifetime is None:
        return None
    if lifetime.at_most_s is not None and lifetime.at_most_s <= JAMULUS_KEEPALIVE_S:
        return False
    if lifetime.at_least_s is not None and lifetime.at_least_s >= JAMULUS_KEEPALIVE_S:
        return True
    return None


def _clause(text: str) -> str:
    """``text`` without its final full stop, to embed it in a sentence."""
    return text.rstrip().rstrip(".")


def _sentence(text: str) -> str:
    """``text`` ending in exactly one full stop."""
    return _clause(text) + "."


# --- verdicts ----------------------------------------------------------------------------------


def private_mode_verdict(check: PortVerdict | None, port: int, public_ip: IPAddress | None) -> ModeVerdict:
    if check is None:
        return ModeVerdict(None, ModeStatus.NOT_MEASURED, _("the unsolicited probe of the port did not run"))
    where = _("{address}:{port}", address=public_ip, port=port) if public_ip is not None else _("port {port}", port=port)
    if check.reachable:
        return ModeVerdict(
            True,
            ModeStatus.WORKS,
            _(
                "an unsolicited packet from the echo server reached UDP {where} before this port had sent "
                "anything: a port forward (or no NAT at all) lets clients in",
                where=where,
            ),
        )
    if check.reachable is None:
        return ModeVerdict(None, ModeStatus.NOT_MEASURED, check.reason)
    status = {
        PortStatus.CGNAT: ModeStatus.CGNAT,
        PortStatus.HOST_FIREWALL: ModeStatus.HOST_FIREWALL,
    }.get(check.status, ModeStatus.NEEDS_PORT_FORWARD)
    return ModeVerdict(
        False,
        status,
        _(
            "the echo server's unsolicited packet to UDP {where}, sent before anything had left the port, "
            "did not get in ({reason})",
            where=where,
            reason=_clause(check.reason),
        ),
    )


def public_mode_verdict(
    *,
    measured_port: int | None,
    directory: TransportAddress | None,
    registered: bool | None,
    registration_status: int | None,
    punch: HolePunchObservation | None,
    hole_punch_error: str | None,
    lifetime: LifetimeBounds | None,
    nat_layers: NatLayers,
) -> ModeVerdict:
    if measured_port is None or registered is None:
        return ModeVerdict(None, ModeStatus.NOT_MEASURED, hole_punch_error or _("public mode was not measured"))
    the_directory = _("the directory at {address}", address=directory) if directory is not None else _("the directory")
    if not registered:
        if registration_status is not None:
            return ModeVerdict(
                None,
                ModeStatus.DIRECTORY_UNREACHABLE,
                _(
                    "{directory} refused the registration (status {status})",
                    directory=the_directory,
                    status=registration_status,
                ),
            )
        return ModeVerdict(
            None,
            ModeStatus.DIRECTORY_UNREACHABLE,
            _(
                "{directory} did not answer the registration (5 tries in 2.5 s, as Jamulus does): "
                "outbound UDP is blocked, or the echo server runs without its Jamulus directory (--jamulus-port)",
                directory=the_directory,
            ),
        )
    if punch is None:
        return ModeVerdict(None, ModeStatus.NOT_MEASURED, hole_punch_error or _("the hole punch did not run"))
    cgnat = nat_layers is NatLayers.CGNAT
    published = punch.published
    if punch.punched_ping_answered:
        outlives = keepalive_outlives(lifetime)
        if outlives is False and lifetime is not None and lifetime.at_most_s is not None:
            return ModeVerdict(
                False,
                ModeStatus.MAPPING_TOO_SHORT,
                _(
                    "the hole punch worked (a new client's ping to {published} was answered), but the NAT forgets "
                    "an idle mapping within {seconds:g} s, before Jamulus' next {keepalive:g} s "
                    "keep-alive: the listed address stops working between keep-alives",
                    published=published,
                    seconds=lifetime.at_most_s,
                    keepalive=JAMULUS_KEEPALIVE_S,
                ),
            )
        if punch.punched_rtt_ms is not None:
            reason = _(
                "after the directory-triggered packet, a new client's ping to the listed address {published} was "
                "answered in {ms:g} ms: the hole punch opens this NAT",
                published=published,
                ms=punch.punched_rtt_ms,
            )
        else:
            reason = _(
                "after the directory-triggered packet, a new client's ping to the listed address {published} was "
                "answered: the hole punch opens this NAT",
                published=published,
            )
        return ModeVerdict(True, ModeStatus.WORKS, reason)
    source = punch.punch_source
    if punch.punch_received and source is not None and source != published:
        through = _("port {port}", port=source.port) if source.ip == published.ip else str(source)
        reason = _(
            "the registration left through {published}, but the packet to the new client left through "
            "{through}: the NAT gives every destination its own mapping (symmetric NAT), so the address a "
            "directory lists is closed to clients.",
            published=published,
            through=through,
        )
        return ModeVerdict(False, ModeStatus.SYMMETRIC_NAT, _with_cgnat(reason, cgnat))
    if not punch.punch_received:
        reason = _(
            "the directory asked for the hole punch, but the packet toward the new client never arrived "
            "(the request was lost, the mapping toward the directory is gone, or outbound UDP to new "
            "destinations is filtered)."
        )
        return ModeVerdict(False, ModeStatus.NO_HOLE_PUNCH, _with_cgnat(reason, cgnat))
    reason = _(
        "the hole-punch packet left through the listed address {published}, but the new client's ping to it "
        "was still dropped.",
        published=published,
    )
    return ModeVerdict(False, ModeStatus.FILTERED, _with_cgnat(reason, cgnat))


def _with_cgnat(reason: str, cgnat: bool) -> str:
    """``reason``, followed by a sentence on carrier-grade NAT when there is one."""
    if not cgnat:
        return reason
    return reason + " " + _("This network is behind carrier-grade NAT, whose behaviour decides this.")


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
