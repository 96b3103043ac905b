"""Jamulus ping and directory list, as the Jamulus client's connect dialog does them.

:func:`ping` asks one server for its RTT, client count, version and OS. :func:`list_servers`
asks a directory for its list and pings the listed servers **from the socket that asked for
the list**: a directory hole-punches each registered server toward the address that requested
the list (``CLM_SEND_EMPTY_MESSAGE``), so only that socket is sure to get through a server's
NAT. The socket (:class:`~natprobe.adapters.jamulus_socket.JamulusSocket`) does the I/O; this
module decides what to send where and builds the reports.

A missing reply is a result (``rtt_ms`` is ``None``), not an exception; OS-level failures
(bind, resolve, send) raise :class:`~natprobe.errors.NetworkError`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from ipaddress import IPv4Address, IPv6Address

from natprobe.addressing import IPAddress
from natprobe.adapters.jamulus_socket import JamulusSocket
from natprobe.adapters.resolve import resolve_host
from natprobe.errors import NetworkError
from natprobe.jamulus.messages import DEFAULT_PORT
from natprobe.jamulus.probe import PingOutcome, merge_listing
from natprobe.reports.jamulus_report import JamulusPingResult, JamulusServerEntry, JamulusServerList

__all__ = ("LIST_CONCURRENCY", "list_servers", "ping", "resolve")

logger = logging.getLogger(__name__)

LIST_CONCURRENCY = 32
"""Listed servers pinged at the same time."""

_BROADCAST = IPv4Address("255.255.255.255")


def _check_port(port: int) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be 1..65535, got {port!r}")


async def resolve(host: str | IPAddress, port: int = DEFAULT_PORT, *, ipv4_only: bool = False) -> IPAddress:
    """``host`` as an address: literals as they are, names via ``getaddrinfo`` (IPv4 preferred, as Jamulus does)."""
    if isinstance(host, (IPv4Address, IPv6Address)):
        address: IPAddress = host
        if ipv4_only and address.version != 4:
            raise ValueError(f"{host} is not an IPv4 address; Jamulus directories are IPv4 only")
        return address
    try:
        return await resolve_host(host, ipv4_only=ipv4_only)
    except ValueError as exc:
        raise ValueError(f"{exc}; Jamulus directories are IPv4 only") from exc


def _local(
    family: socket.AddressFamily,
    local_addr: tuple[str, int] | None,
    local_port: int | None,
    sock: socket.socket | None,
) -> tuple[str, int] | None:
    if sum(x is not None for x in (local_addr, local_port, sock)) > 1:
        raise ValueError("give at most one of sock, local_addr and local_port")
    if sock is not None:
        return None
    if local_port is not None:
        return ("::" if family == socket.AF_INET6 else "0.0.0.0", local_port)
    return local_addr


async def ping(
    host: str | IPAddress,
    port: int = DEFAULT_PORT,
    *,
    timeout: float = 2.0,
    attempts: int = 3,
    local_port: int | None = None,
    local_addr: tuple[str, int] | None = None,
    sock: socket.socket | None = None,
    probe_directory: bool = True,
) -> JamulusPingResult:
    """Ping a Jamulus server: RTT, client count, version and OS, and whether it is a directory.

    Sends ``CLM_PING_MS_WITHNUMCLIENTS`` and ``CLM_PING_MS``, ``CLM_REQ_VERSION_AND_OS`` and
    (``probe_directory``) ``CLM_REQ_SERVER_LIST`` in up to ``attempts`` rounds spread over
    ``timeout`` seconds; returns within ``timeout``. Bind with ``local_port`` or ``local_addr``,
    or pass a UDP ``sock`` (adopted: closed afterwards). No answer gives ``rtt_ms=None``.
    """
    _check_port(port)
    address = await resolve(host, port)
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    jsock = await JamulusSocket.open(_local(family, local_addr, local_port, sock), family=family, sock=sock)
    async with jsock:
        outcome = await jsock.ping((address, port), timeout=timeout, attempts=attempts, probe_directory=probe_directory)
        local_port_used = jsock.local_address[1]
    return JamulusPingResult(
        host=str(host),
        address=address,
        port=port,
        rtt_ms=None if outcome.rtt is None else outcome.rtt * 1000.0,
        num_clients=outcome.num_clients,
        version=outcome.version,
        os=outcome.os,
        is_directory=outcome.is_directory,
        pings_sent=outcome.pings_sent,
        listed_servers=outcome.listed_servers,
        local_port=local_port_used,
    )


def _pingable(peer: tuple[IPv4Address, int]) -> bool:
    """Never aim a ping at 0.0.0.0 (that is the local host), multicast, broadcast or port 0."""
    ip, port = peer
    return not (ip.is_unspecified or ip.is_multicast or ip == _BROADCAST or port == 0)


async def list_servers(
    directory_host: str | IPv4Address,
    port: int = DEFAULT_PORT,
    *,
    timeout: float = 5.0,
    ping_timeout: float = 2.0,
    ping_attempts: int = 3,
    concurrency: int = LIST_CONCURRENCY,
    local_port: int | None = None,
    local_addr: tuple[str, int] | None = None,
    sock: socket.socket | None = None,
) -> JamulusServerList:
    """A directory's server list, each server pinged from the socket that asked for the list.

    The list request is re-sent every 2 s (as the Jamulus client does) until the full list
    arrives or ``timeout`` passes; then every listed server is pinged concurrently (at most
    ``concurrency`` at a time, each bounded by ``ping_timeout``). Total time is at most
    about ``timeout + ping_timeout * ceil(servers / concurrency)``. Jamulus directories and
    their lists are IPv4 only; an IPv6 ``directory_host`` is a ``ValueError``.
    """
    _check_port(port)
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    address = await resolve(directory_host, port, ipv4_only=True)
    assert isinstance(address, IPv4Address)
    jsock = await JamulusSocket.open(
        _local(socket.AF_INET, local_addr, local_port, sock), family=socket.AF_INET, sock=sock
    )
    async with jsock:
        outcome = await jsock.request_list((address, port), timeout=timeout)
        listed = merge_listing(outcome, address, port)
        targets = list(dict.fromkeys(p for p in ((s.ip, s.port) for s in listed) if _pingable(p)))
        pings: dict[tuple[IPv4Address, int], PingOutcome] = {}
        gate = asyncio.Semaphore(concurrency)

        async def ping_one(target: tuple[IPv4Address, int]) -> None:
            async with gate:
                try:
                    pings[target] = await jsock.ping(
                        target,
                        timeout=ping_timeout,
                        attempts=ping_attempts,
                        plain_ping=False,  # the connect dialog sends only the with-clients ping
                        probe_directory=False,  # never make listed servers (or directories) punch for us
                    )
                except NetworkError as exc:  # one unroutable entry must not sink the list
                    logger.info("cannot ping %s:%d: %s", target[0], target[1], exc)

        async with asyncio.TaskGroup() as group:
            for target in targets:
                group.create_task(ping_one(target))
        punched = jsock.hole_punches
        local_port_used = jsock.local_address[1]

    servers = [
        JamulusServerEntry.of(server, pings.get((server.ip, server.port)), (server.ip, server.port) in punched)
        for server in listed
    ]
    return JamulusServerList(
        host=str(directory_host),
        address=address,
        port=port,
        answered=outcome.answered,
        complete=outcome.full is not None,
        requests_sent=outcome.requests_sent,
        local_port=local_port_used,
        servers=tuple(servers),
    )
