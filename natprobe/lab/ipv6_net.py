"""IPv6 for a built :class:`~natprobe.lab.network.Lab`: routed, no NAT, a stateful firewall.

::

    [client] eth0 ─ lan0 [router] wan0 ─ up0 [internet] srv0 ─ eth0 [server]
    2001:db8:77::/64         2001:db8:113::/64          2001:db8:100::/64

``with Lab(...) as lab: v6 = enable_ipv6(lab)`` adds documentation prefixes (RFC 3849) to the
IPv4 lab's links, routes them, and loads ``table ip6 nplab6`` on the home router: what the
LAN sends goes out, replies come back (conntrack ``established``), anything new from the
Internet is dropped unless a pinhole (address . protocol . port) lets it in — what a home
router's IPv6 firewall does by default (facts/self-hosting.md, "IPv6 inbound").

The client's stable address is ``2001:db8:77::10``; with ``temporary=True`` the kernel also
makes an RFC 8981 temporary address from it (``mngtmpaddr`` with ``use_tempaddr=2``) and
prefers that one as source, as a desktop with privacy extensions does. With
``client_global=False`` the client keeps only its link-local address: a host with no
global IPv6. Everything lives in the lab's namespaces and goes with them; nothing here
needs undoing. Labs with carrier-grade NAT are IPv4 questions and refused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network

from natprobe.errors import LabError
from natprobe.lab.netns import Host, run, write_sysctls
from natprobe.lab.network import Lab

__all__ = ("Ipv6Lab", "Ipv6Plan", "Pinhole", "enable_ipv6")

FIREWALL_TABLE = "nplab6"
_TEMPORARY_WAIT_S = 2.0


@dataclass(frozen=True, slots=True)
class Ipv6Plan:
    """Every IPv6 address of the lab (documentation prefix 2001:db8::/32)."""

    lan: IPv6Network = IPv6Network("2001:db8:77::/64")
    client_ip: IPv6Address = IPv6Address("2001:db8:77::10")
    router_lan_ip: IPv6Address = IPv6Address("2001:db8:77::1")
    uplink: IPv6Network = IPv6Network("2001:db8:113::/64")
    uplink_core_ip: IPv6Address = IPv6Address("2001:db8:113::1")
    router_wan_ip: IPv6Address = IPv6Address("2001:db8:113::2")
    server_net: IPv6Network = IPv6Network("2001:db8:100::/64")
    server_core_ip: IPv6Address = IPv6Address("2001:db8:100::1")
    primary_ip: IPv6Address = IPv6Address("2001:db8:100::10")
    alternate_ip: IPv6Address = IPv6Address("2001:db8:100::11")


@dataclass(frozen=True, slots=True)
class Pinhole:
    """Let new inbound ``protocol``/``port`` to ``address`` through the router's IPv6 firewall."""

    protocol: str
    port: int
    address: IPv6Address

    def __post_init__(self) -> None:
        if self.protocol not in ("udp", "tcp"):
            raise ValueError(f"protocol must be 'udp' or 'tcp', not {self.protocol!r}")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port must be within 1..65535, not {self.port}")


def firewall_ruleset(pinholes: Iterable[Pinhole] = ()) -> str:
    """``table ip6 nplab6``: a home router's stateful IPv6 firewall, with pinholes."""
    elements = ", ".join(f"{p.address} . {p.protocol} . {p.port}" for p in pinholes)
    return (
        f"table ip6 {FIREWALL_TABLE} {{\n"
        "  set pinholes { type ipv6_addr . inet_proto . inet_service;"
        + (f" elements = {{ {elements} }};" if elements else "")
        + " }\n"
        "  chain forward {\n"
        "    type filter hook forward priority filter; policy accept;\n"
        '    iifname "lan0" accept\n'
        "    ct state established,related accept\n"
        # RFC 4890 section 4.3: error messages and echo must cross a firewall.
        "    meta l4proto ipv6-icmp accept\n"
        "    ip6 daddr . meta l4proto . th dport @pinholes accept\n"
        '    iifname "wan0" drop\n'
        "  }\n"
        "}\n"
    )


class Ipv6Lab:
    """The IPv6 side of a lab: its plan, and the router's pinholes to change at run time."""

    def __init__(self, lab: Lab, plan: Ipv6Plan, client_global: bool, pinholes: Iterable[Pinhole]) -> None:
        self.lab = lab
        self.plan = plan
        self.client_global = client_global
        self._pinholes = list(pinholes)

    @property
    def pinholes(self) -> tuple[Pinhole, ...]:
        return tuple(self._pinholes)

    def _load(self, pinholes: list[Pinhole]) -> None:
        script = f"flush set ip6 {FIREWALL_TABLE} pinholes\n"
        if pinholes:
            elements = ", ".join(f"{p.address} . {p.protocol} . {p.port}" for p in pinholes)
            script += f"add element ip6 {FIREWALL_TABLE} pinholes {{ {elements} }}\n"
        self.lab.router.exec(["nft", "-f", "-"], input=script, timeout=10)
        self._pinholes = pinholes

    def add_pinhole(self, protocol: str, port: int, address: IPv6Address | None = None) -> Pinhole:
        """Open ``protocol``/``port`` to ``address`` (default: the client's stable address)."""
        pinhole = Pinhole(protocol, port, address or self.plan.client_ip)
        self._load([*self._pinholes, pinhole])
        return pinhole

    def remove_pinholes(self) -> None:
        self._load([])

    def client_addresses(self) -> list[tuple[IPv6Address, bool]]:
        """The client's global IPv6 addresses and whether each is temporary (``ip -j -6 addr``)."""
        done = self.lab.client.exec(["ip", "-j", "-6", "addr", "show", "dev", "eth0", "scope", "global"])
        found = []
        for link in json.loads(done.stdout or "[]"):
            for info in link.get("addr_info", []):
                if "local" not in info:  # iproute2 6.1 emits lifetime-only entries too
                    continue
                found.append((IPv6Address(info["local"]), bool(info.get("temporary"))))
        return found

    def temporary_address(self) -> IPv6Address | None:
        return next((ip for ip, temporary in self.client_addresses() if temporary), None)


def enable_ipv6(
    lab: Lab,
    *,
    client_global: bool = True,
    temporary: bool = False,
    pinholes: Iterable[Pinhole] = (),
    plan: Ipv6Plan | None = None,
) -> Ipv6Lab:
    """Add IPv6 to ``lab`` (up, without CGNAT); see the module docstring."""
    # The wire bridges Ethernet frames whatever they carry, so IPv6 crosses it with the same
    # delay as IPv4 (the check benchmark's dual-stack cases at 50 ms RTT).
    if lab.carrier is not None:
        raise LabError("the IPv6 lab supports the home-router topology only (no cgnat)")
    plan = plan or Ipv6Plan()
    interfaces: list[tuple[Host, str]] = [
        (lab.client, "eth0"), (lab.router, "lan0"), (lab.router, "wan0"),
        (lab.internet, "up0"), (lab.internet, "srv0"), (lab.server, "eth0"),
    ]
    for host, ifname in interfaces:
        values = {
            # No duplicate address detection (the lab knows its addresses are unique) and no
            # router advertisements: addresses are usable at once and only the ones set here.
            f"net/ipv6/conf/{ifname}/accept_dad": "0",
            f"net/ipv6/conf/{ifname}/accept_ra": "0",
            f"net/ipv6/conf/{ifname}/autoconf": "0",
        }
        if host is lab.client and temporary:
            values[f"net/ipv6/conf/{ifname}/use_tempaddr"] = "2"
        write_sysctls(host.name, values)
        write_sysctls(host.name, {f"net/ipv6/conf/{ifname}/disable_ipv6": "0"})
    for host in (lab.router, lab.internet):
        write_sysctls(host.name, {"net/ipv6/conf/all/forwarding": "1"})
    p = plan
    scripts: dict[Host, list[str]] = {
        lab.router: [
            f"addr add {p.router_lan_ip}/64 dev lan0 nodad",
            f"addr add {p.router_wan_ip}/64 dev wan0 nodad",
            f"route add default via {p.uplink_core_ip}",
        ],
        lab.internet: [
            f"addr add {p.uplink_core_ip}/64 dev up0 nodad",
            f"addr add {p.server_core_ip}/64 dev srv0 nodad",
            f"route add {p.lan} via {p.router_wan_ip}",
        ],
        lab.server: [
            f"addr add {p.primary_ip}/64 dev eth0 nodad",
            f"addr add {p.alternate_ip}/64 dev eth0 nodad",
            f"route add default via {p.server_core_ip} src {p.primary_ip}",
        ],
        lab.client: [],
    }
    if client_global:
        flags = " nodad mngtmpaddr" if temporary else " nodad"
        scripts[lab.client] += [f"addr add {p.client_ip}/64 dev eth0{flags}", f"route add default via {p.router_lan_ip}"]
    for host, cmds in scripts.items():
        if cmds:
            run(["ip", "-6", "-n", host.name, "-batch", "-"], input="".join(c + "\n" for c in cmds))
    pinholes = list(pinholes)
    lab.router.exec(["nft", "-f", "-"], input=firewall_ruleset(pinholes), timeout=10)
    v6 = Ipv6Lab(lab, plan, client_global, pinholes)
    if client_global and temporary:
        deadline = time.monotonic() + _TEMPORARY_WAIT_S
        while v6.temporary_address() is None:
            if time.monotonic() > deadline:
                raise LabError("the kernel made no temporary address for the client (use_tempaddr with mngtmpaddr)")
            time.sleep(0.05)
    return v6
