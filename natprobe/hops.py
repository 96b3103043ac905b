"""Traceroute-lite: the first few router hops toward the echo server, and their addresses.

Users are told to check for CGNAT by running ``tracert`` and looking for 100.64-100.127 or
10.x hops right after their router (BeamMP docs #118/#136/#140, HellbombScript #13/#14).
This does the same automatically and quickly: one UDP datagram per TTL 1..N, each from its
own socket (so the answer needs no matching on quoted bytes, which old routers truncate to
8 bytes), all sent at once, with ``IP_RECVERR`` so the kernel files the ICMP time-exceeded /
destination-unreachable answers on each socket's error queue together with the router's
address (``SO_EE_OFFENDER``). No raw sockets, so no root needed. Linux only.

The byte parsing (:func:`parse_extended_error`, :func:`parse_recverr`, :func:`hop_outcome`)
is pure and unit-tested with crafted bytes; :func:`trace_hops` is the thin asyncio adapter.
The results feed :func:`natprobe.topology.assess_topology`; remember traceroute evidence is
suggestive, not proof (FalconChristmas/fpp #2033): hops may stay silent, and providers
number internal links from private space.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import sys
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Final

from natprobe.addressing import AddressScope, IPAddress, classify, unmap
from natprobe.errors import DecodeError, NetworkError

__all__ = (
    "MAX_HOPS",
    "MAX_TIMEOUT",
    "HopOutcome",
    "Hop",
    "ErrOrigin",
    "IcmpType",
    "Icmp6Type",
    "ExtendedError",
    "parse_extended_error",
    "parse_recverr",
    "hop_outcome",
    "trace_hops",
)

logger = logging.getLogger(__name__)

MAX_HOPS: Final = 6
"""The home router, the provider's first routers: enough to spot a CGN or a second NAT."""
MAX_TIMEOUT: Final = 10.0

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
_ANCILLARY_SIZE: Final = 256  # sock_extended_err (16) + sockaddr_in6 (28), with headroom
_PAYLOAD: Final = b"natprobe-hop"


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


_PATH_ENDS: Final = frozenset(
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
        return self.outcome in _PATH_ENDS


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


# ---- I/O ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Probe:
    """Mutable per-TTL state while a trace runs (never leaves this module)."""

    ttl: int
    sock: socket.socket
    sent_at: float = 0.0
    outcome: HopOutcome | None = None
    address: IPAddress | None = None
    answered_at: float = 0.0
    reading: bool = False


def _open_probe_socket(dest: IPAddress, port: int, ttl: int) -> socket.socket:
    family = socket.AF_INET if isinstance(dest, IPv4Address) else socket.AF_INET6
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        if family == socket.AF_INET:
            sock.setsockopt(SOL_IP, socket.IP_TTL, ttl)
            sock.setsockopt(SOL_IP, IP_RECVERR, 1)
        else:
            sock.setsockopt(SOL_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
            sock.setsockopt(SOL_IPV6, IPV6_RECVERR, 1)
        # A UDP connect only fixes the peer (and the route); the kernel then also drops
        # datagrams from anyone else, so a REPLY really is from the destination.
        sock.connect((str(dest), port))
    except BaseException:
        sock.close()
        raise
    return sock


def _drain(probe: _Probe, now: float) -> None:
    """Read what the kernel filed for this probe: error queue first, then a plain reply."""
    for _ in range(16):  # bounded: the queue only ever holds a handful of entries
        try:
            _data, ancdata, _flags, _addr = probe.sock.recvmsg(64, _ANCILLARY_SIZE, MSG_ERRQUEUE)
        except (BlockingIOError, InterruptedError):
            break
        except OSError as exc:
            logger.debug("ttl %d: error queue read failed: %s", probe.ttl, exc)
            break
        try:
            error = parse_recverr(ancdata)
        except DecodeError as exc:
            logger.debug("ttl %d: undecodable extended error: %s", probe.ttl, exc)
            continue
        if error is None or probe.outcome is not None:
            continue
        outcome = hop_outcome(error)
        if outcome is not None:
            probe.outcome, probe.address, probe.answered_at = outcome, error.offender, now
    if probe.outcome is None:
        try:
            _reply, peer = probe.sock.recvfrom(2048)
        except OSError:  # nothing there, or a pending socket error already read above
            return
        probe.outcome, probe.answered_at = HopOutcome.REPLY, now
        probe.address = unmap(ip_address(str(peer[0]).split("%", 1)[0]))


def _finished(probes: list[_Probe]) -> bool:
    """Every TTL up to the end of the path (or all TTLs) has an answer."""
    end = min((p.ttl for p in probes if p.outcome in _PATH_ENDS), default=len(probes))
    return all(p.outcome is not None for p in probes if p.ttl <= end)


async def trace_hops(
    dest_ip: IPAddress,
    dest_port: int,
    *,
    max_hops: int = 5,
    timeout: float = 1.5,
) -> tuple[Hop, ...]:
    """Find the routers on the first ``max_hops`` hops toward ``dest_ip``:``dest_port``.

    Sends one small UDP datagram per TTL 1..``max_hops`` (all at once) and waits at most
    ``timeout`` seconds in total, returning early once every hop up to the end of the path
    has answered. Pick a port where nothing answers (the destination then reports "port
    unreachable" and the path is known to end there); a port with a listener yields a
    ``reply`` hop instead. The result is in TTL order, cut after the first hop that ends
    the path; silent hops are ``no-answer`` entries.

    Raises ``ValueError`` for out-of-range arguments and
    :class:`~natprobe.errors.NetworkError` if the probes cannot be sent (no route, not Linux).
    """
    if not 1 <= max_hops <= MAX_HOPS:
        raise ValueError(f"max_hops must be 1..{MAX_HOPS}, got {max_hops}")
    if not 0 < timeout <= MAX_TIMEOUT:
        raise ValueError(f"timeout must be in (0, {MAX_TIMEOUT}] seconds, got {timeout}")
    if not 1 <= dest_port <= 65535:
        raise ValueError(f"port out of range: {dest_port}")
    dest = unmap(dest_ip)
    if classify(dest) in (AddressScope.MULTICAST, AddressScope.UNSPECIFIED):
        raise ValueError(f"cannot trace toward {dest}")
    if not sys.platform.startswith("linux"):
        raise NetworkError("hop tracing needs Linux (IP_RECVERR error queues)")

    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    probes: list[_Probe] = []

    def on_readable(probe: _Probe) -> None:
        _drain(probe, loop.time())
        if probe.outcome is not None and probe.reading:
            loop.remove_reader(probe.sock.fileno())
            probe.reading = False
        if _finished(probes):
            done.set()

    with ExitStack() as stack:
        try:
            for ttl in range(1, max_hops + 1):
                sock = stack.enter_context(_open_probe_socket(dest, dest_port, ttl))
                probes.append(_Probe(ttl=ttl, sock=sock))
        except OSError as exc:
            raise NetworkError(f"cannot send toward {dest}: {exc.strerror or exc}") from exc
        try:
            for probe in probes:
                loop.add_reader(probe.sock.fileno(), on_readable, probe)
                probe.reading = True
                probe.sent_at = loop.time()
                try:
                    probe.sock.send(_PAYLOAD)
                except OSError as exc:
                    raise NetworkError(
                        f"cannot send toward {dest}: {exc.strerror or exc}"
                    ) from exc
            try:
                async with asyncio.timeout(timeout):
                    await done.wait()
            except TimeoutError:
                logger.debug("hop trace toward %s: timeout after %.2f s", dest, timeout)
        finally:
            for probe in probes:
                if probe.reading:
                    loop.remove_reader(probe.sock.fileno())
                    probe.reading = False

    hops: list[Hop] = []
    for probe in probes:
        if probe.outcome is None:
            hops.append(Hop(probe.ttl, None, None, None, HopOutcome.NO_ANSWER))
            continue
        hop = Hop(
            ttl=probe.ttl,
            address=probe.address,
            scope=classify(probe.address) if probe.address is not None else None,
            rtt_ms=round((probe.answered_at - probe.sent_at) * 1000.0, 3),
            outcome=probe.outcome,
        )
        hops.append(hop)
        if hop.ends_path:
            break
    logger.debug("hop trace toward %s:%d: %s", dest, dest_port, hops)
    return tuple(hops)
