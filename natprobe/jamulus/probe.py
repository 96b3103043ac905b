"""Sans-I/O state machines for the two things natprobe asks a Jamulus peer.

:class:`PingProbe` pings one server (and asks its version, and whether it is a directory);
:class:`ServerListRequest` asks a directory for its list. Both are driven the same way:
call :meth:`poll` with the current time and act on what it returns (:class:`SendMessages`,
:class:`WaitUntil`, :class:`Finished`); feed every message that came from the peer's exact
ip:port to :meth:`receive`. Time is whatever monotonic clock the caller uses, in seconds,
so tests drive these without sleeping.

:func:`merge_listing` turns the directory's replies into the list a Jamulus client's
connect dialog shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from natprobe.jamulus.messages import (
    Message,
    OsType,
    PingMs,
    PingMsWithNumClients,
    RedServerList,
    ReqServerList,
    ReqVersionAndOs,
    ServerList,
    VersionAndOs,
)

__all__ = (
    "SendMessages",
    "WaitUntil",
    "Finished",
    "PingOutcome",
    "PingProbe",
    "ListOutcome",
    "ServerListRequest",
    "ListedServer",
    "merge_listing",
    "DIRECTORY_GRACE_MIN",
    "LIST_RESEND_INTERVAL",
)

DIRECTORY_GRACE_MIN = 0.3
"""Seconds to keep waiting, after a ping reply, for the version and a server list.

A directory answers ``CLM_REQ_SERVER_LIST`` as fast as it answers a ping; a plain server
never does. The wait is ``max(DIRECTORY_GRACE_MIN, 4 * rtt)``, with one resend halfway.
"""

LIST_RESEND_INTERVAL = 2.0
"""``SERV_LIST_REQ_UPDATE_TIME_MS`` (src/connectdlg.h): the client re-asks every 2 s until the full list arrives."""

_U32 = 1 << 32


@dataclass(frozen=True, slots=True)
class SendMessages:
    """Send these messages, in order, to the peer now."""

    messages: tuple[Message, ...]


@dataclass(frozen=True, slots=True)
class WaitUntil:
    """Nothing to do before ``deadline`` unless a message arrives."""

    deadline: float


@dataclass(frozen=True, slots=True)
class Finished:
    """The exchange is over; read the machine's ``outcome``."""


@dataclass(frozen=True, slots=True)
class PingOutcome:
    """What a ping exchange found. ``rtt`` is ``None`` when no ping was answered."""

    rtt: float | None
    """Seconds between sending the answered ping and receiving its echo."""
    num_clients: int | None
    version: str | None
    os: OsType | int | None
    is_directory: bool | None
    """True: it answered ``CLM_REQ_SERVER_LIST``. False: it answered pings but no list within the
    grace period. None: not asked, or the server never answered, or the time ran out first."""
    pings_sent: int
    """How many ping rounds went out (each round is one datagram per ping kind)."""
    listed_servers: int | None = None
    """Entries in the list a directory returned (``None`` if no list came)."""


class PingProbe:
    """Ping one Jamulus server within a bounded time.

    Round *i* (of ``attempts``) goes out at ``start + i * timeout / attempts`` while no
    ping has been answered: ``CLM_PING_MS_WITHNUMCLIENTS`` (plus ``CLM_PING_MS`` if
    ``plain_ping``), ``CLM_REQ_VERSION_AND_OS`` and, if ``probe_directory``,
    ``CLM_REQ_SERVER_LIST``. Every round uses a fresh time value, so an echo tells which
    send it answers and the RTT is exact even after retransmissions. After the first echo
    the probe waits a short grace period for the rest (see :data:`DIRECTORY_GRACE_MIN`).
    Never past ``start + timeout``.
    """

    def __init__(
        self,
        now: float,
        *,
        timeout: float = 2.0,
        attempts: int = 3,
        first_time_value: int = 0,
        plain_ping: bool = True,
        request_version: bool = True,
        probe_directory: bool = True,
        grace_min: float = DIRECTORY_GRACE_MIN,
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        if not 0 <= first_time_value < _U32:
            raise ValueError("first_time_value must fit in 32 bits")
        self._start = now
        self._deadline = now + timeout
        self._offsets = tuple(now + i * timeout / attempts for i in range(attempts))
        self._next_round = 0
        self._next_time_value = first_time_value
        self._sent_at: dict[int, float] = {}
        self._plain_ping = plain_ping
        self._request_version = request_version
        self._probe_directory = probe_directory
        self._grace_min = grace_min

        self._rtt: float | None = None
        self._num_clients: int | None = None
        self._version: VersionAndOs | None = None
        self._listed: int | None = None
        self._grace_mid: float | None = None
        self._grace_end: float | None = None
        self._grace_truncated = False
        self._grace_resent = False
        self._finished = False

    @property
    def deadline(self) -> float:
        return self._deadline

    def _missing(self) -> list[Message]:
        """The non-ping requests still unanswered."""
        missing: list[Message] = []
        if self._request_version and self._version is None:
            missing.append(ReqVersionAndOs())
        if self._probe_directory and self._listed is None:
            missing.append(ReqServerList())
        return missing

    def _complete(self) -> bool:
        return self._rtt is not None and self._num_clients is not None and not self._missing()

    def poll(self, now: float) -> SendMessages | WaitUntil | Finished:
        if self._finished:
            return Finished()
        if now >= self._deadline or self._complete():
            self._finished = True
            return Finished()
        if self._rtt is None:
            if self._next_round < len(self._offsets) and now >= self._offsets[self._next_round]:
                self._next_round += 1
                value = self._next_time_value
                self._next_time_value = (value + 1) % _U32
                self._sent_at[value] = now
                pings: list[Message] = [PingMsWithNumClients(value, 0)]
                if self._plain_ping:
                    pings.append(PingMs(value))
                return SendMessages(tuple(pings + self._missing()))
            wake = self._offsets[self._next_round] if self._next_round < len(self._offsets) else self._deadline
            return WaitUntil(min(wake, self._deadline))
        assert self._grace_end is not None and self._grace_mid is not None
        if now >= self._grace_end:
            self._finished = True
            return Finished()
        if not self._grace_resent and now >= self._grace_mid:
            self._grace_resent = True
            missing = self._missing()
            if missing:  # a lost request, not a silent peer, is what this resend covers
                return SendMessages(tuple(missing))
        return WaitUntil(self._grace_end if self._grace_resent else self._grace_mid)

    def receive(self, message: Message, now: float) -> bool:
        """Take one message from the peer; ``True`` if it answered something this probe asked."""
        if self._finished:
            return False
        if isinstance(message, (PingMs, PingMsWithNumClients)):
            sent = self._sent_at.get(message.time_ms)
            if sent is None or (isinstance(message, PingMs) and not self._plain_ping):
                return False
            if isinstance(message, PingMsWithNumClients):
                self._num_clients = message.num_clients
            if self._rtt is None:
                self._rtt = max(0.0, now - sent)
                grace = max(self._grace_min, 4 * self._rtt)
                self._grace_truncated = now + grace > self._deadline
                self._grace_end = min(now + grace, self._deadline)
                self._grace_mid = min(now + grace / 2, self._grace_end)
            return True
        if isinstance(message, VersionAndOs) and self._request_version:
            self._version = message
            return True
        if isinstance(message, (ServerList, RedServerList)) and self._probe_directory:
            self._listed = max(self._listed or 0, len(message.entries))
            return True
        return False

    @property
    def outcome(self) -> PingOutcome:
        if self._listed is not None:
            is_directory: bool | None = True
        elif self._probe_directory and self._rtt is not None and self._finished and not self._grace_truncated:
            is_directory = False
        else:
            is_directory = None
        return PingOutcome(
            rtt=self._rtt,
            num_clients=self._num_clients,
            version=self._version.version if self._version else None,
            os=self._version.os if self._version else None,
            is_directory=is_directory,
            pings_sent=self._next_round,
            listed_servers=self._listed,
        )


@dataclass(frozen=True, slots=True)
class ListOutcome:
    """What a directory sent back. Both ``None``: it never answered."""

    full: ServerList | None
    reduced: RedServerList | None
    requests_sent: int

    @property
    def answered(self) -> bool:
        return self.full is not None or self.reduced is not None


class ServerListRequest:
    """Ask a directory for its list: ``CLM_REQ_SERVER_LIST`` every ``resend_interval`` until the full list arrives.

    The reduced list (``CLM_RED_SERVER_LIST``) is kept too: if only it arrives before
    ``timeout`` (the full list's fragments were lost), it is what the client shows.
    """

    def __init__(self, now: float, *, timeout: float = 5.0, resend_interval: float = LIST_RESEND_INTERVAL) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if not resend_interval > 0:
            raise ValueError(f"resend_interval must be positive, got {resend_interval}")
        self._deadline = now + timeout
        self._next_send = now
        self._interval = resend_interval
        self._sent = 0
        self._full: ServerList | None = None
        self._reduced: RedServerList | None = None
        self._finished = False

    def poll(self, now: float) -> SendMessages | WaitUntil | Finished:
        if self._finished or self._full is not None or now >= self._deadline:
            self._finished = True
            return Finished()
        if now >= self._next_send:
            self._sent += 1
            self._next_send = now + self._interval
            return SendMessages((ReqServerList(),))
        return WaitUntil(min(self._next_send, self._deadline))

    def receive(self, message: Message, now: float) -> bool:
        if self._finished:
            return False
        if isinstance(message, ServerList):
            self._full = message
            return True
        if isinstance(message, RedServerList):
            self._reduced = message
            return True
        return False

    @property
    def outcome(self) -> ListOutcome:
        return ListOutcome(self._full, self._reduced, self._sent)


@dataclass(frozen=True, slots=True)
class ListedServer:
    """One server as the directory lists it (fields the reduced list lacks are ``None``)."""

    name: str
    ip: IPv4Address
    port: int
    is_directory: bool
    """Entry 0: the directory itself (listed as 0.0.0.0:0, shown at the address asked)."""
    city: str | None
    """``None`` for city, country, max_clients and permanent when only the reduced list arrived."""
    country: int | None
    """A Qt5 ``QLocale::Country`` number (82 = Germany, 0 = not set)."""
    max_clients: int | None
    permanent: bool | None


_UNSPECIFIED = IPv4Address(0)


def merge_listing(outcome: ListOutcome, directory_ip: IPv4Address, directory_port: int) -> tuple[ListedServer, ...]:
    """The servers as a Jamulus client shows them; entry 0 (sent as 0.0.0.0) becomes the directory's address."""

    def address(index: int, ip: IPv4Address, port: int) -> tuple[IPv4Address, int]:
        if index == 0 and ip == _UNSPECIFIED:
            return directory_ip, directory_port
        return ip, port

    servers: list[ListedServer] = []
    if outcome.full is not None:
        for index, entry in enumerate(outcome.full.entries):
            ip, port = address(index, entry.ip, entry.port)
            servers.append(
                ListedServer(
                    entry.name, ip, port, index == 0, entry.city, entry.country, entry.max_clients, entry.permanent
                )
            )
    elif outcome.reduced is not None:
        for index, red in enumerate(outcome.reduced.entries):
            ip, port = address(index, red.ip, red.port)
            servers.append(ListedServer(red.name, ip, port, index == 0, None, None, None, None))
    return tuple(servers)
