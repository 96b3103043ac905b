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
The results feed :func:`natprobe.findings.topology_words.assess_topology`; remember traceroute evidence is
suggestive, not proof (FalconChristmas/fpp #2033): hops may stay silent, and providers
number internal links from private space.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from ipaddress import IPv4Address, ip_address
from typing import Final

from natprobe.i18n import _
from natprobe.addressing import AddressScope, IPAddress, classify, unmap
from natprobe.recverr import (
    ErrOrigin,
    ExtendedError,
    Hop,
    HopOutcome,
    Icmp6Type,
    IcmpType,
    MSG_ERRQUEUE,
    PATH_ENDS,
    IP_RECVERR,
    IPV6_RECVERR,
    SOL_IP,
    SOL_IPV6,
    hop_outcome,
    parse_extended_error,
    parse_recverr,
)

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
_ANCILLARY_SIZE: Final = 256  # sock_extended_err (16) + sockaddr_in6 (28), with headroom
_PAYLOAD: Final = b"natprobe-hop"

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
    end = min((p.ttl for p in probes if p.outcome in PATH_ENDS), default=len(probes))
    return all(p.outcome is not None for p in probes if p.ttl <= end)


async def trace_hops(
    dest_ip: IPAddress,
    dest_port: int,
    *,
    max_hops: int = 5,
    timeout: float = 1.5,
    until: asyncio.Event | None = None,
) -> tuple[Hop, ...]:
    """Find the routers on the first ``max_hops`` hops toward ``dest_ip``:``dest_port``.

    Sends one small UDP datagram per TTL 1..``max_hops`` (all at once) and waits at most
    ``timeout`` seconds in total, returning early once every hop up to the end of the path
    has answered. Pick a port where nothing answers (the destination then reports "port
    unreachable" and the path is known to end there); a port with a listener yields a
    ``reply`` hop instead. The result is in TTL order, cut after the first hop that ends
    the path; silent hops are ``no-answer`` entries. When ``until`` is set first (the probes
    the trace accompanies are done), the hops still silent are ``no-answer`` at once: routers
    rate-limit their ICMP (Linux: one per second per host after a burst), so a silent hop is
    common and never worth the wait.

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
        raise NetworkError(_("hop tracing needs Linux (IP_RECVERR error queues)"))

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
            raise NetworkError(_("cannot send toward {address}: {error}", address=dest, error=exc.strerror or exc)) from exc
        try:
            for probe in probes:
                loop.add_reader(probe.sock.fileno(), on_readable, probe)
                probe.reading = True
                probe.sent_at = loop.time()
                try:
                    probe.sock.send(_PAYLOAD)
                except OSError as exc:
                    raise NetworkError(
                        _("cannot send toward {address}: {error}", address=dest, error=exc.strerror or exc)
                    ) from exc
            waits = [asyncio.ensure_future(event.wait()) for event in (done, until) if event is not None]
            try:
                finished, _waiting = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()
            if not finished:
                logger.debug("hop trace toward %s: timeout after %.2f s", dest, timeout)
            elif not done.is_set():
                logger.debug("hop trace toward %s: cut short, the probes it accompanies are done", dest)
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
