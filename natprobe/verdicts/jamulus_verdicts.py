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
jamulus`` observed and return a :class:`ModeDecision` (a status and a coded reason, no words);
:mod:`natprobe.findings.jamulus_findings` words them into the report and explains it. No I/O here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol as TypingProtocol

from natprobe.observations import HolePunchObservation
from natprobe.addressing import IPAddress, TransportAddress
from natprobe.jamulus import JAMULUS_KEEPALIVE_S
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.verdicts.reachability import PortStatus, PortVerdict
from natprobe.verdicts.why import Why

__all__ = (
    "LifetimeBounds",
    "ModeDecision",
    "ModeStatus",
    "ModeVerdict",
    "Said",
    "keepalive_outlives",
    "private_mode_verdict",
    "public_mode_verdict",
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


# --- verdicts ----------------------------------------------------------------------------------


class Said(enum.StrEnum):
    """The reasons a mode verdict gives (worded by :mod:`natprobe.findings.jamulus_findings`)."""

    PROBE_DID_NOT_RUN = "jamulus.private.probe-did-not-run"
    PRIVATE_GOT_IN = "jamulus.private.got-in"
    PRIVATE_KEPT_OUT = "jamulus.private.kept-out"
    PUBLIC_NOT_MEASURED = "jamulus.public.not-measured"
    REGISTRATION_REFUSED = "jamulus.public.registration-refused"
    REGISTRATION_UNANSWERED = "jamulus.public.registration-unanswered"
    PUNCH_DID_NOT_RUN = "jamulus.public.punch-did-not-run"
    MAPPING_TOO_SHORT = "jamulus.public.mapping-too-short"
    PUNCH_OPENS_WITH_RTT = "jamulus.public.punch-opens-rtt"
    PUNCH_OPENS = "jamulus.public.punch-opens"
    SYMMETRIC = "jamulus.public.symmetric"
    PUNCH_NEVER_ARRIVED = "jamulus.public.punch-never-arrived"
    FILTERED_AFTER_PUNCH = "jamulus.public.filtered-after-punch"


@dataclass(frozen=True, slots=True)
class ModeDecision:
    """A mode's verdict before it is worded: :class:`ModeVerdict` less the sentence."""

    works: bool | None
    status: ModeStatus
    why: Why


def private_mode_verdict(check: PortVerdict | None, port: int, public_ip: IPAddress | None) -> ModeDecision:
    if check is None:
        return ModeDecision(None, ModeStatus.NOT_MEASURED, Why.of(Said.PROBE_DID_NOT_RUN))
    if check.reachable:
        return ModeDecision(True, ModeStatus.WORKS, Why.of(Said.PRIVATE_GOT_IN, address=public_ip, port=port))
    if check.reachable is None:
        return ModeDecision(None, ModeStatus.NOT_MEASURED, Why.as_said(check.reason))
    status = {
        PortStatus.CGNAT: ModeStatus.CGNAT,
        PortStatus.HOST_FIREWALL: ModeStatus.HOST_FIREWALL,
    }.get(check.status, ModeStatus.NEEDS_PORT_FORWARD)
    return ModeDecision(False, status, Why.of(Said.PRIVATE_KEPT_OUT, address=public_ip, port=port, reason=check.reason))


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
) -> ModeDecision:
    if measured_port is None or registered is None:
        return ModeDecision(None, ModeStatus.NOT_MEASURED,
                            Why.as_said(hole_punch_error) if hole_punch_error else Why.of(Said.PUBLIC_NOT_MEASURED))
    if not registered:
        if registration_status is not None:
            return ModeDecision(None, ModeStatus.DIRECTORY_UNREACHABLE,
                                Why.of(Said.REGISTRATION_REFUSED, directory=directory, status=registration_status))
        return ModeDecision(None, ModeStatus.DIRECTORY_UNREACHABLE,
                            Why.of(Said.REGISTRATION_UNANSWERED, directory=directory))
    if punch is None:
        return ModeDecision(None, ModeStatus.NOT_MEASURED,
                            Why.as_said(hole_punch_error) if hole_punch_error else Why.of(Said.PUNCH_DID_NOT_RUN))
    cgnat = nat_layers is NatLayers.CGNAT
    published = punch.published
    if punch.punched_ping_answered:
        outlives = keepalive_outlives(lifetime)
        if outlives is False and lifetime is not None and lifetime.at_most_s is not None:
            return ModeDecision(False, ModeStatus.MAPPING_TOO_SHORT, Why.of(
                Said.MAPPING_TOO_SHORT, published=published, seconds=lifetime.at_most_s,
                keepalive=JAMULUS_KEEPALIVE_S))
        if punch.punched_rtt_ms is not None:
            return ModeDecision(True, ModeStatus.WORKS,
                                Why.of(Said.PUNCH_OPENS_WITH_RTT, published=published, ms=punch.punched_rtt_ms))
        return ModeDecision(True, ModeStatus.WORKS, Why.of(Said.PUNCH_OPENS, published=published))
    source = punch.punch_source
    if punch.punch_received and source is not None and source != published:
        return ModeDecision(False, ModeStatus.SYMMETRIC_NAT,
                            Why.of(Said.SYMMETRIC, published=published, source=source, cgnat=cgnat))
    if not punch.punch_received:
        return ModeDecision(False, ModeStatus.NO_HOLE_PUNCH, Why.of(Said.PUNCH_NEVER_ARRIVED, cgnat=cgnat))
    return ModeDecision(False, ModeStatus.FILTERED, Why.of(Said.FILTERED_AFTER_PUNCH, published=published, cgnat=cgnat))
