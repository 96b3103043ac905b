"""The watch's change detection, a pure function: previous state + new run -> events."""

from __future__ import annotations

import pytest

from natprobe.i18n import use_language
from natprobe.findings.watch_findings import MessageLevel, cause_sentences, watch_message
from natprobe.verdicts.watch_changes import (
    EventKind,
    Health,
    ItemKind,
    ItemState,
    WatchState,
    detect_changes,
    parse_duration,
)

HOUR = 3600.0


def port(value: str, health: Health, family: str = "ipv4") -> ItemState:
    return ItemState(f"port/udp/22124/{family}", ItemKind.PORT, "udp/22124", family, value, health, "check",
                     reason=f"because {value}", advice=("forward it",))


def address(value: str) -> ItemState:
    return ItemState("public-address/ipv4", ItemKind.PUBLIC_ADDRESS, "ipv4", "ipv4", value, Health.INFO, "check")


def name(value: str, health: Health) -> ItemState:
    return ItemState("name/a.example/ipv4", ItemKind.NAME, "a.example", "ipv4", value, health, "check")


def exposed(value: str, health: Health) -> ItemState:
    return ItemState("exposure/tcp/80/ipv4", ItemKind.EXPOSURE, "tcp/80", "ipv4", value, health, "exposure")


OK = port("reachable", Health.OK)
DOWN = port("not-forwarded-or-filtered", Health.PROBLEM)


def step(state: WatchState, items: list[ItemState], now: float, scopes: tuple[str, ...] = ("check", "exposure"),
         repeat_s: float = 6 * HOUR) -> tuple[WatchState, list[tuple[EventKind, str]]]:
    state, events = detect_changes(state, items, completed_scopes=scopes, now=now, repeat_s=repeat_s)
    return state, [(e.kind, e.item.key) for e in events]


def test_a_fine_first_run_says_nothing_and_a_problem_first_run_says_it() -> None:
    assert step(WatchState(), [OK, address("203.0.113.7")], 0)[1] == []
    assert step(WatchState(), [DOWN], 0)[1] == [(EventKind.PROBLEM, DOWN.key)]


def test_a_problem_is_told_once_then_at_most_every_repeat_then_its_recovery() -> None:
    state, events = step(WatchState(), [OK], 0)
    state, events = step(state, [DOWN], 100)
    assert events == [(EventKind.PROBLEM, DOWN.key)]
    state, events = step(state, [DOWN], 100 + HOUR)
    assert events == []  # still down, not yet time to repeat
    state, events = step(state, [DOWN], 100 + 6 * HOUR)
    assert events == [(EventKind.REMINDER, DOWN.key)]
    state, events = step(state, [DOWN], 100 + 7 * HOUR)
    assert events == []  # the repeat clock restarted at the reminder
    state, events = step(state, [OK], 100 + 8 * HOUR)
    assert events == [(EventKind.RECOVERED, OK.key)]
    assert step(state, [OK], 100 + 9 * HOUR)[1] == []


def test_a_problem_that_turns_into_another_is_told_again() -> None:
    state, _ = step(WatchState(), [DOWN], 0)
    cgnat = port("behind-cgnat", Health.PROBLEM)
    assert step(state, [cgnat], 60)[1] == [(EventKind.PROBLEM, cgnat.key)]


def test_undecided_keeps_the_alert_and_is_no_recovery() -> None:
    state, _ = step(WatchState(), [DOWN], 0)
    state, events = step(state, [port("not-tested", Health.UNKNOWN)], 60)
    assert events == [] and DOWN.key in state.alerts and state.items[DOWN.key].value == DOWN.value
    assert step(state, [OK], 120)[1] == [(EventKind.RECOVERED, OK.key)]


def test_a_vanished_problem_recovers_only_when_its_measurement_ran() -> None:
    unexpected = exposed("open (http)", Health.PROBLEM)
    state, events = step(WatchState(), [OK, unexpected], 0)
    assert events == [(EventKind.PROBLEM, unexpected.key)]
    # The exposure scan was refused (scanned recently): the port is not "gone".
    kept, events = step(state, [OK], 60, scopes=("check",))
    assert events == [] and unexpected.key in kept.alerts
    # The scan ran and the port is no longer open.
    state, events = step(kept, [OK], 120)
    assert events == [(EventKind.RECOVERED, unexpected.key)]
    assert unexpected.key not in state.items and unexpected.key not in state.alerts


def test_a_new_public_address_is_a_change_and_the_cause_of_what_broke_with_it() -> None:
    state, _ = step(WatchState(), [address("203.0.113.7"), OK, name("matches", Health.OK)], 0)
    stale = name("stale", Health.PROBLEM)
    state, events = detect_changes(state, [address("198.51.100.4"), OK, stale], completed_scopes=("check",),
                                   now=60, repeat_s=HOUR)
    assert [(e.kind, e.item.key) for e in events] == [(EventKind.CHANGED, "public-address/ipv4"),
                                                      (EventKind.PROBLEM, stale.key)]
    causes = cause_sentences(events[1])
    assert causes[0] == "after the public IPv4 address changed from 203.0.113.7 to 198.51.100.4"
    message = watch_message(events, at=60, host="box")
    assert message is not None and message.level is MessageLevel.PROBLEM
    assert "a.example (A record) is stale" in message.title and "(and 1 more change(s))" in message.title
    assert "Likely cause: after the public IPv4 address changed" in message.body


def test_a_port_that_broke_explains_the_name_and_the_scan_of_the_same_port() -> None:
    scan = ItemState("exposure/udp/22124/ipv4", ItemKind.EXPOSURE, "udp/22124", "ipv4", "open", Health.OK,
                     "exposure")
    state, _ = step(WatchState(), [OK, name("matches", Health.OK), scan], 0)
    _state, events = detect_changes(
        state, [DOWN, name("unreachable-family", Health.PROBLEM),
                ItemState(scan.key, ItemKind.EXPOSURE, "udp/22124", "ipv4", "filtered", Health.PROBLEM, "exposure")],
        completed_scopes=("check", "exposure"), now=60, repeat_s=HOUR)
    by_key = {e.item.key: e for e in events}
    assert [c.item.key for c in by_key["name/a.example/ipv4"].causes] == [DOWN.key]
    assert [c.item.key for c in by_key[scan.key].causes] == [DOWN.key]
    assert by_key[DOWN.key].causes == ()


def test_other_family_changes_are_no_cause() -> None:
    state, _ = step(WatchState(), [address("203.0.113.7"), port("reachable", Health.OK, "ipv6")], 0)
    _state, events = detect_changes(state, [address("203.0.113.8"), port("filtered-by-ipv6-firewall", Health.PROBLEM,
                                                                          "ipv6")],
                                    completed_scopes=("check",), now=1, repeat_s=HOUR)
    assert all(e.causes == () for e in events)


def test_a_recovery_only_message_is_a_success() -> None:
    state, _ = step(WatchState(), [DOWN], 0)
    _state, events = detect_changes(state, [OK], completed_scopes=("check",), now=1, repeat_s=HOUR)
    message = watch_message(events, at=1)
    assert message is not None and message.level is MessageLevel.RECOVERED
    assert "recovered" in message.title and "reachable again" in message.body
    assert watch_message((), at=1) is None


def test_last_change_time_follows_the_value() -> None:
    state, _ = step(WatchState(), [OK], 10)
    state, _ = step(state, [OK], 20)
    assert state.changed_at[OK.key] == 10
    state, _ = step(state, [DOWN], 30)
    assert state.changed_at[OK.key] == 30


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("6h", 21600), ("2d", 172800),
                                               ("30", 30), ("1.5h", 5400)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "-5m", "0", "15x", "nan", "inf"])
def test_bad_durations_are_a_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_repeat_must_be_positive() -> None:
    with pytest.raises(ValueError):
        detect_changes(WatchState(), [], completed_scopes=(), now=0, repeat_s=0)


def test_the_message_speaks_french_too() -> None:
    state, _ = step(WatchState(), [address("203.0.113.7"), name("matches", Health.OK)], 0)
    _state, events = detect_changes(state, [address("198.51.100.4"), name("stale", Health.PROBLEM)],
                                    completed_scopes=("check",), now=60, repeat_s=HOUR)
    use_language("fr")
    try:
        message = watch_message(events, at=60, host="box")
    finally:
        use_language("en")
    assert message is not None
    assert message.title.startswith("natprobe : a.example (enregistrement A) est stale")
    assert "Cause probable : après ceci : l'adresse publique IPv4 a changé de 203.0.113.7 à 198.51.100.4" \
        in message.body
