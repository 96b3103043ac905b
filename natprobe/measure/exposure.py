"""``natprobe exposure``: ask the echo server what this network's public address exposes, and grade it.

The echo server scans the address the request comes from (it cannot scan any other) on its
own list of commonly exposed ports plus the ports named with ``--expect``; natprobe grades
each open port with the self-hosting guides' advice, asks "did you mean to expose this?" of
the ones not expected, and gives an expected port that is not open the reachability check's
verdict. Per address family: the scan covers the family the request travelled over; a
family is added by running :func:`scan_exposure` once per family's server address.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from natprobe.addressing import IPAddress
from natprobe.adapters.echo_client import EchoApiClient
from natprobe.adapters.interfaces import source_address_toward
from natprobe.adapters.resolve import resolve_host, url_host
from natprobe.contract.exposure_route import (
    MAX_EXTRA_PORTS,
    UDP_BUDGET_PER_PORT,
    DEFAULT_PORTS,
    ExposureRequest,
    PortRef,
    RequestError,
    ScanProtocol,
    decode_response,
    encode,
)
from natprobe.errors import NetworkError, ServerError
from natprobe.findings.exposure_findings import explain_grade
from natprobe.reports.finding import Finding
from natprobe.reports.exposure_report import ExposedPort, ExposureReport, PortFinding
from natprobe.verdicts.exposure_grading import grade_scan
from natprobe.verdicts.nat_layers import assess_topology
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


async def scan_exposure(
    server: str,
    options: ExposureOptions = ExposureOptions(),
    *,
    now: datetime | None = None,
) -> ExposureReport:
    """Have the echo server at ``server`` scan this network's public address; grade the result.

    ``now`` (default: the current UTC time) dates certificate expiry; a test passes a fixed one. Raises
    :class:`~natprobe.errors.ServerError` when the server refuses (e.g. 429: scanned recently)
    or cannot be reached, ``ValueError`` for a request the contract refuses.
    """
    expect, host, token = options.expect, options.host, options.token
    started = time.monotonic()
    defaults = {(port, protocol) for port, protocol, _ in DEFAULT_PORTS}
    extra = tuple(ref for ref in (expect or ()) if (ref.port, ref.protocol) not in defaults)
    if len(extra) > MAX_EXTRA_PORTS:
        raise ValueError(f"at most {MAX_EXTRA_PORTS} ports outside the standard list, got {len(extra)}")
    request = ExposureRequest(extra=extra, host=host)
    server_ip = await resolve_host(url_host(server))
    async with EchoApiClient(server, token=token, timeout=REQUEST_TIMEOUT_S, connect_timeout=4.0) as api:
        raw = await api.exposure_raw(request_body(request))
    try:
        response = decode_response(raw)
    except RequestError as exc:
        raise ServerError(str(exc)) from exc
    try:
        local_ip: IPAddress | None = source_address_toward(server_ip)
    except NetworkError:
        local_ip = None
    public_ip = _ip(response.target)
    topology = assess_topology(local_ip, public_ip, hops=())
    context = Context(local_ip, public_ip, topology.layers)
    expected = None if expect is None else frozenset((ref.port, ref.protocol) for ref in expect)
    graded = grade_scan(response.ports, expect=expected, context=context, host=host,
                        now=now or datetime.now(timezone.utc))  # fmt: skip
    ports = tuple(
        ExposedPort(
            g.scanned,
            g.expected,
            tuple(_finding(grade.code.value, explain_grade(grade, g.scanned, g.verdict)) for grade in g.grades),
        )
        for g in graded
    )
    return ExposureReport(
        server=server,
        public_ip=public_ip,
        local_ip=local_ip,
        scanned_from=response.source,
        expect=None if expect is None else tuple(f"{r.port}/{r.protocol.value}" for r in expect),
        ports=ports,
        scanned=response.ports,
        duration_s=time.monotonic() - started,
    )


def _finding(code: str, finding: Finding) -> PortFinding:
    return PortFinding(code, finding.severity.value, finding.title, finding.detail, finding.advice)


def _ip(text: str) -> IPAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError as exc:
        raise ServerError(f"the echo server reported a malformed address {text!r}") from exc
