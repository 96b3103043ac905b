"""The mapping-lifetime measurement, timed by an injected clock, against the in-process echo server.

Loopback has no NAT, so every mapping "survives"; what these tests pin down is the schedule:
each trial's idle period starts when its own Binding answer arrived, and the whole
measurement takes about the longest idle time, not the sum of the trials. The clock only
moves when the measurement reads or sleeps on it, so minutes of idle time take milliseconds.
"""

from __future__ import annotations

import asyncio

import pytest

from natprobe_server import EchoServer
from natprobe.adapters.stun_udp import StunEndpoint
from natprobe.addressing import TransportAddress
from natprobe.measure.lifetime import LifetimeOptions, _create_mappings, idle_schedule, measure_mapping_lifetime
from natprobe.reports.lifetime_report import LifetimeTrial, interpret
from tests.json_reports import assert_valid_report
from tests.echo_server import LO1



class SteppingClock:
    """A clock that advances ``step`` seconds at every reading, and by the requested time at every sleep."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 1000.0
        self.step = step
        self.slept = 0.0

    def time(self) -> float:
        self.now += self.step
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds
        self.slept += seconds
        await asyncio.sleep(0)


@pytest.fixture
def stun_server(dual_server: EchoServer) -> TransportAddress:
    return TransportAddress(LO1, dual_server.port)


async def test_each_trial_starts_at_its_own_answer(stun_server: TransportAddress) -> None:
    schedule = (2.0, 4.0, 6.0, 8.0)
    clock = SteppingClock(step=1.0)  # every answer is read at a different time
    before = clock.now
    endpoints = [await StunEndpoint.open((str(LO1), 0)) for _ in schedule]
    try:
        trials = await _create_mappings(endpoints, schedule, stun_server, clock)
    finally:
        for endpoint in endpoints:
            endpoint.close()
    assert sorted(t.idle_s for t in trials) == list(schedule)
    started = [t.answered_at for t in trials]
    assert len(set(started)) == len(schedule), "trials share one start time"
    assert all(before < t <= clock.now for t in started)
    assert all(t.due == t.answered_at + t.idle_s for t in trials)
    assert [t.due for t in trials] == sorted(t.due for t in trials)  # checked in the order they come due


async def test_minutes_of_idle_time_with_an_injected_clock(stun_server: TransportAddress) -> None:
    clock = SteppingClock()
    seen: list[float] = []
    report = await measure_mapping_lifetime(
        stun_server, LifetimeOptions(max_wait_s=300.0, bind_ip=LO1), clock=clock,
        progress=lambda state: seen.append(state.elapsed_s),
    )
    schedule = idle_schedule(300.0)
    assert [t.idle_s for t in report.trials] == list(schedule)
    assert all(t.alive for t in report.trials)  # no NAT on loopback: nothing expires
    assert (report.at_least_s, report.at_most_s) == (300.0, None)
    # About the longest idle time, not the sum of the trials (which is over an hour).
    assert 300.0 <= clock.slept <= 301.0 < sum(schedule)
    assert seen and seen == sorted(seen) and seen[-1] <= 301.0
    assert_valid_report(report.to_dict())


def test_lifetime_json_is_valid_in_every_shape() -> None:
    shapes = [
        interpret([], 10.0),
        interpret([LifetimeTrial(2.0, True), LifetimeTrial(4.0, False), LifetimeTrial(6.0, False)], 10.0),
        interpret([LifetimeTrial(2.0, False), LifetimeTrial(4.0, None)], 10.0),
    ]
    for report in shapes:
        data = assert_valid_report(report.to_dict())
        assert data["schema"] == "natprobe/lifetime" and data["schema_version"] == 1
