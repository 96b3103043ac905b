"""The relay check: does ``NAME:port`` reach this host's service through the relay NAME points at?

For each relay address (an A record of NAME that is not this network's public address) and
each port, natprobe listens on the port (when it is free) for a one-time token and has it sent
to ``relay:port``:

* by the echo server (``via: echo-server``), which probes the relay only as the relay rule of
  :mod:`natprobe.contract.relay_rule` allows — refused, the check is ``relay-unverified`` and
  names the TXT record to add;
* or, without an echo server, by this host itself (``via: this-host``): out through the home
  NAT to the relay's public address and back in through the relay and the tunnel, a genuine
  outside-in test of the relay (but it cannot tell a relay that keeps client addresses from
  one that does not, since the "client" is this network).

Receipt proves the path; what arrived with it says what the service sees as the client's
address (:func:`~natprobe.verdicts.relay_verdicts.classify_client_address`). For UDP the
kernel is asked where the reply would leave (``ip route get``), which exposes the WireGuard
relay without policy routing: the probe came in through the tunnel, the answer leaves through
the ISP. As root, a packet watcher also notes a TCP probe that reached this host but never
completed its handshake (the same asymmetric routing). Without the watch (not root, another
platform, the facility switched off) such a TCP port is ``not-tested``, naming the missing
facility, rather than a guessed dead tunnel; the report's ``limits`` lists it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address

from natprobe.adapters.capabilities import probe_capabilities, watch_unavailable
from natprobe.adapters.echo_client import EchoApiClient
from natprobe.adapters.relay_listener import RelayListener, open_relay_listener, reply_interface
from natprobe.adapters.sniff import ArrivalWatcher, Match
from natprobe.addressing import IPAddress, IpFamily, classify, is_globally_routable
from natprobe.contract import ConnectResult, HttpResult, JamulusResult, ProbeMode, ProbeRequest, RelayTarget
from natprobe.contract.relay_rule import allow_record
from natprobe.contract.terms import HTTP_NONCE_PATH, NONCE_PREFIX, TransportProtocol
from natprobe.errors import ServerError
from natprobe.findings.facility_words import word_limits
from natprobe.findings.relay_findings import explain_relay
from natprobe.i18n import _
from natprobe.observations import CapabilitySet, Facility
from natprobe.reports.dns_report import DnsReport
from natprobe.reports.relay_report import RelayReport
from natprobe.verdicts.dns_verdicts import DnsVerdict, FamilyDnsVerdict
from natprobe.verdicts.port_spec import WELL_KNOWN_SERVICE, PortSpec, mode_for_held_port
from natprobe.verdicts.relay_verdicts import (
    ClientAddress,
    RelayObservation,
    RelayStatus,
    RelayPortVerdict,
    RelayVia,
    ReplyRoute,
    decide_relay_port,
)

__all__ = ("RelayCheckOptions", "apply_relay", "check_relay", "relay_candidates")

logger = logging.getLogger(__name__)

ARRIVAL_GRACE_S = 1.0
"""How long natprobe keeps listening after the token was sent."""
MAX_RELAY_ADDRESSES = 4
"""Relay addresses tested at most (a name with more A records is unusual for a relay)."""
UDP_SENDS = 3
"""Datagrams sent from this host (``via: this-host``), ARRIVAL_GRACE_S / UDP_SENDS apart."""


@dataclass(frozen=True, slots=True)
class RelayCheckOptions:
    server: str | None = None
    """The echo server (``http://host:port``); ``None``: from this host (``via: this-host``)."""
    token: str | None = None
    public_ip: IPAddress | None = None
    """This network's public address (the echo server's ``whoami``), for the TXT record."""
    probe_source: IPAddress | None = None
    """Where the echo server's probes come from (its ``whoami``)."""
    listen_ip: str = "0.0.0.0"
    timeout: float = 2.0
    capabilities: CapabilitySet | None = None
    """What this machine can measure (default: probed once); a test injects a set with
    facilities switched off."""


def _is_http(spec: PortSpec) -> bool:
    return spec.service == "http" or (spec.service is None and spec.protocol is TransportProtocol.TCP
                                      and WELL_KNOWN_SERVICE.get((spec.protocol, spec.port)) is ProbeMode.HTTP)


async def _wait(listener: RelayListener | None) -> bool | None:
    if listener is None:
        return None
    try:
        async with asyncio.timeout(ARRIVAL_GRACE_S):
            await listener.received.wait()
    except TimeoutError:
        pass
    return listener.received.is_set()


async def _reply_route(listener: RelayListener | None) -> ReplyRoute | None:
    arrival = None if listener is None else listener.arrival
    if arrival is None or arrival.local is None or listener is None or listener.protocol is not TransportProtocol.UDP:
        return None
    return ReplyRoute(arrival.interface, arrival.local, await reply_interface(arrival.peer, arrival.local))


async def _via_server(api: EchoApiClient, name: str, relay_ip: IPAddress, spec: PortSpec,
                      options: RelayCheckOptions, capabilities: CapabilitySet) -> RelayObservation:
    token = secrets.token_hex(16)
    listener = await open_relay_listener(spec.protocol, spec.port, token, options.listen_ip)
    # An HTTP reverse proxy would not carry a raw token: it travels in the GET's path instead.
    mode = (ProbeMode.HTTP if _is_http(spec) else ProbeMode.NONCE) if listener is not None else mode_for_held_port(spec)
    base = dict(protocol=spec.protocol, port=spec.port, relay_ip=relay_ip, via=RelayVia.ECHO_SERVER,
                prober=options.probe_source, listening=listener is not None)
    if mode is None:
        return RelayObservation(**base, error=f"a program holds UDP port {spec.port} and natprobe cannot speak it")  # type: ignore[arg-type]
    source = options.probe_source
    watch = Match(spec.protocol.value, source, spec.port) if isinstance(source, IPv4Address) else None
    try:
        async with ArrivalWatcher(watch, enabled=capabilities.has(Facility.ARRIVAL_WATCH)) as watcher:
            request = ProbeRequest.build(
                spec.protocol, spec.port, mode, nonce=token if listener is not None else None,
                host=name if mode in (ProbeMode.HTTP, ProbeMode.HTTPS) else None, timeout=options.timeout,
                relay=RelayTarget(name=name, address=str(relay_ip)))
            try:
                answer = await api.probe(request)
            except ServerError as exc:
                if exc.code == "relay_not_allowed":
                    record = allow_record(name, options.public_ip) if options.public_ip is not None else None
                    return RelayObservation(**base, refused=str(exc), record=record)  # type: ignore[arg-type]
                return RelayObservation(**base, error=str(exc))  # type: ignore[arg-type]
            received = await _wait(listener)
            result = answer.result
            arrival = None if listener is None else listener.arrival
            return RelayObservation(
                **base,  # type: ignore[arg-type]
                nonce_received=received,
                peer=None if arrival is None else arrival.peer,
                proxy=None if arrival is None else arrival.proxy,
                forwarded_for=None if arrival is None else arrival.forwarded_for,
                relay_answered=getattr(result, "connected", None),
                relay_status=(result.status if isinstance(result, HttpResult) and result.status is not None
                              and result.status >= 500 else None),
                seen_on_interface=watcher.seen if not received else True,
                watch_missing=(None if received or watcher.unavailable is None
                               else watch_unavailable(watcher.unavailable, capabilities)),
                reply=await _reply_route(listener),
                service_answered=(result.answered if isinstance(result, JamulusResult)
                                  else result.status is not None and result.status < 500
                                  if isinstance(result, HttpResult) and listener is None
                                  else result.connected if isinstance(result, ConnectResult) and listener is None
                                  else None),
            )
    finally:
        if listener is not None:
            await listener.close()


async def _send_from_here(spec: PortSpec, relay_ip: IPAddress, payload: bytes,
                          timeout: float) -> tuple[bool | None, int | None]:
    """Send the token to relay:port from this host: whether the relay accepted (TCP; None for
    UDP), and the HTTP status it answered an HTTP token with."""
    if spec.protocol is TransportProtocol.UDP:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET if relay_ip.version == 4 else socket.AF_INET6
        transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, family=family)
        try:
            for _attempt in range(UDP_SENDS):
                transport.sendto(payload, (str(relay_ip), spec.port))
                await asyncio.sleep(ARRIVAL_GRACE_S / UDP_SENDS)
        finally:
            transport.close()
        return None, None
    status: int | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(str(relay_ip), spec.port)
            try:
                writer.write(payload)
                await writer.drain()
                if payload.startswith(b"GET "):
                    line = await reader.readline()  # the status line (or the relay's 502), bounded
                    fields = line.split(b" ")
                    if len(fields) >= 2 and fields[0].startswith(b"HTTP/") and fields[1].isdigit():
                        status = int(fields[1])
            finally:
                writer.close()
        return True, status
    except (TimeoutError, OSError):
        return status is not None, status


async def _via_this_host(name: str, relay_ip: IPAddress, spec: PortSpec,
                         options: RelayCheckOptions) -> RelayObservation:
    token = secrets.token_hex(16)
    listener = await open_relay_listener(spec.protocol, spec.port, token, options.listen_ip)
    base = dict(protocol=spec.protocol, port=spec.port, relay_ip=relay_ip, via=RelayVia.THIS_HOST,
                prober=options.public_ip, listening=listener is not None)
    if listener is None:
        return RelayObservation(**base, error=f"a program holds {spec.protocol.value.upper()} port {spec.port}: "  # type: ignore[arg-type]
                                "stop it to test the relay from this host")
    try:
        if _is_http(spec):
            payload = f"GET {HTTP_NONCE_PATH}{token} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode()
        else:
            payload = NONCE_PREFIX + token.encode()
        sender = asyncio.ensure_future(_send_from_here(spec, relay_ip, payload, options.timeout))
        try:
            received = await _wait(listener)
            accepted, status = await sender
        finally:
            sender.cancel()
        arrival = listener.arrival
        return RelayObservation(
            **base,  # type: ignore[arg-type]
            nonce_received=received,
            peer=None if arrival is None else arrival.peer,
            proxy=None if arrival is None else arrival.proxy,
            forwarded_for=None if arrival is None else arrival.forwarded_for,
            relay_answered=accepted,
            relay_status=status if status is not None and status >= 500 else None,
            reply=await _reply_route(listener),
        )
    finally:
        await listener.close()


async def check_relay(name: str, relay_ips: Sequence[IPAddress], ports: Sequence[PortSpec],
                      options: RelayCheckOptions = RelayCheckOptions()) -> RelayReport:
    """Every port through every relay address, one at a time (see the module docstring)."""
    started = time.monotonic()
    verdicts: list[RelayPortVerdict] = []
    if options.server is not None:
        async with EchoApiClient(options.server, token=options.token, timeout=5 * options.timeout + 2.0,
                                 connect_timeout=options.timeout + 1.0, family=4) as api:
            if options.public_ip is None or options.probe_source is None:
                whoami = await api.whoami()
                options = dataclasses.replace(options, public_ip=whoami.public_ip, probe_source=whoami.probe_source)
            capabilities = options.capabilities or probe_capabilities()
            for relay_ip in relay_ips:
                for spec in ports:
                    verdicts.append(decide_relay_port(await _via_server(api, name, relay_ip, spec, options,
                                                                        capabilities)))
    else:
        for relay_ip in relay_ips:
            for spec in ports:
                verdicts.append(decide_relay_port(await _via_this_host(name, relay_ip, spec, options)))
    via = RelayVia.ECHO_SERVER if options.server is not None else RelayVia.THIS_HOST
    # Only a verdict the watch would have changed lists it (one that arrived needed no watch).
    limits = word_limits(tuple(dict.fromkeys(v.observation.watch_missing for v in verdicts
                                             if v.observation.watch_missing is not None
                                             and v.status is RelayStatus.NOT_TESTED)))
    report = RelayReport(name, tuple(relay_ips), via, _infer_held(verdicts), time.monotonic() - started,
                         limits=limits)
    return dataclasses.replace(report, findings=explain_relay(report))


def _infer_held(verdicts: Sequence[RelayPortVerdict]) -> tuple[RelayPortVerdict, ...]:
    """A port a service holds (Jamulus) cannot show natprobe its client address; the path
    natprobe saw on another port of the same protocol through the same relay very likely
    applies (MASQUERADE and policy routing are per tunnel), said as an inference."""
    seen = {(v.relay_ip, v.protocol): v for v in verdicts
            if v.observation.listening and v.status is RelayStatus.REACHABLE_VIA_RELAY
            and v.client_address is not ClientAddress.UNKNOWN}
    result = []
    for v in verdicts:
        model = seen.get((v.relay_ip, v.protocol))
        if (model is not None and not v.observation.listening and v.client_address is ClientAddress.UNKNOWN
                and v.status is RelayStatus.REACHABLE_VIA_RELAY):
            v = dataclasses.replace(v, client_address=model.client_address, evidence=(
                f"inferred from {model.protocol.value.upper()} {model.port} through the same relay: {model.evidence}"))
        result.append(v)
    return tuple(result)


def relay_candidates(dns: DnsReport) -> tuple[IPAddress, ...]:
    """The IPv4 addresses NAME leads to that are not this network's public address, when the
    name check called its A record stale: the relay to test (the outside view first)."""
    verdict = next((v for v in dns.verdicts if v.family is IpFamily.IPV4), None)
    if verdict is None or verdict.verdict is not DnsVerdict.STALE:
        return ()
    public = dns.public_ips.get(IpFamily.IPV4)
    for view in (dns.outside, dns.local):
        lookup = None if view is None else view.get(IpFamily.IPV4)
        if lookup is not None and lookup.addresses:
            return tuple(a for a in lookup.addresses
                         if a != public and is_globally_routable(classify(a)))[:MAX_RELAY_ADDRESSES]
    return ()


def apply_relay(dns: DnsReport, relay: RelayReport) -> DnsReport:
    """The name check with a stale A record re-read as ``via-relay`` once the relay check
    showed that the address is a relay: a token sent there reached this host, or the relay
    took it while its tunnel is down ("stale" is kept for a record that leads nowhere)."""
    arrived = sorted({str(p.relay_ip) for p in relay.ports
                      if p.status in (RelayStatus.REACHABLE_VIA_RELAY, RelayStatus.RELAY_REPLY_PATH_BROKEN)})
    down = sorted({str(p.relay_ip) for p in relay.ports if p.status is RelayStatus.RELAY_TUNNEL_DOWN})
    if arrived:
        reason = _("the A record of {name} is {relay}, not this network's public address, but a token sent "
                   "there reached this host: {name} leads here through a relay", name=dns.name,
                   relay=", ".join(arrived))
    elif down:
        reason = _("the A record of {name} is {relay}, not this network's public address: it is a relay whose "
                   "tunnel to this host is down (see the relay results)", name=dns.name, relay=", ".join(down))
    else:
        return dns
    verdicts = tuple(
        FamilyDnsVerdict(v.family, DnsVerdict.VIA_RELAY, reason)
        if v.family is IpFamily.IPV4 and v.verdict is DnsVerdict.STALE else v
        for v in dns.verdicts
    )
    return dataclasses.replace(dns, verdicts=verdicts)
