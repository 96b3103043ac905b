"""A "cloud" VPS behind a provider's 1:1 NAT, added to a running :class:`~natprobe.lab.Lab`.

::

    [internet] cld0 ─ wan0 [cloudgw] lan0 ─ eth0 [vps]
    203.0.113.253/30    203.0.113.254   10.0.0.1/24   10.0.0.5, 10.0.0.6

Most clouds give a VPS a private interface address and map a public address onto it 1:1
(a stateless-looking static NAT in the provider's network): inbound to 198.51.100.200 is
rewritten to 10.0.0.5, outbound from 10.0.0.5 leaves as 198.51.100.200, ports untouched;
the same for 198.51.100.201 ↔ 10.0.0.6. The VPS only ever sees its private addresses, which
is why an echo server there must be told its public ones (``--primary-public``).

Kept apart from :mod:`natprobe.lab.network` (the lab's own topology): this module adds two
namespaces to a lab that is already up, and removes them on exit, processes first.
"""

from __future__ import annotations

import contextlib
import logging
from ipaddress import IPv4Address
from types import TracebackType

from natprobe.errors import LabError
from natprobe.lab.netns import Host, create_namespaces, delete_namespaces, run, write_sysctls
from natprobe.lab.network import Lab

__all__ = ("CLOUD_PRIVATE", "CLOUD_PUBLIC", "CloudHost", "one_to_one_nat_ruleset")

logger = logging.getLogger(__name__)

CLOUD_PRIVATE = (IPv4Address("10.0.0.5"), IPv4Address("10.0.0.6"))
"""The VPS's interface addresses (what it can bind)."""
CLOUD_PUBLIC = (IPv4Address("198.51.100.200"), IPv4Address("198.51.100.201"))
"""The public addresses the provider maps 1:1 onto them (what the Internet sends to)."""

_GATEWAY_PRIVATE = IPv4Address("10.0.0.1")
_TRANSIT_CORE = IPv4Address("203.0.113.253")
_TRANSIT_GATEWAY = IPv4Address("203.0.113.254")
_MAC_CORE, _MAC_GW_WAN = "02:6e:70:00:20:01", "02:6e:70:00:20:02"
_MAC_GW_LAN, _MAC_VPS = "02:6e:70:00:21:01", "02:6e:70:00:21:02"


def one_to_one_nat_ruleset(pairs: tuple[tuple[IPv4Address, IPv4Address], ...], wan_if: str = "wan0") -> str:
    """nftables for a provider's 1:1 NAT: each (private, public) pair DNAT in, SNAT out.

    Only the address changes; the kernel keeps the port unless two flows would clash.
    """
    dnat = "".join(f"        iifname {wan_if} ip daddr {public} dnat to {private}\n" for private, public in pairs)
    snat = "".join(f"        oifname {wan_if} ip saddr {private} snat to {public}\n" for private, public in pairs)
    return (
        "table ip cloudnat {\n"
        "    chain pre {\n        type nat hook prerouting priority dstnat; policy accept;\n"
        f"{dnat}    }}\n"
        "    chain post {\n        type nat hook postrouting priority srcnat; policy accept;\n"
        f"{snat}    }}\n"
        "}\n"
    )


class CloudHost:
    """``with CloudHost(lab) as cloud:`` — ``cloud.vps`` is the VPS, ``cloud.gateway`` the 1:1 NAT.

    Build and teardown are bounded (a handful of ``ip``/``nft`` calls); a failed build
    removes what it made.
    """

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.gateway = Host(f"{lab.prefix}cgw", _TRANSIT_GATEWAY, "cloud-gateway")
        self.vps = Host(f"{lab.prefix}vps", CLOUD_PRIVATE[0], "cloud-vps")
        self.private = CLOUD_PRIVATE
        self.public = CLOUD_PUBLIC
        self._built = False

    def __enter__(self) -> CloudHost:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.close()
        except LabError as teardown:
            if exc is None:
                raise
            logger.error("cloud teardown failed: %s", teardown)

    def _build(self) -> None:
        core, gw, vps = self.lab.internet.name, self.gateway.name, self.vps.name
        create_namespaces([gw, vps])
        self._built = True
        for name, forward in ((gw, "1"), (vps, "0")):
            write_sysctls(name, {
                "net/ipv4/conf/all/rp_filter": "0",
                "net/ipv4/conf/default/rp_filter": "0",
                "net/ipv6/conf/default/disable_ipv6": "1",
                "net/ipv4/ip_forward": forward,
            })
        run(["ip", "-batch", "-"], input=(
            f"link add cld0 netns {core} address {_MAC_CORE} type veth peer name wan0 netns {gw} address {_MAC_GW_WAN}\n"
            f"link add lan0 netns {gw} address {_MAC_GW_LAN} type veth peer name eth0 netns {vps} address {_MAC_VPS}\n"
        ))
        scripts = {
            core: [
                f"addr add {_TRANSIT_CORE}/30 dev cld0", "link set cld0 up",
                f"neigh replace {_TRANSIT_GATEWAY} lladdr {_MAC_GW_WAN} dev cld0 nud permanent",
                *(f"route add {public}/32 via {_TRANSIT_GATEWAY}" for public in CLOUD_PUBLIC),
            ],
            gw: [
                "link set lo up",
                f"addr add {_TRANSIT_GATEWAY}/30 dev wan0", "link set wan0 up",
                f"neigh replace {_TRANSIT_CORE} lladdr {_MAC_CORE} dev wan0 nud permanent",
                f"addr add {_GATEWAY_PRIVATE}/24 dev lan0", "link set lan0 up",
                *(f"neigh replace {ip} lladdr {_MAC_VPS} dev lan0 nud permanent" for ip in CLOUD_PRIVATE),
                f"route add default via {_TRANSIT_CORE}",
            ],
            vps: [
                "link set lo up",
                *(f"addr add {ip}/24 dev eth0" for ip in CLOUD_PRIVATE), "link set eth0 up",
                f"neigh replace {_GATEWAY_PRIVATE} lladdr {_MAC_GW_LAN} dev eth0 nud permanent",
                f"route add default via {_GATEWAY_PRIVATE} src {CLOUD_PRIVATE[0]}",
            ],
        }
        for name, commands in scripts.items():
            run(["ip", "-n", name, "-batch", "-"], input="".join(c + "\n" for c in commands))
        self.gateway.exec(["nft", "-f", "-"], input=one_to_one_nat_ruleset(tuple(zip(CLOUD_PRIVATE, CLOUD_PUBLIC))),
                          timeout=10)

    def close(self) -> None:
        """Kill what runs in the two namespaces and delete them (idempotent). The core's end
        of the link goes with its veth peer; the core's routes through it go with the link."""
        if not self._built:
            return
        for host in (self.vps, self.gateway):
            with contextlib.suppress(Exception):
                host.kill_processes()
        delete_namespaces([self.vps.name, self.gateway.name])
        self._built = False
