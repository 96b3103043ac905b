"""A and AAAA lookups through this host's resolver, with a bounded lifetime: I/O adapter over
dnspython's asyncio resolver.

getaddrinfo cannot be used for the name check: it merges families, hides NXDOMAIN behind
"Name or service not known", cannot tell NODATA from NXDOMAIN, and has no bound of its own
(glibc retries per its resolv.conf). dnspython reports each case as its own exception and
``lifetime`` bounds the whole lookup, every server and retry included. Every outcome is a
:class:`~natprobe.verdicts.dns_verdicts.FamilyLookup`; nothing raises to the caller.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Sequence

from typing import TYPE_CHECKING

from natprobe.addressing import IPAddress, IpFamily
from natprobe.verdicts.dns_verdicts import record_type
from natprobe.observations import FamilyLookup, LookupStatus

if TYPE_CHECKING:
    import dns.asyncresolver

__all__ = ("DEFAULT_LIFETIME_S", "lookup_family", "lookup_both", "lookup_txt")

logger = logging.getLogger(__name__)

DEFAULT_LIFETIME_S = 3.0
"""Bound of one lookup, every server and retry included."""


def _load_dnspython() -> None:
    import dns.asyncresolver  # noqa: F401  (dnspython's modules, loaded once)
    import dns.exception  # noqa: F401
    import dns.rdatatype  # noqa: F401
    import dns.resolver  # noqa: F401


def _resolver(nameservers: Sequence[str] | None, lifetime: float) -> dns.asyncresolver.Resolver:
    import dns.asyncresolver

    if nameservers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = list(nameservers)
    else:
        resolver = dns.asyncresolver.Resolver()  # /etc/resolv.conf
    resolver.lifetime = lifetime
    resolver.timeout = min(resolver.timeout, lifetime)
    resolver.cache = None
    return resolver


async def lookup_family(
    name: str,
    family: IpFamily,
    *,
    nameservers: Sequence[str] | None = None,
    lifetime: float = DEFAULT_LIFETIME_S,
) -> FamilyLookup:
    """``name``'s A (IPv4) or AAAA (IPv6) records; ``nameservers`` overrides resolv.conf."""
    import dns.exception
    import dns.rdatatype
    import dns.resolver

    rdtype = record_type(family)
    try:
        resolver = _resolver(nameservers, lifetime)
    except (dns.resolver.NoResolverConfiguration, OSError) as exc:
        return FamilyLookup(LookupStatus.ERROR, (), f"no resolver configured ({exc})")
    try:
        # dnspython's lifetime bounds its own work; the outer bound also covers a stuck socket.
        async with asyncio.timeout(lifetime + 0.5):
            answer = await resolver.resolve(name, dns.rdatatype.from_text(rdtype), search=False)
    except dns.resolver.NXDOMAIN:
        return FamilyLookup(LookupStatus.NXDOMAIN)
    except dns.resolver.NoAnswer:
        return FamilyLookup(LookupStatus.ANSWERED)  # NODATA: the name exists, without this type
    except dns.resolver.NoNameservers as exc:
        return FamilyLookup(LookupStatus.SERVFAIL, (), _first_line(exc))
    except (dns.resolver.LifetimeTimeout, dns.exception.Timeout, TimeoutError):
        return FamilyLookup(LookupStatus.TIMEOUT, (), f"no answer within {lifetime:g} s")
    except (dns.exception.DNSException, OSError, ValueError) as exc:
        return FamilyLookup(LookupStatus.ERROR, (), _first_line(exc))
    addresses: list[IPAddress] = []
    for rdata in answer:
        try:
            addresses.append(ipaddress.ip_address(rdata.address))
        except (AttributeError, ValueError):
            logger.debug("ignoring odd %s record %r", rdtype, rdata)
    return FamilyLookup(LookupStatus.ANSWERED, tuple(addresses))


async def lookup_both(
    name: str, *, nameservers: Sequence[str] | None = None, lifetime: float = DEFAULT_LIFETIME_S
) -> dict[IpFamily, FamilyLookup]:
    """A and AAAA at once (one ``lifetime`` for both)."""
    # dnspython takes longer to import than a lookup takes: in a thread, so whatever runs
    # beside this lookup (``natprobe check --host``'s probes) keeps the event loop.
    await asyncio.to_thread(_load_dnspython)
    async with asyncio.TaskGroup() as group:
        tasks = {
            family: group.create_task(lookup_family(name, family, nameservers=nameservers, lifetime=lifetime))
            for family in IpFamily
        }
    return {family: task.result() for family, task in tasks.items()}


async def lookup_txt(
    name: str, *, nameservers: Sequence[str] | None = None, lifetime: float = DEFAULT_LIFETIME_S
) -> tuple[str, ...]:
    """``name``'s TXT strings (each record's character-strings joined, as SPF reads them);
    empty when there are none or the lookup fails (a missing permission, never an error)."""
    await asyncio.to_thread(_load_dnspython)
    import dns.exception
    import dns.rdatatype

    try:
        resolver = _resolver(nameservers, lifetime)
        async with asyncio.timeout(lifetime + 0.5):
            answer = await resolver.resolve(name, dns.rdatatype.TXT, search=False)
    except (dns.exception.DNSException, OSError, ValueError, TimeoutError) as exc:
        logger.debug("TXT %s: %s", name, _first_line(exc))
        return ()
    texts = []
    for rdata in answer:
        strings = getattr(rdata, "strings", ())
        texts.append(b"".join(strings).decode("utf-8", "replace")[:512])
    return tuple(texts[:32])  # bounded: a name's owner could publish thousands


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
