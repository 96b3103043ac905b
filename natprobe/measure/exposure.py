"""``natprobe exposure``: ask the echo server what this network's public address exposes, and grade it.

The echo server scans the address the request comes from (it cannot scan any other) on its
own list of commonly exposed ports plus the ports named with ``--expect``; natprobe grades
each open port with the self-hosting guides' advice, asks "did you mean to expose this?" of
the ones not expected, and gives an expected port that is not open the reachability check's
verdict. Per address family, like ``natprobe check``: the server scans the address each
request comes from, so one request per family the server has an address in (A/AAAA), sent
over IPv6 from this host's stable global address (what a pinhole or AAAA record names).
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from natprobe.addressing import IPAddress, IpFamily
from natprobe.adapters.capabilities import probe_capabilities
from natprobe.adapters.echo_client import EchoApiClient
from natprobe.adapters.interfaces import Ipv6Source
from natprobe.contract.exposure_route import (
    MAX_EXTRA_PORTS,
    UDP_BUDGET_PER_PORT,
    DEFAULT_PORTS,
    ExposureRequest,
    PortRef,
    RequestError,
    ScannedPort,
    ScanProtocol,
    decode_response,
    encode,
)
from natprobe.errors import ServerError
from natprobe.measure.per_family import Measured, ipv6_source_or_loopback, run_per_family
from natprobe.findings.exposure_findings import explain_exposure
from natprobe.findings.facility_words import word_limits
from natprobe.observations import CapabilitySet, Facility
from natprobe.reports.exposure_report import ExposureFamily, ExposureReport
from natprobe.verdicts.exposure_grading import ExposedPort, grade_scan
from natprobe.findings.topology_words import assess_topology
from natprobe.verdicts.limits import leaned_on
from natprobe.verdicts.reachability import Context

logger = logging.getLogger(__name__)

__all__ = ("ExposureOptions", "scan_exposure")

REQUEST_TIMEOUT_S = 25.0
"""The server ends its scan within SCAN_DEADLINE_S; this leaves room for the request itself."""


def request_body(request: ExposureRequest) -> bytes:
    """The encoded request, padded with JSON whitespace so it pays for the UDP ports' pings
    (the server never sends more UDP bytes than the request carried)."""
    body = encode(request)
    udp_ports = len({p for p, proto, _ in request.ports() if proto is ScanProtocol.UDP})
    return body + b" " * max(0, udp_ports * UDP_BUDGET_PER_PORT - len(body))


@dataclass(frozen=True, slots=True)
class ExposureOptions:
    """Knobs of :func:`scan_exposure`."""

    expect: tuple[PortRef, ...] | None = None
    """The ports meant to be exposed (``None``: not said). Ports not in the server's list are
    added to the scan (at most :data:`MAX_EXTRA_PORTS`)."""
    host: str | None = None
    """Host name for HTTP ``Host`` and TLS SNI (name-based virtual hosts)."""
    token: str | None = None
    """The echo server's shared token, if it requires one."""
    families: tuple[IpFamily, ...] = (IpFamily.IPV4, IpFamily.IPV6)
    """Address families to scan over (IPv6 only when this host has a global IPv6 address)."""
    capabilities: CapabilitySet | None = None
    """What this machine can measure (default: probed once); a test injects a set with
    facilities switched off."""


async def scan_exposure(
    server: str,
    options: ExposureOptions = ExposureOptions(),
    *,
    now: datetime | None = None,
) -> ExposureReport:
    """Have the echo server at ``server`` scan this network's public address over each family
    in ``options.families``; grade the result.

    A family that cannot be scanned (no global IPv6 address here, no server address in that
    family, the server refused) is said so in the report's ``families``. ``now`` (default: the
    current UTC time) dates certificate expiry; a test passes a fixed one. Raises
    :class:`~natprobe.errors.ServerError` when no family could be scanned (e.g. 429: scanned
    recently), ``ValueError`` for a request the contract refuses.
    """
    expect, host = options.expect, options.host
    if not options.families:
        raise ValueError("no address family to scan")
    started = time.monotonic()
    defaults = {(port, protocol) for port, protocol, _name in DEFAULT_PORTS}
    extra = tuple(ref for ref in (expect or ()) if (ref.port, ref.protocol) not in defaults)
    if len(extra) > MAX_EXTRA_PORTS:
        raise ValueError(f"at most {MAX_EXTRA_PORTS} ports outside the standard list, got {len(extra)}")
    body = request_body(ExposureRequest(extra=extra, host=host))
    expected = None if expect is None else frozenset((ref.port, ref.protocol) for ref in expect)
    when = now or datetime.now(timezone.utc)

    async def scan_family(family: IpFamily, server_ip: IPAddress, source: Ipv6Source | None,
                          local_ip: IPAddress | None) -> Measured[_FamilyScan]:
        async with EchoApiClient(server, token=options.token, timeout=REQUEST_TIMEOUT_S, connect_timeout=4.0,
                                 family=family.version, local_ip=source.address if source else None) as api:
            raw = await api.exposure_raw(body)
        try:
            response = decode_response(raw)
        except RequestError as exc:
            raise ServerError(str(exc)) from exc
        public_ip = _ip(response.target)
        topology = assess_topology(local_ip, public_ip, hops=())
        temporary = source is not None and source.temporary
        context = Context(local_ip, public_ip, topology.layers, family, temporary_address=temporary)
        ports = grade_scan(response.ports, expect=expected, context=context, host=host, now=when)
        return Measured(_FamilyScan(response.source, response.ports, ports), public_ip)

    capabilities = options.capabilities or probe_capabilities()
    # Without the IPv6 address flags the kernel's choice is scanned as it is: maybe a temporary address.
    flags = None if capabilities.has(Facility.IPV6_TEMPORARY) else ()
    runs = await run_per_family(server, options.families, scan_family,
                                ipv6_source=functools.partial(ipv6_source_or_loopback, addresses=flags))
    # A global address only: an echo server on this very host (::1) is not a temporary address question.
    ipv6_scanned = any(run.status.tested and run.status.family is IpFamily.IPV6
                       and not (run.status.local_ip is not None and run.status.local_ip.is_loopback) for run in runs)
    report = ExposureReport(
        server=server,
        expect=None if expect is None else tuple(f"{r.port}/{r.protocol.value}" for r in expect),
        ports=tuple(p for run in runs if run.outcome is not None for p in run.outcome.ports),
        families=tuple(
            ExposureFamily.of(run.status) if run.outcome is None
            else ExposureFamily.of(run.status, run.outcome.scanned_from, run.outcome.scanned)
            for run in runs
        ),
        duration_s=time.monotonic() - started,
        limits=word_limits(leaned_on(capabilities, (Facility.IPV6_TEMPORARY,) if ipv6_scanned else ())),
    )
    return dataclasses.replace(report, findings=explain_exposure(report))


@dataclass(frozen=True, slots=True)
class _FamilyScan:
    scanned_from: str
    scanned: tuple[ScannedPort, ...]
    ports: tuple[ExposedPort, ...]


def _ip(text: str) -> IPAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError as exc:
        raise ServerError(f"the echo server reported a malformed address {text!r}") from exc
