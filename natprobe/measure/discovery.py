"""NAT behaviour discovery over UDP: run the RFC 5780 tests concurrently, then classify.

The shape (facts/nat-and-stun.md §2, §5): one first Binding request measures the round-trip
time and learns the server's alternate address; then every remaining test runs at once, each
on its own fresh socket where state would otherwise leak between tests (RFC 5780 §4.1),
under one retransmission window sized from that round-trip time. A test that stays silent is
retried until loss can no longer explain the silence; only then is silence called filtering.
"""

from __future__ import annotations

import asyncio
import dataclasses
import contextlib
import importlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, replace
from functools import partial
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from natprobe.findings.behavior_words import word_verdict
from natprobe.findings.nat_findings import explain_nat
from natprobe.verdicts.classify import (
    MAX_SILENCE_DOUBT,
    classify,
    estimate_round_trip_loss,
    sendable,
    sends_needed,
    silence_doubt,
    usable_alternate,
)
from natprobe.observations import CapabilitySet, Facility, Observation, Probe
from natprobe.errors import NatprobeError, NetworkError
from natprobe.adapters.capabilities import probe_capabilities
from natprobe.adapters.interfaces import DEFAULT_TOWARD_V6, ipv6_source_toward, source_address_toward
from natprobe.measure.lifetime import LifetimeOptions, LifetimeProgress, measure_mapping_lifetime
from natprobe.reports.nat_report import NatReport
from natprobe.stun.attributes import ChangeRequest
from natprobe.addressing import IPAddress, TransportAddress, split_host_port
from natprobe.stun.message import Message, binding_request
from natprobe.stun.transaction import RetransmissionPolicy
from natprobe.stun.types import DEFAULT_PORT
from natprobe.adapters.stun_tcp import tcp_transact
from natprobe.adapters.resolve import resolve_host
from natprobe.adapters.stun_udp import StunEndpoint, send_until_arrival

logger = logging.getLogger(__name__)

FIRST_CONTACT = RetransmissionPolicy(rto=0.1, max_sends=10, last_wait=0.6, backoff=1.0)
"""Test I: a send every 100 ms for 0.9 s, give up at 1.5 s. When STUN over TCP answers first
(UDP blocked), discovery stops after an RTT-sized window, by which time at least six sends went
out: a silent server at 10 % loss each way is then a one-in-twenty-thousand event, and without
TCP all ten sends make it one in 10^7."""

SETTLE_ABOVE = 0.06
"""A first answer slower than this is followed by one more Binding before the other tests are
timed from the RTT: the first packet of a flow is often slow (a NAT creating its mapping, a
radio waking up), and an RTT inflated by it would stretch every silence window. Below it the
windows are at their floor anyway (:meth:`RetransmissionPolicy.for_rtt`), so nothing is spent."""

TCP_CHECK_TIMEOUT = 2.0
MAX_SENDS_PER_TEST = 16
"""Bound on sends per silent test, across its first run and its confirmation."""


@dataclass(frozen=True, slots=True)
class DiscoveryOptions:
    """Knobs of :func:`discover_nat`; the defaults suit an interactive run."""

    bind_ip: IPAddress = IPv4Address("0.0.0.0")
    """Local address the test sockets bind to (``0.0.0.0`` lets the kernel choose)."""
    hairpin: bool = True
    tcp_fallback: bool = True
    """When UDP gets no answer, try STUN over TCP to tell "UDP blocked" from "server down"."""
    first_contact: RetransmissionPolicy = FIRST_CONTACT
    lifetime_max_s: float | None = None
    """Also measure the idle mapping lifetime, waiting at most this long (opt-in: it takes minutes)."""
    capabilities: CapabilitySet | None = None
    """What this machine can measure (default: probed once); a test injects a set with
    facilities switched off."""


async def resolve_server(server: str | TransportAddress, default_port: int = DEFAULT_PORT) -> TransportAddress:
    """``"host"``, ``"host:port"``, ``"[v6]:port"`` or an address → one IPv4/IPv6 transport address."""
    if isinstance(server, TransportAddress):
        return server
    host, port = split_host_port(server, default_port)
    return TransportAddress(await resolve_host(host), port)


@contextlib.asynccontextmanager
async def _first_error() -> AsyncIterator[None]:
    """Surface the first natprobe error of a task group as itself, not as an ``ExceptionGroup``.

    The CLI turns a :class:`NatprobeError` into one clear line (exit 3); a group would escape it.
    """
    try:
        yield
    except* NatprobeError as group:
        first = group.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None


async def _stun_probe(
    endpoint: StunEndpoint,
    probe: Probe,
    destination: TransportAddress,
    policy: RetransmissionPolicy,
    request: Message | None = None,
    expected_source: TransportAddress | None = None,
    settle_rtt: bool = False,
) -> Observation:
    request = request or binding_request()
    response = await endpoint.transact(
        request, destination, policy, settle_rtt=settle_rtt, settle_above=SETTLE_ABOVE if settle_rtt else None
    )
    if response is None:
        return Observation(probe, endpoint.local_address, destination, policy.max_sends, False,
                           expected_source=expected_source)
    message = response.message
    error = message.error_code
    return Observation(
        probe,
        endpoint.local_address,
        destination,
        response.attempt,  # the sends it took to get an answer: later ones were not lost
        True,
        response_source=response.source,
        mapped=message.reflexive_address,
        other_address=message.other_address,
        response_origin=message.response_origin,
        error_code=error.code if response.is_error and error else (0 if response.is_error else None),
        rtt=response.rtt,
        expected_source=expected_source,
    )


async def _hairpin_probe(
    sender: StunEndpoint, receiver: StunEndpoint, mapped: TransportAddress, policy: RetransmissionPolicy
) -> Observation:
    """Send Binding requests from ``sender`` to ``receiver``'s public address; did one come back in?"""
    started = asyncio.get_running_loop().time()
    sends, arrived = await send_until_arrival(sender, binding_request(), mapped, receiver, policy)
    if arrived is None:
        return Observation(Probe.HAIRPIN, sender.local_address, mapped, sends, False)
    return Observation(
        Probe.HAIRPIN, sender.local_address, mapped, sends, True,
        response_source=arrived.source, rtt=arrived.received_at - started,
    )


async def _tcp_round_trip(server: TransportAddress) -> float | None:
    """Round-trip time of a STUN request over TCP, or ``None`` if TCP got no answer."""
    try:
        response = await tcp_transact(binding_request(), server, timeout=TCP_CHECK_TIMEOUT)
    except NatprobeError:
        return None
    return response.rtt


async def _first_contact(
    endpoint: StunEndpoint, target: TransportAddress, options: DiscoveryOptions
) -> tuple[Observation, bool | None]:
    """Test I, with STUN over TCP racing it when ``tcp_fallback`` is on.

    Normally UDP answers first and the TCP request is cancelled. When UDP stays silent but TCP
    answers, the TCP round trip says how long a UDP answer could take, so "UDP blocked" is
    decided after an RTT-sized window (0.65 s at 50 ms) instead of the whole first-contact
    ladder. Returns the observation and whether TCP answered (``None``: not tried or not needed).
    """
    policy = options.first_contact
    udp = asyncio.create_task(_stun_probe(endpoint, Probe.MAPPING_PRIMARY, target, policy, settle_rtt=True))
    if not options.tcp_fallback:
        return await udp, None
    loop = asyncio.get_running_loop()
    started = loop.time()
    tcp = asyncio.create_task(_tcp_round_trip(target))
    try:
        await asyncio.wait({udp, tcp}, return_when=asyncio.FIRST_COMPLETED)
        if not udp.done():
            rtt = await tcp
            if rtt is not None:
                window = RetransmissionPolicy.for_rtt(rtt).total_timeout
                done, _ = await asyncio.wait({udp}, timeout=max(0.0, started + window - loop.time()))
                if not done:
                    udp.cancel()
                    elapsed = loop.time() - started
                    sends = sum(1 for offset in policy.send_offsets() if offset <= elapsed)
                    return Observation(Probe.MAPPING_PRIMARY, endpoint.local_address, target, sends, False), True
        first = await udp
        if first.answered:
            return first, None
        return first, (await tcp) is not None
    finally:
        for task in (udp, tcp):
            if not task.done():
                task.cancel()
        await asyncio.gather(udp, tcp, return_exceptions=True)


async def discover_nat(
    server: str | TransportAddress,
    options: DiscoveryOptions = DiscoveryOptions(),
    *,
    lifetime_progress: Callable[[LifetimeProgress], None] | None = None,
) -> NatReport:
    """Discover the NAT between this host and ``server`` (a STUN server, ideally RFC 5780-capable).

    Never raises for silence: an unanswered test is an observation, and the report says
    ``inconclusive`` with the reason when the evidence does not decide. Raises
    :class:`~natprobe.errors.NetworkError` when the server name does not resolve or no
    socket can be bound.
    """
    started = time.monotonic()
    target = await resolve_server(server)
    capabilities = options.capabilities or probe_capabilities()
    flags = capabilities.has(Facility.IPV6_TEMPORARY)
    ipv6 = ipv6_source_toward(target.ip if isinstance(target.ip, IPv6Address) else DEFAULT_TOWARD_V6,
                              None if flags else ())
    local_ip: IPAddress | None
    try:
        local_ip = source_address_toward(target.ip)
    except NetworkError:
        local_ip = None
    if not options.bind_ip.is_unspecified:
        local_ip = options.bind_ip
    bind_ip: IPAddress = options.bind_ip
    if target.ip.version == 6 and bind_ip == IPv4Address("0.0.0.0"):
        bind_ip = IPv6Address("::")
    bind = (str(bind_ip), 0)

    async with await StunEndpoint.open(bind) as main_socket:
        # The limits' words load the port verdicts and their records (msgspec), which nothing
        # before the report needs: in a thread, started after the first request is out.
        loading = asyncio.create_task(_load_after_first_request("natprobe.findings.facility_words"))
        try:
            first, tcp_reachable = await _first_contact(main_socket, target, options)
            observations = [first]
            if first.answered and first.error_code is None and first.mapped is not None:
                # Only a usable first answer leads on; an error or an answer without a mapped
                # address ends here, and the classifier says why the verdicts are inconclusive.
                observations += await _run_concurrent_tests(main_socket, first, first.mapped, target, local_ip, options)
            classification = classify(observations, local_ip=local_ip, tcp_reachable=tcp_reachable)
            local = TransportAddress(local_ip, main_socket.local_address.port) if local_ip is not None else None
            lifetime_report = None
            if options.lifetime_max_s is not None and first.answered and first.mapped is not None:
                lifetime_report = await measure_mapping_lifetime(
                    target, LifetimeOptions(max_wait_s=options.lifetime_max_s, bind_ip=bind_ip),
                    progress=lifetime_progress,
                )
            await loading
        finally:
            if not loading.done():
                loading.cancel()  # the thread finishes its import, harmless
                with contextlib.suppress(asyncio.CancelledError):
                    await loading

    from natprobe.findings.facility_words import word_limits
    from natprobe.verdicts.limits import leaned_on

    report = NatReport(
        server=target,
        server_alternate=first.other_address,
        local=local,
        mapped=classification.mapped,
        mapping=word_verdict(classification.mapping),
        filtering=word_verdict(classification.filtering),
        nat_type=word_verdict(classification.nat_type),
        hairpinning=word_verdict(classification.hairpinning),
        port_preservation=classification.port_preservation,
        mapping_varies_by_destination=classification.mapping_varies_by_destination,
        rtt_s=first.rtt if first.answered else None,  # each send has its own id: never ambiguous
        round_trip_loss=classification.round_trip_loss,
        duration_s=time.monotonic() - started,
        observations=tuple(observations),
        lifetime=lifetime_report,
        # A NAT question is an IPv4 question; whether IPv6 (no NAT, a firewall) is an option is not.
        ipv6_address=ipv6.address,
        has_global_ipv6=ipv6.address is not None,
        # The stable IPv6 address named is a guess without the address flags.
        limits=word_limits(leaned_on(capabilities, (Facility.IPV6_TEMPORARY,) if ipv6.address is not None else ())),
    )
    return dataclasses.replace(report, findings=explain_nat(report))


async def _load_after_first_request(module: str) -> None:
    await asyncio.sleep(0)  # one turn: the first request's task, created after this one, sends first
    await asyncio.to_thread(importlib.import_module, module)


async def _run_concurrent_tests(
    main_socket: StunEndpoint,
    first: Observation,
    mapped: TransportAddress,
    target: TransportAddress,
    local_ip: IPAddress | None,
    options: DiscoveryOptions,
) -> list[Observation]:
    """Mapping II/III, filtering II/III and hairpinning, all at once.

    Silent tests are then confirmed: if the loss seen by the answered tests is high enough
    that it could explain a silence, the silent tests run again on fresh sockets until it
    cannot (bounded by :data:`MAX_SENDS_PER_TEST`).
    """
    rtt = first.rtt if first.rtt is not None else 0.2
    loss = (first.sends - 1) / first.sends
    policy = RetransmissionPolicy.for_rtt(rtt, max_sends=sends_needed(loss))
    # Only an alternate this host can reach and send to is probed: a private/CGNAT alternate
    # named by a public server would reach some host on this network, a zero port or the other
    # family would only fail. The classifier then says why the alternate tests are inconclusive.
    other = usable_alternate(first)
    behind_nat = local_ip is None or mapped != TransportAddress(local_ip, main_socket.local_address.port)
    bind = (str(main_socket.local_address.ip), 0)
    alternate_port = other.port if other is not None else target.port % 0xFFFF + 1

    async def on_fresh_socket(
        probe: Probe, change: ChangeRequest, expected: TransportAddress, p: RetransmissionPolicy
    ) -> Observation:
        request = binding_request(change_ip=change.change_ip, change_port=change.change_port)
        async with await StunEndpoint.open(bind) as fresh:
            return await _stun_probe(fresh, probe, target, p, request, expected_source=expected)

    async def hairpin(p: RetransmissionPolicy) -> Observation:
        async with await StunEndpoint.open(bind) as sender:
            return await _hairpin_probe(sender, main_socket, mapped, p)

    # Each fresh-socket test as a re-runnable function of its retransmission policy.
    rerunnable: dict[Probe, Callable[[RetransmissionPolicy], Coroutine[Any, Any, Observation]]] = {}
    if other is not None:
        rerunnable[Probe.FILTERING_CHANGE_IP_PORT] = partial(
            on_fresh_socket, Probe.FILTERING_CHANGE_IP_PORT, ChangeRequest(change_ip=True, change_port=True), other)
    rerunnable[Probe.FILTERING_CHANGE_PORT] = partial(
        on_fresh_socket, Probe.FILTERING_CHANGE_PORT, ChangeRequest(change_port=True),
        TransportAddress(target.ip, alternate_port))
    if options.hairpin and behind_nat and sendable(mapped, target):
        rerunnable[Probe.HAIRPIN] = hairpin

    async with _first_error(), asyncio.TaskGroup() as group:
        tasks = []
        if other is not None and behind_nat:
            second_destination = TransportAddress(other.ip, target.port)
            tasks.append(group.create_task(_stun_probe(
                main_socket, Probe.MAPPING_ALTERNATE_IP, second_destination, policy, expected_source=second_destination)))
            tasks.append(group.create_task(_stun_probe(
                main_socket, Probe.MAPPING_ALTERNATE_BOTH, other, policy, expected_source=other)))
        tasks += [group.create_task(run(policy)) for run in rerunnable.values()]
    observations = [task.result() for task in tasks]

    loss = estimate_round_trip_loss([first, *observations])
    doubtful = [o for o in observations if not o.answered and o.probe in rerunnable
                and silence_doubt(o.sends, loss) > MAX_SILENCE_DOUBT / 10]
    if not doubtful:
        return observations
    extra = {o.probe: max(3, min(sends_needed(loss), MAX_SENDS_PER_TEST) - o.sends) for o in doubtful}
    logger.debug("loss %.0f%%: confirming silence of %s", loss * 100, [o.probe.value for o in doubtful])
    async with _first_error(), asyncio.TaskGroup() as group:
        reruns = {o.probe: group.create_task(rerunnable[o.probe](
            RetransmissionPolicy.for_rtt(rtt, max_sends=extra[o.probe]))) for o in doubtful}
    confirmed = []
    for observation in observations:
        rerun = reruns.get(observation.probe)
        if rerun is None:
            confirmed.append(observation)
        elif rerun.result().answered:
            confirmed.append(replace(rerun.result(), sends=observation.sends + rerun.result().sends))
        else:
            confirmed.append(replace(observation, sends=observation.sends + rerun.result().sends))
    return confirmed
