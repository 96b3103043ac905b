"""The path from this host to the echo server, drawn one line per hop (pure: reports in, text out).

    ┌─ This host     192.168.77.10 (LAN)
    ├─ Router        WAN 100.64.0.2 (carrier-grade NAT space)
    ├─ Carrier NAT   198.51.100.7 (public)   ✗ UDP 22124 stopped here: a forward at home cannot help
    ├─ Internet
    └─ Echo server   198.51.100.10:8080

The hops come from the reports: the NAT-layers verdict decides which boxes exist (no NAT,
the home router, a second NAT, the carrier's NAT), the traced hops give the router's WAN
side when they show it, and each probe's verdict says on which box it stopped. The NAT
behaviour measured from outside (``natprobe nat``, the Jamulus hole punch) is written on the
outermost NAT, the one the outside world sees. :func:`draw_path` turns the boxes into text,
with Unicode box characters or plain ASCII.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from natprobe.addressing import AddressScope, IPAddress, classify, is_globally_routable, unmap
from natprobe.i18n import _
from natprobe.recverr import Hop
from natprobe.reports.check_report import CheckReport
from natprobe.reports.jamulus_report import JamulusModesReport
from natprobe.reports.nat_report import NatReport
from natprobe.verdicts.behavior import ClassicNatType, FilteringBehavior, MappingBehavior
from natprobe.verdicts.jamulus_verdicts import ModeStatus
from natprobe.verdicts.nat_layers import NatLayers
from natprobe.verdicts.reachability import PortStatus, PortVerdict
from natprobe.findings.scope_words import short_scope_word

__all__ = ("Mark", "NodeKind", "PathNode", "check_path", "draw_path", "jamulus_path", "nat_path")


class NodeKind(enum.StrEnum):
    HOST = "host"
    ROUTER = "router"
    SECOND_NAT = "second-nat"
    CARRIER_NAT = "carrier-nat"
    INTERNET = "internet"
    SERVER = "server"


_NATS = (NodeKind.CARRIER_NAT, NodeKind.SECOND_NAT, NodeKind.ROUTER)
"""NAT boxes, outermost first."""


@dataclass(frozen=True, slots=True)
class Mark:
    """What happened to one probe at a box: ``passed`` True (got through), False (stopped), None (untested)."""

    passed: bool | None
    text: str


@dataclass(frozen=True, slots=True)
class PathNode:
    kind: NodeKind
    address: str | None = None
    """The address shown for the box, with what kind of address it is."""
    behaviour: str | None = None
    """The NAT behaviour measured on this box, in words."""
    marks: tuple[Mark, ...] = ()


# --- labels ------------------------------------------------------------------------------------


def _label(kind: NodeKind) -> str:
    return {
        NodeKind.HOST: _("This host"),
        NodeKind.ROUTER: _("Router"),
        NodeKind.SECOND_NAT: _("Second NAT"),
        NodeKind.CARRIER_NAT: _("Carrier NAT"),
        NodeKind.INTERNET: _("Internet"),
        NodeKind.SERVER: _("Echo server"),
    }[kind]


def _address(ip: IPAddress | None, *, wan: bool = False) -> str | None:
    if ip is None:
        return None
    if wan:
        return _("WAN {address} ({scope})", address=ip, scope=short_scope_word(ip))
    return _("{address} ({scope})", address=ip, scope=short_scope_word(ip))


def _server_name(url: str | None) -> str:
    """``host:port`` of an echo-server URL (the whole text when it is not a URL)."""
    if url is None:
        return _("no echo server")
    parts = urlsplit(url if "//" in url else f"//{url}")
    return parts.netloc or url


# --- the skeleton from the NAT layers ----------------------------------------------------------


def _first_hop(hops: Sequence[Hop], scopes: frozenset[AddressScope], after_first: bool) -> IPAddress | None:
    for hop in hops:
        if hop.address is None or (after_first and hop.ttl == 1):
            continue
        scope = classify(unmap(hop.address))
        if is_globally_routable(scope):
            return None
        if scope in scopes:
            return hop.address
    return None


def _skeleton(
    layers: NatLayers, local_ip: IPAddress | None, public_ip: IPAddress | None, server: str, hops: Sequence[Hop] = ()
) -> list[PathNode]:
    nodes = [PathNode(NodeKind.HOST, _address(local_ip))]
    if layers is NatLayers.NO_NAT:
        pass
    elif layers is NatLayers.CGNAT:
        shared = _first_hop(hops, frozenset({AddressScope.SHARED}), after_first=False)
        wan = _address(shared, wan=True) if shared is not None else _("WAN address in the carrier's private space")
        nodes += [PathNode(NodeKind.ROUTER, wan), PathNode(NodeKind.CARRIER_NAT, _address(public_ip))]
    elif layers is NatLayers.DOUBLE_NAT:
        inner = _first_hop(hops, frozenset({AddressScope.PRIVATE, AddressScope.UNIQUE_LOCAL}), after_first=True)
        wan = _address(inner, wan=True) if inner is not None else _("private WAN address")
        nodes += [PathNode(NodeKind.ROUTER, wan), PathNode(NodeKind.SECOND_NAT, _address(public_ip))]
    elif layers is NatLayers.ONE_NAT:
        nodes.append(PathNode(NodeKind.ROUTER, _address(public_ip, wan=True)))
    else:
        wan = _address(public_ip, wan=True)
        nodes.append(PathNode(NodeKind.ROUTER, _("{wan}; how many NATs is unknown", wan=wan) if wan else None))
    nodes += [PathNode(NodeKind.INTERNET), PathNode(NodeKind.SERVER, server)]
    return nodes


def _outermost_nat(nodes: Sequence[PathNode]) -> NodeKind | None:
    kinds = {node.kind for node in nodes}
    return next((kind for kind in _NATS if kind in kinds), None)


def _add(nodes: list[PathNode], kind: NodeKind | None, *, mark: Mark | None = None, behaviour: str | None = None) -> None:
    """Put ``mark`` and ``behaviour`` on the box of ``kind`` (the host when there is no such box)."""
    kinds = [node.kind for node in nodes]
    index = kinds.index(kind) if kind in kinds else 0
    node = nodes[index]
    nodes[index] = replace(
        node,
        marks=node.marks + ((mark,) if mark is not None else ()),
        behaviour=behaviour if behaviour is not None else node.behaviour,
    )


def _replace_address(nodes: list[PathNode], kind: NodeKind, address: str) -> None:
    index = [node.kind for node in nodes].index(kind)
    nodes[index] = replace(nodes[index], address=address)


# --- where a port probe stopped ----------------------------------------------------------------


def _port_mark(nodes: list[PathNode], verdict: PortVerdict, what: str | None = None) -> None:
    probe = what or _("{protocol} {port}", protocol=verdict.protocol.value.upper(), port=verdict.port)
    status = verdict.status
    outer = _outermost_nat(nodes)
    if status is PortStatus.REACHABLE:
        _add(nodes, NodeKind.HOST, mark=Mark(True, _("{probe} arrived", probe=probe)))
    elif status is PortStatus.HOST_FIREWALL:
        _add(nodes, NodeKind.HOST, mark=Mark(False, _("{probe} dropped by this host's firewall", probe=probe)))
    elif status is PortStatus.NOTHING_ANSWERING:
        _add(nodes, NodeKind.HOST, mark=Mark(False, _("{probe} came in but nothing answered", probe=probe)))
    elif status is PortStatus.WRONG_HOST:
        _add(nodes, NodeKind.ROUTER, mark=Mark(False, _("{probe} forwarded to another machine", probe=probe)))
    elif status is PortStatus.CGNAT:
        _add(nodes, outer, mark=Mark(False, _("{probe} stopped here: a forward at home cannot help", probe=probe)))
    elif status is PortStatus.NOT_FORWARDED:
        if outer is None:
            _add(nodes, NodeKind.INTERNET, mark=Mark(False, _("{probe} filtered on the way", probe=probe)))
        else:
            _add(nodes, outer, mark=Mark(False, _("{probe} stopped here: no forward", probe=probe)))
    else:
        _add(nodes, NodeKind.SERVER, mark=Mark(None, _("{probe} not tested", probe=probe)))


def check_path(report: CheckReport) -> tuple[PathNode, ...]:
    """The path of ``natprobe check``: the NAT boxes and where each port's probe stopped."""
    nodes = _skeleton(report.topology.layers, report.local_ip, report.public_ip, _server_name(report.server), report.hops)
    # Ports with the same verdict share one mark ("UDP 22124, TCP 80 stopped here"), so a
    # check of many ports still fits on one line per hop.
    by_status: dict[PortStatus, list[PortVerdict]] = {}
    for verdict in report.ports:
        by_status.setdefault(verdict.status, []).append(verdict)
    for verdicts in by_status.values():
        probes = ", ".join(
            _("{protocol} {port}", protocol=v.protocol.value.upper(), port=v.port) for v in verdicts
        )
        _port_mark(nodes, verdicts[0], probes)
    return tuple(nodes)


# --- NAT behaviour (natprobe nat) ---------------------------------------------------------------


def _type_words(nat_type: ClassicNatType) -> str:
    return {
        ClassicNatType.OPEN_INTERNET: _("open Internet"),
        ClassicNatType.FULL_CONE: _("full cone"),
        ClassicNatType.RESTRICTED_CONE: _("restricted cone"),
        ClassicNatType.PORT_RESTRICTED_CONE: _("port-restricted cone"),
        ClassicNatType.SYMMETRIC: _("symmetric: a new public port for each destination"),
        ClassicNatType.UDP_BLOCKED: _("UDP blocked"),
        ClassicNatType.SYMMETRIC_UDP_FIREWALL: _("firewall that admits only replies"),
        ClassicNatType.INCONCLUSIVE: _("type undecided"),
    }[nat_type]


def nat_path(report: NatReport) -> tuple[PathNode, ...]:
    """The path of ``natprobe nat``: the NAT (as many as there are, seen as one) with its
    behaviour, and where the filtering and hairpin probes stopped."""
    local = report.local.ip if report.local is not None and not report.local.ip.is_unspecified else None
    public = report.mapped.ip if report.mapped is not None else None
    if public is not None and local is not None and unmap(local) == unmap(public):
        layers = NatLayers.NO_NAT
    elif public is not None and local is not None:
        layers = NatLayers.ONE_NAT  # counted as one: STUN alone cannot tell how many
    else:
        layers = NatLayers.UNKNOWN
    nodes = _skeleton(layers, local, public, str(report.server))
    if layers is NatLayers.ONE_NAT:
        # STUN sees the outermost NAT's address only: do not call it this router's WAN.
        _replace_address(nodes, NodeKind.ROUTER, _("{address} seen from outside", address=_address(public)))
    nat_type = report.nat_type.value
    outer = _outermost_nat(nodes)
    target = outer if outer is not None else NodeKind.HOST
    if nat_type is ClassicNatType.UDP_BLOCKED:
        _add(nodes, NodeKind.INTERNET, mark=Mark(False, _("UDP stopped on the way out")))
        return tuple(nodes)
    _add(nodes, target, behaviour=_type_words(nat_type))
    filtering = report.filtering.value
    if filtering is FilteringBehavior.ENDPOINT_INDEPENDENT:
        _add(nodes, target, mark=Mark(True, _("replies from another address got in")))
    elif filtering is FilteringBehavior.ADDRESS_DEPENDENT:
        _add(nodes, target, mark=Mark(False, _("replies from another address stopped here")))
        _add(nodes, target, mark=Mark(True, _("from another port got in")))
    elif filtering is FilteringBehavior.ADDRESS_AND_PORT_DEPENDENT:
        _add(nodes, target, mark=Mark(False, _("replies from another address or port stopped here")))
    if report.mapping.value is MappingBehavior.ADDRESS_DEPENDENT or report.mapping.value is MappingBehavior.ADDRESS_AND_PORT_DEPENDENT:
        if nat_type is not ClassicNatType.SYMMETRIC:
            _add(nodes, target, behaviour=_("a new public port for each destination"))
    if report.hairpinning.value is False and outer is not None:
        _add(nodes, outer, mark=Mark(False, _("hairpin (own public address) stopped here")))
    elif report.hairpinning.value is True and outer is not None:
        _add(nodes, outer, mark=Mark(True, _("hairpin works")))
    return tuple(nodes)


# --- Jamulus public and private mode ------------------------------------------------------------


def jamulus_path(report: JamulusModesReport) -> tuple[PathNode, ...]:
    """The path of ``natprobe explain jamulus``: where the unsolicited probe (private mode) and
    the punched client's ping (public mode) stopped, and the NAT behaviour the registration showed."""
    nodes = _skeleton(report.nat_layers, report.local_ip, report.public_ip, _server_name(report.server))
    outer = _outermost_nat(nodes)
    if report.private_check is not None:
        _port_mark(nodes, report.private_check, _("unsolicited probe to UDP {port}", port=report.port))
    punch = report.hole_punch
    behaviour: list[str] = []
    if report.public_mode.status is ModeStatus.SYMMETRIC_NAT:
        behaviour.append(_("symmetric: a new public port for each destination"))
    if report.port_preserved is False and punch is not None:
        behaviour.append(_("port {local} published as {public}", local=report.measured_port, public=punch.published.port))
    elif report.port_preserved:
        behaviour.append(_("keeps the port"))
    if report.lifetime is not None and report.lifetime.at_most_s is not None:
        behaviour.append(_("idle mappings expire after {seconds:g} s", seconds=report.lifetime.at_most_s))
    if behaviour:
        _add(nodes, outer, behaviour=", ".join(behaviour))
    if punch is not None:
        if punch.punched_ping_answered:
            _add(nodes, NodeKind.HOST, mark=Mark(True, _("punched client's ping arrived")))
        else:
            _add(nodes, outer, mark=Mark(False, _("punched client's ping stopped here")))
    return tuple(nodes)


# --- drawing ------------------------------------------------------------------------------------

_UNICODE = {"first": "┌─", "middle": "├─", "last": "└─", True: "✓", False: "✗", None: "·", "sep": " · "}
_ASCII = {"first": "+-", "middle": "|-", "last": "`-", True: "[ok]", False: "[X]", None: "[-]", "sep": " - "}


def _plain(passed: bool | None, text: str) -> str:
    return text


def draw_path(
    nodes: Sequence[PathNode], *, unicode: bool = True, paint: Callable[[bool | None, str], str] | None = None
) -> str:
    """One line per box, top (this host) to bottom (the echo server); marks at the end.

    ``paint(passed, text)`` may decorate each mark (the CLI colours them on a terminal); marks
    come last on their line, so decoration never breaks the alignment."""
    glyphs = _UNICODE if unicode else _ASCII
    labels = [_label(node.kind) for node in nodes]
    label_width = max(len(label) for label in labels) + 2
    middles = []
    for node in nodes:
        parts = [node.address] if node.address else []
        if node.behaviour and node.kind is NodeKind.HOST:
            parts.append(_("no NAT: {behaviour}", behaviour=node.behaviour))
        elif node.behaviour:
            parts.append(_("NAT: {behaviour}", behaviour=node.behaviour))
        middles.append(str(glyphs["sep"]).join(parts))
    middle_width = max(len(m) for m in middles) + 2
    lines = []
    for index, (node, label, middle) in enumerate(zip(nodes, labels, middles)):
        corner = "first" if index == 0 else "last" if index == len(nodes) - 1 else "middle"
        marks = "  ".join(
            (paint or _plain)(mark.passed, f"{glyphs[mark.passed]} {mark.text}") for mark in node.marks
        )
        line = f"{glyphs[corner]} {label:<{label_width}}{middle:<{middle_width}}{marks}" if marks else (
            f"{glyphs[corner]} {label:<{label_width}}{middle}"
        )
        lines.append(line.rstrip())
    return "\n".join(lines)
