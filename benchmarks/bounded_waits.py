"""Bounded waits: natprobe returns as soon as the answer (or the silence) decides, on loopback.

    python -m benchmarks.bounded_waits [--runs N] [--json FILE]

The unit tests prove *what* these calls return; this benchmark measures *how long* they take
and compares each with the bound the design promises (a wall clock is a measurement on a
shared machine, not a unit-test assertion). A few scenarios measure the round-trip time a
call reports instead of its duration: that the reported RTT is the path's, not a slow first
packet's, is a timing claim too. Every scenario runs on 127.0.0.1 only, against sockets this
process opens; each runs ``--runs`` times and is judged on its median.

Exit status 0 when every median is within its bound, 1 when one is not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, cast

from natprobe.addressing import TransportAddress
from natprobe.adapters.hops import trace_hops
from natprobe.measure.jamulus_query import list_servers, ping
from natprobe.adapters.stun_udp import StunEndpoint
from natprobe.errors import NatprobeError
from natprobe.jamulus import Message, PingMs, PingMsWithNumClients, ReqVersionAndOs, VersionAndOs, OsType, decode, encode
from natprobe.measure.check import check_ports
from natprobe.measure.discovery import DiscoveryOptions, discover_nat
from natprobe.stun import Attribute, AttributeType, Message as StunMessage, MessageClass, binding_request
from natprobe.stun import decode as decode_stun
from natprobe.stun import encode as encode_stun
from natprobe.stun.transaction import RetransmissionPolicy
from natprobe.contract import TransportProtocol
from natprobe.verdicts.port_spec import PortSpec

LOOPBACK = "127.0.0.1"
FAST = RetransmissionPolicy(rto=0.05, max_sends=3, last_wait=0.1)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    what: str
    at_least_s: float
    at_most_s: float


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    what: str
    at_least_s: float
    at_most_s: float
    runs_s: tuple[float, ...]
    median_s: float
    max_s: float
    met: bool


@contextmanager
def _udp_port(*, bound: bool) -> Iterator[int]:
    """A UDP port on loopback that is held but silent (``bound``), or free again (nothing listens)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK, 0))
    port = int(sock.getsockname()[1])
    if not bound:
        sock.close()
    try:
        yield port
    finally:
        sock.close()


def _free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class _PlainJamulusServer(asyncio.DatagramProtocol):
    """Answers pings and the version request as a Jamulus server does (not a directory)."""

    transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            message = decode(data)
        except NatprobeError:
            return
        reply: Message | None = None
        if isinstance(message, PingMs):
            reply = message
        elif isinstance(message, PingMsWithNumClients):
            reply = PingMsWithNumClients(message.time_ms, 0)
        elif isinstance(message, ReqVersionAndOs):
            reply = VersionAndOs(OsType.LINUX, "3.9.1")
        if reply is not None and self.transport is not None:
            self.transport.sendto(encode(reply), addr)


def stun_success(request: StunMessage, source: TransportAddress) -> StunMessage:
    return StunMessage(MessageClass.SUCCESS_RESPONSE, request.method, request.transaction_id,
                       (Attribute(AttributeType.XOR_MAPPED_ADDRESS, source),))


class StunResponder(asyncio.DatagramProtocol):
    """Answers STUN requests with ``answer``: drops the first ``drop`` datagrams, and answers
    after ``delay``, the first answer ``hold_first`` later still (a path whose first packet is
    slow: ARP, a NAT creating its mapping). Shared with tests/test_stun_transport.py."""

    def __init__(
        self,
        drop: int = 0,
        hold_first: float = 0.0,
        delay: float = 0.0,
        answer: Callable[[StunMessage, TransportAddress], StunMessage] = stun_success,
    ) -> None:
        self.drop = drop
        self.hold_first = hold_first
        self.delay = delay
        self.answer = answer
        self.received = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received += 1
        if self.received <= self.drop:
            return
        assert self.transport is not None
        reply = encode_stun(self.answer(decode_stun(data), TransportAddress.parse(addr[0], addr[1])))
        hold = self.delay + (self.hold_first if self.received == 1 else 0.0)
        if hold:
            asyncio.get_running_loop().call_later(hold, self.transport.sendto, reply, addr)
            return
        self.transport.sendto(reply, addr)


async def _settled_rtt(hold_first: float, delay: float, policy: RetransmissionPolicy, settle_above: float | None) -> float:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: StunResponder(hold_first=hold_first, delay=delay), local_addr=(LOOPBACK, 0))
    try:
        server = TransportAddress.parse(LOOPBACK, transport.get_extra_info("sockname")[1])
        async with await StunEndpoint.open((LOOPBACK, 0)) as endpoint:
            response = await endpoint.transact(binding_request(), server, policy, settle_rtt=True,
                                               settle_above=settle_above)
    finally:
        transport.close()
    assert response is not None
    return response.rtt


async def _stun_rtt_slow_first_answer() -> float:
    # Answer 1 leaves at 0.14 s, after send 2 (0.10 s), whose answer comes at 0.18 s: 0.08 s.
    return await _settled_rtt(0.06, 0.08, RetransmissionPolicy(rto=0.1, max_sends=4, last_wait=0.3, backoff=1.0), None)


async def _stun_rtt_second_sample() -> float:
    # Answer 1 arrives at 0.11 s, before any retransmission (0.3 s): one more request, answered in 0.03 s.
    return await _settled_rtt(0.08, 0.03, RetransmissionPolicy(rto=0.3, max_sends=3, last_wait=0.3, backoff=1.0), 0.06)


async def _jamulus_rtt_answered_round() -> float:
    """The RTT of a ping whose first round is dropped comes from round 2 (sent at 0.3 s), not round 1."""
    rounds = 0

    class DropFirstRound(_PlainJamulusServer):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            nonlocal rounds
            try:
                if isinstance(decode(data), PingMsWithNumClients):
                    rounds += 1
            except NatprobeError:
                return
            if rounds >= 2:
                super().datagram_received(data, addr)

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(DropFirstRound, local_addr=(LOOPBACK, 0))
    try:
        result = await ping(LOOPBACK, transport.get_extra_info("sockname")[1], timeout=0.9, attempts=3,
                            probe_directory=False)
    finally:
        transport.close()
    assert result.rtt_ms is not None and result.pings_sent == 2
    return result.rtt_ms / 1000.0


async def _hops_to_closed_port() -> None:
    with _udp_port(bound=False) as port:
        await trace_hops(IPv4Address(LOOPBACK), port, max_hops=4, timeout=5.0)


async def _stun_silence() -> None:
    with _udp_port(bound=True) as port:
        async with await StunEndpoint.open((LOOPBACK, 0)) as endpoint:
            assert await endpoint.transact(binding_request(), TransportAddress(IPv4Address(LOOPBACK), port), FAST) is None


async def _discovery_silent_server() -> None:
    with _udp_port(bound=True) as port:
        await discover_nat(f"{LOOPBACK}:{port}", options=DiscoveryOptions(bind_ip=IPv4Address(LOOPBACK)))


async def _jamulus_ping_plain() -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_PlainJamulusServer, local_addr=(LOOPBACK, 0))
    try:
        result = await ping(LOOPBACK, int(transport.get_extra_info("sockname")[1]), timeout=2.0)
        assert result.answered
    finally:
        transport.close()


async def _jamulus_ping_nothing_listening() -> None:
    with _udp_port(bound=False) as port:
        assert not (await ping(LOOPBACK, port, timeout=0.8)).answered


async def _jamulus_list_silent_directory() -> None:
    with _udp_port(bound=True) as port:
        assert not (await list_servers(LOOPBACK, port, timeout=0.5)).answered


async def _check_server_refused() -> None:
    # Nothing could be tested: the report says so (it is no longer an exception).
    report = await check_ports(f"http://{LOOPBACK}:{_free_tcp_port()}", [PortSpec(TransportProtocol.UDP, 1)])
    if report.server_reached:
        raise AssertionError("check_ports reached an echo server on a free port")


SCENARIOS: tuple[tuple[Scenario, Callable[[], Awaitable[float | None]]], ...] = (
    (Scenario("hops-closed-port", "hop trace ends at the first 'port unreachable', not at its 5 s timeout",
              0.0, 2.0), _hops_to_closed_port),
    (Scenario("stun-silence", "an unanswered STUN transaction takes its policy's total timeout, no more",
              FAST.total_timeout - 0.01, FAST.total_timeout + 0.5), _stun_silence),
    (Scenario("nat-silent-server", "discovery against a silent STUN server gives up within 5 s",
              0.0, 5.0), _discovery_silent_server),
    (Scenario("jamulus-ping", "a Jamulus ping waits a short grace for a list, not its 2 s timeout",
              0.0, 1.5), _jamulus_ping_plain),
    (Scenario("jamulus-ping-nothing", "a ping of a closed port gives up at its 0.8 s timeout",
              0.0, 1.3), _jamulus_ping_nothing_listening),
    (Scenario("jamulus-list-silent", "a silent directory gives up at the 0.5 s list timeout",
              0.0, 1.5), _jamulus_list_silent_directory),
    (Scenario("check-server-refused", "check with the echo server refusing: 'could not test' at once",
              0.0, 2.0), _check_server_refused),
    (Scenario("stun-rtt-slow-first", "RTT reported: the later send's round trip (0.08 s), not the slow first (0.14 s)",
              0.0, 0.14), _stun_rtt_slow_first_answer),
    (Scenario("stun-rtt-second-sample", "RTT reported: the second sample (0.03 s), not the slow lone answer (0.11 s)",
              0.0, 0.11), _stun_rtt_second_sample),
    (Scenario("jamulus-rtt-round-2", "RTT reported: the answered round's, not the dropped first round's (0.3 s more)",
              0.0, 0.25), _jamulus_rtt_answered_round),
)


async def _time(run: Callable[[], Awaitable[float | None]]) -> float:
    """The scenario's duration, or the value it measured itself (a reported RTT)."""
    started = time.perf_counter()
    async with asyncio.timeout(30):  # a hung scenario is a miss, not a hung benchmark
        measured = await run()
    return time.perf_counter() - started if measured is None else measured


def measure(runs: int) -> list[Result]:
    results = []
    for scenario, run in SCENARIOS:
        times = tuple(asyncio.run(_time(run)) for _ in range(runs))
        median = statistics.median(times)
        results.append(Result(scenario.name, scenario.what, scenario.at_least_s, scenario.at_most_s, times,
                              median, max(times), scenario.at_least_s <= median <= scenario.at_most_s))
    return results


def render(results: list[Result]) -> str:
    width = max(len(r.name) for r in results)
    lines = [f"{'scenario':<{width}}  {'median':>8}  {'max':>8}  {'bound':>13}  met"]
    for r in results:
        bound = f"{r.at_least_s:.2f}-{r.at_most_s:.2f} s"
        lines.append(f"{r.name:<{width}}  {r.median_s:>7.3f}s  {r.max_s:>7.3f}s  {bound:>13}  {'yes' if r.met else 'NO'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bounded_waits", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, metavar="N", help="runs per scenario (default 5, at most 100)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every run and the verdicts here")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 100:
        parser.error("--runs must be between 1 and 100")
    results = measure(args.runs)
    print(render(results))
    if args.json is not None:
        payload: dict[str, Any] = {"runs": args.runs, "results": [asdict(r) for r in results]}
        args.json.write_text(json.dumps(payload, indent=1) + "\n")
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
