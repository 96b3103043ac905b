"""Address value types (:data:`IPAddress`, :class:`TransportAddress`) and address scopes.

What kind of address is this? IP address scopes for NAT and reachability verdicts.

Pure: no sockets, no I/O. natprobe needs a finer answer than :mod:`ipaddress` gives:
``ipaddress.IPv4Address.is_private`` is True for the documentation ranges (RFC 5737),
benchmarking (RFC 2544) and, depending on the Python version, the shared address space
(RFC 6598) too, yet "private behind your router", "carrier-grade NAT" and "documentation"
lead to entirely different advice. So :func:`classify` walks its own ordered table, built
from the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890), most specific
block first.
"""

from __future__ import annotations

import functools
import ipaddress
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from dataclasses import dataclass
from typing import Final, TypeAlias

__all__ = (
    "IPAddress",
    "TransportAddress",
    "AddressScope",
    "IpFamily",
    "classify",
    "is_globally_routable",
    "source_key",
    "is_ipv4_mapped",
    "unmap",
    "to_ipv4_mapped",
    "HostPortError",
    "HostPortProblem",
    "split_host_port",
)

IPAddress: TypeAlias = IPv4Address | IPv6Address


class IpFamily(StrEnum):
    """An address family, as reports name it."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"

    @property
    def version(self) -> int:
        return 4 if self is IpFamily.IPV4 else 6

    @classmethod
    def of(cls, ip: IPv4Address | IPv6Address) -> IpFamily:
        return cls.IPV4 if ip.version == 4 else cls.IPV6


class AddressScope(StrEnum):
    """Where an address is meaningful, as far as NAT diagnostics care."""

    PUBLIC = "public"
    """Globally reachable unicast (anything not listed below)."""
    PRIVATE = "private"
    """RFC 1918: 10/8, 172.16/12, 192.168/16 -- behind a NAT of your own."""
    SHARED = "shared"
    """RFC 6598: 100.64.0.0/10 -- the carrier-grade NAT's inside."""
    LOOPBACK = "loopback"
    """127/8 (RFC 1122 section 3.2.1.3), ::1 (RFC 4291 section 2.5.3)."""
    LINK_LOCAL = "link-local"
    """169.254/16 (RFC 3927), fe80::/10 (RFC 4291 section 2.5.6)."""
    UNIQUE_LOCAL = "unique-local"
    """fc00::/7 (RFC 4193): the IPv6 analogue of RFC 1918."""
    DOCUMENTATION = "documentation"
    """192.0.2/24, 198.51.100/24, 203.0.113/24 (RFC 5737); 2001:db8::/32 (RFC 3849),
    3fff::/20 (RFC 9637)."""
    MULTICAST = "multicast"
    """224/4 (RFC 5771), ff00::/8 (RFC 4291 section 2.7)."""
    UNSPECIFIED = "unspecified"
    """0.0.0.0 (RFC 1122), :: (RFC 4291 section 2.5.2)."""
    RESERVED = "reserved"
    """Every other special-purpose block in the IANA registries (not globally reachable)."""


_Scope = AddressScope

# Ordered, most specific first: the first block that contains the address wins. Blocks the
# IANA registry marks "globally reachable" (e.g. the PCP/TURN anycast addresses inside
# 192.0.0.0/24) are listed as PUBLIC ahead of the enclosing reserved block.
_V4_TABLE: Final[tuple[tuple[IPv4Network, AddressScope], ...]] = tuple(
    (IPv4Network(net), scope)
    for net, scope in (
        ("0.0.0.0/32", _Scope.UNSPECIFIED),  # RFC 1122 3.2.1.3 "this host"
        ("0.0.0.0/8", _Scope.RESERVED),  # RFC 791 "this network"
        ("10.0.0.0/8", _Scope.PRIVATE),  # RFC 1918
        ("100.64.0.0/10", _Scope.SHARED),  # RFC 6598 shared address space (CGN)
        ("127.0.0.0/8", _Scope.LOOPBACK),  # RFC 1122
        ("169.254.0.0/16", _Scope.LINK_LOCAL),  # RFC 3927
        ("172.16.0.0/12", _Scope.PRIVATE),  # RFC 1918
        ("192.0.0.9/32", _Scope.PUBLIC),  # RFC 7723 PCP anycast: globally reachable
        ("192.0.0.10/32", _Scope.PUBLIC),  # RFC 8155 TURN anycast: globally reachable
        ("192.0.0.0/24", _Scope.RESERVED),  # RFC 6890 IETF protocol assignments
        ("192.0.2.0/24", _Scope.DOCUMENTATION),  # RFC 5737 TEST-NET-1
        ("192.88.99.0/24", _Scope.RESERVED),  # RFC 7526 deprecated 6to4 relay anycast
        ("192.168.0.0/16", _Scope.PRIVATE),  # RFC 1918
        ("198.18.0.0/15", _Scope.RESERVED),  # RFC 2544 benchmarking
        ("198.51.100.0/24", _Scope.DOCUMENTATION),  # RFC 5737 TEST-NET-2
        ("203.0.113.0/24", _Scope.DOCUMENTATION),  # RFC 5737 TEST-NET-3
        ("224.0.0.0/4", _Scope.MULTICAST),  # RFC 5771
        ("240.0.0.0/4", _Scope.RESERVED),  # RFC 1112 (incl. 255.255.255.255, RFC 919)
    )
)

_V6_TABLE: Final[tuple[tuple[IPv6Network, AddressScope], ...]] = tuple(
    (IPv6Network(net), scope)
    for net, scope in (
        ("::/128", _Scope.UNSPECIFIED),  # RFC 4291 2.5.2
        ("::1/128", _Scope.LOOPBACK),  # RFC 4291 2.5.3
        # (::ffff:0:0/96, IPv4-mapped, is handled before the table: see classify.)
        ("::/96", _Scope.RESERVED),  # RFC 4291 2.5.5.1 deprecated IPv4-compatible
        ("64:ff9b::/96", _Scope.PUBLIC),  # RFC 6052 NAT64 well-known prefix: global
        ("64:ff9b:1::/48", _Scope.RESERVED),  # RFC 8215 local-use NAT64
        ("100::/64", _Scope.RESERVED),  # RFC 6666 discard-only
        ("2001:1::1/128", _Scope.PUBLIC),  # RFC 7723 PCP anycast
        ("2001:1::2/128", _Scope.PUBLIC),  # RFC 8155 TURN anycast
        ("2001:1::3/128", _Scope.PUBLIC),  # RFC 9665 DNS-SD SRP anycast
        ("2001:3::/32", _Scope.PUBLIC),  # RFC 7450 AMT
        ("2001:4:112::/48", _Scope.PUBLIC),  # RFC 7535 AS112-v6
        ("2001:20::/28", _Scope.PUBLIC),  # RFC 7343 ORCHIDv2
        ("2001:30::/28", _Scope.PUBLIC),  # RFC 9374 DRIP DET
        ("2001::/23", _Scope.RESERVED),  # RFC 2928 IETF protocol assignments (Teredo...)
        ("2001:db8::/32", _Scope.DOCUMENTATION),  # RFC 3849
        ("3fff::/20", _Scope.DOCUMENTATION),  # RFC 9637
        ("5f00::/16", _Scope.RESERVED),  # RFC 9602 SRv6 SIDs
        ("fc00::/7", _Scope.UNIQUE_LOCAL),  # RFC 4193
        ("fe80::/10", _Scope.LINK_LOCAL),  # RFC 4291 2.5.6
        ("fec0::/10", _Scope.RESERVED),  # RFC 3879 deprecated site-local
        ("ff00::/8", _Scope.MULTICAST),  # RFC 4291 2.7
    )
)

# Only 2000::/3 is allocated as global unicast (IANA IPv6 Address Space registry); the rest
# is "Reserved by IETF", so an address outside it cannot be anybody's public address today.
_V6_GLOBAL_UNICAST: Final = IPv6Network("2000::/3")

_IPV4_MAPPED: Final = IPv6Network("::ffff:0:0/96")


def is_ipv4_mapped(ip: IPAddress) -> bool:
    """True for an IPv4-mapped IPv6 address ``::ffff:a.b.c.d`` (RFC 4291 section 2.5.5.2).

    Dual-stack sockets report IPv4 peers this way.
    """
    return isinstance(ip, IPv6Address) and ip in _IPV4_MAPPED


def unmap(ip: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped IPv6 address; any other address unchanged."""
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def to_ipv4_mapped(ip: IPv4Address) -> IPv6Address:
    """``a.b.c.d`` -> ``::ffff:a.b.c.d``, for sending to an IPv4 peer from a dual-stack socket."""
    return IPv6Address((0xFFFF << 32) | int(ip))


def classify(ip: IPAddress) -> AddressScope:
    """The :class:`AddressScope` of ``ip``.

    IPv4 blocks: RFC 1918 (private), RFC 6598 (shared/CGN), RFC 1122 (loopback, 0/8),
    RFC 3927 (link-local), RFC 5737 (documentation), RFC 5771 (multicast), RFC 6890 /
    RFC 2544 / RFC 7526 / RFC 1112 (reserved). IPv6: RFC 4291 (unspecified, loopback,
    link-local, multicast), RFC 4193 (unique-local), RFC 3849 and RFC 9637
    (documentation), RFC 6052/8215/6666/2928/9602/3879 (special or reserved). An
    IPv4-mapped IPv6 address (RFC 4291 section 2.5.5.2) is classified as the IPv4 address
    it carries, because that address is what travels on the wire. An IPv6 zone
    (``fe80::1%eth0``) does not change the scope.
    """
    if isinstance(ip, IPv4Address):
        for net4, scope in _V4_TABLE:
            if ip in net4:
                return scope
        return AddressScope.PUBLIC
    if not isinstance(ip, IPv6Address):
        raise TypeError(f"expected an IPv4Address or IPv6Address, got {type(ip).__name__}")
    mapped = ip.ipv4_mapped
    if mapped is not None:
        return classify(mapped)
    if ip.scope_id is not None:
        # Membership tests ignore zones, but drop it anyway so equality stays obvious.
        ip = ipaddress.IPv6Address(int(ip))
    for net6, scope in _V6_TABLE:
        if ip in net6:
            return scope
    return AddressScope.PUBLIC if ip in _V6_GLOBAL_UNICAST else AddressScope.RESERVED


def is_globally_routable(scope: AddressScope) -> bool:
    """Can an address of this scope be somebody's address on the public Internet?

    ``documentation`` counts as routable on purpose: natprobe's own namespace lab (and its
    tests) use the RFC 5737 / RFC 3849 documentation ranges as its stand-in "public
    Internet", so a verdict computed in the lab must treat them exactly like public space.
    No real network routes them, so this never misleads on a real host.
    """
    return scope in (AddressScope.PUBLIC, AddressScope.DOCUMENTATION)


@dataclass(frozen=True, slots=True)
class TransportAddress:
    """An IP address and a port, as carried by the STUN address attributes (RFC 8489 14.1)."""

    ip: IPAddress
    port: int

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 0xFFFF:
            raise ValueError(f"port out of range: {self.port}")

    @classmethod
    def parse(cls, host: str, port: int) -> TransportAddress:
        """Build from a textual IP (``"192.0.2.1"``, ``"::1"``) and a port."""
        return cls(ipaddress.ip_address(host), port)

    def as_tuple(self) -> tuple[str, int]:
        """``(host, port)`` as the socket API wants it."""
        return (str(self.ip), self.port)

    def __str__(self) -> str:
        if self.ip.version == 6:
            return f"[{self.ip}]:{self.port}"
        return f"{self.ip}:{self.port}"


_V6_KEY_CACHE = 4096


def source_key(ip: str | IPAddress) -> str:
    """Whose budget a packet or request spends: the IPv4 address, or the IPv6 /64.

    One IPv6 host usually holds a whole /64 (SLAAC, privacy addresses), so keying by address
    would hand it 2**64 fresh buckets. Every limiter of the server (UDP, STUN over TCP, the
    Jamulus directory, the HTTP API) keys on this. An IPv4-mapped IPv6 address (a dual-stack
    socket's view of an IPv4 peer) is its IPv4 address. The IPv4 text form costs one ``in``
    test: this runs per datagram.
    """
    if isinstance(ip, str):
        if ":" not in ip:
            return ip
        return _v6_key(ip)
    if ip.version == 4:
        return str(ip)
    return _v6_key(str(ip))


@functools.lru_cache(maxsize=_V6_KEY_CACHE)
def _v6_key(text: str) -> str:
    try:
        address = ipaddress.IPv6Address(text.partition("%")[0])
    except ValueError:
        return text  # not an address we can group: its own bucket
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))


class HostPortProblem(StrEnum):
    """What is wrong with a ``HOST[:PORT]`` text (a program words it; see :class:`HostPortError`)."""

    EMPTY = "empty"
    UNBALANCED_BRACKET = "unbalanced-bracket"
    TEXT_AFTER_BRACKET = "text-after-bracket"
    NOT_IPV6_IN_BRACKETS = "not-ipv6-in-brackets"
    NOT_HOST_PORT = "not-host-port"
    NO_HOST = "no-host"
    BAD_HOST = "bad-host"
    BAD_PORT = "bad-port"


_HOST_PORT_ENGLISH: Final = {
    HostPortProblem.EMPTY: "empty address: give HOST or HOST:PORT",
    HostPortProblem.UNBALANCED_BRACKET: "{text!r}: missing ']' after the IPv6 address",
    HostPortProblem.TEXT_AFTER_BRACKET: "{text!r}: expected ':PORT' after ']'",
    HostPortProblem.NOT_IPV6_IN_BRACKETS: "{text!r}: {host!r} between brackets is not an IPv6 address",
    HostPortProblem.NOT_HOST_PORT: "{text!r} is neither HOST:PORT nor an IPv6 address (write [IPv6]:PORT to give a port)",
    HostPortProblem.NO_HOST: "{text!r}: the host is missing",
    HostPortProblem.BAD_HOST: "{text!r}: {host!r} is not a host name or address",
    HostPortProblem.BAD_PORT: "invalid port {port_text!r} in {text!r}: give a number from 1 to 65535",
}


class HostPortError(ValueError):
    """A ``HOST[:PORT]`` text that cannot be split; ``problem`` and the parts say why."""

    def __init__(self, problem: HostPortProblem, text: str, host: str = "", port_text: str = "") -> None:
        self.problem, self.text, self.host, self.port_text = problem, text, host, port_text
        super().__init__(_HOST_PORT_ENGLISH[problem].format(text=text, host=host, port_text=port_text))


def _is_ipv6(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), IPv6Address)
    except ValueError:
        return False


def split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """Split ``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 literal: the one
    parser of a server address, for every command and setting. Raises :class:`HostPortError`."""
    value = text.strip()
    if not value:
        raise HostPortError(HostPortProblem.EMPTY, text)
    port_text: str | None = None
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep:
            raise HostPortError(HostPortProblem.UNBALANCED_BRACKET, text)
        if rest:
            if not rest.startswith(":"):
                raise HostPortError(HostPortProblem.TEXT_AFTER_BRACKET, text)
            port_text = rest[1:]
        if not _is_ipv6(host):
            raise HostPortError(HostPortProblem.NOT_IPV6_IN_BRACKETS, text, host=host)
    elif value.count(":") > 1:
        if not _is_ipv6(value):
            raise HostPortError(HostPortProblem.NOT_HOST_PORT, text)
        host = value
    elif ":" in value:
        host, _sep, port_text = value.partition(":")
    else:
        host = value
    if not host:
        raise HostPortError(HostPortProblem.NO_HOST, text)
    if any(c.isspace() or c in "/\\@?#[]" for c in host):
        raise HostPortError(HostPortProblem.BAD_HOST, text, host=host)
    if port_text is None:
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise HostPortError(HostPortProblem.BAD_PORT, text, host=host, port_text=port_text)
    return host, int(port_text)
