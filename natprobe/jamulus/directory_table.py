"""The registration table of a Jamulus directory, sans I/O (facts/jamulus.md §3).

A directory remembers each server by the **UDP source ip:port** of its registration, keeps
its NAT mapping open with ``CLM_EMPTY_MESSAGE`` and forgets it when it stops re-registering.
The echo server's directory emulation (:mod:`natprobe_server.jamulus.directory`) drives this
table from its socket: every method takes ``now`` and returns what to send; nothing here
touches the network.

A directory is a public service, so whatever a stranger can make it hold is bounded
(issue #9):

* **Entries and bytes**: at most ``max_registrations`` entries and ``max_bytes`` of them
  (each costs a fixed overhead plus its name and city; the codec already refuses fields
  longer than Jamulus allows).
* **Per source**: at most ``max_per_source`` entries per IPv4 address or IPv6 /64
  (:func:`~natprobe.addressing.source_key`).
* **Spoofing**: a registration is only *unverified* until its source answers a
  ``CLM_PING_MS`` carrying a secret value (every Jamulus server echoes pings: that is how
  clients measure the list's ping times). Only a source that really receives at its
  address can echo the value, so a spoofed registration never verifies and is dropped
  after ``verify_grace_s``. Unverified entries may fill at most half the table and the
  oldest makes room for a new one, so a flood of spoofed registrations cannot lock a real
  server out: the real one verifies within a round trip.
* **Bytes sent**: each registration has a byte budget credited with every valid frame it
  sends here and debited by every reply, verification ping and keep-alive, so a spoofed
  registration draws at most as many bytes toward its victim as it cost.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from natprobe.addressing import TransportAddress, source_key
from natprobe.jamulus.constants import PING_BYTES, SEND_EMPTY_BYTES
from natprobe.jamulus.messages import (
    JAMULUS_KEEPALIVE_S,
    EmptyMessage,
    ESvrRegResult,
    Message,
    PingMs,
    RegisterServer,
    RegisterServerEx,
    RegisterServerResp,
    encode,
)

__all__ = (
    "EMPTY_BYTES",
    "PING_BYTES",
    "RESP_BYTES",
    "SEND_EMPTY_BYTES",
    "DirectoryTable",
    "RegistrationInfo",
    "TableLimits",
    "requested_keepalive",
)

RESP_BYTES = len(encode(RegisterServerResp(ESvrRegResult.REGISTERED)))
EMPTY_BYTES = len(encode(EmptyMessage()))

MAX_BANKED_BYTES = 4096
"""A registration's byte budget never grows past this (an old, chatty server banks no more)."""
ENTRY_OVERHEAD_BYTES = 256
"""What one entry costs besides its name and city, for the byte bound (a measured dataclass
with its dictionary slots is ~230 bytes)."""
VERIFY_PINGS = 3
"""Verification pings per registration (at the start and twice more within the grace)."""

_KEEPALIVE_CITY = re.compile(r"keepalive=(\d{1,4})", re.ASCII)


def requested_keepalive(city: str, *, minimum: float, default: float = JAMULUS_KEEPALIVE_S) -> float:
    """The keep-alive interval a registration asks for through its city (``keepalive=N``).

    Clamped to ``minimum`` .. ``default``: a client may ask for faster keep-alives (to watch
    a short-lived NAT mapping), never slower ones than Jamulus' 59 s.
    """
    match = _KEEPALIVE_CITY.fullmatch(city.strip())
    if match is None:
        return default
    return min(default, max(minimum, float(match.group(1))))


@dataclass(frozen=True, slots=True)
class TableLimits:
    """How much the table keeps, and for how long."""

    max_registrations: int = 1024
    max_bytes: int = 512 * 1024
    max_per_source: int = 8
    """Entries per IPv4 address or IPv6 /64."""
    registration_ttl_s: float = 1200.0
    """Entries are forgotten this long after their last registration. A Jamulus server
    re-registers every 15 min, so 20 min keeps a real one listed without a gap."""
    keepalive_s: float = JAMULUS_KEEPALIVE_S
    min_keepalive_s: float = 5.0
    verify_grace_s: float = 10.0
    """An entry whose source has not echoed a verification ping by then is dropped."""

    def __post_init__(self) -> None:
        if min(self.max_registrations, self.max_per_source) < 1 or self.max_bytes < ENTRY_OVERHEAD_BYTES:
            raise ValueError("max_registrations and max_per_source must be >= 1, max_bytes room for one entry")
        if not 0 < self.min_keepalive_s <= self.keepalive_s:
            raise ValueError("keep-alive intervals must satisfy 0 < min_keepalive_s <= keepalive_s")
        if self.registration_ttl_s <= 0 or not 0 < self.verify_grace_s <= self.registration_ttl_s:
            raise ValueError("registration_ttl_s must be > 0, verify_grace_s within 0 .. registration_ttl_s")


@dataclass(slots=True)
class _Entry:
    source: TransportAddress
    key: str
    name: str
    city: str
    registered_at: float
    refreshed_at: float
    keepalive_s: float
    next_keepalive: float
    budget: int
    cost: int
    cookie: int
    verified: bool = False
    verify_pings: int = 0
    next_verify: float = 0.0
    keepalives_sent: int = 0
    keepalives_received: int = 0


@dataclass(frozen=True, slots=True)
class RegistrationInfo:
    """A snapshot of one registration."""

    source: TransportAddress
    """The registration's UDP source ip:port: what a directory publishes."""
    name: str
    city: str
    registered_at: float
    refreshed_at: float
    keepalive_s: float
    budget: int
    """Bytes the directory may still send to this registration."""
    keepalives_sent: int
    keepalives_received: int
    verified: bool = False
    """Its source echoed a verification ping: the address is really the server's."""


def _info(entry: _Entry) -> RegistrationInfo:
    return RegistrationInfo(
        entry.source, entry.name, entry.city, entry.registered_at, entry.refreshed_at,
        entry.keepalive_s, entry.budget, entry.keepalives_sent, entry.keepalives_received, entry.verified,
    )


def _cost(name: str, city: str) -> int:
    return ENTRY_OVERHEAD_BYTES + len(name.encode("utf-8")) + len(city.encode("utf-8"))


class DirectoryTable:
    """Registrations keyed by their source address, bounded in count, bytes, per source and in time.

    Pure: every method takes ``now`` (monotonic seconds); the I/O class sends what
    :meth:`due` returns. ``cookie`` draws the secret of each verification ping.
    """

    def __init__(self, limits: TableLimits, *, cookie: Callable[[], int] = lambda: secrets.randbits(32)) -> None:
        self.limits = limits
        self._cookie = cookie
        self._entries: dict[TransportAddress, _Entry] = {}
        self._per_source: dict[str, int] = {}
        self._bytes = 0
        self._unverified = 0
        self.evicted = 0
        """Unverified entries dropped to make room, or for not answering within the grace."""
        self.budget_skipped = 0
        """Keep-alives not sent because the registration's byte budget could not pay (metrics)."""

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        """What the entries cost, as counted for ``max_bytes``."""
        return self._bytes

    def entries(self) -> tuple[RegistrationInfo, ...]:
        return tuple(_info(e) for e in self._entries.values())

    def get(self, source: TransportAddress) -> RegistrationInfo | None:
        entry = self._entries.get(source)
        return None if entry is None else _info(entry)

    def register(
        self, source: TransportAddress, message: RegisterServer | RegisterServerEx, size: int, now: float
    ) -> ESvrRegResult:
        """Add or refresh ``source``'s entry; the status to answer with (its cost is debited)."""
        self.expire(now)
        limits = self.limits
        entry = self._entries.get(source)
        keepalive = requested_keepalive(message.city, minimum=limits.min_keepalive_s, default=limits.keepalive_s)
        if entry is None:
            key = source_key(source.ip)
            cost = _cost(message.name, message.city)
            if self._per_source.get(key, 0) >= limits.max_per_source or not self._make_room(cost):
                return ESvrRegResult.SERVER_LIST_FULL
            entry = _Entry(source, key, message.name, message.city, now, now, keepalive, now + keepalive, 0, cost,
                           self._cookie() & 0xFFFFFFFF, next_verify=now)
            self._entries[source] = entry
            self._per_source[key] = self._per_source.get(key, 0) + 1
            self._bytes += cost
            self._unverified += 1
        else:
            cost = _cost(message.name, message.city)
            if self._bytes - entry.cost + cost > limits.max_bytes:
                return ESvrRegResult.SERVER_LIST_FULL
            self._bytes += cost - entry.cost
            entry.cost, entry.name, entry.city, entry.refreshed_at = cost, message.name, message.city, now
            if keepalive != entry.keepalive_s:
                entry.keepalive_s = keepalive
                entry.next_keepalive = min(entry.next_keepalive, now + keepalive)
        entry.budget = min(MAX_BANKED_BYTES, entry.budget + size - RESP_BYTES)
        return ESvrRegResult.REGISTERED

    def _make_room(self, cost: int) -> bool:
        """Whether an entry of ``cost`` fits, after dropping the oldest unverified entries if needed.

        Unverified entries may hold at most half the table: beyond that, and whenever the
        table is full, the oldest of them goes first. Verified entries are never pushed out.
        """
        limits = self.limits
        half = max(1, limits.max_registrations // 2)
        while (
            len(self._entries) >= limits.max_registrations
            or self._bytes + cost > limits.max_bytes
            or self._unverified >= half
        ):
            oldest = next((e for e in self._entries.values() if not e.verified), None)
            if oldest is None:
                return False
            self.evicted += 1
            self._remove(oldest.source)
        return True

    def unregister(self, source: TransportAddress) -> bool:
        return self._remove(source)

    def _remove(self, source: TransportAddress) -> bool:
        entry = self._entries.pop(source, None)
        if entry is None:
            return False
        self._bytes -= entry.cost
        if not entry.verified:
            self._unverified -= 1
        left = self._per_source.get(entry.key, 0) - 1
        if left > 0:
            self._per_source[entry.key] = left
        else:
            self._per_source.pop(entry.key, None)
        return True

    def received(self, source: TransportAddress, message: Message, size: int) -> None:
        """A valid frame of ``size`` bytes came from ``source``: credit it; a ping echo may verify it."""
        entry = self._entries.get(source)
        if entry is None:
            return
        entry.budget = min(MAX_BANKED_BYTES, entry.budget + size)
        if isinstance(message, EmptyMessage):
            entry.keepalives_received += 1
        elif isinstance(message, PingMs) and not entry.verified and message.time_ms == entry.cookie:
            entry.verified = True
            self._unverified -= 1

    def find(self, name: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, now: float) -> RegistrationInfo | None:
        """The most recent registration called ``name`` whose source IP is ``ip``."""
        self.expire(now)
        matches = [e for e in self._entries.values() if e.name == name and e.source.ip == ip]
        if not matches:
            return None
        return _info(max(matches, key=lambda e: e.refreshed_at))

    def expire(self, now: float) -> int:
        """Forget entries not re-registered within the TTL, and unverified ones past the grace."""
        ttl_limit = now - self.limits.registration_ttl_s
        grace_limit = now - self.limits.verify_grace_s
        stale = [
            source
            for source, e in self._entries.items()
            if e.refreshed_at <= ttl_limit or (not e.verified and e.registered_at <= grace_limit)
        ]
        for source in stale:
            if not self._entries[source].verified:
                self.evicted += 1
            self._remove(source)
        return len(stale)

    def due(self, now: float) -> list[tuple[TransportAddress, Message]]:
        """What to send now: verification pings and keep-alives (each is debited and rescheduled)."""
        self.expire(now)
        out: list[tuple[TransportAddress, Message]] = []
        for entry in self._entries.values():
            if not entry.verified and entry.verify_pings < VERIFY_PINGS and entry.next_verify <= now:
                entry.verify_pings += 1
                entry.next_verify = now + self.limits.verify_grace_s / (VERIFY_PINGS + 1)
                if entry.budget >= PING_BYTES:
                    entry.budget -= PING_BYTES
                    out.append((entry.source, PingMs(entry.cookie)))
            if entry.next_keepalive > now:
                continue
            # Catch up without a burst: one keep-alive, then the next interval from now.
            entry.next_keepalive = now + entry.keepalive_s
            if entry.budget < EMPTY_BYTES:
                self.budget_skipped += 1
                continue  # nothing paid for it: skipped, not queued
            entry.budget -= EMPTY_BYTES
            entry.keepalives_sent += 1
            out.append((entry.source, EmptyMessage()))
        return out

    def next_deadline(self) -> float | None:
        """When :meth:`due` or :meth:`expire` next has work, or ``None`` when empty."""
        if not self._entries:
            return None
        limits = self.limits
        times = []
        for e in self._entries.values():
            times.append(min(e.next_keepalive, e.refreshed_at + limits.registration_ttl_s))
            if not e.verified:
                times.append(e.registered_at + limits.verify_grace_s)
                if e.verify_pings < VERIFY_PINGS:
                    times.append(e.next_verify)
        return min(times)
