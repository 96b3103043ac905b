"""One measurement per address family, the same way for every command that runs per family.

``natprobe check`` and ``natprobe exposure`` both talk to the echo server once per family the
server has an address in: over IPv6 from this host's stable global address (what a pinhole or
an AAAA record names), over IPv4 from whichever address the kernel picks. A family that cannot
be tested (no global IPv6 address here, no server address in that family, the server refused)
becomes a :class:`~natprobe.reports.family_result.FamilyResult` that says why; when no family
could be tested at all, the first server error (or the reasons) is raised.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Any, Generic, TypeVar

from natprobe.addressing import IPAddress, IpFamily
from natprobe.adapters.interfaces import (
    DEFAULT_TOWARD_V6,
    Ipv6Address,
    Ipv6Source,
    ipv6_source_toward,
    source_address_toward,
)
from natprobe.adapters.resolve import resolve_per_family, url_host
from natprobe.errors import NatprobeError, NetworkError, ServerError
from natprobe.i18n import _
from natprobe.reports.family_result import FamilyResult

__all__ = ("FamilyRun", "Measured", "ipv6_source_or_loopback", "run_per_family")

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Measured(Generic[T]):
    """What one family's measurement returns: its result, and the public address it learned."""

    outcome: T
    public_ip: IPAddress
    """The address the echo server saw."""


@dataclass(frozen=True, slots=True)
class FamilyRun(Generic[T]):
    """One family's status, and its measurement's outcome when it was tested."""

    status: FamilyResult
    outcome: T | None
    error: NatprobeError | None = None
    """Why the echo server could not be asked over this family (a failure, not a family this
    host or the server lacks)."""


def ipv6_source_or_loopback(server_ip: IPAddress | None, addresses: Sequence[Ipv6Address] | None = None) -> Ipv6Source:
    """This host's stable global IPv6 address toward the server; ``::1`` toward a server on
    ``::1`` (an echo server on this very host, as in a loopback self-test). ``addresses``:
    this host's IPv6 addresses with their flags (default: read from the kernel; ``()`` when
    the flags cannot be read, so the kernel's choice is taken as it is)."""
    if isinstance(server_ip, IPv6Address) and server_ip.is_loopback:
        return Ipv6Source(server_ip, False, server_ip, ())
    return ipv6_source_toward(server_ip if isinstance(server_ip, IPv6Address) else DEFAULT_TOWARD_V6, addresses)


def _stable_ipv6_source(server_ip: IPAddress | None) -> Ipv6Source:
    return ipv6_source_toward(server_ip if isinstance(server_ip, IPv6Address) else DEFAULT_TOWARD_V6)


async def run_per_family(
    server: str,
    families: Sequence[IpFamily],
    measure: Callable[[IpFamily, IPAddress, Ipv6Source | None, IPAddress | None], Awaitable[Measured[T]]],
    *,
    ipv6_source: Callable[[IPAddress | None], Ipv6Source] = _stable_ipv6_source,
    raise_when_none_tested: bool = True,
) -> tuple[FamilyRun[T], ...]:
    """Call ``measure(family, server_ip, source, local_ip)`` for every family at once, the
    runs returned in ``families``' order (``source``: the IPv6 address to send from, ``None``
    over IPv4; ``local_ip``: the address sent from, as far as this host can tell, or ``None``);
    a :class:`ServerError` it raises makes that family "not tested". Raises the first such
    error (or a :class:`NetworkError` with the reasons) when no family could be tested, unless
    ``raise_when_none_tested`` is false: the runs then say why in their notes (``natprobe
    check`` reports every port as not tested, with that reason).

    Concurrent, so the report is ready when the slowest family is, not after their sum; any
    other error cancels the other families and is raised as itself.
    """
    if not families:
        raise ValueError("no address family to check")
    host = url_host(server)
    try:
        server_ips = await resolve_per_family(host)
    except NetworkError as exc:
        if raise_when_none_tested:
            raise
        return tuple(dataclasses.replace(_untested(family, None, _("IPv{version} was not tested: {error}",
                                                                   version=family.version, error=exc)), error=exc)
                     for family in families)

    async def one(family: IpFamily) -> tuple[FamilyRun[T], ServerError | None]:
        server_ip = server_ips.get(family.version)
        source = ipv6_source(server_ip) if family is IpFamily.IPV6 else None
        local_ip: IPAddress | None = source.address if source is not None else None
        if source is not None and source.address is None:
            return _untested(family, None, _("this host has no global IPv6 address: IPv6 was not tested")), None
        if server_ip is None:
            return _untested(family, local_ip, _(
                "the echo server {server} has no IPv{version} address: IPv{version} was not tested",
                server=host, version=family.version)), None
        sent_from = local_ip if local_ip is not None else _kernel_source(server_ip)
        try:
            measured = await measure(family, server_ip, source, sent_from)
        except ServerError as exc:
            note = _("IPv{version} was not tested: {error}", version=family.version, error=exc)
            run: FamilyRun[T] = _untested(family, local_ip, note)
            return dataclasses.replace(run, error=exc), exc
        temporary = source is not None and source.temporary
        # Without the address flags (not Linux, or switched off) the address is in no list of
        # flagged addresses: natprobe cannot say whether it is the stable one.
        flags_known = (source is None or source.address is None or source.address.is_loopback
                       or any(a.address == source.address for a in source.global_addresses))
        status = FamilyResult(family, True, sent_from, measured.public_ip, temporary,
                              _tested_from(family, sent_from, temporary, flags_known))
        return FamilyRun(status, measured.outcome), None

    results = await _all_or_none([one(family) for family in families])
    runs = tuple(run for run, _failure in results)
    failures: list[NatprobeError] = [failure for _run, failure in results if failure is not None]
    if not any(run.status.tested for run in runs) and raise_when_none_tested:
        if failures:
            raise failures[0]
        raise NetworkError("; ".join(run.status.note for run in runs))
    return runs


async def _all_or_none(coroutines: Sequence[Coroutine[Any, Any, R]]) -> list[R]:
    """Run ``coroutines`` concurrently; the first error cancels the others and is raised as
    itself (a TaskGroup would wrap it in an ExceptionGroup the callers do not expect)."""
    tasks = [asyncio.create_task(c) for c in coroutines]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _kernel_source(server_ip: IPAddress) -> IPAddress | None:
    try:
        return source_address_toward(server_ip)
    except NetworkError:
        return None


def _untested(family: IpFamily, local_ip: IPAddress | None, note: str) -> FamilyRun[T]:
    return FamilyRun(FamilyResult(family, False, local_ip, None, False, note), None)


def _tested_from(family: IpFamily, local_ip: IPAddress | None, temporary: bool, flags_known: bool = True) -> str:
    if family is IpFamily.IPV4:
        return _("tested from {address}", address=local_ip)
    if not flags_known:
        return _("tested from {address} (natprobe cannot tell here whether it is this host's stable address or a "
                 "temporary privacy address)", address=local_ip)
    if temporary:
        return _("tested from {address} (a temporary privacy address: this host has no stable global IPv6 "
                 "address)", address=local_ip)
    return _("tested from {address} (this host's stable address, not a temporary privacy address)",
             address=local_ip)
