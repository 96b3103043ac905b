"""nftables rulesets for the lab's routers and hosts, as text for ``nft -f -``.

Pure string builders (no I/O), so a whole router is one ``nft`` call and the rules can be
read in one place. Which rule gives which RFC 4787 behaviour (see
shared/facts/linux-nat-lab.md, checked on this kernel):

* **mapping**: plain ``masquerade`` keeps the client's source port when it is free, so the
  mapping is endpoint-independent (EIM); ``masquerade fully-random`` draws a new port for
  every 5-tuple (address-and-port-dependent mapping, "symmetric").
* **filtering**: conntrack alone lets back only the exact remote ip:port (APDF). Mainline
  Linux has no full-cone NAT, so endpoint-independent filtering is built from a dynamic
  map ``external port -> client ip . port`` that outbound packets fill *after* SNAT, and a
  prerouting ``dnat ... map`` for unsolicited inbound packets. Address-dependent filtering
  adds a dynamic set ``remote ip . external port`` that the inbound DNAT must match.
  An inbound packet that matches nothing is routed to the router itself and dropped in
  its input chain, so its conntrack entry is never confirmed and cannot block a later
  mapping.
* **hairpinning**: Linux hairpins only what it DNATs, so LAN packets to the router's own
  WAN address are DNATed through the forwards and the dynamic map, then SNATed to the WAN
  address on their way back into the LAN.
* **loss**: ``numgen random`` in netdev ingress/egress chains on the WAN interface: the
  frame is lost on the link itself, before conntrack sees it (inbound) or after the router
  is done with it (outbound).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from natprobe.lab.config import Behavior, PortForward

__all__ = (
    "ROUTER_TABLE",
    "LOSS_TABLE",
    "HOST_TABLE",
    "RouterSpec",
    "router_ruleset",
    "forward_rules",
    "replace_forwards",
    "loss_ruleset",
    "replace_loss",
    "host_ruleset",
    "block_rule",
    "flush_dynamic_state",
)

ROUTER_TABLE = "nplab"
LOSS_TABLE = "nplab_wan"
HOST_TABLE = "nplab_host"

#: Loss is drawn as ``numgen random mod _LOSS_SCALE``: 0.01 % resolution.
_LOSS_SCALE = 10_000


@dataclass(frozen=True, slots=True)
class RouterSpec:
    """One NAT box: its two interfaces, addresses and behaviour."""

    lan_if: str
    wan_if: str
    lan_net: IPv4Network
    wan_ip: IPv4Address
    default_target: IPv4Address
    """Where a :class:`PortForward` without ``to_ip`` goes (the client)."""
    behavior: Behavior
    hairpin: bool = False
    mapping_timeout_s: int = 120
    """Lifetime of a dynamic-map entry after the last outbound packet (conntrack's own
    UDP stream timeout by default, so a full-cone mapping lives as long as the flow)."""

    @property
    def has_dynamic_map(self) -> bool:
        """Whether the router keeps the external-port map (EIF/ADF, or hairpin)."""
        if self.behavior in (Behavior.FULL_CONE, Behavior.RESTRICTED_CONE):
            return True
        return self.hairpin and self.behavior in (
            Behavior.PORT_RESTRICTED_CONE,
            Behavior.SYMMETRIC,
        )

    @property
    def has_allowed_set(self) -> bool:
        return self.behavior is Behavior.RESTRICTED_CONE


def _q(name: str) -> str:
    return f'"{name}"'


def forward_rules(spec: RouterSpec, forwards: Iterable[PortForward]) -> list[str]:
    """DNAT rules for the ``forwards`` chain, one per :class:`PortForward`."""
    rules = []
    for fwd in forwards:
        to_ip = fwd.to_ip if fwd.to_ip is not None else spec.default_target
        to_port = fwd.to_port if fwd.to_port is not None else fwd.port
        # With hairpinning, LAN hosts reach the forward through the WAN address too.
        match = f"ip daddr {spec.wan_ip}"
        if not spec.hairpin:
            match = f"iifname {_q(spec.wan_if)} {match}"
        rules.append(f"{match} {fwd.protocol} dport {fwd.port} dnat ip to {to_ip}:{to_port}")
    return rules


def router_ruleset(spec: RouterSpec, forwards: Iterable[PortForward] = ()) -> str:
    """The whole ``table ip nplab`` of a NAT router (or plain router for NO_NAT)."""
    lan, wan = _q(spec.lan_if), _q(spec.wan_if)
    timeout = f"{spec.mapping_timeout_s}s"
    fully_random = " fully-random" if spec.behavior is Behavior.SYMMETRIC else ""
    out: list[str] = [f"table ip {ROUTER_TABLE} {{"]
    if spec.has_dynamic_map:
        out.append(
            "  map dynmap { type inet_service : ipv4_addr . inet_service; "
            f"flags dynamic, timeout; timeout {timeout}; size 65536; }}"
        )
    if spec.has_allowed_set:
        out.append(
            "  set allowed { type ipv4_addr . inet_service; "
            f"flags dynamic, timeout; timeout {timeout}; size 65536; }}"
        )

    out.append("  chain forwards {")
    out += [f"    {rule}" for rule in forward_rules(spec, forwards)]
    out.append("  }")

    # --- destination NAT: port forwards, then unsolicited inbound through the map ---
    out.append("  chain prerouting {")
    out.append("    type nat hook prerouting priority dstnat; policy accept;")
    out.append("    jump forwards")
    to_map = "dnat ip to udp dport map @dynmap"
    inbound = f"iifname {wan} ip daddr {spec.wan_ip}"
    if spec.behavior is Behavior.FULL_CONE:
        out.append(f"    {inbound} {to_map}")
    elif spec.behavior is Behavior.RESTRICTED_CONE:
        out.append(f"    {inbound} ip saddr . udp dport @allowed {to_map}")
    if spec.hairpin and spec.has_dynamic_map:
        # Hairpinned packets are not filtered: the LAN is trusted, as on most home routers.
        out.append(f"    iifname {lan} ip daddr {spec.wan_ip} {to_map}")
    out.append("  }")

    # --- source NAT ---
    out.append("  chain postrouting {")
    out.append("    type nat hook postrouting priority srcnat; policy accept;")
    if spec.hairpin:
        # Back into the LAN after a DNAT: the target must answer through the router, so
        # the source becomes the WAN address (what a remote host would have used).
        out.append(
            f"    ip saddr {spec.lan_net} oifname {lan} ct status dnat "
            f"snat ip to {spec.wan_ip}{fully_random}"
        )
    if spec.behavior.translates:
        out.append(f"    oifname {wan} masquerade{fully_random}")
    out.append("  }")

    # --- learn mappings after SNAT (conntrack's reply tuple holds the external port) ---
    if spec.has_dynamic_map:
        out.append("  chain track {")
        out.append("    type filter hook postrouting priority srcnat + 10; policy accept;")
        orig = f"oifname {wan} meta l4proto udp ct direction original ct status snat"
        reply = f"oifname {wan} meta l4proto udp ct direction reply ct status dnat"
        out.append(
            f"    {orig} update @dynmap "
            "{ ct reply proto-dst : ct original ip saddr . ct original proto-src }"
        )
        out.append(
            f"    {reply} update @dynmap "
            "{ ct original proto-dst : ct reply ip saddr . ct reply proto-src }"
        )
        if spec.has_allowed_set:
            out.append(f"    {orig} update @allowed {{ ip daddr . ct reply proto-dst }}")
            out.append(f"    {reply} update @allowed {{ ip daddr . ct original proto-dst }}")
        out.append("  }")

    # --- the router's own firewall ---
    policy = "accept" if spec.behavior is Behavior.NO_NAT else "drop"
    out.append("  chain forward {")
    out.append(f"    type filter hook forward priority filter; policy {policy};")
    if spec.behavior is Behavior.UDP_BLOCKED:
        # Only what the LAN starts: answers of a forwarded inbound flow still leave.
        out.append(
            f"    iifname {lan} oifname {wan} meta l4proto udp ct direction original drop"
        )
    out.append("    ct state established,related accept")
    out.append("    ct status dnat accept")
    out.append(f"    iifname {lan} accept")
    out.append("  }")
    out.append("  chain input {")
    out.append("    type filter hook input priority filter; policy accept;")
    out.append(f"    iifname {wan} ct state established,related accept")
    out.append(f"    iifname {wan} icmp type echo-request accept")
    # Silent drop ("stealth"), as home routers do; it also keeps unmatched inbound
    # packets from leaving confirmed conntrack entries behind.
    out.append(f"    iifname {wan} drop")
    out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"


def replace_forwards(spec: RouterSpec, forwards: Iterable[PortForward]) -> str:
    """An ``nft -f`` batch that swaps the forwards chain's rules atomically."""
    lines = [f"flush chain ip {ROUTER_TABLE} forwards"]
    lines += [f"add rule ip {ROUTER_TABLE} forwards {r}" for r in forward_rules(spec, forwards)]
    return "\n".join(lines) + "\n"


def _loss_rule(percent: float) -> str | None:
    threshold = round(percent * _LOSS_SCALE / 100.0)
    if threshold <= 0:
        return None
    # IPv4 only: losing ARP would add one-second resolution stalls that no real link has.
    return f"meta protocol ip numgen random mod {_LOSS_SCALE} < {threshold} drop"


def loss_ruleset(wan_if: str, percent: float) -> str:
    """``table netdev nplab_wan``: random loss both ways on ``wan_if`` (chains always
    exist so :func:`replace_loss` can change the rate later)."""
    rule = _loss_rule(percent)
    body = f" {rule};" if rule else ""
    dev = _q(wan_if)
    return (
        f"table netdev {LOSS_TABLE} {{\n"
        f"  chain ingress {{ type filter hook ingress device {dev} priority filter; "
        f"policy accept;{body} }}\n"
        f"  chain egress {{ type filter hook egress device {dev} priority filter; "
        f"policy accept;{body} }}\n"
        "}\n"
    )


def replace_loss(percent: float) -> str:
    """An ``nft -f`` batch that sets a new loss rate on both chains."""
    rule = _loss_rule(percent)
    lines = []
    for chain in ("ingress", "egress"):
        lines.append(f"flush chain netdev {LOSS_TABLE} {chain}")
        if rule:
            lines.append(f"add rule netdev {LOSS_TABLE} {chain} {rule}")
    return "\n".join(lines) + "\n"


def host_ruleset() -> str:
    """An empty input chain on an end host, for :func:`block_rule` ("host firewall")."""
    return (
        f"table inet {HOST_TABLE} {{\n"
        "  chain input { type filter hook input priority filter; policy accept; }\n"
        "}\n"
    )


def block_rule(protocol: str, port: int) -> str:
    """Drop inbound ``protocol``/``port`` on a host (silently, like a default firewall)."""
    if protocol not in ("udp", "tcp"):
        raise ValueError(f"protocol must be 'udp' or 'tcp', not {protocol!r}")
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be within 1..65535, not {port}")
    return f"add rule inet {HOST_TABLE} input {protocol} dport {port} drop\n"


def flush_dynamic_state(spec: RouterSpec) -> str | None:
    """An ``nft -f`` batch that empties the dynamic map/set, or None if there are none."""
    lines = []
    if spec.has_dynamic_map:
        lines.append(f"flush map ip {ROUTER_TABLE} dynmap")
    if spec.has_allowed_set:
        lines.append(f"flush set ip {ROUTER_TABLE} allowed")
    return "\n".join(lines) + "\n" if lines else None
