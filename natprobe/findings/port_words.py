"""The words of the port verdicts of ``natprobe check`` (and of an exposure scan's expected ports).

:mod:`natprobe.verdicts.reachability` decides (a :class:`~natprobe.verdicts.reachability.PortDecision`:
status, and reason, advice and proof as codes); this module says it as a
:class:`~natprobe.verdicts.reachability.PortVerdict` (:func:`word_port`), with
:func:`assess_port` as the decide-and-word call; likewise for hairpinning. It is also the one
home of the carrier-grade NAT advice (:func:`cgnat_advice`).
"""

from __future__ import annotations

from natprobe.i18n import N_, _
from natprobe.observations import PortObservation
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
    "held_udp_port_reason",
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


def held_udp_port_reason(port: int) -> str:
    """Why a UDP port held by an unknown program cannot be checked (the check's ``error``)."""
    return _(
        "a program already uses UDP port {port}, and natprobe can only prove a UDP port it can "
        "listen on itself, or a service it can speak to (--service jamulus). Stop the program and "
        "run the check again.",
        port=port,
    )


def _v6_address(why: Why) -> str:
    """This host's IPv6 address as a reason names it."""
    address = why.get("address")
    if address is None:
        return _("this host's IPv6 address")
    if why.get("temporary"):
        return _("{address} (a temporary privacy address)", address=address)
    return str(address)


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
        case Said.HAIRPIN_WORKS:
            return _("this host reached its own public address {address}:{port} (the router hairpins)",
                     address=p("address"), port=p("port"))
        case Said.HAIRPIN_FAILS:
            return _("this host could not reach its own public address {address}:{port}: the router does not "
                     "hairpin (NAT loopback), so LAN clients cannot use the public address",
                     address=p("address"), port=p("port"))
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
