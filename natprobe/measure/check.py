"""``natprobe check``: prove from outside that a forwarded port works, and say why not.

For each port: if it is free here, natprobe listens on it and asks the echo server to send a
one-time token to this network's public address on that port — receipt proves the whole path
(router forward, firewalls, this host). If a service already holds the port, the echo server
speaks that service's protocol instead (Jamulus, HTTP, TLS, SSH, or a bare TCP connect) and
reports what answered. Meanwhile a packet watcher notes whether the probe reached this host's
interface at all, which separates "dropped by this host's firewall" from "never arrived".
The local context (this host's address, the public address the server saw, the routers on
the way) tells a missing forward from carrier-grade NAT.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import functools
import importlib
import logging
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Any

from natprobe.errors import NatprobeError, NetworkError, ServerError
from natprobe.measure.per_family import Measured, run_per_family
from natprobe.adapters.interfaces import DEFAULT_TOWARD_V6, Ipv6Source, ipv6_source_toward
from natprobe.observations import Availability, CapabilitySet, Facility, HolderKind, Missing, PortHolder, PortObservation
from natprobe.verdicts.port_spec import SERVICE_BY_NAME, PortSpec, mode_for_held_port
from natprobe.contract.terms import HOST_MODES, NONCE_PREFIX, ProbeMode, TransportProtocol
from natprobe.addressing import IPAddress, IpFamily
from natprobe.adapters.echo_client import EchoApiClient
from natprobe.adapters.capabilities import (
    bind_remedy,
    bind_unavailable,
    probe_capabilities,
    trace_path,
    watch_unavailable,
)

if TYPE_CHECKING:
    from natprobe.contract import ProbeRequest, ProbeResponse, WhoAmI
    from natprobe.measure.name_check import NameViews
    from natprobe.recverr import Hop
    from natprobe.reports.check_report import CheckReport
    from natprobe.reports.dns_report import DnsReport
    from natprobe.reports.family_result import FamilyResult
    from natprobe.reports.finding import Finding
    from natprobe.verdicts.nat_layers import TopologyVerdict
    from natprobe.verdicts.reachability import HairpinResult, PortVerdict

logger = logging.getLogger(__name__)

ARRIVAL_GRACE_S = 1.0
"""How long to keep listening after the echo server says it has sent the probe."""
TRACE_PORT = 33434
"""Traceroute's classic port: nothing listens there, so the path's end answers "port unreachable"."""
LOADED_AFTER_CONNECT = (
    "natprobe.contract.probe_route",
    "natprobe.adapters.sniff",
    "natprobe.adapters.holder_lookup",
    "natprobe.findings.port_words",
    "natprobe.findings.topology_words",
    "natprobe.findings.facility_words",
    "natprobe.findings.relay_findings",
    "natprobe.findings.check_findings",
    "natprobe.verdicts.limits",
    "natprobe.reports.check_report",
)
"""What a check needs only once its connection to the echo server is under way: the answers'
records, the packet watcher, the decisions and their words. They load in a thread while that
connection opens: most of the check's imports, which used to delay its first packet."""


def _load_after_connect() -> None:
    for name in LOADED_AFTER_CONNECT:
        importlib.import_module(name)


class _UdpListener(asyncio.DatagramProtocol):
    def __init__(self, nonce: bytes) -> None:
        self.nonce = nonce
        self.received = asyncio.Event()
        self.closed = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data == self.nonce:
            self.received.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


class _Listener:
    """natprobe's own socket on the port under test, waiting for the nonce."""

    def __init__(self, handle: asyncio.DatagramTransport | asyncio.Server, received: asyncio.Event,
                 closed: asyncio.Event | None = None) -> None:
        self._handle = handle
        self.received = received
        self._closed = closed

    async def close(self) -> None:
        """Close and wait until the port is really free again.

        ``DatagramTransport.close()`` only schedules the socket's close for the next loop
        iteration; binding the same port right after (the hairpin test does) would fail
        with EADDRINUSE and be taken for "a program holds the port".
        """
        self._handle.close()
        if isinstance(self._handle, asyncio.Server):
            await self._handle.wait_closed()
        elif self._closed is not None:
            try:
                async with asyncio.timeout(1.0):  # one loop iteration in practice
                    await self._closed.wait()
            except TimeoutError:
                logger.debug("UDP listener on the port under test did not report its close")


async def _open_listener(spec: PortSpec, nonce: bytes, listen_ip: str) -> _Listener | None:
    """Listen on the port for the nonce; ``None`` if something else holds it (or we may not bind)."""
    loop = asyncio.get_running_loop()
    try:
        if spec.protocol is TransportProtocol.UDP:
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: _UdpListener(nonce), local_addr=(listen_ip, spec.port)
            )
            return _Listener(transport, protocol.received, protocol.closed)
        received = asyncio.Event()

        async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                data = await asyncio.wait_for(reader.readexactly(len(nonce)), 3.0)
                if data == nonce:
                    received.set()
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(on_connection, listen_ip, spec.port, reuse_address=True)
        return _Listener(server, received)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            return None
        raise NetworkError(f"cannot listen on {spec.protocol.value} port {spec.port}: {exc.strerror}") from exc


def _tcp_port_has_listener(port: int, listen_ip: str) -> bool | None:
    """Whether a program listens on TCP ``port`` here (None: cannot tell).

    A bind with SO_REUSEADDR fails on Linux only against a listening socket (not against
    connections in TIME_WAIT), so a refused probe can be told "nothing listens" from "a
    firewall rejects" without touching the service."""
    family = socket.AF_INET6 if ":" in listen_ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((listen_ip, port))
        except OSError as exc:
            return True if exc.errno == errno.EADDRINUSE else None
    return False


def _held_udp_mode(spec: PortSpec) -> tuple[ProbeMode, PortHolder | None]:
    """A UDP port held by a program natprobe has no protocol for: name the program (Jamulus is
    spoken to), else send the one-time token anyway and watch for its arrival."""
    from natprobe.adapters.holder_lookup import find_udp_holder

    holder = find_udp_holder(spec.port)
    if holder is not None and holder.kind is HolderKind.JAMULUS:
        return ProbeMode.JAMULUS, holder
    if holder is not None and holder.kind is HolderKind.OPENVPN:
        return ProbeMode.OPENVPN, holder
    return ProbeMode.NONCE, holder


async def _observe_port(
    api: EchoApiClient, spec: PortSpec, whoami: WhoAmI, listen_ip: str, timeout: float,
    capabilities: CapabilitySet,
) -> PortObservation:
    from natprobe.adapters.holder_lookup import find_udp_holder, port_in_use
    from natprobe.adapters.sniff import ArrivalWatcher, Match
    from natprobe.contract import ProbeRequest
    from natprobe.findings.facility_words import limit_sentence
    from natprobe.findings.port_words import privileged_port_reason, unbound_low_port_reason

    token = secrets.token_hex(16)
    nonce = NONCE_PREFIX + token.encode()
    forced = SERVICE_BY_NAME[spec.service][1] if spec.service else None
    low_ports = capabilities[Facility.LOW_PORTS]
    # A facility switched off is not tried (what a machine without it sees); one the probe
    # found missing is tried all the same: the bind is cheap and decides.
    switched_off = spec.port < 1024 and low_ports.missing is Missing.DISABLED
    listener = None if forced is not None or switched_off else await _open_listener(spec, nonce, listen_ip)
    mode = ProbeMode.NONCE if listener is not None else (forced or mode_for_held_port(spec))
    holder = None
    if listener is None and forced is None and spec.port < 1024 and port_in_use(spec.protocol.value, spec.port) is False:
        # Nothing holds the port, yet natprobe could not bind it: a port below 1024 without
        # the privilege. There is nothing to speak to either: say so, do not guess.
        missing = bind_unavailable(capabilities)
        error = (privileged_port_reason(spec.protocol, spec.port, bind_remedy(spec))
                 if missing.missing is Missing.PERMISSION
                 else unbound_low_port_reason(spec.protocol, spec.port, limit_sentence(missing)))
        return PortObservation(spec.protocol, spec.port, ProbeMode.NONCE, listening=False, error=error,
                               bind_missing=missing)
    if mode is None:
        mode, holder = _held_udp_mode(spec)
    elif listener is None and spec.protocol is TransportProtocol.UDP:
        holder = find_udp_holder(spec.port)  # to word the advice for the program
    watching = capabilities.has(Facility.ARRIVAL_WATCH)
    if mode is ProbeMode.NONCE and listener is None and not watching:
        # Only the arrival watch could prove anything here: do not make the server probe in vain.
        return PortObservation(spec.protocol, spec.port, mode, listening=False, holder=holder,
                               watch_missing=capabilities[Facility.ARRIVAL_WATCH])
    source = whoami.probe_source
    udp_token = mode is ProbeMode.NONCE and spec.protocol is TransportProtocol.UDP
    # Over UDP the watch counts only datagrams that carry this run's token: the server paces
    # its datagrams, and an earlier run that ended at its first one leaves the others in flight.
    watch = Match(spec.protocol.value, source, spec.port, payload=nonce if udp_token else None)
    try:
        async with ArrivalWatcher(watch, enabled=watching) as watcher:
            request = ProbeRequest.build(
                spec.protocol, spec.port, mode,
                nonce=token if mode is ProbeMode.NONCE else None,
                host=spec.host if mode in HOST_MODES and spec.host else None,
                timeout=timeout,
            )
            try:
                answer = await _probe_until_token(api, request, listener.received if udp_token and listener else None)
            except ServerError as exc:
                return PortObservation(spec.protocol, spec.port, mode, listener is not None, error=str(exc))
            received: bool | None = None
            if listener is not None:
                event = listener.received
                try:
                    async with asyncio.timeout(ARRIVAL_GRACE_S):
                        await event.wait()
                except TimeoutError:
                    pass
                received = event.is_set()
            elif watcher.seen is False:
                await asyncio.sleep(0.2)  # let a late frame reach the watcher
            return PortObservation(
                spec.protocol, spec.port, mode, listener is not None,
                nonce_received=received, seen_on_interface=watcher.seen,
                server_result=None if answer is None else answer.result,
                service=spec.service or (mode.value if mode is not ProbeMode.NONCE else None),
                host=spec.host,
                local_listener=True if listener is not None
                else _tcp_port_has_listener(spec.port, listen_ip) if spec.protocol is TransportProtocol.TCP else None,
                holder=holder,
                watch_missing=None if watcher.unavailable is None else watch_unavailable(watcher.unavailable, capabilities),
            )
    finally:
        if listener is not None:
            await listener.close()


async def _probe_until_token(api: EchoApiClient, request: ProbeRequest,
                             token: asyncio.Event | None) -> ProbeResponse[Any] | None:
    """The server's answer to ``request``; with ``token`` (a UDP token natprobe listens for),
    ``None`` as soon as the token has arrived: it proves the whole path, and the answer would
    come only after the server's remaining paced datagrams. The request is then abandoned (its
    connection closed, the next request opens another); the datagrams still in flight are
    told apart from the next run's by their token (:attr:`Match.payload`)."""
    if token is None:
        return await api.probe(request)
    probing = asyncio.create_task(api.probe(request))
    arrived = asyncio.create_task(token.wait())
    try:
        await asyncio.wait((probing, arrived), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (arrived, probing):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    if probing.cancelled() or (token.is_set() and probing.exception() is not None):
        return None  # the token is the proof; an answer that failed meanwhile changes nothing
    return probing.result()  # the answer came first (or the server refused: ServerError)


async def _hairpin(spec: PortSpec, public_ip: IPAddress, listen_ip: str) -> HairpinResult:
    """From this host to its own public address and port: does the router loop it back?"""
    from natprobe.adapters.holder_lookup import port_in_use
    from natprobe.findings.port_words import word_hairpin
    from natprobe.verdicts.reachability import decide_hairpin, hairpin_cannot_listen

    nonce = NONCE_PREFIX + secrets.token_hex(16).encode()
    listener = await _open_listener(spec, nonce, listen_ip)
    if listener is None and port_in_use(spec.protocol.value, spec.port) is False:
        # natprobe may not bind the port (below 1024, unprivileged) and nothing holds it: the
        # loop-back would be refused by this host itself, which says nothing of the router.
        return word_hairpin(hairpin_cannot_listen(spec.protocol, spec.port))
    try:
        if spec.protocol is TransportProtocol.UDP:
            if listener is None:
                return word_hairpin(decide_hairpin(spec.protocol, spec.port, public_ip, None))
            loop = asyncio.get_running_loop()
            transport, _protocol = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(listen_ip, 0))
            try:
                for _attempt in range(5):
                    transport.sendto(nonce, (str(public_ip), spec.port))
                    try:
                        async with asyncio.timeout(0.2):
                            await listener.received.wait()
                        break
                    except TimeoutError:
                        continue
            finally:
                transport.close()
            works = listener.received.is_set()
        else:
            try:
                async with asyncio.timeout(2.0):
                    _reader, writer = await asyncio.open_connection(str(public_ip), spec.port)
                    try:
                        writer.write(nonce)
                        await writer.drain()
                        if listener is not None:
                            # A connection alone could be accepted by another machine (or the
                            # router): the loop-back works only if the nonce lands on our port.
                            await listener.received.wait()
                    finally:
                        writer.close()
                works = True
            except (TimeoutError, OSError):
                works = False
    finally:
        if listener is not None:
            await listener.close()
    return word_hairpin(decide_hairpin(spec.protocol, spec.port, public_ip, works))


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """Knobs of :func:`check_ports`; the defaults suit an interactive run."""

    token: str | None = None
    """The echo server's shared token, if it requires one."""
    hairpin: bool = False
    """Also test reaching this host through its own public address (NAT loopback)."""
    trace: bool = True
    """Trace the first hops toward the server, to tell carrier-grade NAT apart."""
    listen_ip: IPAddress = IPv4Address("0.0.0.0")
    """Local address natprobe listens on for the probe-back."""
    probe_timeout: float = 2.0
    """Seconds the echo server waits for each probe's answer."""
    families: tuple[IpFamily, ...] = (IpFamily.IPV4, IpFamily.IPV6)
    """Address families to check over (IPv6 only when this host has a global IPv6 address)."""
    name: str | None = None
    """The site's name (``--host``): its A/AAAA records are checked against the public addresses."""
    nameservers: tuple[str, ...] | None = None
    """Name servers for the local view of ``name`` (default: this host's resolv.conf)."""
    capabilities: CapabilitySet | None = None
    """What this machine can measure (default: probed once, :func:`probe_capabilities`); a test
    injects a set with facilities switched off."""
    relay: bool = True
    """When ``name`` leads elsewhere than this network's public address, test the path through
    that address (a relay) with a one-time token (:mod:`natprobe.measure.relay_check`)."""


@dataclass(frozen=True, slots=True)
class _FamilyOutcome:
    """What one family's conversation with the echo server found (the per-port logic's output)."""

    public_ip: IPAddress
    topology: TopologyVerdict
    hops: tuple[Hop, ...]
    verdicts: tuple[PortVerdict, ...]
    hairpins: tuple[HairpinResult, ...]
    limits: tuple[Availability, ...] = ()
    """Missing facilities that limited this family's conclusions."""
    holders: tuple[PortHolder | None, ...] = ()
    """The program found holding each port (by position), when one was."""


async def _trace(server_ip: IPAddress, capabilities: CapabilitySet, probes_done: asyncio.Event) -> tuple[Hop, ...]:
    try:
        return await trace_path(server_ip, TRACE_PORT, capabilities, max_hops=5, timeout=1.0, until=probes_done)
    except NatprobeError as exc:
        logger.debug("hop trace failed: %s", exc)
        return ()


async def _check_family(
    family: IpFamily,
    server_ip: IPAddress,
    source: Ipv6Source | None,
    local_ip: IPAddress | None,
    *,
    server: str,
    ports: Sequence[PortSpec],
    options: CheckOptions,
    capabilities: CapabilitySet,
) -> Measured[_FamilyOutcome]:
    """Every port over the family of ``server_ip``: one API conversation, sent from ``source``'s
    address over IPv6 (the stable one), so the server probes back the address a record names."""
    probe_timeout, listen_ip, trace = options.probe_timeout, str(options.listen_ip), options.trace
    # HTTPS probes take up to four steps of probe_timeout each on the server; connecting to
    # the server itself must not: a server that is down behind a dropping firewall would
    # otherwise keep the user waiting for the whole probe bound before "could not test".
    async with EchoApiClient(
        server, token=options.token, timeout=5 * probe_timeout + 2.0, connect_timeout=probe_timeout + 1.0,
        family=family.version, local_ip=source.address if source is not None else None, address=server_ip,
    ) as api:
        traced = trace and family is IpFamily.IPV4 and capabilities.has(Facility.HOP_TRACE)
        # The hop trace needs nothing from the server: it runs beside the conversation, and
        # what it has not heard when the probes are done is "no answer", not waited for.
        probes_done = asyncio.Event()
        trace_task = asyncio.create_task(_trace(server_ip, capabilities, probes_done)) if traced else None
        # Created before whoami's connect, it starts after it (at whoami's first wait): the
        # first packet goes out before the rest of the check loads.
        loading = asyncio.create_task(asyncio.to_thread(_load_after_connect))
        try:
            whoami = await api.whoami()
            await loading
            if family is IpFamily.IPV6 and local_ip is not None:
                listen_ip = str(local_ip)  # the address under test, not whichever one the probe finds
            observations = []
            for spec in ports:  # one at a time: concurrent probes would confuse the packet watcher
                observations.append(await _observe_port(api, spec, whoami, listen_ip, probe_timeout, capabilities))
            probes_done.set()  # what the trace has not heard by now stays "no answer"
            hops: tuple[Hop, ...] = await trace_task if trace_task is not None else ()
        finally:
            for task in (trace_task, loading):
                if task is not None and not task.done():
                    task.cancel()  # the loading thread finishes its import, harmless; nothing waits for it
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        from natprobe.findings.facility_words import limit_verdict
        from natprobe.findings.port_words import assess_port, word_hairpin
        from natprobe.findings.topology_words import assess_topology
        from natprobe.verdicts.limits import limits_of
        from natprobe.verdicts.reachability import Context, hairpin_untested

        topology = assess_topology(local_ip, whoami.public_ip, hops=tuple(h.address for h in hops))
        context = Context(local_ip, whoami.public_ip, topology.layers, family,
                          temporary_address=source is not None and source.temporary)
        verdicts = [assess_port(observation, context) for observation in observations]
        missed = [o.watch_missing for o in observations if o.watch_missing is not None]
        unbound = tuple(o.bind_missing for o in observations if o.bind_missing is not None)
        limits = limits_of(capabilities, family, tuple(verdicts), traced=traced or not trace,
                           watch_missing=tuple(missed), bind_missing=unbound)
        verdicts = [limit_verdict(v, limits) for v in verdicts]
        # IPv6 has no NAT to loop back through: hairpinning is an IPv4 question.
        hairpins = (
            tuple([word_hairpin(hairpin_untested(spec.protocol, spec.port)) if verdict.reachable is False
                   else await _hairpin(spec, whoami.public_ip, listen_ip) for spec, verdict in zip(ports, verdicts)])
            if options.hairpin and family is IpFamily.IPV4 else ()
        )
    outcome = _FamilyOutcome(whoami.public_ip, topology, hops, tuple(verdicts), hairpins, limits,
                             tuple(o.holder for o in observations))
    return Measured(outcome, whoami.public_ip)


async def check_ports(server: str, ports: Sequence[PortSpec], options: CheckOptions = CheckOptions()) -> CheckReport:
    """Check each port from outside through the echo server at ``server`` (``http://host:port``),
    once per address family in ``families``.

    IPv4 is tested when the server has an IPv4 address; IPv6 when this host has a global IPv6
    address and the server has one too (a name with A and AAAA records is used per family).
    A family that cannot be tested is said so in the report's ``families``. When the echo
    server cannot be reached over any family, nothing could be tested: the report says so
    (``server_reached`` false, ``public_ip`` None, every port ``not-tested`` with the reason,
    :func:`not_tested_report`) rather than raise, as ``natprobe check --json`` prints it.
    Per-port problems are verdicts, not exceptions.
    """
    if not ports:
        raise ValueError("no ports to check")
    if not options.families:
        raise ValueError("no address family to check")
    capabilities = options.capabilities or probe_capabilities()
    started = time.monotonic()

    def ipv6_source(server_ip: IPAddress | None) -> Ipv6Source:
        return ipv6_source_toward(server_ip if isinstance(server_ip, IPv6Address) else DEFAULT_TOWARD_V6,
                                  None if capabilities.has(Facility.IPV6_TEMPORARY) else ())

    # The name's lookups need nothing from the probes: they start at once, beside them, and
    # only the decision waits for the public addresses and the verdicts.
    name_task = (asyncio.create_task(_look_up_name(options.name, server, options.token, options.nameservers,
                                                   capabilities))
                 if options.name is not None else None)
    try:
        # Every family at once (run_per_family): the report is ready when the slowest one is.
        runs = await run_per_family(
            server, options.families,
            functools.partial(_check_family, server=server, ports=ports, options=options, capabilities=capabilities),
            ipv6_source=ipv6_source, raise_when_none_tested=False,
        )
        views = await name_task if name_task is not None else None
    finally:
        if name_task is not None and not name_task.done():
            name_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await name_task
    from natprobe.findings.check_findings import explain_check
    from natprobe.findings.facility_words import word_limits
    from natprobe.findings.relay_findings import forwarding_remedies, needs_remedies
    from natprobe.reports.check_report import CheckReport

    tested = [(run.status, run.outcome) for run in runs if run.outcome is not None]
    outcomes = [outcome for _status, outcome in tested]
    statuses = tuple(run.status for run in runs)
    # An IPv6 family without a sending address is the one "no global IPv6 address" case.
    has_global_ipv6 = next((s.local_ip is not None for s in statuses if s.family is IpFamily.IPV6), None)
    dns_report = None
    if views is not None:
        from natprobe.measure.name_check import decide_name

        dns_report = decide_name(
            views, public_ips={f.family: f.public_ip for f in statuses if f.tested},
            family_reachable=_reachable_per_family(tuple(v for o in outcomes for v in o.verdicts)),
        )
    if not tested:
        # The reason is what failed (the server refused, did not answer, does not resolve); only
        # when nothing failed, what was missing (no address of a family here or on the server).
        failures = [str(run.error) for run in runs if run.error is not None]
        return not_tested_report(
            server, ports, "; ".join(dict.fromkeys(failures or [s.note for s in statuses])), families=statuses,
            local_ip=next((s.local_ip for s in statuses if s.local_ip is not None), None),
            has_global_ipv6=has_global_ipv6, dns=dns_report, duration_s=time.monotonic() - started,
        )
    first_status, first = tested[0]
    relay_report = None
    if dns_report is not None and options.relay:
        from natprobe.measure.relay_check import RelayCheckOptions, apply_relay, check_relay, relay_candidates

        relay_ips = relay_candidates(dns_report)
        if relay_ips:
            relay_report = await check_relay(dns_report.name, relay_ips, ports, RelayCheckOptions(
                server=server, token=options.token, listen_ip=str(options.listen_ip), timeout=options.probe_timeout,
                capabilities=capabilities))
            dns_report = apply_relay(dns_report, relay_report)
    all_verdicts = tuple(v for o in outcomes for v in o.verdicts)
    advice: tuple[Finding, ...] = ()
    if needs_remedies(all_verdicts, first.topology.layers.value) and not (relay_report and relay_report.all_reachable):
        advice = forwarding_remedies(ports, name=options.name, server=server, has_ipv6=has_global_ipv6)
    # The relay check's limits join the check's own (one list for the whole run).
    limits = word_limits(tuple(dict.fromkeys(entry for o in outcomes for entry in o.limits)))
    report = CheckReport(
        relay=relay_report,
        advice=advice,
        server=server,
        public_ip=first.public_ip,
        local_ip=first_status.local_ip,
        topology=first.topology,
        hops=first.hops,
        ports=tuple(v for o in outcomes for v in o.verdicts),
        hairpin=tuple(h for o in outcomes for h in o.hairpins),
        duration_s=time.monotonic() - started,
        families=statuses,
        has_global_ipv6=has_global_ipv6,
        dns=dns_report,
        limits=limits + tuple(e for e in (relay_report.limits if relay_report else ())
                              if e.facility not in {own.facility for own in limits}),
    )
    layers = {status.family: outcome.topology.layers for status, outcome in tested}
    return dataclasses.replace(report, findings=explain_check(report, _named_by_holder(ports, outcomes), layers))


def _named_by_holder(ports: Sequence[PortSpec], outcomes: Sequence[_FamilyOutcome]) -> tuple[PortSpec, ...]:
    """``ports`` with a UDP port Jamulus was found holding named ``PORT:jamulus``: the findings
    then speak of Jamulus's two modes, as for UDP 22124."""
    def jamulus_holds(index: int) -> bool:
        return any(index < len(o.holders) and (h := o.holders[index]) is not None and h.kind is HolderKind.JAMULUS
                   for o in outcomes)

    return tuple(dataclasses.replace(spec, service="jamulus")
                 if spec.service is None and spec.protocol is TransportProtocol.UDP and jamulus_holds(i) else spec
                 for i, spec in enumerate(ports))


def not_tested_report(
    server: str | None,
    ports: Sequence[PortSpec],
    reason: str,
    *,
    families: Sequence[FamilyResult] = (),
    local_ip: IPAddress | None = None,
    has_global_ipv6: bool | None = None,
    dns: DnsReport | None = None,
    duration_s: float = 0.0,
) -> CheckReport:
    """The check when nothing could be tested (no echo server configured, ``server`` None, or
    none reached): every port ``not-tested`` with ``reason``, the NAT layers from this host's
    own address alone. What :func:`check_ports` returns then, and ``natprobe check`` prints
    with ``--json`` even when it has no server to ask."""
    from natprobe.findings.topology_words import assess_topology
    from natprobe.reports.check_report import CheckReport
    from natprobe.verdicts.reachability import PortStatus, PortVerdict

    family = families[0].family if families else IpFamily.IPV4
    return CheckReport(
        server=server,
        public_ip=None,
        local_ip=local_ip,
        topology=assess_topology(local_ip, None),
        hops=(),
        ports=tuple(PortVerdict(spec.protocol, spec.port, None, PortStatus.UNTESTED, reason, (), family=family)
                    for spec in ports),
        hairpin=(),
        duration_s=duration_s,
        families=tuple(families),
        has_global_ipv6=has_global_ipv6,
        dns=dns,
    )


def _reachable_per_family(verdicts: Sequence[PortVerdict]) -> dict[IpFamily, bool | None]:
    """Per family: every tested port reachable (True), none (False), mixed or untested (None)."""
    result: dict[IpFamily, bool | None] = {}
    for family in IpFamily:
        tested = [v.reachable for v in verdicts if v.family is family and v.reachable is not None]
        result[family] = True if tested and all(tested) else False if tested and not any(tested) else None
    return result


__all__ = ("CheckOptions", "check_ports", "not_tested_report")


async def _look_up_name(name: str, server: str, token: str | None,
                        nameservers: tuple[str, ...] | None, capabilities: CapabilitySet) -> NameViews:
    # dnspython loads in a thread: the probes already under way keep the event loop.
    module = await asyncio.to_thread(importlib.import_module, "natprobe.measure.name_check")
    options = module.NameCheckOptions(server=server, token=token, nameservers=nameservers, public_ips_later=True,
                                      capabilities=capabilities)
    views: NameViews = await module.look_up_name(name, options)
    return views
