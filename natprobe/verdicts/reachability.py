"""Why a port is or is not reachable from outside: the pure decision for ``natprobe check``.

Inputs are what was observed — whether the echo server's probe-back arrived on the port,
whether it was at least seen on this host's interface (a packet capture, when allowed),
what the server saw when it connected or spoke the service's protocol — plus the local
context (this host's address, the public address the server saw, the NAT layers). The
output is one decision per port (:class:`PortDecision`: the status, and the reason and what to
do as codes and parameters); :mod:`natprobe.findings.port_words` says it as a
:class:`PortVerdict` in plain language.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from natprobe.observations import HolderKind, PortObservation
from natprobe.addressing import IPAddress, IpFamily
from natprobe.contract import (
    ConnectResult,
    HttpResult,
    HttpsResult,
    JamulusResult,
    ProbeError,
    ProbeMode,
    ProbeResult,
    SshResult,
    TransportProtocol,
    UdpServiceResult,
)
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.verdicts.port_spec import UDP_SERVICE_MODES
from natprobe.verdicts.why import Why


class PortStatus(enum.StrEnum):
    """The verdict for one port; the stable strings scripts rely on."""

    REACHABLE = "reachable"
    NOTHING_ANSWERING = "forwarded-but-nothing-answering"
    NOT_FORWARDED = "not-forwarded-or-filtered"
    WRONG_HOST = "forwarded-to-another-host"
    HOST_FIREWALL = "dropped-by-host-firewall"
    CGNAT = "behind-cgnat"
    IPV6_FIREWALL = "filtered-by-ipv6-firewall"
    """Over IPv6 (no NAT) the probe to this host's address never arrived: a firewall dropped it."""
    UNTESTED = "not-tested"
    ARRIVED_SILENT = "arrived-service-silent"
    """A program holds the port and stayed silent, but the echo server's token reached this host's
    interface: the forward and the router's firewall let it through (what WireGuard looks like)."""


@dataclass(frozen=True, slots=True)
class Context:
    local_ip: IPAddress | None
    public_ip: IPAddress | None
    layers: NatLayers
    family: IpFamily = IpFamily.IPV4
    """The family the port was probed over; over IPv6 there is no NAT, only firewalls."""
    temporary_address: bool = False
    """Over IPv6: the probed address is a temporary privacy address (no stable one here)."""


@dataclass(frozen=True, slots=True)
class PortVerdict:
    protocol: TransportProtocol
    port: int
    reachable: bool | None
    status: PortStatus
    reason: str
    advice: tuple[str, ...]
    proof: str | None = None
    """How reachability was proven, when it was."""
    details: ProbeResult | None = None
    """What the echo server got back, when a service answered or refused."""
    family: IpFamily = IpFamily.IPV4


class Said(enum.StrEnum):
    """The reasons, proofs and advice of the port verdicts (worded by :mod:`natprobe.findings.port_words`)."""

    # the first half of an "unreached" reason: what did not get through
    PROBE_NEVER_ARRIVED = "port.probe-never-arrived"
    REQUEST_UNANSWERED = "port.request-unanswered"
    # reasons
    V6_UNREACHED = "port.v6-unreached"
    HOST_FIREWALL_DROPPED = "port.host-firewall-dropped"
    CGNAT_UNREACHED = "port.cgnat-unreached"
    NO_NAT_FILTERED = "port.no-nat-filtered"
    NOT_FORWARDED = "port.not-forwarded"
    OVER_IPV6 = "port.over-ipv6"
    PROBE_ARRIVED = "port.probe-arrived"
    V6_REFUSED = "port.v6-refused"
    CONNECTED_ELSEWHERE = "port.connected-elsewhere"
    REFUSED_BY_HOST_FIREWALL = "port.refused-by-host-firewall"
    REFUSED_ELSEWHERE = "port.refused-elsewhere"
    SERVICE_ANSWERED = "port.service-answered"
    CONNECTED_WRONG_PROTOCOL = "port.connected-wrong-protocol"
    FORWARDED_REFUSED = "port.forwarded-refused"
    REQUEST_REACHED_INTERFACE = "port.request-reached-interface"
    # what answered
    JAMULUS_SERVER = "port.answered.jamulus"
    WEB_SERVER = "port.answered.web"
    SSH_SERVER = "port.answered.ssh"
    TCP_SERVICE = "port.answered.tcp"
    # proofs
    TOKEN_ARRIVED = "port.proof.token-arrived"
    V6_TOKEN_ARRIVED = "port.proof.v6-token-arrived"
    SERVICE_SPOKE = "port.proof.service-spoke"
    TCP_ACCEPTED = "port.proof.tcp-accepted"
    # advice
    LAN_FORWARD = "port.advice.lan-forward"
    LAN_FIXED_ADDRESS = "port.advice.lan-fixed-address"
    LAN_UPSTREAM = "port.advice.lan-upstream"
    CGNAT_ADVICE = "cgnat.advice"
    V6_PINHOLE = "port.advice.v6-pinhole"
    V6_HOST_FIREWALL = "port.advice.v6-host-firewall"
    V6_STABLE_ADDRESS = "port.advice.v6-stable-address"
    HOST_FIREWALL_ALLOW = "port.advice.host-firewall-allow"
    NETWORK_FIREWALL_OPEN = "port.advice.network-firewall-open"
    CHECK_SERVICE = "port.advice.check-service"
    ALLOW_INBOUND = "port.advice.allow-inbound"
    LISTEN_EVERYWHERE = "port.advice.listen-everywhere"
    # a held port, a refused service, a certificate (#20, #18)
    NOT_FORWARDED_NO_WATCH = "port.not-forwarded-no-watch"
    HELD_SILENT_ARRIVED = "port.held-silent-arrived"
    HELD_TOKEN_NEVER_ARRIVED = "port.held-token-never-arrived"
    HELD_SERVICE_SILENT = "port.held-service-silent"
    HELD_UNKNOWN_PROTOCOL = "port.held-unknown-protocol"
    SILENT_TOKEN_SEEN = "port.proof.silent-token-seen"
    WIREGUARD_PEERS = "port.advice.wireguard-peers"
    OPENVPN_KEY = "port.advice.openvpn-key"
    UNKNOWN_PROTOCOL_LISTEN = "port.advice.unknown-protocol-listen"
    FIREWALL_AFTER_WATCH = "port.advice.firewall-after-watch"
    RUN_WITH_WATCH = "port.advice.run-with-watch"
    STOP_HOLDER = "port.advice.stop-holder"
    WITH_CERTIFICATE_PROBLEM = "port.with-certificate-problem"
    CERTIFICATE_WRONG_NAME = "port.certificate-wrong-name"
    CERTIFICATE_UNVERIFIED = "port.certificate-unverified"
    INSTALL_CERTIFICATE_FOR_NAME = "port.advice.install-certificate-for-name"
    INSTALL_PUBLIC_CERTIFICATE = "port.advice.install-public-certificate"
    REFUSED_NOTHING_LISTENS = "port.refused-nothing-listens"
    REFUSED_LISTENER_FIREWALL = "port.refused-listener-firewall"
    REFUSED_NEVER_REACHED = "port.refused-never-reached"
    REFUSED_NO_WATCH = "port.refused-no-watch"
    START_SERVICE = "port.advice.start-service"
    UDP_SERVICE = "port.answered.udp-service"
    # hairpinning
    HAIRPIN_UNTESTED = "hairpin.untested"
    HAIRPIN_PORT_IN_USE = "hairpin.port-in-use"
    HAIRPIN_CANNOT_LISTEN = "hairpin.cannot-listen"
    HAIRPIN_WORKS = "hairpin.works"
    HAIRPIN_FAILS = "hairpin.fails"
    HAIRPIN_SPLIT_DNS = "hairpin.advice.split-dns"


@dataclass(frozen=True, slots=True)
class PortDecision:
    """A :class:`PortVerdict` before it is worded: reason, advice and proof as codes and parameters."""

    protocol: TransportProtocol
    port: int
    reachable: bool | None
    status: PortStatus
    why: Why
    advice: tuple[Why, ...]
    proof: Why | None = None
    details: ProbeResult | None = None
    family: IpFamily = IpFamily.IPV4


def _lan_advice(observation: PortObservation, context: Context) -> tuple[Why, ...]:
    proto = observation.protocol.value.upper()
    return (
        Why.of(Said.LAN_FORWARD, protocol=proto, port=observation.port, host=context.local_ip),
        Why.of(Said.LAN_FIXED_ADDRESS, host=context.local_ip),
        Why.of(Said.LAN_UPSTREAM),
    )


def _v6_advice(observation: PortObservation, context: Context) -> tuple[Why, ...]:
    """Over IPv6 nothing is forwarded: a pinhole on the router, and this host's firewall."""
    proto, port = observation.protocol.value.upper(), observation.port
    advice = [
        Why.of(Said.V6_PINHOLE, protocol=proto, port=port, address=context.local_ip),
        Why.of(Said.V6_HOST_FIREWALL, protocol=proto, port=port),
    ]
    if context.temporary_address:
        advice.append(Why.of(Said.V6_STABLE_ADDRESS, address=context.local_ip))
    return tuple(advice)


def _v6_where(context: Context) -> dict[str, object]:
    """The parameters that name this host's IPv6 address (and whether it is a temporary one)."""
    return {"address": context.local_ip, "temporary": context.temporary_address}


def _v6_unreached(observation: PortObservation, context: Context, what: Why) -> PortDecision:
    return PortDecision(
        status=PortStatus.IPV6_FIREWALL,
        why=Why.of(Said.V6_UNREACHED, what=what, protocol=observation.protocol.value.upper(), port=observation.port,
                   **_v6_where(context)),
        advice=_v6_advice(observation, context),
        protocol=observation.protocol,
        port=observation.port,
        reachable=False,
    )


def _unreached(observation: PortObservation, context: Context, what: Why) -> PortDecision:
    """The probe did not get through: tell apart host firewall, CGNAT and a missing forward."""
    if context.family is IpFamily.IPV6 and not observation.seen_on_interface:
        return _v6_unreached(observation, context, what)
    proto, port = observation.protocol.value.upper(), observation.port
    if observation.seen_on_interface:
        return PortDecision(
            status=PortStatus.HOST_FIREWALL,
            why=Why.of(Said.HOST_FIREWALL_DROPPED, what=what, port=port),
            advice=(Why.of(Said.HOST_FIREWALL_ALLOW, protocol=proto, port=port),),
            protocol=observation.protocol,
            port=port,
            reachable=False,
        )
    if context.layers is NatLayers.CGNAT:
        return PortDecision(
            status=PortStatus.CGNAT,
            why=Why.of(Said.CGNAT_UNREACHED, what=what, address=context.public_ip),
            advice=(Why.of(Said.CGNAT_ADVICE),),
            protocol=observation.protocol,
            port=port,
            reachable=False,
        )
    if context.layers is NatLayers.NO_NAT:
        return PortDecision(
            status=PortStatus.NOT_FORWARDED,
            why=Why.of(Said.NO_NAT_FILTERED, what=what, address=context.public_ip),
            advice=(Why.of(Said.NETWORK_FIREWALL_OPEN, protocol=proto, port=port),),
            protocol=observation.protocol,
            port=port,
            reachable=False,
        )
    unwatched = observation.seen_on_interface is None and observation.listening
    # No packet watch: "never arrived here" is not known, this host's firewall stays a suspect.
    advice = _lan_advice(observation, context)
    if unwatched:
        advice += (Why.of(Said.HOST_FIREWALL_ALLOW, protocol=proto, port=port),)
    return PortDecision(
        status=PortStatus.NOT_FORWARDED,
        why=Why.of(Said.NOT_FORWARDED_NO_WATCH if unwatched else Said.NOT_FORWARDED, what=what, protocol=proto,
                   port=port, host=context.local_ip, double_nat=context.layers is NatLayers.DOUBLE_NAT),
        advice=advice,
        protocol=observation.protocol,
        port=port,
        reachable=False,
    )


def _silent_advice(observation: PortObservation, context: Context) -> tuple[Why, ...]:
    """What to check next when the token arrived and the holder, as expected, said nothing."""
    proto, port, holder = observation.protocol.value.upper(), observation.port, observation.holder
    firewall = Why.of(Said.FIREWALL_AFTER_WATCH, protocol=proto, port=port)
    if holder is not None and holder.kind is HolderKind.WIREGUARD:
        return (Why.of(Said.WIREGUARD_PEERS, address=context.public_ip, port=port), firewall)
    if holder is not None and holder.kind is HolderKind.OPENVPN:
        return (Why.of(Said.OPENVPN_KEY, address=context.public_ip, port=port), firewall)
    return (Why.of(Said.UNKNOWN_PROTOCOL_LISTEN, holder=holder), firewall)


def _held_port(observation: PortObservation, context: Context) -> PortDecision:
    """A program holds the port and natprobe speaks none of its protocol: the arrival watch decides."""
    proto, port, holder = observation.protocol, observation.port, observation.holder
    facts = {"holder": holder, "protocol": proto.value.upper(), "port": port}
    if observation.seen_on_interface:
        return PortDecision(
            reachable=True,
            status=PortStatus.ARRIVED_SILENT,
            why=Why.of(Said.HELD_SILENT_ARRIVED, **facts),
            advice=_silent_advice(observation, context),
            proof=Why.of(Said.SILENT_TOKEN_SEEN),
            details=observation.server_result,
            protocol=proto,
            port=port,
        )
    if observation.seen_on_interface is False:
        return _unreached(observation, context, Why.of(Said.HELD_TOKEN_NEVER_ARRIVED, holder=holder))
    said = Said.HELD_SERVICE_SILENT if observation.mode in UDP_SERVICE_MODES else Said.HELD_UNKNOWN_PROTOCOL
    missing = observation.watch_missing
    advice: tuple[Why, ...] = ()
    if missing is not None and missing.remedy:
        advice = (Why.of(Said.RUN_WITH_WATCH, command=missing.remedy),)
    if not advice:
        advice = (Why.of(Said.STOP_HOLDER, holder=holder),)
    return PortDecision(proto, port, None, PortStatus.UNTESTED,
                        Why.of(said, mode=observation.mode.value, watch_missing=missing, **facts), advice,
                        details=observation.server_result)


def decide_port(observation: PortObservation, context: Context) -> PortDecision:
    """The decision for one port, over ``context.family``."""
    decision = _decide(observation, context)
    if context.family is IpFamily.IPV6 and decision.advice and decision.status in (
        PortStatus.WRONG_HOST, PortStatus.NOTHING_ANSWERING
    ):
        # A refused connection over IPv6 is no forward to the wrong machine: nothing is
        # forwarded there, so it is a firewall that rejects, or the service is not listening.
        decision = replace(decision, advice=_v6_advice(observation, context))
    if context.family is IpFamily.IPV6 and decision.reachable:
        # The reason is a whole clause of its own; the parenthesis says where, as one unit.
        decision = replace(decision, why=Why.of(Said.OVER_IPV6, reason=decision.why, **_v6_where(context)))
        if observation.mode is ProbeMode.NONCE and observation.listening:
            decision = replace(decision, proof=Why.of(Said.V6_TOKEN_ARRIVED, **_v6_where(context)))
    return replace(decision, family=context.family)


def _decide(observation: PortObservation, context: Context) -> PortDecision:
    result = observation.server_result
    protocol, port = observation.protocol, observation.port
    proto = protocol.value.upper()
    if observation.error is not None:
        return PortDecision(protocol, port, None, PortStatus.UNTESTED, Why.as_said(observation.error), ())

    if observation.mode is ProbeMode.NONCE and not observation.listening:
        return _held_port(observation, context)
    if observation.mode is ProbeMode.NONCE:
        if observation.nonce_received:
            return PortDecision(
                reachable=True,
                status=PortStatus.REACHABLE,
                why=Why.of(Said.PROBE_ARRIVED, protocol=proto, port=port),
                advice=(),
                proof=Why.of(Said.TOKEN_ARRIVED),
                protocol=protocol,
                port=port,
            )
        if isinstance(result, ConnectResult):
            if context.family is IpFamily.IPV6 and result.error == ProbeError.REFUSED and not observation.seen_on_interface:
                return PortDecision(
                    reachable=False,
                    status=PortStatus.IPV6_FIREWALL,
                    why=Why.of(Said.V6_REFUSED, **_v6_where(context)),
                    advice=_v6_advice(observation, context),
                    protocol=protocol,
                    port=port,
                )
            if result.connected:
                return PortDecision(
                    reachable=False,
                    status=PortStatus.WRONG_HOST,
                    why=Why.of(Said.CONNECTED_ELSEWHERE, port=port, host=context.local_ip),
                    advice=_lan_advice(observation, context)[:2],
                    protocol=protocol,
                    port=port,
                )
            if result.error == ProbeError.REFUSED:
                return PortDecision(
                    reachable=False,
                    status=PortStatus.WRONG_HOST if not observation.seen_on_interface else PortStatus.HOST_FIREWALL,
                    why=(
                        Why.of(Said.REFUSED_BY_HOST_FIREWALL)
                        if observation.seen_on_interface
                        else Why.of(Said.REFUSED_ELSEWHERE, host=context.local_ip)
                    ),
                    advice=_lan_advice(observation, context)[:2],
                    protocol=protocol,
                    port=port,
                )
        return _unreached(observation, context, Why.of(Said.PROBE_NEVER_ARRIVED))

    # A service holds the port: judge by what the echo server got back.
    answered = _service_answered(observation.mode, result)
    if answered:
        reason = Why.of(Said.SERVICE_ANSWERED, service=answered, protocol=proto, port=port)
        certificate = _certificate_problem(result, observation.host)
        return PortDecision(
            reachable=True,
            status=PortStatus.REACHABLE,
            why=reason if certificate is None else Why.of(Said.WITH_CERTIFICATE_PROBLEM, reason=reason,
                                                           problem=certificate[0]),
            advice=() if certificate is None else (certificate[1],),
            proof=Why.of(Said.SERVICE_SPOKE, mode=observation.mode.value, service=answered),
            details=result,
            protocol=protocol,
            port=port,
        )
    if observation.mode in UDP_SERVICE_MODES:
        # Silence to a correct first packet is what OpenVPN with tls-auth does: the arrival decides.
        return _held_port(observation, context)
    connected = isinstance(result, (ConnectResult, HttpResult, HttpsResult, SshResult)) and result.connected
    refused = isinstance(result, (ConnectResult, HttpResult, HttpsResult, SshResult)) and result.error == ProbeError.REFUSED
    if connected:
        return PortDecision(
            reachable=True,
            status=PortStatus.REACHABLE,
            why=Why.of(Said.CONNECTED_WRONG_PROTOCOL, port=port, mode=observation.mode.value),
            advice=(Why.of(Said.CHECK_SERVICE),),
            proof=Why.of(Said.TCP_ACCEPTED),
            details=result,
            protocol=protocol,
            port=port,
        )
    if refused and context.family is IpFamily.IPV4:
        verdict = _refused_service(observation, context)
        if verdict is not None:
            return replace(verdict, details=result)
    if refused:
        return PortDecision(
            reachable=False,
            status=PortStatus.NOTHING_ANSWERING,
            why=Why.of(Said.FORWARDED_REFUSED, host=context.local_ip),
            advice=_lan_advice(observation, context)[:2],
            details=result,
            protocol=protocol,
            port=port,
        )
    service = observation.service or observation.mode.value
    if observation.seen_on_interface:
        return PortDecision(
            reachable=False,
            status=PortStatus.HOST_FIREWALL
            if observation.protocol is TransportProtocol.TCP
            else PortStatus.NOTHING_ANSWERING,
            why=Why.of(Said.REQUEST_REACHED_INTERFACE, service=service),
            advice=(
                Why.of(Said.ALLOW_INBOUND, protocol=proto, port=port),
                Why.of(Said.LISTEN_EVERYWHERE, service=service),
            ),
            details=result,
            protocol=protocol,
            port=port,
        )
    # The program holding the port, when natprobe named it (Jamulus on a port of its own choosing).
    holder = observation.holder if observation.holder is not None and observation.holder.program else None
    return _unreached(observation, context, Why.of(Said.REQUEST_UNANSWERED, service=service, holder=holder))


def _name_matches(name: str, pattern: str) -> bool:
    """RFC 6125 section 6.4.3, simplified: exact, or one leftmost ``*`` label."""
    name, pattern = name.lower().rstrip("."), pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        return "." in name and name.split(".", 1)[1] == pattern[2:]
    return name == pattern


def _certificate_problem(result: ProbeResult | None, name: str | None) -> tuple[Why, Why] | None:
    """(the problem, the advice) when the TLS certificate seen does not verify, else None.

    The port is reachable either way; but a browser will warn, so saying only "reachable" would
    read as an all-clear (the JSON has ``tls.verified``, the text must say it too)."""
    tls = result.tls if isinstance(result, HttpsResult) else None
    if tls is None or tls.verified:
        return None
    names = tuple(dict.fromkeys(n for n in (*tls.san, tls.subject_cn) if n))
    if name and not any(_name_matches(name, n) for n in names):
        return (Why.of(Said.CERTIFICATE_WRONG_NAME, name=name, names=names),
                Why.of(Said.INSTALL_CERTIFICATE_FOR_NAME, name=name))
    return (Why.of(Said.CERTIFICATE_UNVERIFIED, error=tls.verify_error), Why.of(Said.INSTALL_PUBLIC_CERTIFICATE))


def _refused_service(observation: PortObservation, context: Context) -> PortDecision | None:
    """A refused connection to a service port over IPv4, told apart by where it was refused:
    this host answering with a reset (nothing listens, or its firewall rejects), or before it.
    None: nothing known here beyond "refused"."""
    protocol, port, host = observation.protocol, observation.port, context.local_ip
    facts = {"protocol": protocol.value.upper(), "port": port, "host": host}
    start = Why.of(Said.START_SERVICE, protocol=protocol.value.upper(), port=port)
    if observation.seen_on_interface and observation.local_listener is False:
        return PortDecision(protocol, port, False, PortStatus.NOTHING_ANSWERING,
                            Why.of(Said.REFUSED_NOTHING_LISTENS, **facts), (start,))
    if observation.seen_on_interface and observation.local_listener:
        return PortDecision(protocol, port, False, PortStatus.HOST_FIREWALL,
                            Why.of(Said.REFUSED_LISTENER_FIREWALL, **facts),
                            (Why.of(Said.HOST_FIREWALL_ALLOW, protocol=protocol.value.upper(), port=port),))
    if observation.seen_on_interface is False:
        return PortDecision(protocol, port, False, PortStatus.WRONG_HOST,
                            Why.of(Said.REFUSED_NEVER_REACHED, **facts), _lan_advice(observation, context)[:2])
    if observation.local_listener is False:
        # No packet capture here (it needs root): both explanations stay open.
        return PortDecision(protocol, port, False, PortStatus.NOTHING_ANSWERING,
                            Why.of(Said.REFUSED_NO_WATCH, **facts), (start, _lan_advice(observation, context)[0]))
    return None


def _service_answered(mode: ProbeMode, result: ProbeResult | None) -> Why | None:
    """What answered (a short name), or None."""
    if mode is ProbeMode.JAMULUS and isinstance(result, JamulusResult) and result.answered:
        return Why.of(Said.JAMULUS_SERVER, version=result.version)
    if mode in (ProbeMode.HTTP, ProbeMode.HTTPS) and isinstance(result, (HttpResult, HttpsResult)) and result.status is not None:
        name = f" ({result.server_header})" if result.server_header else ""
        tls = result.tls if isinstance(result, HttpsResult) else None
        certificate = tls.subject_cn if tls is not None and tls.subject_cn else None
        return Why.of(Said.WEB_SERVER, name=name, status=result.status, certificate=certificate)
    if mode is ProbeMode.SSH and isinstance(result, SshResult) and result.banner:
        return Why.of(Said.SSH_SERVER, banner=result.banner)
    if mode is ProbeMode.CONNECT and isinstance(result, ConnectResult) and result.connected:
        return Why.of(Said.TCP_SERVICE)
    if mode in UDP_SERVICE_MODES and isinstance(result, UdpServiceResult) and result.answered:
        return Why.of(Said.UDP_SERVICE, mode=mode.value, detail=result.detail or "?")
    return None


@dataclass(frozen=True, slots=True)
class HairpinResult:
    """Whether this host reached its own public address and port (NAT loopback, RFC 4787 REQ-9)."""

    protocol: TransportProtocol
    port: int
    works: bool | None
    reason: str
    advice: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HairpinDecision:
    """A :class:`HairpinResult` before it is worded."""

    protocol: TransportProtocol
    port: int
    works: bool | None
    why: Why
    advice: tuple[Why, ...] = ()


def hairpin_untested(protocol: TransportProtocol, port: int) -> HairpinDecision:
    """The port itself is not reachable from outside: a loop-back through it proves nothing.

    A router hairpins only what it forwards, so "no loop-back" there would blame the router for
    the missing forward (``natprobe nat`` may well measure hairpinning *yes* on the same network)."""
    return HairpinDecision(protocol, port, None, Why.of(Said.HAIRPIN_UNTESTED, protocol=protocol.value.upper(),
                                                         port=port))


def hairpin_cannot_listen(protocol: TransportProtocol, port: int) -> HairpinDecision:
    """natprobe may not listen on the port (below 1024, unprivileged) and nothing else does: a
    loop-back through it finds nothing to reach whether or not the router hairpins."""
    return HairpinDecision(protocol, port, None, Why.of(Said.HAIRPIN_CANNOT_LISTEN, protocol=protocol.value.upper(),
                                                         port=port))


def decide_hairpin(protocol: TransportProtocol, port: int, public_ip: IPAddress, works: bool | None) -> HairpinDecision:
    """The hairpin decision from what the loop-back test saw (``None``: the port was in use here)."""
    if works is None:
        return HairpinDecision(protocol, port, None, Why.of(Said.HAIRPIN_PORT_IN_USE))
    if works:
        return HairpinDecision(protocol, port, True, Why.of(Said.HAIRPIN_WORKS, address=public_ip, port=port))
    return HairpinDecision(protocol, port, False, Why.of(Said.HAIRPIN_FAILS, address=public_ip, port=port),
                           (Why.of(Said.HAIRPIN_SPLIT_DNS),))
