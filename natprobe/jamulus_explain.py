"""Jamulus public mode versus private mode: the verdicts and the plain-language explanation (pure).

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

:func:`assess_jamulus_modes` turns what ``natprobe explain jamulus`` observed into a
:class:`JamulusModesReport` with a verdict per mode; :func:`explain_jamulus` turns the report
into findings with the user's own numbers; :func:`explain_jamulus_port` does the same from a
plain ``natprobe check`` verdict (no directory measurement). No I/O here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from natprobe.explain import JAMULUS_KEEPALIVE_S, Finding, Severity
from natprobe.reachability import PortStatus, PortVerdict
from natprobe.report import LifetimeReport, address_dict
from natprobe.stun.attributes import IPAddress, TransportAddress
from natprobe.topology import NatLayers

__all__ = (
    "JAMULUS_MODES_SCHEMA",
    "JAMULUS_MODES_VERSION",
    "HolePunchObservation",
    "JamulusModesReport",
    "ModeStatus",
    "ModeVerdict",
    "assess_jamulus_modes",
    "explain_jamulus",
    "explain_jamulus_port",
    "keepalive_outlives",
)

JAMULUS_MODES_SCHEMA = "natprobe/jamulus-modes"
JAMULUS_MODES_VERSION = 1


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


@dataclass(frozen=True, slots=True)
class HolePunchObservation:
    """What the echo server's directory emulation saw during its hole punch."""

    published: TransportAddress
    """The registration's source address at the directory: what a directory lists."""
    unsolicited_answered: bool
    """A stranger's ping to the published address came back (before any punch)."""
    punch_received: bool
    """The server's ``CLM_EMPTY_MESSAGE`` reached the new peer."""
    punch_source: TransportAddress | None
    punched_ping_answered: bool
    """The new peer's ping to the published address came back after the punch."""
    punched_rtt_ms: float | None = None
    keepalive_s: float = JAMULUS_KEEPALIVE_S


@dataclass(frozen=True, slots=True)
class JamulusModesReport:
    """Public mode versus private mode, measured from the user's own network."""

    server: str
    port: int
    """The Jamulus port asked about (22124 unless told otherwise)."""
    measured_port: int | None
    """The local UDP port the registration left from (``port``, or an ephemeral one when
    ``port`` was held by another program); None when public mode was not measured."""
    port_in_use: bool
    local_ip: IPAddress | None
    public_ip: IPAddress | None
    nat_layers: NatLayers
    private_check: PortVerdict | None
    """The unsolicited-probe verdict for ``port``, taken before anything left it."""
    directory: TransportAddress | None
    registered: bool | None
    """The directory answered the registration with status 0 (None: not attempted)."""
    registration_status: int | None
    hole_punch: HolePunchObservation | None
    hole_punch_error: str | None
    punches_sent: int
    """``CLM_EMPTY_MESSAGE`` natprobe sent because the directory asked (the server half of the punch)."""
    lifetime: LifetimeReport | None
    private_mode: ModeVerdict
    public_mode: ModeVerdict
    notes: tuple[str, ...]
    duration_s: float

    # --- the named observations of the brief --------------------------------------------------

    @property
    def private_mode_reachable(self) -> bool | None:
        return None if self.private_check is None else self.private_check.reachable

    @property
    def published_address(self) -> TransportAddress | None:
        return None if self.hole_punch is None else self.hole_punch.published

    @property
    def port_preserved(self) -> bool | None:
        if self.hole_punch is None or self.measured_port is None:
            return None
        return self.hole_punch.published.port == self.measured_port

    @property
    def unsolicited_from_new_peer_admitted(self) -> bool | None:
        return None if self.hole_punch is None else self.hole_punch.unsolicited_answered

    @property
    def punch_sent_from_port(self) -> int | None:
        punch = self.hole_punch
        return None if punch is None or punch.punch_source is None else punch.punch_source.port

    @property
    def punched_ping_answered(self) -> bool | None:
        return None if self.hole_punch is None else self.hole_punch.punched_ping_answered

    @property
    def keepalive_outlives_mapping(self) -> bool | None:
        """Does the NAT keep an idle mapping longer than Jamulus' 59 s keep-alive? (None: unknown)."""
        return keepalive_outlives(self.lifetime)

    def to_dict(self) -> dict[str, Any]:
        punch = self.hole_punch
        return {
            "schema": JAMULUS_MODES_SCHEMA,
            "schema_version": JAMULUS_MODES_VERSION,
            "server": self.server,
            "port": self.port,
            "measured_port": self.measured_port,
            "port_in_use": self.port_in_use,
            "local_ip": None if self.local_ip is None else str(self.local_ip),
            "public_ip": None if self.public_ip is None else str(self.public_ip),
            "nat_layers": self.nat_layers.value,
            "private_mode": _verdict_dict(self.private_mode),
            "public_mode": _verdict_dict(self.public_mode),
            "private_mode_reachable": self.private_mode_reachable,
            "private_check": None
            if self.private_check is None
            else {
                "status": self.private_check.status.value,
                "reachable": self.private_check.reachable,
                "reason": self.private_check.reason,
            },
            "directory": address_dict(self.directory),
            "registered": self.registered,
            "registration_status": self.registration_status,
            "published_address": address_dict(self.published_address),
            "port_preserved": self.port_preserved,
            "unsolicited_from_new_peer_admitted": self.unsolicited_from_new_peer_admitted,
            "hole_punch_received": None if punch is None else punch.punch_received,
            "punch_sent_from_port": self.punch_sent_from_port,
            "punched_ping_answered": self.punched_ping_answered,
            "punched_ping_rtt_ms": None if punch is None else punch.punched_rtt_ms,
            "hole_punch_error": self.hole_punch_error,
            "punches_sent": self.punches_sent,
            "keepalive_s": JAMULUS_KEEPALIVE_S,
            "keepalive_outlives_mapping": self.keepalive_outlives_mapping,
            "lifetime": None if self.lifetime is None else self.lifetime.to_dict(),
            "notes": list(self.notes),
            "duration_ms": round(self.duration_s * 1000.0, 1),
        }


def _verdict_dict(verdict: ModeVerdict) -> dict[str, Any]:
    return {"works": verdict.works, "status": verdict.status.value, "reason": verdict.reason}


def keepalive_outlives(lifetime: LifetimeReport | None) -> bool | None:
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


def _private_verdict(check: PortVerdict | None, port: int, public_ip: IPAddress | None) -> ModeVerdict:
    if check is None:
        return ModeVerdict(None, ModeStatus.NOT_MEASURED, "the unsolicited probe of the port did not run")
    where = f"{public_ip}:{port}" if public_ip is not None else f"port {port}"
    if check.reachable:
        return ModeVerdict(
            True,
            ModeStatus.WORKS,
            f"an unsolicited packet from the echo server reached UDP {where} before this port had sent "
            "anything: a port forward (or no NAT at all) lets clients in",
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
        f"the echo server's unsolicited packet to UDP {where}, sent before anything had left the port, "
        f"did not get in ({_clause(check.reason)})",
    )


def _public_verdict(
    *,
    measured_port: int | None,
    directory: TransportAddress | None,
    registered: bool | None,
    registration_status: int | None,
    punch: HolePunchObservation | None,
    hole_punch_error: str | None,
    lifetime: LifetimeReport | None,
    nat_layers: NatLayers,
) -> ModeVerdict:
    if measured_port is None or registered is None:
        return ModeVerdict(None, ModeStatus.NOT_MEASURED, hole_punch_error or "public mode was not measured")
    where = f" at {directory}" if directory is not None else ""
    if not registered:
        if registration_status is not None:
            return ModeVerdict(
                None,
                ModeStatus.DIRECTORY_UNREACHABLE,
                f"the directory{where} refused the registration (status {registration_status})",
            )
        return ModeVerdict(
            None,
            ModeStatus.DIRECTORY_UNREACHABLE,
            f"the directory{where} did not answer the registration (5 tries in 2.5 s, as Jamulus does): "
            "outbound UDP is blocked, or the echo server runs without its Jamulus directory (--jamulus-port)",
        )
    if punch is None:
        return ModeVerdict(None, ModeStatus.NOT_MEASURED, hole_punch_error or "the hole punch did not run")
    cgnat = (
        " This network is behind carrier-grade NAT, whose behaviour decides this."
        if nat_layers is NatLayers.CGNAT
        else ""
    )
    published = punch.published
    if punch.punched_ping_answered:
        outlives = keepalive_outlives(lifetime)
        if outlives is False and lifetime is not None and lifetime.at_most_s is not None:
            return ModeVerdict(
                False,
                ModeStatus.MAPPING_TOO_SHORT,
                f"the hole punch worked (a new client's ping to {published} was answered), but the NAT forgets "
                f"an idle mapping within {lifetime.at_most_s:g} s, before Jamulus' next {JAMULUS_KEEPALIVE_S:g} s "
                "keep-alive: the listed address stops working between keep-alives",
            )
        rtt = f" in {punch.punched_rtt_ms:g} ms" if punch.punched_rtt_ms is not None else ""
        return ModeVerdict(
            True,
            ModeStatus.WORKS,
            f"after the directory-triggered packet, a new client's ping to the listed address {published} was "
            f"answered{rtt}: the hole punch opens this NAT",
        )
    source = punch.punch_source
    if punch.punch_received and source is not None and source != published:
        through = f"port {source.port}" if source.ip == published.ip else str(source)
        return ModeVerdict(
            False,
            ModeStatus.SYMMETRIC_NAT,
            f"the registration left through {published}, but the packet to the new client left through "
            f"{through}: the NAT gives every destination its own mapping (symmetric NAT), so the address a "
            f"directory lists is closed to clients.{cgnat}",
        )
    if not punch.punch_received:
        return ModeVerdict(
            False,
            ModeStatus.NO_HOLE_PUNCH,
            "the directory asked for the hole punch, but the packet toward the new client never arrived "
            f"(the request was lost, the mapping toward the directory is gone, or outbound UDP to new "
            f"destinations is filtered).{cgnat}",
        )
    return ModeVerdict(
        False,
        ModeStatus.FILTERED,
        f"the hole-punch packet left through the listed address {published}, but the new client's ping to it "
        f"was still dropped.{cgnat}",
    )


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
    """The report, with a verdict for each mode, from what was observed."""
    private = _private_verdict(private_check, port, public_ip)
    public = _public_verdict(
        measured_port=measured_port,
        directory=directory,
        registered=registered,
        registration_status=registration_status,
        punch=hole_punch,
        hole_punch_error=hole_punch_error,
        lifetime=lifetime,
        nat_layers=nat_layers,
    )
    return JamulusModesReport(
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
        private_mode=private,
        public_mode=public,
        notes=notes,
        duration_s=duration_s,
    )


# --- findings ----------------------------------------------------------------------------------


def _forward_advice(port: int, local_ip: IPAddress | None) -> str:
    host = str(local_ip) if local_ip is not None else "the Jamulus server's LAN address"
    return (
        f"On the router, forward UDP port {port} to {host}, port {port} (and give that host a fixed LAN "
        "address with a DHCP reservation)."
    )


_CGNAT_ADVICE = (
    "Ask your ISP for a public IPv4 address (often called 'disable CGNAT' or a static IP option): "
    "Jamulus directories and clients are IPv4.",
    "Or run the Jamulus server on a VPS or any host with a public address, and connect to it from home.",
)

_SYMMETRIC_ADVICE = (
    "If the router offers 'endpoint-independent', 'full-cone' or 'consistent' NAT, or an option to "
    "stop randomising source ports, turn it on: then public mode works without a forward.",
)


def explain_jamulus(report: JamulusModesReport) -> tuple[Finding, ...]:
    """Findings for ``natprobe explain jamulus``, most important first, with the measured numbers."""
    findings = [_public_finding(report), _private_finding(report)]
    findings += _why_findings(report)
    findings += _detail_findings(report)
    return tuple(findings)


def _public_finding(report: JamulusModesReport) -> Finding:
    verdict = report.public_mode
    port = report.port
    if verdict.works:
        return Finding(
            Severity.OK,
            "Public mode works without a port forward",
            f"{_sentence(verdict.reason)} A registered Jamulus server on UDP {port} here can be listed by a directory "
            "and reached by its clients.",
        )
    if verdict.works is None:
        return Finding(Severity.WARNING, "Public mode was not measured", _sentence(verdict.reason), _public_advice(report))
    return Finding(Severity.PROBLEM, "Public mode fails here", _sentence(verdict.reason), _public_advice(report))


def _public_advice(report: JamulusModesReport) -> tuple[str, ...]:
    status = report.public_mode.status
    forward = _forward_advice(report.port, report.local_ip)
    if report.nat_layers is NatLayers.CGNAT and status is not ModeStatus.WORKS:
        return _CGNAT_ADVICE
    if status is ModeStatus.SYMMETRIC_NAT:
        return (
            *_SYMMETRIC_ADVICE,
            forward + " Then share your address and port so people connect directly (private mode): "
            "with this NAT even a forwarded server is listed under a random port.",
        )
    if status is ModeStatus.MAPPING_TOO_SHORT:
        return (
            "Raise the router's UDP session timeout to 120 s or more (RFC 4787 asks for at least 120 s); "
            "Jamulus' 59 s keep-alive cannot be changed.",
            forward + " A forward does not expire.",
        )
    if status in (ModeStatus.NO_HOLE_PUNCH, ModeStatus.FILTERED):
        return (forward, "Check firewall rules on this host and the router that filter outbound UDP.")
    if status is ModeStatus.DIRECTORY_UNREACHABLE:
        return (
            "Check that the echo server runs its Jamulus directory (natprobe serve --http-port N "
            "--jamulus-port 22224) and that outbound UDP to it is allowed.",
        )
    if status is ModeStatus.NOT_MEASURED and report.port_in_use and report.measured_port is None:
        return (f"Stop the program on UDP {report.port} and run again, or pass --port with a free port.",)
    return ()


def _private_finding(report: JamulusModesReport) -> Finding:
    verdict = report.private_mode
    port = report.port
    if verdict.works:
        return Finding(
            Severity.OK,
            "Private mode works: the port is reachable without registering",
            f"{_sentence(verdict.reason)} Clients can connect straight to {report.public_ip}:{port}.",
        )
    if verdict.works is None:
        return Finding(Severity.WARNING, "Private mode was not measured", _sentence(verdict.reason))
    if verdict.status is ModeStatus.CGNAT:
        return Finding(
            Severity.PROBLEM,
            "Private mode is impossible behind carrier-grade NAT",
            _sentence(verdict.reason) + " A forward on your own router cannot help: the public address belongs to your ISP.",
            _CGNAT_ADVICE,
        )
    if verdict.status is ModeStatus.HOST_FIREWALL:
        return Finding(
            Severity.PROBLEM,
            "Private mode is blocked by this host's firewall",
            _sentence(verdict.reason),
            (f"Allow inbound UDP port {port} in this host's firewall (nftables/iptables, ufw, firewalld).",),
        )
    return Finding(
        Severity.PROBLEM,
        "Private mode needs a port forward",
        _sentence(verdict.reason),
        (_forward_advice(port, report.local_ip),),
    )


def _why_findings(report: JamulusModesReport) -> list[Finding]:
    findings: list[Finding] = []
    port = report.port
    punch = report.hole_punch
    if punch is not None:
        local = report.measured_port if report.measured_port is not None else port
        stranger = (
            "was answered too (a port forward or a full-cone NAT admits anyone)"
            if punch.unsolicited_answered
            else "was dropped"
        )
        if punch.punch_source is None:
            punched = "the empty message never reached the new client"
        elif punch.punch_source == punch.published:
            punched = (
                f"the empty message left through {punch.punch_source}, the listed address, so the NAT now "
                "admits that client"
            )
        else:
            punched = (
                f"the empty message left through {punch.punch_source}, not the listed {punch.published}"
            )
        answered = "was answered" if punch.punched_ping_answered else "was dropped"
        mapping = (
            f"reached the directory from {punch.published} (this host has a public address, so there is no "
            "NAT mapping to create; a firewall that admits replies works alike)"
            if report.nat_layers is NatLayers.NO_NAT
            else f"created the NAT mapping {punch.published}"
        )
        title = (
            "Why public mode needs no port forward"
            if report.public_mode.works
            else "How public mode gets through a NAT, and where it failed here"
        )
        findings.append(
            Finding(
                Severity.INFO,
                title,
                f"A registered server sends first. natprobe's test registration from local UDP port {local} "
                f"{mapping}: that is the address a directory lists. The server "
                f"and the directory each send a keep-alive every {JAMULUS_KEEPALIVE_S:g} s to keep it open. "
                f"A stranger's ping to {punch.published} before any punch {stranger}. When a client asks the "
                "directory for the list, the directory tells the server to send an empty message to that "
                f"client: {punched}; the client's ping to the listed address {answered}.",
            )
        )
    if report.private_mode.works is False:
        public = f"{report.public_ip}:{port}" if report.public_ip is not None else f"UDP {port}"
        findings.append(
            Finding(
                Severity.INFO,
                "Why private mode needs a port forward",
                "An unregistered (private) server sends nothing until a client has reached it, so the NAT "
                f"has no mapping for it and drops every client's first packet to {public}; natprobe's "
                "unsolicited probe, sent before anything had left the port, was dropped the same way. Only "
                "a port forward (or a public address) admits it.",
            )
        )
    return findings


def _detail_findings(report: JamulusModesReport) -> list[Finding]:
    findings: list[Finding] = []
    punch = report.hole_punch
    if punch is not None and report.port_preserved is False:
        findings.append(
            Finding(
                Severity.WARNING if report.public_mode.status is not ModeStatus.WORKS else Severity.INFO,
                "The NAT does not preserve the port",
                f"The registration from local port {report.measured_port} left as {punch.published}, so a "
                f"directory lists the server at port {punch.published.port}, not {report.measured_port}. "
                "Clients that pick it from the list are fine; people who type your address with port "
                f"{report.port} reach nothing unless that port is forwarded, and the listed port changes "
                "whenever the mapping is renewed.",
                (
                    "Let people find the server in the directory's list rather than by address and port, or "
                    + _forward_advice(report.port, report.local_ip)[0].lower()
                    + _forward_advice(report.port, report.local_ip)[1:],
                ),
            )
        )
    findings.append(_lifetime_finding(report))
    if report.nat_layers is NatLayers.CGNAT and report.public_mode.works:
        findings.append(
            Finding(
                Severity.WARNING,
                "Behind carrier-grade NAT",
                "Public mode works through your ISP's NAT today, but carrier NATs are shared and their "
                "behaviour (port allocation, timeouts) can change without notice; private mode is impossible.",
                _CGNAT_ADVICE[:1],
            )
        )
    for note in report.notes:
        findings.append(Finding(Severity.INFO, "Note", note))
    return findings


def _lifetime_finding(report: JamulusModesReport) -> Finding:
    lifetime = report.lifetime
    keepalive = f"{JAMULUS_KEEPALIVE_S:g} s"
    if lifetime is None:
        return Finding(
            Severity.INFO,
            "Keep-alive against mapping lifetime: not measured",
            f"Public mode also needs the NAT to keep an idle UDP mapping longer than Jamulus' {keepalive} "
            "keep-alive. Run again with --lifetime (it takes about the lifetime, up to --lifetime-max seconds).",
        )
    outlives = keepalive_outlives(lifetime)
    if outlives is True:
        return Finding(
            Severity.OK,
            f"Idle mappings outlive Jamulus' {keepalive} keep-alive",
            f"{_clause(lifetime.reason)}: the keep-alives keep a registered server's mapping open.",
        )
    if outlives is False:
        return Finding(
            Severity.PROBLEM,
            f"Idle mappings expire before Jamulus' {keepalive} keep-alive",
            f"{_sentence(lifetime.reason)} A registered server's mapping disappears between two keep-alives, so the "
            "directory's hole punches stop reaching it and public mode drops out for most of each minute.",
            (
                "Raise the router's UDP session timeout to 120 s or more, or forward the port.",
            ),
        )
    return Finding(
        Severity.WARNING,
        f"Mapping lifetime against the {keepalive} keep-alive: undecided",
        f"{_sentence(lifetime.reason)} That does not settle whether a mapping survives {keepalive} idle; run again "
        "with --lifetime-max 70 or more.",
    )


def explain_jamulus_port(verdict: PortVerdict, nat_layers: NatLayers) -> tuple[Finding, ...]:
    """What ``natprobe check --udp 22124`` means for Jamulus' two modes (no directory measurement)."""
    port = verdict.port
    measure = (
        "Run 'natprobe explain jamulus --server URL' to measure public mode (registration, keep-alive "
        "and hole punch) on this network."
    )
    if verdict.reachable:
        return (
            Finding(
                Severity.OK,
                "Jamulus: private mode will work",
                f"UDP {port} is reachable from outside, so clients can connect to this server by address "
                "without it registering with a directory; registered (public) servers are reachable too.",
            ),
        )
    if verdict.reachable is None:
        return (Finding(Severity.INFO, "Jamulus: modes not assessed", _sentence(verdict.reason), (measure,)),)
    if nat_layers is NatLayers.CGNAT or verdict.status is PortStatus.CGNAT:
        return (
            Finding(
                Severity.PROBLEM,
                "Jamulus: private mode cannot work behind carrier-grade NAT",
                "Nothing from outside reaches an unregistered server here, and no forward on your router can "
                "change that. Public mode (registering with a directory) may still work if your ISP's NAT "
                "keeps one port per server and lets idle mappings live longer than 59 s.",
                (measure, *_CGNAT_ADVICE),
            ),
        )
    return (
        Finding(
            Severity.INFO,
            "Jamulus: private mode needs a port forward; public mode may not",
            f"An unregistered server sends nothing until a client reaches it, so the NAT has no mapping and "
            f"drops the first packet to UDP {port}, as it dropped this probe. A registered server sends first: "
            "its registration creates the mapping a directory lists, 59 s keep-alives refresh it, and the "
            "directory makes the server send a packet to each client, which opens the NAT for that client. "
            "That works without a forward unless the NAT is symmetric, is carrier-grade, or forgets idle "
            "mappings in under 59 s.",
            (measure, *verdict.advice[:1]),
        ),
    )
