"""This host's side of the picture: interfaces, default gateways, the address it uses outward.

I/O adapter over ``netifaces`` (the netifaces-plus fork) and the kernel's routing table.
Nothing here sends a packet: the "which source address would the kernel pick" question is
answered with a UDP socket ``connect()``, which only does a route lookup.

netifaces returns loosely shaped dicts that vary by platform and version (a missing
``netmask``, IPv6 netmasks with or without a ``/64`` suffix, link-local addresses carrying a
``%zone``, a ``default`` entry that is absent or empty), so every value is parsed defensively:
anything odd is logged and skipped rather than allowed to fail the whole read.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, ip_address
from typing import Final, overload

import netifaces

from natprobe.i18n import _
from natprobe.addressing import AddressScope, IPAddress, classify, unmap
from natprobe.errors import NetworkError, PortMappingError

__all__ = (
    "InterfaceAddress",
    "Interface",
    "Gateway",
    "LocalContext",
    "DEFAULT_TOWARD_V4",
    "DEFAULT_TOWARD_V6",
    "read_local_context",
    "source_address_toward",
    "Ipv6Address",
    "IFA_F_TEMPORARY",
    "parse_if_inet6",
    "read_ipv6_addresses",
    "Ipv6Source",
    "ipv6_source_toward",
    "choose_ipv6_source",
    "ENV_GATEWAY",
    "gateway_from_environment",
)

logger = logging.getLogger(__name__)

# Destinations for the route lookup when the caller does not name its echo server. They are
# documentation addresses (RFC 5737 / RFC 3849): no host has a specific route to them, so the
# lookup follows the default route exactly as a real Internet destination would -- and inside
# natprobe's lab, where documentation ranges stand in for the Internet, they *are* the
# Internet. No packet is sent either way. Pass the echo server's address for an exact answer.
DEFAULT_TOWARD_V4: Final = IPv4Address("203.0.113.1")
DEFAULT_TOWARD_V6: Final = IPv6Address("2001:db8::1")

# Any port works for a route lookup; 9 ("discard") makes the intent obvious in strace.
_LOOKUP_PORT: Final = 9


ENV_GATEWAY: Final = "NATPROBE_GATEWAY"
"""The router to ask instead of the default gateway (a host with several routers; the tests
set it to loopback so no test outside the lab ever talks to the machine's real router)."""


def gateway_from_environment(environ: dict[str, str] | None = None) -> IPv4Address | None:
    """``$NATPROBE_GATEWAY`` as an IPv4 address; None when unset. A bad value is refused
    rather than ignored: silently falling back to the default gateway would ask the wrong router."""
    text = (os.environ if environ is None else environ).get(ENV_GATEWAY, "").strip()
    if not text:
        return None
    try:
        return IPv4Address(text)
    except ValueError:
        raise PortMappingError(f"${ENV_GATEWAY} must be an IPv4 address, got {text!r}") from None


@dataclass(frozen=True, slots=True)
class InterfaceAddress:
    """One address configured on an interface."""

    address: IPAddress
    prefix_length: int | None
    """None when the platform reported no usable netmask."""
    scope: AddressScope


@dataclass(frozen=True, slots=True)
class Interface:
    """A network interface and its IPv4/IPv6 addresses (link-layer entries are dropped)."""

    name: str
    addresses: tuple[InterfaceAddress, ...]


@dataclass(frozen=True, slots=True)
class Gateway:
    """A default gateway: the next hop of the default route."""

    address: IPAddress
    interface: str | None


@dataclass(frozen=True, slots=True)
class LocalContext:
    """What this host knows about its own network, before asking anyone outside."""

    interfaces: tuple[Interface, ...]
    gateway_v4: Gateway | None
    gateway_v6: Gateway | None
    primary_address_v4: IPv4Address | None
    """The source address the kernel picks toward the IPv4 destination asked about."""
    primary_address_v6: IPv6Address | None

    def interface_of(self, address: IPAddress) -> Interface | None:
        """The interface that holds ``address``, if any."""
        address = _strip_zone(unmap(address))
        for interface in self.interfaces:
            if any(a.address == address for a in interface.addresses):
                return interface
        return None


@overload
def source_address_toward(ip: IPv4Address, port: int = ...) -> IPv4Address: ...
@overload
def source_address_toward(ip: IPv6Address, port: int = ...) -> IPAddress: ...
def source_address_toward(ip: IPAddress, port: int = _LOOKUP_PORT) -> IPAddress:
    """The local address the kernel would use as source for UDP toward ``ip``:``port``.

    Connecting a UDP socket makes the kernel resolve the route and bind a source address,
    without sending anything. An IPv4-mapped IPv6 destination is looked up (and answered)
    as IPv4. Raises :class:`~natprobe.errors.NetworkError` when there is no route.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range: {port}")
    dest = unmap(ip)
    family = socket.AF_INET if isinstance(dest, IPv4Address) else socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((str(dest), port))
            host = sock.getsockname()[0]
    except OSError as exc:
        raise NetworkError(_("no route toward {address}: {error}", address=dest, error=exc.strerror or exc)) from exc
    parsed = _parse_ip(host)
    if parsed is None:  # the kernel handed back something unparsable: never expected
        raise NetworkError(f"kernel reported an unparsable source address {host!r}")
    return parsed


def read_local_context(
    *,
    toward_v4: IPv4Address = DEFAULT_TOWARD_V4,
    toward_v6: IPv6Address = DEFAULT_TOWARD_V6,
) -> LocalContext:
    """Read interfaces, default gateways and the primary (outward) addresses.

    ``toward_v4``/``toward_v6`` name the destination the primary address is chosen for;
    pass the echo/STUN server's address when it is known. A family without a route yields
    ``None`` rather than an error: many hosts have no IPv6 default route.
    """
    gateways = _read_gateways()
    primary_v4 = _primary(toward_v4)
    primary_v6 = _primary(toward_v6)
    return LocalContext(
        interfaces=_read_interfaces(),
        gateway_v4=gateways.get(socket.AF_INET),
        gateway_v6=gateways.get(socket.AF_INET6),
        primary_address_v4=primary_v4 if isinstance(primary_v4, IPv4Address) else None,
        primary_address_v6=primary_v6 if isinstance(primary_v6, IPv6Address) else None,
    )


def _primary(toward: IPAddress) -> IPAddress | None:
    try:
        return source_address_toward(toward)
    except NetworkError as exc:
        logger.debug("no primary address toward %s: %s", toward, exc)
        return None


def _read_interfaces() -> tuple[Interface, ...]:
    try:
        names = netifaces.interfaces()
    except (OSError, ValueError) as exc:  # netlink/ioctl failures surface as either
        raise NetworkError(_("cannot list network interfaces: {error}", error=exc)) from exc
    interfaces = []
    for name in names:
        try:
            per_family = netifaces.ifaddresses(name)
        except (OSError, ValueError) as exc:  # interface vanished between the two calls
            logger.debug("skipping interface %r: %s", name, exc)
            continue
        interfaces.append(Interface(name=str(name), addresses=_parse_addresses(per_family)))
    return tuple(interfaces)


def _parse_addresses(per_family: object) -> tuple[InterfaceAddress, ...]:
    if not isinstance(per_family, Mapping):
        return ()
    result: list[InterfaceAddress] = []
    for family in (socket.AF_INET, socket.AF_INET6):
        entries = per_family.get(family)
        if not isinstance(entries, Sequence):
            continue
        for entry in entries:
            parsed = _parse_address_entry(entry, family)
            if parsed is not None:
                result.append(parsed)
    return tuple(result)


def _parse_address_entry(entry: object, family: int) -> InterfaceAddress | None:
    if not isinstance(entry, Mapping):
        return None
    address = _parse_ip(entry.get("addr"))
    if address is None:
        logger.debug("ignoring unparsable interface address %r", entry)
        return None
    expected = IPv4Address if family == socket.AF_INET else IPv6Address
    if not isinstance(address, expected):
        return None
    return InterfaceAddress(
        address=address,
        prefix_length=_prefix_length(entry.get("netmask"), family),
        scope=classify(address),
    )


def _prefix_length(netmask: object, family: int) -> int | None:
    """``255.255.255.0`` -> 24; ``ffff:ffff::/32`` or ``ffff:ffff::`` -> 32; junk -> None."""
    if not isinstance(netmask, str) or not netmask:
        return None
    text = netmask.strip()
    if "/" in text:  # netifaces(-plus) on Linux appends the prefix length to IPv6 masks
        tail = text.rsplit("/", 1)[1]
        bits = 32 if family == socket.AF_INET else 128
        return int(tail) if tail.isdecimal() and int(tail) <= bits else None
    try:
        if family == socket.AF_INET:
            return IPv4Network(f"0.0.0.0/{text}").prefixlen
        mask = int(IPv6Address(text.split("%", 1)[0]))
    except ValueError:
        return None
    # IPv6Network does not accept a netmask form, so check contiguity by hand.
    ones = bin(mask).count("1")
    contiguous = mask == ((1 << 128) - 1) ^ ((1 << (128 - ones)) - 1)
    return ones if contiguous else None


def _read_gateways() -> dict[int, Gateway]:
    try:
        raw = netifaces.gateways()
    except (OSError, ValueError) as exc:
        logger.debug("cannot read gateways: %s", exc)
        return {}
    if not isinstance(raw, Mapping):
        return {}
    found: dict[int, Gateway] = {}
    defaults = raw.get("default")
    for family in (socket.AF_INET, socket.AF_INET6):
        gateway = None
        if isinstance(defaults, Mapping):
            gateway = _parse_gateway(defaults.get(family), family)
        if gateway is None:
            # Some platforms leave "default" empty but flag the entry in the per-family list.
            entries = raw.get(family)
            if isinstance(entries, Sequence):
                for entry in entries:
                    if isinstance(entry, Sequence) and len(entry) >= 3 and entry[2] is True:
                        gateway = _parse_gateway(entry, family)
                        if gateway is not None:
                            break
        if gateway is not None:
            found[family] = gateway
    return found


def _parse_gateway(entry: object, family: int) -> Gateway | None:
    if not isinstance(entry, Sequence) or isinstance(entry, str) or not entry:
        return None
    address = _parse_ip(entry[0])
    expected = IPv4Address if family == socket.AF_INET else IPv6Address
    if address is None or not isinstance(address, expected):
        return None
    interface = entry[1] if len(entry) >= 2 and isinstance(entry[1], str) else None
    return Gateway(address=address, interface=interface or None)


def _parse_ip(value: object) -> IPAddress | None:
    """Parse ``value`` as an IP address, dropping any IPv6 ``%zone`` (the interface is known)."""
    if not isinstance(value, str):
        return None
    try:
        return _strip_zone(ip_address(value.strip().split("%", 1)[0]))
    except ValueError:
        return None


def _strip_zone(address: IPAddress) -> IPAddress:
    if isinstance(address, IPv6Address) and address.scope_id is not None:
        return IPv6Address(int(address))
    return address


# --- IPv6 addresses with their kernel flags (temporary privacy addresses) ---------------------------

IFA_F_TEMPORARY: Final = 0x01
"""RFC 8981 temporary (privacy) address (linux/if_addr.h; ``ip -6 addr`` says "temporary")."""
_IFA_F_DADFAILED: Final = 0x08
_IFA_F_DEPRECATED: Final = 0x20
_IFA_F_TENTATIVE: Final = 0x40
_IF_INET6: Final = "/proc/thread-self/net/if_inet6"
"""The calling thread's network namespace (a thread may have entered another one with setns)."""
_GLOBAL_SCOPES: Final = (AddressScope.PUBLIC, AddressScope.DOCUMENTATION)
"""Scopes that count as "global IPv6" (documentation prefixes are the lab's Internet)."""


@dataclass(frozen=True, slots=True)
class Ipv6Address:
    """One IPv6 address of this host, with the kernel's flags."""

    address: IPv6Address
    prefix_length: int
    interface: str
    flags: int

    @property
    def temporary(self) -> bool:
        return bool(self.flags & IFA_F_TEMPORARY)

    @property
    def usable(self) -> bool:
        """Not deprecated, still in duplicate address detection, or failed it."""
        return not self.flags & (_IFA_F_DADFAILED | _IFA_F_DEPRECATED | _IFA_F_TENTATIVE)

    @property
    def is_global(self) -> bool:
        return classify(self.address) in _GLOBAL_SCOPES


def parse_if_inet6(text: str) -> tuple[Ipv6Address, ...]:
    """Parse ``/proc/net/if_inet6``: per line the address (32 hex digits), the interface index,
    the prefix length, the scope and the flags (hex; the low 8 bits of ``ifa_flags``), then
    the interface name. Odd lines are skipped."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 6 or len(fields[0]) != 32:
            continue
        try:
            address = IPv6Address(int(fields[0], 16))
            prefix_length, flags = int(fields[2], 16), int(fields[4], 16)
        except ValueError:
            continue
        if 0 <= prefix_length <= 128:
            found.append(Ipv6Address(address, prefix_length, fields[5], flags))
    return tuple(found)


def read_ipv6_addresses(path: str = _IF_INET6) -> tuple[Ipv6Address, ...]:
    """This host's IPv6 addresses with their flags; empty when IPv6 is off (no such file)."""
    for candidate in (path, "/proc/net/if_inet6"):  # thread-self: Linux >= 3.17
        try:
            with open(candidate, encoding="ascii", errors="replace") as file:
                return parse_if_inet6(file.read())
        except OSError as exc:
            logger.debug("cannot read %s: %s", candidate, exc)
    return ()


@dataclass(frozen=True, slots=True)
class Ipv6Source:
    """The address natprobe sends from over IPv6, and why."""

    address: IPv6Address | None
    """None: this host has no usable global IPv6 address."""
    temporary: bool
    """The address is a temporary privacy address (no stable one was available)."""
    kernel_choice: IPv6Address | None
    """What the kernel would have picked (often the temporary address: RFC 8981 prefers it)."""
    global_addresses: tuple[Ipv6Address, ...]


def ipv6_source_toward(ip: IPv6Address, addresses: Sequence[Ipv6Address] | None = None) -> Ipv6Source:
    """The stable global address to send from toward ``ip`` (see :func:`choose_ipv6_source`)."""
    if addresses is None:
        addresses = read_ipv6_addresses()
    try:
        chosen: IPAddress | None = source_address_toward(ip)
    except NetworkError:
        chosen = None
    return choose_ipv6_source(chosen if isinstance(chosen, IPv6Address) else None, addresses)


def choose_ipv6_source(kernel_choice: IPv6Address | None, addresses: Sequence[Ipv6Address]) -> Ipv6Source:
    """Prefer the stable address to the kernel's choice.

    The kernel prefers a temporary address as source when privacy extensions are on
    (RFC 8981 section 3.6, RFC 6724 rule 7), but a DNS record and a router pinhole name the
    stable address, so that is the one to test: the stable global address on the interface
    of the kernel's choice (same /64 first); the temporary address only when there is no
    stable one. No global route (the kernel's choice is not global): no IPv6 source.
    """
    usable = tuple(a for a in addresses if a.usable and a.is_global)
    kernel = kernel_choice if kernel_choice is not None and classify(kernel_choice) in _GLOBAL_SCOPES else None
    if kernel is None:
        return Ipv6Source(None, False, None, usable)
    info = next((a for a in usable if a.address == kernel), None)
    if info is not None and not info.temporary:
        return Ipv6Source(kernel, False, kernel, usable)
    interface = info.interface if info is not None else None
    stable = [a for a in usable if not a.temporary and (interface is None or a.interface == interface)]
    if stable:
        same_prefix = [a for a in stable if int(a.address) >> 64 == int(kernel) >> 64]
        return Ipv6Source((same_prefix or stable)[0].address, False, kernel, usable)
    return Ipv6Source(kernel, info is not None and info.temporary, kernel, usable)
