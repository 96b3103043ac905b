"""The name check: does ``NAME`` lead to this host, per address family, from inside and outside?

This host's resolver gives the local view; the echo server's resolver (``POST /v1/dns``) the
outside view; the echo server's ``whoami`` over each family the public address to compare
with. Every failure (a bad name, NXDOMAIN, SERVFAIL, a resolver that never answers, an
unreachable echo server) ends in a verdict or a note, never an exception, so ``natprobe
check --host`` goes on with its ports.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv6Address, ip_address

from natprobe.adapters.capabilities import probe_capabilities
from natprobe.adapters.dns_resolver import DEFAULT_LIFETIME_S, lookup_both
from natprobe.adapters.echo_client import EchoApiClient
from natprobe.adapters.interfaces import DEFAULT_TOWARD_V6, ipv6_source_toward, read_ipv6_addresses
from natprobe.adapters.resolve import resolve_per_family, url_host
from natprobe.addressing import IPAddress, IpFamily
from natprobe.contract.dns import DnsAnswer, DnsResponse
from natprobe.errors import NatprobeError
from natprobe.reports.dns_report import DnsReport
from natprobe.findings.dns_words import invalid_name_text, word_dns
from natprobe.findings.facility_words import with_limits, word_limits
from natprobe.verdicts.limits import leaned_on
from natprobe.verdicts.dns_verdicts import DnsVerdict, FamilyDnsVerdict, InvalidName, decide_family, validate_name
from natprobe.observations import Availability, CapabilitySet, Facility, FamilyLookup, LookupStatus

__all__ = ("NameCheckOptions", "NameViews", "check_name", "decide_name", "look_up_name", "outside_view")

logger = logging.getLogger(__name__)


def _lookup(answer: DnsAnswer) -> FamilyLookup:
    try:
        status = LookupStatus(answer.status)
    except ValueError:
        return FamilyLookup(LookupStatus.ERROR, (), f"unknown status {answer.status!r}")
    addresses: list[IPAddress] = []
    for text in answer.addresses:
        try:
            addresses.append(ip_address(text))
        except ValueError:
            return FamilyLookup(LookupStatus.ERROR, (), f"the echo server sent a bad address {text[:50]!r}")
    return FamilyLookup(status, tuple(addresses), answer.detail[:200])


def outside_view(response: DnsResponse) -> dict[IpFamily, FamilyLookup]:
    return {IpFamily.IPV4: _lookup(response.a), IpFamily.IPV6: _lookup(response.aaaa)}


async def _public_ips(server: str, token: str | None, timeout: float,
                      flags: bool = True) -> tuple[dict[IpFamily, IPAddress | None], list[str]]:
    """The address the echo server sees over each family this host can use toward it
    (``flags``: this host's IPv6 address flags can be read, to send from the stable address)."""
    found: dict[IpFamily, IPAddress | None] = {IpFamily.IPV4: None, IpFamily.IPV6: None}
    notes: list[str] = []
    try:
        server_ips = await resolve_per_family(url_host(server))
    except (NatprobeError, ValueError) as exc:
        return found, [f"cannot resolve the echo server: {exc}"]
    for family in IpFamily:
        target = server_ips.get(family.version)
        if target is None:
            notes.append(f"the echo server has no IPv{family.version} address")
            continue
        local: IPAddress | None = None
        if family is IpFamily.IPV6:
            source = ipv6_source_toward(target if isinstance(target, IPv6Address) else DEFAULT_TOWARD_V6,
                                        None if flags else ())
            if source.address is None:
                notes.append("this host has no global IPv6 address")
                continue
            local = source.address
        try:
            async with EchoApiClient(server, token=token, timeout=timeout, connect_timeout=timeout,
                                     family=family.version, local_ip=local) as api:
                found[family] = (await api.whoami()).public_ip
        except NatprobeError as exc:
            notes.append(f"the echo server is not reachable over IPv{family.version}: {exc}")
    return found, notes


@dataclass(frozen=True, slots=True)
class NameCheckOptions:
    """Knobs of :func:`check_name`."""

    server: str | None = None
    """The echo server (``http://host:port``) for the outside view and the public addresses;
    None: this host's view only."""
    token: str | None = None
    public_ips: Mapping[IpFamily, IPAddress | None] | None = None
    """The addresses the echo server saw per family, when the caller already knows them
    (``natprobe check`` does); else they are asked from ``server``."""
    family_reachable: Mapping[IpFamily, bool | None] | None = None
    """Per family, whether the checked ports were all (True), none (False) or some reachable."""
    nameservers: tuple[str, ...] | None = None
    """Name servers for the local view (default: this host's resolv.conf)."""
    lifetime: float = DEFAULT_LIFETIME_S
    """Bound of each lookup, every server and retry included."""
    temporary: tuple[IPv6Address, ...] | None = None
    """This host's temporary IPv6 addresses (default: read from the kernel)."""
    public_ips_later: bool = False
    """The caller gives the public addresses to :func:`decide_name` (``natprobe check``, whose
    probes learn them), so :func:`look_up_name` does not ask the echo server for them."""
    capabilities: CapabilitySet | None = None
    """What this machine can measure (default: probed once); a test injects a set with
    facilities switched off."""


@dataclass(frozen=True, slots=True)
class NameViews:
    """What the lookups of a name found before any decision: started at once by ``natprobe
    check --host`` beside its probes, decided by :func:`decide_name` when the probes are done."""

    name: str
    server: str | None
    valid_name: str | None
    """None: the name is not a valid host name (``invalid_reason`` says why)."""
    invalid_reason: str
    local: Mapping[IpFamily, FamilyLookup] | None
    response: DnsResponse | None
    seen: Mapping[IpFamily, IPAddress | None] | None
    notes: tuple[str, ...]
    temporary: tuple[IPv6Address, ...]
    started: float
    missing: tuple[Availability, ...] = ()
    """Facilities the decision would lean on that this machine lacks (the IPv6 address flags)."""


async def look_up_name(name: str, options: NameCheckOptions = NameCheckOptions()) -> NameViews:
    """The local view, the outside view and (unless ``options.public_ips`` gives them, or
    ``options.public_ips_later`` says the caller will) the public addresses; never raises."""
    server, token, public_ips = options.server, options.token, options.public_ips
    nameservers, lifetime = options.nameservers, options.lifetime
    temporary: Sequence[IPv6Address] | None = options.temporary
    started = time.monotonic()
    notes: list[str] = []
    try:
        valid_name = validate_name(name)
    except InvalidName as exc:
        return NameViews(name, server, None, invalid_name_text(exc), None, None, None, (), (), started)
    capabilities = options.capabilities or probe_capabilities()
    flags = capabilities.has(Facility.IPV6_TEMPORARY)
    if temporary is None:
        # Without the flags no address is known to be temporary: the limit says so.
        temporary = [a.address for a in read_ipv6_addresses() if a.temporary and a.is_global] if flags else []
    timeout = lifetime + 2.0

    async def outside() -> DnsResponse | None:
        if server is None:
            return None
        try:
            async with EchoApiClient(server, token=token, timeout=timeout, connect_timeout=timeout) as api:
                return await api.dns(valid_name)
        except NatprobeError as exc:
            notes.append(f"the echo server could not give the outside view: {exc}")
            return None

    async def publics() -> dict[IpFamily, IPAddress | None] | None:
        if public_ips is not None:
            return dict(public_ips)
        if options.public_ips_later:
            return None
        if server is None:
            return {f: None for f in IpFamily}
        found, more = await _public_ips(server, token, timeout, flags)
        notes.extend(more)
        return found

    async with asyncio.TaskGroup() as group:
        local_task = group.create_task(lookup_both(valid_name, nameservers=nameservers, lifetime=lifetime))
        outside_task = group.create_task(outside())
        public_task = group.create_task(publics())
    if server is None:
        notes.append("no echo server: this host's resolver only (the local view); give --server for the "
                     "outside view and the public addresses")
    return NameViews(name, server, valid_name, "", local_task.result(), outside_task.result(), public_task.result(),
                     tuple(notes), tuple(temporary), started,
                     leaned_on(capabilities, () if options.temporary is not None else (Facility.IPV6_TEMPORARY,)))


def decide_name(views: NameViews, *, public_ips: Mapping[IpFamily, IPAddress | None] | None = None,
                family_reachable: Mapping[IpFamily, bool | None] | None = None) -> DnsReport:
    """The report of :func:`look_up_name`'s views; ``public_ips`` fills in what the lookups left
    to the caller, ``family_reachable`` says per family whether the checked ports were reachable."""
    if views.valid_name is None or views.local is None:
        verdicts = tuple(FamilyDnsVerdict(f, DnsVerdict.INVALID_NAME, views.invalid_reason) for f in IpFamily)
        return DnsReport(views.name, False, views.server, None, None, {f: None for f in IpFamily}, verdicts,
                         duration_s=time.monotonic() - views.started)
    seen = dict(views.seen if views.seen is not None else public_ips or {})
    view = outside_view(views.response) if views.response is not None else None
    reachable = family_reachable or {}
    # Without the flags the IPv6 address seen may be a temporary one (see decide_family).
    flags_unknown = any(entry.facility is Facility.IPV6_TEMPORARY for entry in views.missing)
    verdicts = tuple(
        word_dns(decide_family(views.valid_name, family, views.local[family], None if view is None else view[family],
                               seen.get(family), family_reachable=reachable.get(family), temporary=views.temporary,
                               flags_unknown=flags_unknown))
        for family in IpFamily
    )
    # The flags matter once IPv6 is in play: an AAAA record, or a public IPv6 address to compare.
    ipv6_in_play = seen.get(IpFamily.IPV6) is not None or any(
        (lookup := lookups.get(IpFamily.IPV6)) is not None and lookup.addresses
        for lookups in (views.local, view) if lookups is not None)
    limits = views.missing if ipv6_in_play else ()
    # The IPv6 verdict is what the records and addresses say; its reason names what was not seen.
    verdicts = tuple(replace(v, reason=with_limits(v.reason, limits)) if v.family is IpFamily.IPV6 else v
                     for v in verdicts)
    return DnsReport(views.valid_name, True, views.server, views.local, view, seen, verdicts, views.notes,
                     time.monotonic() - views.started, views.temporary, limits=word_limits(limits))


async def check_name(name: str, options: NameCheckOptions = NameCheckOptions()) -> DnsReport:
    """Check ``name`` (see the module docstring); never raises for a bad name or a failing resolver."""
    return decide_name(await look_up_name(name, options), family_reachable=options.family_reachable)
