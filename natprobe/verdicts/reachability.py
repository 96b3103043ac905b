"""Why a port is or is not reachable from outside: the pure decision for ``natprobe check``.

Inputs are what was observed — whether the echo server's probe-back arrived on the port,
whether it was at least seen on this host's interface (a packet capture, when allowed),
what the server saw when it connected or spoke the service's protocol — plus the local
context (this host's address, the public address the server saw, the NAT layers). The
output is one verdict per port with its reason and what to do, in plain language.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

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
from natprobe.i18n import N_, _
from natprobe.verdicts.facilities import Availability, limit_sentence
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.verdicts.port_holder import HolderKind, PortHolder


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


SERVICE_BY_NAME = {
    "jamulus": (TransportProtocol.UDP, ProbeMode.JAMULUS),
    "http": (TransportProtocol.TCP, ProbeMode.HTTP),
    "https": (TransportProtocol.TCP, ProbeMode.HTTPS),
    "tls": (TransportProtocol.TCP, ProbeMode.HTTPS),
    "ssh": (TransportProtocol.TCP, ProbeMode.SSH),
    "tcp": (TransportProtocol.TCP, ProbeMode.CONNECT),
    "openvpn": (TransportProtocol.UDP, ProbeMode.OPENVPN),
    "dns": (TransportProtocol.UDP, ProbeMode.DNS),
    "ntp": (TransportProtocol.UDP, ProbeMode.NTP),
    "quic": (TransportProtocol.UDP, ProbeMode.QUIC),
}
UDP_SERVICE_MODES = (ProbeMode.OPENVPN, ProbeMode.DNS, ProbeMode.NTP, ProbeMode.QUIC)
"""Services that answer a correct first packet but stay silent to anything else."""
WELL_KNOWN_SERVICE = {
    (TransportProtocol.UDP, 22124): ProbeMode.JAMULUS,
    (TransportProtocol.TCP, 22): ProbeMode.SSH,
    (TransportProtocol.TCP, 80): ProbeMode.HTTP,
    (TransportProtocol.TCP, 8080): ProbeMode.HTTP,
    (TransportProtocol.TCP, 443): ProbeMode.HTTPS,
    (TransportProtocol.TCP, 8443): ProbeMode.HTTPS,
    (TransportProtocol.UDP, 1194): ProbeMode.OPENVPN,
    (TransportProtocol.UDP, 53): ProbeMode.DNS,
    (TransportProtocol.UDP, 123): ProbeMode.NTP,
    (TransportProtocol.UDP, 443): ProbeMode.QUIC,
}


@dataclass(frozen=True, slots=True)
class PortSpec:
    """A port to check; ``service`` forces the protocol spoken when the port is taken."""

    protocol: TransportProtocol
    port: int
    service: str | None = None
    host: str | None = None
    """Host name for HTTP ``Host`` and TLS SNI (web servers serve per name)."""

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(_("port out of range: {value}", value=self.port))
        if self.service is not None and self.service not in SERVICE_BY_NAME:
            raise ValueError(_("unknown service {service!r}; known: {known}",
                               service=self.service, known=", ".join(sorted(SERVICE_BY_NAME))))
        if self.service is not None and SERVICE_BY_NAME[self.service][0] is not self.protocol:
            raise ValueError(_("service {service} runs over {protocol}, not {other}", service=self.service,
                               protocol=SERVICE_BY_NAME[self.service][0].value, other=self.protocol.value))


@dataclass(frozen=True, slots=True)
class PortObservation:
    """Everything observed for one port."""

    protocol: TransportProtocol
    port: int
    mode: ProbeMode
    listening: bool
    """natprobe held the port itself and listened for the nonce."""
    nonce_received: bool | None = None
    """The nonce arrived on natprobe's own socket (None: natprobe was not listening)."""
    seen_on_interface: bool | None = None
    """The probe reached this host's network interface (None: no capture was possible)."""
    server_result: ProbeResult | None = None
    """The echo server's ``result`` record for this probe (None: it did not run)."""
    service: str | None = None
    """The service natprobe expected on the port, when it was held by one."""
    error: str | None = None
    """Why the probe could not run (e.g. the echo server refused it)."""
    local_listener: bool | None = None
    """A program (natprobe or the service) listens on the TCP port on this host (None: not known)."""
    host: str | None = None
    """The name asked for (HTTP Host, TLS SNI), when one was given."""
    holder: PortHolder | None = None
    """The program holding the port, when natprobe could not listen on it and could name it."""
    watch_missing: Availability | None = None
    """The arrival watch could not run (why, and what would allow it); None: it ran or was not needed."""


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


def privileged_port_reason(protocol: TransportProtocol, port: int, remedy: str) -> str:
    """Why a free port below 1024 could not be checked by an ordinary user (the check's ``error``)."""
    return _(
        "natprobe could not listen on {protocol} port {port}: ports below 1024 need a privilege this user does not "
        "have, and no program here holds the port, so there is nothing natprobe could speak to either. To check "
        "it: {remedy}. Or start the service that will use the port and check again: natprobe then speaks to it.",
        protocol=protocol.value.upper(), port=port, remedy=remedy,
    )


def _this_host(context: Context) -> str:
    """This host's address in a sentence; its role when unknown (the web page cannot see it)."""
    return str(context.local_ip) if context.local_ip is not None else _("this host's LAN address")


def _lan_advice(observation: PortObservation, context: Context) -> tuple[str, ...]:
    proto = observation.protocol.value.upper()
    host = str(context.local_ip) if context.local_ip is not None else _("this host's LAN address")
    return (
        _("On the router, forward {protocol} port {port} to {host} (this host), port {port}.",
          protocol=proto, port=observation.port, host=host),
        _("Give this host a fixed LAN address ({host}) with a DHCP reservation, so the forward keeps pointing at it.",
          host=host),
        _("If the router sits behind another router or modem that also does NAT, forward the port there too "
          "(or put the modem in bridge mode)."),
    )


_CGNAT_ADVICE = (
    N_("Ask your ISP for a public IPv4 address (sometimes called 'disable CGNAT' or a static IP option)."),
    N_("Or serve over IPv6, if your ISP provides it: there is no NAT there, only a firewall to open."),
    N_("Or run a tunnel to a VPS with a public address (reverse SSH tunnel or WireGuard) and a reverse proxy there."),
)


def _v6_address(context: Context) -> str:
    if context.local_ip is None:
        return _("this host's IPv6 address")
    if context.temporary_address:
        return _("{address} (a temporary privacy address)", address=context.local_ip)
    return str(context.local_ip)


def _v6_advice(observation: PortObservation, context: Context) -> tuple[str, ...]:
    """Over IPv6 nothing is forwarded: a pinhole on the router, and this host's firewall."""
    proto, port = observation.protocol.value.upper(), observation.port
    address = str(context.local_ip) if context.local_ip is not None else _("this host's stable IPv6 address")
    advice = [
        _("On the router, open an IPv6 pinhole (an inbound IPv6 firewall exception) for {protocol} port {port} "
          "to {address}. Some routers pick the host by its interface identifier: name the stable address, "
          "not a temporary privacy address.", protocol=proto, port=port, address=address),
        _("Allow inbound {protocol} port {port} over IPv6 in this host's firewall (nftables/ip6tables, ufw, "
          "firewalld).", protocol=proto, port=port),
    ]
    if context.temporary_address:
        advice.append(_(
            "{address} is a temporary privacy address that changes within a day: give this server a stable "
            "address (net.ipv6.conf.<interface>.use_tempaddr=0, or a static address) and use that in the "
            "pinhole and the DNS record.", address=address,
        ))
    return tuple(advice)


def _v6_unreached(observation: PortObservation, context: Context, what: str) -> PortVerdict:
    return PortVerdict(
        status=PortStatus.IPV6_FIREWALL,
        reason=_(
            "{what} (over IPv6, to {address}): IPv6 has no NAT, so a firewall dropped it: the router's IPv6 "
            "firewall has no pinhole for {protocol} port {port} to this address, or this host's own firewall "
            "drops it", what=what, address=_v6_address(context), protocol=observation.protocol.value.upper(),
            port=observation.port,
        ),
        advice=_v6_advice(observation, context),
        protocol=observation.protocol,
        port=observation.port,
        reachable=False,
    )


def _unreached(observation: PortObservation, context: Context, what: str) -> PortVerdict:
    """The probe did not get through: tell apart host firewall, CGNAT and a missing forward."""
    if context.family is IpFamily.IPV6 and not observation.seen_on_interface:
        return _v6_unreached(observation, context, what)
    if observation.seen_on_interface:
        return PortVerdict(
            status=PortStatus.HOST_FIREWALL,
            reason=_(
                "{what}: the echo server's probe reached this host's network interface but never got to "
                "port {port}, so this host's own firewall dropped it",
                what=what, port=observation.port,
            ),
            advice=(
                _("Allow inbound {protocol} port {port} in this host's firewall (nftables/iptables, ufw, firewalld).",
                  protocol=observation.protocol.value.upper(), port=observation.port),
            ),
            protocol=observation.protocol,
            port=observation.port,
            reachable=False,
        )
    if context.layers is NatLayers.CGNAT:
        return PortVerdict(
            status=PortStatus.CGNAT,
            reason=_(
                "{what}: this network is behind carrier-grade NAT, so the public address {address} "
                "belongs to your ISP's NAT and a port forward on your own router cannot make the port reachable",
                what=what, address=context.public_ip,
            ),
            advice=tuple(_(advice) for advice in _CGNAT_ADVICE),
            protocol=observation.protocol,
            port=observation.port,
            reachable=False,
        )
    if context.layers is NatLayers.NO_NAT:
        return PortVerdict(
            status=PortStatus.NOT_FORWARDED,
            reason=_(
                "{what}: this host has the public address {address} itself, so a firewall in "
                "front of it (provider or network firewall) filtered the probe",
                what=what, address=context.public_ip,
            ),
            advice=(_("Open {protocol} port {port} in the network firewall.",
                      protocol=observation.protocol.value.upper(), port=observation.port),),
            protocol=observation.protocol,
            port=observation.port,
            reachable=False,
        )
    if observation.seen_on_interface is None and observation.listening:
        # No packet watch: "never arrived here" is not known, this host's firewall stays a suspect.
        reason = _(
            "{what}: the router does not forward {protocol} port {port} to this host ({host}), or a firewall "
            "filters it (on the way, or this host's own).",
            what=what, protocol=observation.protocol.value.upper(), port=observation.port, host=_this_host(context),
        )
    else:
        reason = _(
            "{what}: nothing arrived at this host, so the router does not forward "
            "{protocol} port {port} to this host ({host}), or something on the way filters it.",
            what=what, protocol=observation.protocol.value.upper(), port=observation.port, host=_this_host(context),
        )
    if context.layers is NatLayers.DOUBLE_NAT:
        reason += " " + _("This network has more than one NAT layer; every one of them needs the forward.")
    advice = _lan_advice(observation, context)
    if observation.seen_on_interface is None and observation.listening:
        advice += (_("Allow inbound {protocol} port {port} in this host's firewall (nftables/iptables, ufw, firewalld).",
                     protocol=observation.protocol.value.upper(), port=observation.port),)
    return PortVerdict(
        status=PortStatus.NOT_FORWARDED,
        reason=reason,
        advice=advice,
        protocol=observation.protocol,
        port=observation.port,
        reachable=False,
    )


def _holder_name(holder: PortHolder | None) -> str:
    if holder is None or (holder.kind is HolderKind.OTHER and holder.program is None):
        return _("a program")
    return holder.label


def _silent_advice(observation: PortObservation, context: Context) -> tuple[str, ...]:
    """What to check next when the token arrived and the holder, as expected, said nothing."""
    proto, port, holder = observation.protocol.value.upper(), observation.port, observation.holder
    public = str(context.public_ip) if context.public_ip is not None else _("this network's public address")
    firewall = _("The packet watch sees packets before this host's firewall: if clients still cannot connect, "
                 "make sure this host's firewall allows inbound {protocol} port {port}.", protocol=proto, port=port)
    if holder is not None and holder.kind is HolderKind.WIREGUARD:
        return (
            _("WireGuard answers only peers whose public key it knows, so no outside test can get an answer from "
              "it: on each peer, set Endpoint = {address}:{port}, and list the peer's public key on this server "
              "(wg show).", address=public, port=port),
            firewall,
        )
    if holder is not None and holder.kind is HolderKind.OPENVPN:
        return (
            _("This OpenVPN server stays silent to strangers, which is what tls-auth or tls-crypt does: each "
              "client needs the same key (ta.key or the tls-crypt key) and remote {address} {port} udp.",
              address=public, port=port),
            firewall,
        )
    return (
        _("natprobe does not speak the protocol of {program}, so only the arrival is proven: check that it "
          "listens on all addresses, not only on 127.0.0.1.", program=_holder_name(holder)),
        firewall,
    )


def _held_port(observation: PortObservation, context: Context) -> PortVerdict:
    """A program holds the port and natprobe speaks none of its protocol: the arrival watch decides."""
    proto, port = observation.protocol, observation.port
    holder = _holder_name(observation.holder)
    if observation.seen_on_interface:
        return PortVerdict(
            reachable=True,
            status=PortStatus.ARRIVED_SILENT,
            reason=_(
                "{holder} holds {protocol} port {port} and stayed silent, as it does for strangers; the echo "
                "server's one-time token reached this host's network interface, so the router's forward and "
                "firewalls let it through", holder=holder, protocol=proto.value.upper(), port=port,
            ),
            advice=_silent_advice(observation, context),
            proof=_("a one-time token sent by the echo server to the public address was seen arriving at this "
                    "host's network interface (a packet watch); the program on the port does not answer "
                    "strangers, so its delivery to that program could not be seen"),
            details=observation.server_result,
            protocol=proto,
            port=port,
        )
    if observation.seen_on_interface is False:
        return _unreached(observation, context, _(
            "the echo server's one-time token never reached this host's network interface ({holder} holds the port)",
            holder=holder,
        ))
    if observation.mode in UDP_SERVICE_MODES:
        reason = _(
            "{holder} holds {protocol} port {port} and did not answer the echo server's {mode} first packet (a "
            "server may stay silent to strangers, as OpenVPN with tls-auth does), so only seeing the probe arrive "
            "could prove the port reachable, and natprobe could not watch for it.",
            holder=holder, protocol=proto.value.upper(), port=port, mode=observation.mode.value,
        )
    else:
        reason = _(
            "{holder} holds {protocol} port {port} and natprobe does not speak its protocol, so only seeing the echo "
            "server's token arrive could prove the port reachable, and natprobe could not watch for it.",
            holder=holder, protocol=proto.value.upper(), port=port,
        )
    advice: tuple[str, ...] = ()
    if observation.watch_missing is not None:
        reason += " " + limit_sentence(observation.watch_missing)
        if observation.watch_missing.remedy:
            advice = (_("Run the check with the packet watch allowed: {command}",
                        command=observation.watch_missing.remedy),)
    if not advice:
        advice = (_("Stop {holder} for a moment and run the check again: natprobe then listens on the port itself.",
                    holder=holder),)
    return PortVerdict(proto, port, None, PortStatus.UNTESTED, reason, advice, details=observation.server_result)


def decide_port(observation: PortObservation, context: Context) -> PortVerdict:
    """The verdict for one port, over ``context.family``."""
    verdict = _decide(observation, context)
    if context.family is IpFamily.IPV6 and verdict.advice and verdict.status in (
        PortStatus.WRONG_HOST, PortStatus.NOTHING_ANSWERING
    ):
        # A refused connection over IPv6 is no forward to the wrong machine: nothing is
        # forwarded there, so it is a firewall that rejects, or the service is not listening.
        verdict = replace(verdict, advice=_v6_advice(observation, context))
    if context.family is IpFamily.IPV6 and verdict.reachable:
        # The reason is a whole clause of its own; the parenthesis says where, as one unit.
        verdict = replace(verdict, reason=verdict.reason + " " + _("(over IPv6, at {address})",
                                                                   address=_v6_address(context)))
        if observation.mode is ProbeMode.NONCE and observation.listening:
            verdict = replace(verdict, proof=_(
                "a one-time token sent by the echo server to {address} arrived on this host's port "
                "(the router's IPv6 firewall and this host's firewall both let it through)",
                address=_v6_address(context),
            ))
    return replace(verdict, family=context.family)


def _decide(observation: PortObservation, context: Context) -> PortVerdict:
    result = observation.server_result
    protocol, port = observation.protocol, observation.port
    if observation.error is not None:
        return PortVerdict(protocol, port, None, PortStatus.UNTESTED, observation.error, ())

    if observation.mode is ProbeMode.NONCE and not observation.listening:
        return _held_port(observation, context)
    if observation.mode is ProbeMode.NONCE:
        if observation.nonce_received:
            return PortVerdict(
                reachable=True,
                status=PortStatus.REACHABLE,
                reason=_("the echo server's probe arrived on {protocol} port {port}",
                         protocol=observation.protocol.value.upper(), port=observation.port),
                advice=(),
                proof=_("a one-time token sent by the echo server to the public address arrived on this host's port "
                        "(router forward, firewalls and this host all let it through)"),
                protocol=protocol,
                port=port,
            )
        if isinstance(result, ConnectResult):
            if context.family is IpFamily.IPV6 and result.error == ProbeError.REFUSED and not observation.seen_on_interface:
                return PortVerdict(
                    reachable=False,
                    status=PortStatus.IPV6_FIREWALL,
                    reason=_(
                        "the connection to {address} was refused over IPv6 although natprobe listened "
                        "on the port: a firewall rejects it (the router's IPv6 firewall or this host's)",
                        address=_v6_address(context),
                    ),
                    advice=_v6_advice(observation, context),
                    protocol=protocol,
                    port=port,
                )
            if result.connected:
                return PortVerdict(
                    reachable=False,
                    status=PortStatus.WRONG_HOST,
                    reason=_(
                        "the echo server connected to port {port}, but not to this host: the router "
                        "forwards it to another machine (this host is {host})",
                        port=observation.port, host=_this_host(context),
                    ),
                    advice=_lan_advice(observation, context)[:2],
                    protocol=protocol,
                port=port,
                )
            if result.error == ProbeError.REFUSED:
                return PortVerdict(
                    reachable=False,
                    status=PortStatus.WRONG_HOST if not observation.seen_on_interface else PortStatus.HOST_FIREWALL,
                    reason=(
                        _("the connection was refused: this host's firewall rejects it")
                        if observation.seen_on_interface
                        else _("the connection was refused: the port is forwarded, but to a machine other than this "
                               "host ({host}) where nothing listens, or a firewall rejects it", host=_this_host(context))
                    ),
                    advice=_lan_advice(observation, context)[:2],
                    protocol=protocol,
                port=port,
                )
        return _unreached(observation, context, _("the echo server's probe never arrived"))

    # A service holds the port: judge by what the echo server got back.
    answered = _service_answered(observation.mode, result)
    if answered:
        reason = _("{service} answered the echo server on {protocol} port {port}",
                   service=answered, protocol=observation.protocol.value.upper(), port=observation.port)
        certificate = _certificate_problem(result, observation.host)
        return PortVerdict(
            reachable=True,
            status=PortStatus.REACHABLE,
            reason=reason if certificate is None else f"{reason}. {certificate[0]}",
            advice=() if certificate is None else (certificate[1],),
            proof=_("the echo server spoke {mode} to the public address and {service} answered",
                    mode=observation.mode.value, service=answered),
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
        return PortVerdict(
            reachable=True,
            status=PortStatus.REACHABLE,
            reason=_(
                "the echo server connected to TCP port {port}, but what answered did not speak {mode}",
                port=observation.port, mode=observation.mode.value,
            ),
            advice=(_("Check that the service on this port is the one you expect."),),
            proof=_("a TCP connection from the echo server to the public address was accepted"),
            details=result,
            protocol=protocol,
            port=port,
        )
    if refused and context.family is IpFamily.IPV4:
        verdict = _refused_service(observation, context)
        if verdict is not None:
            return replace(verdict, details=result)
    if refused:
        return PortVerdict(
            reachable=False,
            status=PortStatus.NOTHING_ANSWERING,
            reason=_(
                "the port is forwarded but the connection was refused: nothing accepted it at the far end "
                "(the forward may point to another machine than {host}, or a firewall rejects it)",
                host=_this_host(context),
            ),
            advice=_lan_advice(observation, context)[:2],
            details=result,
            protocol=protocol,
            port=port,
        )
    service = observation.service or observation.mode.value
    if observation.seen_on_interface:
        return PortVerdict(
            reachable=False,
            status=PortStatus.HOST_FIREWALL
            if observation.protocol is TransportProtocol.TCP
            else PortStatus.NOTHING_ANSWERING,
            reason=_(
                "the echo server's {service} request reached this host's interface but {service} did not answer: "
                "this host's firewall drops it, or the service is not listening on the public interface",
                service=service,
            ),
            advice=(
                _("Allow inbound {protocol} port {port} in this host's firewall.",
                  protocol=observation.protocol.value.upper(), port=observation.port),
                _("Check that {service} listens on all addresses (0.0.0.0), not only on 127.0.0.1.", service=service),
            ),
            details=result,
            protocol=protocol,
            port=port,
        )
    return _unreached(observation, context, _("the echo server's {service} request got no answer", service=service))


def _name_matches(name: str, pattern: str) -> bool:
    """RFC 6125 section 6.4.3, simplified: exact, or one leftmost ``*`` label."""
    name, pattern = name.lower().rstrip("."), pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        return "." in name and name.split(".", 1)[1] == pattern[2:]
    return name == pattern


def _certificate_problem(result: ProbeResult | None, name: str | None) -> tuple[str, str] | None:
    """(the sentence, the advice) when the TLS certificate seen does not verify, else None.

    The port is reachable either way; but a browser will warn, so saying only "reachable" would
    read as an all-clear (the JSON has ``tls.verified``, the text must say it too)."""
    tls = result.tls if isinstance(result, HttpsResult) else None
    if tls is None or tls.verified:
        return None
    names = [n for n in (*tls.san, tls.subject_cn) if n]
    if name and not any(_name_matches(name, n) for n in names):
        return (
            _("The certificate does not verify: it is not for {name} (it names {names})",
              name=name, names=", ".join(dict.fromkeys(names)) or _("no name")),
            _("Install a certificate for {name} on this server (for example from Let's Encrypt), or configure "
              "the web server to present it for {name}.", name=name),
        )
    return (
        _("The certificate does not verify ({error}): browsers will warn visitors",
          error=tls.verify_error or _("no reason given")),
        _("Install a certificate from a public certificate authority (for example Let's Encrypt) instead of a "
          "self-signed or private one."),
    )


def _start_service_advice(observation: PortObservation) -> str:
    return _("Start the service on this host, or check the port it listens on (ss -ltnp lists them): the "
             "forward must point to the port the service really uses ({protocol} {port} here).",
             protocol=observation.protocol.value.upper(), port=observation.port)


def _refused_service(observation: PortObservation, context: Context) -> PortVerdict | None:
    """A refused connection to a service port over IPv4, told apart by where it was refused:
    this host answering with a reset (nothing listens, or its firewall rejects), or before it.
    None: nothing known here beyond "refused"."""
    protocol, port, host = observation.protocol, observation.port, context.local_ip
    proto = protocol.value.upper()
    if observation.seen_on_interface and observation.local_listener is False:
        return PortVerdict(
            protocol, port, False, PortStatus.NOTHING_ANSWERING,
            _("the forward works: the echo server's connection reached this host ({host}), and this host refused "
              "it because nothing listens on {protocol} port {port} here", host=host, protocol=proto, port=port),
            (_start_service_advice(observation),),
        )
    if observation.seen_on_interface and observation.local_listener:
        return PortVerdict(
            protocol, port, False, PortStatus.HOST_FIREWALL,
            _("the echo server's connection reached this host and a program listens on {protocol} port {port}, "
              "but the connection was refused: this host's firewall rejects it", protocol=proto, port=port),
            (_("Allow inbound {protocol} port {port} in this host's firewall (nftables/iptables, ufw, firewalld).",
               protocol=proto, port=port),),
        )
    if observation.seen_on_interface is False:
        return PortVerdict(
            protocol, port, False, PortStatus.WRONG_HOST,
            _("the connection was refused, and the echo server's connection never reached this host ({host}): "
              "the router forwards {protocol} port {port} to another machine where nothing listens, or the "
              "router itself refuses it", host=host, protocol=proto, port=port),
            _lan_advice(observation, context)[:2],
        )
    if observation.local_listener is False:
        # No packet capture here (it needs root): both explanations stay open.
        return PortVerdict(
            protocol, port, False, PortStatus.NOTHING_ANSWERING,
            _("the connection was refused, and nothing listens on {protocol} port {port} on this host ({host}): "
              "either the forward works and the service is not running here, or the router forwards the port "
              "to another machine where nothing listens. Run natprobe as root to tell them apart (it then "
              "watches the probe arrive)", protocol=proto, port=port, host=host),
            (_start_service_advice(observation), _lan_advice(observation, context)[0]),
        )
    return None


def _service_answered(mode: ProbeMode, result: ProbeResult | None) -> str | None:
    """A short name of what answered, or None."""
    if mode is ProbeMode.JAMULUS and isinstance(result, JamulusResult) and result.answered:
        return _("a Jamulus server {version}", version=result.version) if result.version else _("a Jamulus server")
    if mode in (ProbeMode.HTTP, ProbeMode.HTTPS) and isinstance(result, (HttpResult, HttpsResult)) and result.status is not None:
        name = f" ({result.server_header})" if result.server_header else ""
        tls = result.tls if isinstance(result, HttpsResult) else None
        if tls is not None and tls.subject_cn:
            return _("a web server{name} with HTTP {status}, certificate for {certificate}",
                     name=name, status=result.status, certificate=tls.subject_cn)
        return _("a web server{name} with HTTP {status}", name=name, status=result.status)
    if mode is ProbeMode.SSH and isinstance(result, SshResult) and result.banner:
        return _("an SSH server ({banner})", banner=result.banner)
    if mode is ProbeMode.CONNECT and isinstance(result, ConnectResult) and result.connected:
        return _("a TCP service")
    if mode in UDP_SERVICE_MODES and isinstance(result, UdpServiceResult) and result.answered:
        detail = result.detail or "?"
        if mode is ProbeMode.OPENVPN:
            return _("an OpenVPN server ({detail})", detail=detail)
        if mode is ProbeMode.DNS:
            return _("a DNS server ({detail})", detail=detail)
        if mode is ProbeMode.NTP:
            return _("an NTP server ({detail})", detail=detail)
        return _("a QUIC server ({detail})", detail=detail)
    return None


@dataclass(frozen=True, slots=True)
class HairpinResult:
    """Whether this host reached its own public address and port (NAT loopback, RFC 4787 REQ-9)."""

    protocol: TransportProtocol
    port: int
    works: bool | None
    reason: str
    advice: tuple[str, ...] = ()


def hairpin_untested(protocol: TransportProtocol, port: int) -> HairpinResult:
    """The port itself is not reachable from outside: a loop-back through it proves nothing.

    A router hairpins only what it forwards, so "no loop-back" there would blame the router for
    the missing forward (``natprobe nat`` may well measure hairpinning *yes* on the same network)."""
    return HairpinResult(protocol, port, None, _(
        "not tested: {protocol} port {port} is not reachable from outside, and a router loops back only a port "
        "it forwards. Make the port reachable first, then test hairpinning again",
        protocol=protocol.value.upper(), port=port,
    ))


def decide_hairpin(protocol: TransportProtocol, port: int, public_ip: IPAddress, works: bool | None) -> HairpinResult:
    """The hairpin verdict from what the loop-back test saw (``None``: the port was in use here)."""
    if works is None:
        return HairpinResult(protocol, port, None, _("the port is in use here; cannot listen for the loop-back"))
    if works:
        return HairpinResult(
            protocol, port, True,
            _("this host reached its own public address {address}:{port} (the router hairpins)",
              address=public_ip, port=port),
        )
    return HairpinResult(
        protocol,
        port,
        False,
        _("this host could not reach its own public address {address}:{port}: the router does not "
          "hairpin (NAT loopback), so LAN clients cannot use the public address", address=public_ip, port=port),
        (
            _("Devices inside your network should use the server's LAN address, or set up split DNS so "
              "the public name resolves to the LAN address locally."),
        ),
    )
