"""The kernel's error queue, decoded: ICMP errors a traceroute probe received (pure).

Linux files ICMP time-exceeded / destination-unreachable answers on a socket's error queue
when ``IP_RECVERR`` is set, as a ``struct sock_extended_err`` followed by the offending
router's address (``SO_EE_OFFENDER``, include/uapi/linux/errqueue.h). This module turns those
bytes into :class:`Hop` outcomes; :mod:`natprobe.adapters.hops` sends the probes.
Unit-tested with crafted bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from ipaddress import IPv4Address, IPv6Address
from typing import Final

from natprobe.addressing import AddressScope, IPAddress, unmap
from natprobe.errors import DecodeError

__all__ = (
    "HopOutcome",
    "Hop",
    "ErrOrigin",
    "IcmpType",
    "Icmp6Type",
    "ExtendedError",
    "parse_extended_error",
    "parse_recverr",
    "hop_outcome",
)

# Linux ABI values (include/uapi/linux/in.h, in6.h, socket.h). Python exposes only some.
SOL_IP: Final = 0
SOL_IPV6: Final = 41
IP_RECVERR: Final = 11
IPV6_RECVERR: Final = 25
MSG_ERRQUEUE: Final = 0x2000
_AF_INET: Final = 2
_AF_INET6: Final = 10

# struct sock_extended_err (include/uapi/linux/errqueue.h), native byte order:
#   u32 ee_errno; u8 ee_origin, ee_type, ee_code, ee_pad; u32 ee_info; u32 ee_data;
# followed by the offender's sockaddr (SO_EE_OFFENDER), also in the control message.
_EE: Final = struct.Struct("=IBBBBII")


class ErrOrigin(IntEnum):
    """``ee_origin``: who reported the error (linux/errqueue.h ``SO_EE_ORIGIN_*``)."""

    NONE = 0
    LOCAL = 1
    ICMP = 2
    ICMP6 = 3


class IcmpType(IntEnum):
    """ICMPv4 types that matter here (RFC 792)."""

    DEST_UNREACH = 3
    """Code 3 = port unreachable: the datagram reached its destination host."""
    TIME_EXCEEDED = 11
    """Code 0 = TTL exceeded in transit: a router on the path."""


class Icmp6Type(IntEnum):
    """ICMPv6 types that matter here (RFC 4443 sections 3.1 and 3.3)."""

    DEST_UNREACH = 1
    """Code 4 = port unreachable."""
    TIME_EXCEEDED = 3
    """Code 0 = hop limit exceeded in transit."""


_ICMP_PORT_UNREACH: Final = 3  # RFC 792
_ICMP6_PORT_UNREACH: Final = 4  # RFC 4443 section 3.1


class HopOutcome(StrEnum):
    """What came back for one TTL."""

    TIME_EXCEEDED = "time-exceeded"
    """A router on the path answered: ``address`` is that router."""
    PORT_UNREACHABLE = "port-unreachable"
    """The destination host (normally) answered: the end of the path."""
    UNREACHABLE = "unreachable"
    """Another destination-unreachable (no route, filtered...): the path ends there."""
    REPLY = "reply"
    """Something listens on the port and replied: the end of the path."""
    NO_ANSWER = "no-answer"
    """Nothing within the timeout: a silent router, or loss."""


PATH_ENDS: Final = frozenset(
    {HopOutcome.PORT_UNREACHABLE, HopOutcome.UNREACHABLE, HopOutcome.REPLY}
)


@dataclass(frozen=True, slots=True)
class Hop:
    """One TTL's answer."""

    ttl: int
    address: IPAddress | None
    scope: AddressScope | None
    rtt_ms: float | None
    outcome: HopOutcome

    @property
    def ends_path(self) -> bool:
        """True if this answer came from the end of the path (no later hop is meaningful)."""
        return self.outcome in PATH_ENDS


@dataclass(frozen=True, slots=True)
class ExtendedError:
    """A decoded ``struct sock_extended_err`` and its offender address."""

    errno: int
    origin: int
    """An :class:`ErrOrigin` value; unknown values are kept as plain ints."""
    icmp_type: int
    icmp_code: int
    info: int
    data: int
    offender: IPAddress | None
    """The host that sent the ICMP error (the router), None if the kernel gave none."""


def parse_extended_error(data: bytes) -> ExtendedError:
    """Decode the payload of an ``IP_RECVERR``/``IPV6_RECVERR`` control message.

    Raises :class:`~natprobe.errors.DecodeError` (only) on truncated input.
    """
    if len(data) < _EE.size:
        raise DecodeError(f"sock_extended_err needs {_EE.size} bytes, got {len(data)}")
    errno_, origin, icmp_type, icmp_code, _pad, info, ee_data = _EE.unpack_from(data)
    return ExtendedError(
        errno=errno_,
        origin=origin,
        icmp_type=icmp_type,
        icmp_code=icmp_code,
        info=info,
        data=ee_data,
        offender=_parse_sockaddr(data[_EE.size :]),
    )


def _parse_sockaddr(raw: bytes) -> IPAddress | None:
    """sockaddr_in / sockaddr_in6 (Linux layout) -> address; AF_UNSPEC or absent -> None."""
    if len(raw) < 2:
        return None
    (family,) = struct.unpack_from("=H", raw)
    if family == _AF_INET:
        if len(raw) < 8:  # family, port, 4-byte address
            raise DecodeError(f"truncated sockaddr_in ({len(raw)} bytes)")
        return IPv4Address(raw[4:8])
    if family == _AF_INET6:
        if len(raw) < 24:  # family, port, flowinfo, 16-byte address
            raise DecodeError(f"truncated sockaddr_in6 ({len(raw)} bytes)")
        # The scope id (link-local routers) is dropped: the hop's interface is implied.
        return unmap(IPv6Address(raw[8:24]))
    return None  # AF_UNSPEC for locally generated errors; anything else is not an address


def parse_recverr(ancdata: Iterable[tuple[int, int, bytes]]) -> ExtendedError | None:
    """Find and decode the RECVERR control message in ``recvmsg()`` ancillary data."""
    for level, kind, data in ancdata:
        if (level, kind) in ((SOL_IP, IP_RECVERR), (SOL_IPV6, IPV6_RECVERR)):
            return parse_extended_error(data)
    return None


def hop_outcome(error: ExtendedError) -> HopOutcome | None:
    """Classify an ICMP error for traceroute purposes; None if it says nothing about the path
    (a local error such as EMSGSIZE, packet-too-big, or an unrelated ICMP type)."""
    if error.origin == ErrOrigin.ICMP:
        if error.icmp_type == IcmpType.TIME_EXCEEDED:
            return HopOutcome.TIME_EXCEEDED
        if error.icmp_type == IcmpType.DEST_UNREACH:
            if error.icmp_code == _ICMP_PORT_UNREACH:
                return HopOutcome.PORT_UNREACHABLE
            return HopOutcome.UNREACHABLE
    elif error.origin == ErrOrigin.ICMP6:
        if error.icmp_type == Icmp6Type.TIME_EXCEEDED:
            return HopOutcome.TIME_EXCEEDED
        if error.icmp_type == Icmp6Type.DEST_UNREACH:
            if error.icmp_code == _ICMP6_PORT_UNREACH:
                return HopOutcome.PORT_UNREACHABLE
            return HopOutcome.UNREACHABLE
    return None

