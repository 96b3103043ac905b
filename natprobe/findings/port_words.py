"""The words of the port verdicts of ``natprobe check`` (and of an exposure scan's expected ports).

:mod:`natprobe.verdicts.reachability` decides (a :class:`~natprobe.verdicts.reachability.PortDecision`:
status, and reason, advice and proof as codes); this module says it as a
:class:`~natprobe.verdicts.reachability.PortVerdict` (:func:`word_port`), with
:func:`assess_port` as the decide-and-word call; likewise for hairpinning. It is also the one
home of the carrier-grade NAT advice (:func:`cgnat_advice`).
"""

from __future__ import annotations

from natprobe.i18n import N_, _
from natprobe.contract.terms import TransportProtocol
from natprobe.findings.facility_words import limit_sentence
from natprobe.observations import HolderKind, PortHolder, PortObservation
from natprobe.verdicts.reachability import (
    Context,
    HairpinDecision,
    HairpinResult,
    PortDecision,
    PortVerdict,
    Said,
    decide_port,
)
from natprobe.verdicts.why import AS_SAID, Why

__all__ = (
    "CGNAT_ADVICE",
    "assess_port",
    "cgnat_advice",
    "privileged_port_reason",
    "word_hairpin",
    "word_port",
)

CGNAT_ADVICE = (
    N_("Ask your ISP for a public IPv4 address (sometimes called 'disable CGNAT' or a static IP option)."),
    N_("Or serve over IPv6, if your ISP provides it: there is no NAT there, only a firewall to open."),
    N_("Or run a tunnel to a VPS with a public address (reverse SSH tunnel or WireGuard) and a reverse proxy there."),
)
"""What to do behind carrier-grade NAT (the one home of this advice; see :func:`cgnat_advice`)."""


def cgnat_advice() -> tuple[str, ...]:
    """:data:`CGNAT_ADVICE` in the user's language."""
    return tuple(_(advice) for advice in CGNAT_ADVICE)


def _v6_address(why: Why) -> str:
    """This host's IPv6 address as a reason names it."""
    address = why.get("address")
    if address is None:
        return _("this host's IPv6 address")
    if why.get("temporary"):
        return _("{address} (a temporary privacy address)", address=address)
    return str(address)


def _holder_name(holder: PortHolder | None) -> str:
    if holder is None or (holder.kind is HolderKind.OTHER and holder.program is None):
        return _("a program")
    return holder.label


def _public(why: Why) -> str:
    address = why.get("address")
    return str(address) if address is not None else _("this network's public address")


def privileged_port_reason(protocol: TransportProtocol, port: int, remedy: str) -> str:
    """Why a free port below 1024 could not be checked by an ordinary user (the check's ``error``)."""
    return _(
        "natprobe could not listen on {protocol} port {port}: ports below 1024 need a privilege this user does not "
        "have, and no program here holds the port, so there is nothing natprobe could speak to either. To check "
        "it: {remedy}. Or start the service that will use the port and check again: natprobe then speaks to it.",
        protocol=protocol.value.upper(), port=port, remedy=remedy,
    )


def unbound_low_port_reason(protocol: TransportProtocol, port: int, missing: str) -> str:
    """Why a free port below 1024 was not checked when natprobe did not even try to listen on it
    (``missing``: the limit's sentence, e.g. the facility was switched off)."""
    return _("natprobe did not listen on {protocol} port {port}, and no program here holds it, so there was nothing "
             "to speak to. {missing}", protocol=protocol.value.upper(), port=port, missing=missing)


def _lan_host(why: Why) -> str:
    """This host's address in a sentence; its role when unknown (the web page cannot see it)."""
    host = why.get("host")
    return str(host) if host is not None else _("this host's LAN address")


def _text(why: Why) -> str:
    """A reason, proof or name in words (a clause inside it is worded first)."""
    p = why.get
    match why.code:
        case Said.PROBE_NEVER_ARRIVED:
            return _("the echo server's probe never arrived")
        case Said.REQUEST_UNANSWERED:
            if p("holder") is not None:
                return _("the echo server's {service} request to {holder}, which holds the port, got no answer",
                         service=p("service"), holder=_holder_name(p("holder")))
            return _("the echo server's {service} request got no answer", service=p("service"))
        case Said.V6_UNREACHED:
            return _(
                "{what} (over IPv6, to {address}): IPv6 has no NAT, so a firewall dropped it: the router's IPv6 "
                "firewall has no pinhole for {protocol} port {port} to this address, or this host's own firewall "
                "drops it", what=_text(p("what")), address=_v6_address(why), protocol=p("protocol"), port=p("port"),
            )
        case Said.HOST_FIREWALL_DROPPED:
            return _(
                "{what}: the echo server's probe reached this host's network interface but never got to "
                "port {port}, so this host's own firewall dropped it", what=_text(p("what")), port=p("port"),
            )
        case Said.CGNAT_UNREACHED:
            return _(
                "{what}: this network is behind carrier-grade NAT, so the public address {address} "
                "belongs to your ISP's NAT and a port forward on your own router cannot make the port reachable",
                what=_text(p("what")), address=p("address"),
            )
        case Said.NO_NAT_FILTERED:
            return _(
                "{what}: this host has the public address {address} itself, so a firewall in "
                "front of it (provider or network firewall) filtered the probe",
                what=_text(p("what")), address=p("address"),
            )
        case Said.NOT_FORWARDED:
            reason = _(
                "{what}: nothing arrived at this host, so the router does not forward "
                "{protocol} port {port} to this host ({host}), or something on the way filters it.",
                what=_text(p("what")), protocol=p("protocol"), port=p("port"), host=_lan_host(why),
            )
            if p("double_nat"):
                reason += " " + _("This network has more than one NAT layer; every one of them needs the forward.")
            return reason
        case Said.OVER_IPV6:
            return _text(p("reason")) + " " + _("(over IPv6, at {address})", address=_v6_address(why))
        case Said.PROBE_ARRIVED:
            return _("the echo server's probe arrived on {protocol} port {port}", protocol=p("protocol"), port=p("port"))
        case Said.V6_REFUSED:
            return _(
                "the connection to {address} was refused over IPv6 although natprobe listened "
                "on the port: a firewall rejects it (the router's IPv6 firewall or this host's)",
                address=_v6_address(why),
            )
        case Said.CONNECTED_ELSEWHERE:
            return _(
                "the echo server connected to port {port}, but not to this host: the router "
                "forwards it to another machine (this host is {host})", port=p("port"), host=_lan_host(why),
            )
        case Said.REFUSED_BY_HOST_FIREWALL:
            return _("the connection was refused: this host's firewall rejects it")
        case Said.REFUSED_ELSEWHERE:
            return _("the connection was refused: the port is forwarded, but to a machine other than this "
                     "host ({host}) where nothing listens, or a firewall rejects it", host=_lan_host(why))
        case Said.SERVICE_ANSWERED:
            return _("{service} answered the echo server on {protocol} port {port}",
                     service=_text(p("service")), protocol=p("protocol"), port=p("port"))
        case Said.CONNECTED_WRONG_PROTOCOL:
            return _("the echo server connected to TCP port {port}, but what answered did not speak {mode}",
                     port=p("port"), mode=p("mode"))
        case Said.FORWARDED_REFUSED:
            return _(
                "the port is forwarded but the connection was refused: nothing accepted it at the far end "
                "(the forward may point to another machine than {host}, or a firewall rejects it)", host=_lan_host(why),
            )
        case Said.REQUEST_REACHED_INTERFACE:
            return _(
                "the echo server's {service} request reached this host's interface but {service} did not answer: "
                "this host's firewall drops it, or the service is not listening on the public interface",
                service=p("service"),
            )
        case Said.JAMULUS_SERVER:
            version = p("version")
            return _("a Jamulus server {version}", version=version) if version else _("a Jamulus server")
        case Said.WEB_SERVER:
            if p("certificate"):
                return _("a web server{name} with HTTP {status}, certificate for {certificate}",
                         name=p("name"), status=p("status"), certificate=p("certificate"))
            return _("a web server{name} with HTTP {status}", name=p("name"), status=p("status"))
        case Said.SSH_SERVER:
            return _("an SSH server ({banner})", banner=p("banner"))
        case Said.TCP_SERVICE:
            return _("a TCP service")
        case Said.TOKEN_ARRIVED:
            return _("a one-time token sent by the echo server to the public address arrived on this host's port "
                     "(router forward, firewalls and this host all let it through)")
        case Said.V6_TOKEN_ARRIVED:
            return _(
                "a one-time token sent by the echo server to {address} arrived on this host's port "
                "(the router's IPv6 firewall and this host's firewall both let it through)",
                address=_v6_address(why),
            )
        case Said.SERVICE_SPOKE:
            return _("the echo server spoke {mode} to the public address and {service} answered",
                     mode=p("mode"), service=_text(p("service")))
        case Said.TCP_ACCEPTED:
            return _("a TCP connection from the echo server to the public address was accepted")
        case Said.HAIRPIN_PORT_IN_USE:
            return _("the port is in use here; cannot listen for the loop-back")
        case Said.HAIRPIN_CANNOT_LISTEN:
            return _("not tested: natprobe may not listen on {protocol} port {port} here and nothing else does, so a "
                     "loop-back through it would find nothing to reach whether or not the router hairpins",
                     protocol=p("protocol"), port=p("port"))
        case Said.HAIRPIN_WORKS:
            return _("this host reached its own public address {address}:{port} (the router hairpins)",
                     address=p("address"), port=p("port"))
        case Said.HAIRPIN_FAILS:
            return _("this host could not reach its own public address {address}:{port}: the router does not "
                     "hairpin (NAT loopback), so LAN clients cannot use the public address",
                     address=p("address"), port=p("port"))
        case Said.NOT_FORWARDED_NO_WATCH:
            reason = _(
                "{what}: the router does not forward {protocol} port {port} to this host ({host}), or a firewall "
                "filters it (on the way, or this host's own).",
                what=_text(p("what")), protocol=p("protocol"), port=p("port"), host=_lan_host(why),
            )
            if p("double_nat"):
                reason += " " + _("This network has more than one NAT layer; every one of them needs the forward.")
            return reason
        case Said.HELD_SILENT_ARRIVED:
            return _(
                "{holder} holds {protocol} port {port} and stayed silent, as it does for strangers; the echo "
                "server's one-time token reached this host's network interface, so the router's forward and "
                "firewalls let it through", holder=_holder_name(p("holder")), protocol=p("protocol"), port=p("port"),
            )
        case Said.HELD_TOKEN_NEVER_ARRIVED:
            return _("the echo server's one-time token never reached this host's network interface ({holder} holds "
                     "the port)", holder=_holder_name(p("holder")))
        case Said.HELD_SERVICE_SILENT | Said.HELD_UNKNOWN_PROTOCOL:
            facts = {"holder": _holder_name(p("holder")), "protocol": p("protocol"), "port": p("port")}
            if why.code == Said.HELD_SERVICE_SILENT:
                reason = _(
                    "{holder} holds {protocol} port {port} and did not answer the echo server's {mode} first packet "
                    "(a server may stay silent to strangers, as OpenVPN with tls-auth does), so only seeing the probe "
                    "arrive could prove the port reachable, and natprobe could not watch for it.",
                    mode=p("mode"), **facts,
                )
            else:
                reason = _(
                    "{holder} holds {protocol} port {port} and natprobe does not speak its protocol, so only seeing "
                    "the echo server's token arrive could prove the port reachable, and natprobe could not watch "
                    "for it.", **facts,
                )
            if p("watch_missing") is not None:
                reason += " " + limit_sentence(p("watch_missing"))
            return reason
        case Said.SILENT_TOKEN_SEEN:
            return _("a one-time token sent by the echo server to the public address was seen arriving at this "
                     "host's network interface (a packet watch); the program on the port does not answer "
                     "strangers, so its delivery to that program could not be seen")
        case Said.WITH_CERTIFICATE_PROBLEM:
            return f"{_text(p('reason'))}. {_text(p('problem'))}"
        case Said.CERTIFICATE_WRONG_NAME:
            return _("The certificate does not verify: it is not for {name} (it names {names})",
                     name=p("name"), names=", ".join(p("names")) or _("no name"))
        case Said.CERTIFICATE_UNVERIFIED:
            return _("The certificate does not verify ({error}): browsers will warn visitors",
                     error=p("error") or _("no reason given"))
        case Said.REFUSED_NOTHING_LISTENS:
            return _("the forward works: the echo server's connection reached this host ({host}), and this host "
                     "refused it because nothing listens on {protocol} port {port} here",
                     host=p("host"), protocol=p("protocol"), port=p("port"))
        case Said.REFUSED_LISTENER_FIREWALL:
            return _("the echo server's connection reached this host and a program listens on {protocol} port "
                     "{port}, but the connection was refused: this host's firewall rejects it",
                     protocol=p("protocol"), port=p("port"))
        case Said.REFUSED_NEVER_REACHED:
            return _("the connection was refused, and the echo server's connection never reached this host "
                     "({host}): the router forwards {protocol} port {port} to another machine where nothing "
                     "listens, or the router itself refuses it", host=p("host"), protocol=p("protocol"), port=p("port"))
        case Said.REFUSED_NO_WATCH:
            return _("the connection was refused, and nothing listens on {protocol} port {port} on this host "
                     "({host}): either the forward works and the service is not running here, or the router "
                     "forwards the port to another machine where nothing listens. Run natprobe as root to tell "
                     "them apart (it then watches the probe arrive)",
                     protocol=p("protocol"), port=p("port"), host=p("host"))
        case Said.UDP_SERVICE:
            detail = p("detail")
            match p("mode"):
                case "openvpn":
                    return _("an OpenVPN server ({detail})", detail=detail)
                case "dns":
                    return _("a DNS server ({detail})", detail=detail)
                case "ntp":
                    return _("an NTP server ({detail})", detail=detail)
            return _("a QUIC server ({detail})", detail=detail)
        case Said.HAIRPIN_UNTESTED:
            return _("not tested: {protocol} port {port} is not reachable from outside, and a router loops back only "
                     "a port it forwards. Make the port reachable first, then test hairpinning again",
                     protocol=p("protocol"), port=p("port"))
        case code if code == AS_SAID:
            return str(p("text"))
    raise ValueError(f"no words for the port reason {why.code!r}")


def _advice(why: Why) -> tuple[str, ...]:
    p = why.get
    match why.code:
        case Said.LAN_FORWARD:
            return (_("On the router, forward {protocol} port {port} to {host} (this host), port {port}.",
                      protocol=p("protocol"), port=p("port"), host=_lan_host(why)),)
        case Said.LAN_FIXED_ADDRESS:
            return (_("Give this host a fixed LAN address ({host}) with a DHCP reservation, so the forward keeps "
                      "pointing at it.", host=_lan_host(why)),)
        case Said.LAN_UPSTREAM:
            return (_("If the router sits behind another router or modem that also does NAT, forward the port "
                      "there too (or put the modem in bridge mode)."),)
        case Said.CGNAT_ADVICE:
            return cgnat_advice()
        case Said.V6_PINHOLE:
            address = p("address")
            return (_("On the router, open an IPv6 pinhole (an inbound IPv6 firewall exception) for {protocol} port "
                      "{port} to {address}. Some routers pick the host by its interface identifier: name the stable "
                      "address, not a temporary privacy address.", protocol=p("protocol"), port=p("port"),
                      address=str(address) if address is not None else _("this host's stable IPv6 address")),)
        case Said.V6_HOST_FIREWALL:
            return (_("Allow inbound {protocol} port {port} over IPv6 in this host's firewall (nftables/ip6tables, "
                      "ufw, firewalld).", protocol=p("protocol"), port=p("port")),)
        case Said.V6_STABLE_ADDRESS:
            address = p("address")
            return (_("{address} is a temporary privacy address that changes within a day: give this server a "
                      "stable address (net.ipv6.conf.<interface>.use_tempaddr=0, or a static address) and use that "
                      "in the pinhole and the DNS record.",
                      address=str(address) if address is not None else _("this host's stable IPv6 address")),)
        case Said.HOST_FIREWALL_ALLOW:
            return (_("Allow inbound {protocol} port {port} in this host's firewall (nftables/iptables, ufw, "
                      "firewalld).", protocol=p("protocol"), port=p("port")),)
        case Said.NETWORK_FIREWALL_OPEN:
            return (_("Open {protocol} port {port} in the network firewall.", protocol=p("protocol"), port=p("port")),)
        case Said.CHECK_SERVICE:
            return (_("Check that the service on this port is the one you expect."),)
        case Said.ALLOW_INBOUND:
            return (_("Allow inbound {protocol} port {port} in this host's firewall.",
                      protocol=p("protocol"), port=p("port")),)
        case Said.LISTEN_EVERYWHERE:
            return (_("Check that {service} listens on all addresses (0.0.0.0), not only on 127.0.0.1.",
                      service=p("service")),)
        case Said.WIREGUARD_PEERS:
            return (_("WireGuard answers only peers whose public key it knows, so no outside test can get an answer "
                      "from it: on each peer, set Endpoint = {address}:{port}, and list the peer's public key on this "
                      "server (wg show).", address=_public(why), port=p("port")),)
        case Said.OPENVPN_KEY:
            return (_("This OpenVPN server stays silent to strangers, which is what tls-auth or tls-crypt does: each "
                      "client needs the same key (ta.key or the tls-crypt key) and remote {address} {port} udp.",
                      address=_public(why), port=p("port")),)
        case Said.UNKNOWN_PROTOCOL_LISTEN:
            return (_("natprobe does not speak the protocol of {program}, so only the arrival is proven: check that "
                      "it listens on all addresses, not only on 127.0.0.1.", program=_holder_name(p("holder"))),)
        case Said.FIREWALL_AFTER_WATCH:
            return (_("The packet watch sees packets before this host's firewall: if clients still cannot connect, "
                      "make sure this host's firewall allows inbound {protocol} port {port}.",
                      protocol=p("protocol"), port=p("port")),)
        case Said.RUN_WITH_WATCH:
            return (_("Run the check with the packet watch allowed: {command}", command=p("command")),)
        case Said.STOP_HOLDER:
            return (_("Stop {holder} for a moment and run the check again: natprobe then listens on the port itself.",
                      holder=_holder_name(p("holder"))),)
        case Said.INSTALL_CERTIFICATE_FOR_NAME:
            return (_("Install a certificate for {name} on this server (for example from Let's Encrypt), or "
                      "configure the web server to present it for {name}.", name=p("name")),)
        case Said.INSTALL_PUBLIC_CERTIFICATE:
            return (_("Install a certificate from a public certificate authority (for example Let's Encrypt) instead "
                      "of a self-signed or private one."),)
        case Said.START_SERVICE:
            return (_("Start the service on this host, or check the port it listens on (ss -ltnp lists them): the "
                      "forward must point to the port the service really uses ({protocol} {port} here).",
                      protocol=p("protocol"), port=p("port")),)
        case Said.HAIRPIN_SPLIT_DNS:
            return (_("Devices inside your network should use the server's LAN address, or set up split DNS so "
                      "the public name resolves to the LAN address locally."),)
    raise ValueError(f"no words for the port advice {why.code!r}")


def word_port(decision: PortDecision) -> PortVerdict:
    """The port's verdict in the user's language."""
    return PortVerdict(
        protocol=decision.protocol,
        port=decision.port,
        reachable=decision.reachable,
        status=decision.status,
        reason=_text(decision.why),
        advice=tuple(text for why in decision.advice for text in _advice(why)),
        proof=None if decision.proof is None else _text(decision.proof),
        details=decision.details,
        family=decision.family,
    )


def assess_port(observation: PortObservation, context: Context) -> PortVerdict:
    """Decide one port from what was observed, and say it."""
    return word_port(decide_port(observation, context))


def word_hairpin(decision: HairpinDecision) -> HairpinResult:
    """The hairpin verdict in the user's language."""
    return HairpinResult(decision.protocol, decision.port, decision.works, _text(decision.why),
                         tuple(text for why in decision.advice for text in _advice(why)))
