"""What a lab should look like: router behaviours, port forwards, impairments, addresses.

Pure data, no I/O: :class:`LabConfig` says what to build, :class:`AddressPlan` says which
address every host gets. All "public" addresses come from the documentation ranges
(RFC 5737), the home LAN from RFC 1918 and the carrier link from RFC 6598 (100.64.0.0/10),
so nothing in a lab can ever collide with a real Internet host.

Address plan (the same for every lab, so tests and logs read alike)::

    client 192.168.77.10 ── lan0 [home router] wan0 ── 203.0.113.2 ─┐
           (NO_NAT: 192.0.2.130; router 192.0.2.129)                │ 203.0.113.0/24
                                                       (cgnat: home │ wan0 100.64.0.2,
                                                        carrier in0 │ 100.64.0.1,
                                                        carrier out0│ 203.0.113.2;
                                      double_nat: the same, inside  │ on 192.168.1.0/24)
                                                                    │ [wire, optional]
    server 198.51.100.10/.11/.12 ── 198.51.100.1 [internet] 203.0.113.1
    peer   192.0.2.2             ── 192.0.2.1    [internet]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network
from typing import Literal

__all__ = ("Behavior", "PortForward", "LabConfig", "AddressPlan")


class Behavior(StrEnum):
    """What the home router does to the client's traffic (RFC 4787 mapping/filtering)."""

    NO_NAT = "no-nat"
    """The client holds a public address; the router only routes and filters nothing."""
    UDP_BLOCKED = "udp-blocked"
    """The router drops UDP the LAN starts toward the WAN; TCP is NATed as usual."""
    FULL_CONE = "full-cone"
    """Endpoint-independent mapping and endpoint-independent filtering."""
    RESTRICTED_CONE = "restricted-cone"
    """Endpoint-independent mapping, address-dependent filtering."""
    PORT_RESTRICTED_CONE = "port-restricted-cone"
    """Endpoint-independent mapping, address-and-port-dependent filtering (plain masquerade)."""
    SYMMETRIC = "symmetric"
    """Address-and-port-dependent mapping and filtering (masquerade fully-random)."""

    @property
    def translates(self) -> bool:
        """Whether the router rewrites the client's address at all."""
        return self is not Behavior.NO_NAT


@dataclass(frozen=True, slots=True)
class PortForward:
    """A static DNAT on the home router: ``WAN:port`` -> ``to_ip:to_port``."""

    protocol: Literal["udp", "tcp"]
    port: int
    to_ip: IPv4Address | None = None
    """Default: the client's LAN address."""
    to_port: int | None = None
    """Default: the same as ``port``."""

    def __post_init__(self) -> None:
        if self.protocol not in ("udp", "tcp"):
            raise ValueError(f"protocol must be 'udp' or 'tcp', not {self.protocol!r}")
        for name, value in (("port", self.port), ("to_port", self.to_port)):
            if value is not None and not 1 <= value <= 65535:
                raise ValueError(f"{name} must be within 1..65535, not {value}")
        if self.to_ip is not None and not isinstance(self.to_ip, IPv4Address):
            raise ValueError(f"to_ip must be an IPv4Address, not {self.to_ip!r}")


def _check_percent(name: str, value: float) -> None:
    if not (math.isfinite(value) and 0.0 <= value <= 100.0):
        raise ValueError(f"{name} must be within 0..100, not {value}")


@dataclass(frozen=True, slots=True)
class LabConfig:
    """Everything that makes one lab differ from another."""

    behavior: Behavior = Behavior.PORT_RESTRICTED_CONE
    cgnat: bool = False
    """A carrier NAT (EIM, plain masquerade) between the home router and the Internet."""
    double_nat: bool = False
    """An ISP's box that NATs too (plain masquerade) between the home router and the Internet,
    with a private link (192.168.1.0/24) between them: the home router's WAN address is private.
    Built like ``cgnat`` (the outer NAT is :attr:`Lab.carrier`), on RFC 1918 space instead of
    RFC 6598."""
    carrier_behavior: Behavior = Behavior.PORT_RESTRICTED_CONE
    """With ``cgnat`` (or ``double_nat``): the outer NAT's behaviour (a full-cone carrier lets
    miniupnpd's STUN test pass, so the home router accepts mappings that the carrier never
    forwards)."""
    hairpin: bool = False
    """The home router hairpins port forwards and dynamic UDP mappings."""
    udp_timeout_s: int | None = None
    """UDP conntrack lifetime on the home router (both the unreplied and stream timeouts)."""
    forwards: tuple[PortForward, ...] = ()
    loss_percent: float = 0.0
    """Random loss on the home router's WAN link, each direction, in-kernel (nftables)."""
    delay_ms: float = 0.0
    """One-way delay each direction, added by the user-space wire."""
    reorder_percent: float = 0.0
    duplicate_percent: float = 0.0
    first_packet_delay_ms: float = 0.0
    """Extra delay for the first packet of each flow on the WAN link (the user-space wire):
    a NAT creating its mapping, a radio waking up, neighbour resolution."""

    def __post_init__(self) -> None:
        if not isinstance(self.behavior, Behavior):
            raise ValueError(f"behavior must be a Behavior, not {self.behavior!r}")
        if self.cgnat and self.behavior is Behavior.NO_NAT:
            # A public address on the client and a carrier NAT in front of it contradict
            # each other: the Internet would never see the client's address.
            raise ValueError("cgnat=True needs a NAT on the home router, not NO_NAT")
        if self.double_nat and (self.cgnat or self.behavior is Behavior.NO_NAT):
            raise ValueError("double_nat=True needs a NAT on the home router and no carrier-grade NAT")
        if not isinstance(self.carrier_behavior, Behavior) or not self.carrier_behavior.translates:
            raise ValueError(f"carrier_behavior must be a translating Behavior, not {self.carrier_behavior!r}")
        if self.udp_timeout_s is not None and not 1 <= self.udp_timeout_s <= 86400:
            raise ValueError(f"udp_timeout_s must be within 1..86400, not {self.udp_timeout_s}")
        if not isinstance(self.forwards, tuple):
            raise ValueError("forwards must be a tuple of PortForward")
        _check_percent("loss_percent", self.loss_percent)
        _check_percent("reorder_percent", self.reorder_percent)
        _check_percent("duplicate_percent", self.duplicate_percent)
        if not (math.isfinite(self.delay_ms) and 0.0 <= self.delay_ms <= 10_000.0):
            raise ValueError(f"delay_ms must be within 0..10000, not {self.delay_ms}")
        if not (math.isfinite(self.first_packet_delay_ms) and 0.0 <= self.first_packet_delay_ms <= 10_000.0):
            raise ValueError(f"first_packet_delay_ms must be within 0..10000, not {self.first_packet_delay_ms}")

    @property
    def needs_wire(self) -> bool:
        """Whether the user-space wire sits on the WAN link (delay, reorder, duplicate)."""
        return (self.delay_ms > 0 or self.reorder_percent > 0 or self.duplicate_percent > 0
                or self.first_packet_delay_ms > 0)


@dataclass(frozen=True, slots=True)
class AddressPlan:
    """Every address of a lab. Fixed except for the NO_NAT, CGNAT and double-NAT variants."""

    lan: IPv4Network
    client_ip: IPv4Address
    router_lan_ip: IPv4Address
    lan_spare_ip: IPv4Address
    home_wan: IPv4Network
    router_wan_ip: IPv4Address
    home_wan_gateway: IPv4Address
    """Next hop of the home router: the Internet core, or the carrier's inside."""
    uplink: IPv4Network
    """The link between the Internet core and the home router (or the carrier)."""
    uplink_core_ip: IPv4Address
    public_ip: IPv4Address
    """What the Internet sees as the client's address."""
    carrier_inside_ip: IPv4Address | None
    carrier_outside_ip: IPv4Address | None
    server_net: IPv4Network
    server_core_ip: IPv4Address
    primary_ip: IPv4Address
    alternate_ip: IPv4Address
    directory_ip: IPv4Address
    peer_net: IPv4Network
    peer_core_ip: IPv4Address
    peer_ip: IPv4Address

    @classmethod
    def for_config(cls, config: LabConfig) -> AddressPlan:
        a = IPv4Address
        if config.behavior is Behavior.NO_NAT:
            # A routed public /25 behind the router (the other half of 192.0.2.0/24 is the
            # peer's link), so the client's own address is what the Internet sees.
            lan = IPv4Network("192.0.2.128/25")
            client, router_lan, spare = a("192.0.2.130"), a("192.0.2.129"), a("192.0.2.131")
        else:
            lan = IPv4Network("192.168.77.0/24")
            client, router_lan, spare = a("192.168.77.10"), a("192.168.77.1"), a("192.168.77.20")
        uplink = IPv4Network("203.0.113.0/24")
        core, outside = a("203.0.113.1"), a("203.0.113.2")
        carrier_in: IPv4Address | None = None
        carrier_out: IPv4Address | None = None
        if config.cgnat or config.double_nat:
            home_wan = IPv4Network("100.64.0.0/24" if config.cgnat else "192.168.1.0/24")
            wan_ip, gateway = home_wan[2], home_wan[1]
            carrier_in, carrier_out, public = gateway, outside, outside
        else:
            home_wan, wan_ip, gateway = uplink, outside, core
            public = client if config.behavior is Behavior.NO_NAT else outside
        return cls(
            lan=lan,
            client_ip=client,
            router_lan_ip=router_lan,
            lan_spare_ip=spare,
            home_wan=home_wan,
            router_wan_ip=wan_ip,
            home_wan_gateway=gateway,
            uplink=uplink,
            uplink_core_ip=core,
            public_ip=public,
            carrier_inside_ip=carrier_in,
            carrier_outside_ip=carrier_out,
            server_net=IPv4Network("198.51.100.0/24"),
            server_core_ip=a("198.51.100.1"),
            primary_ip=a("198.51.100.10"),
            alternate_ip=a("198.51.100.11"),
            directory_ip=a("198.51.100.12"),
            peer_net=IPv4Network("192.0.2.0/25"),
            peer_core_ip=a("192.0.2.1"),
            peer_ip=a("192.0.2.2"),
        )
