"""The watch history's SQLite file: migrations, damaged and newer files, two writers, retention."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from natprobe.adapters.history_store import (
    DATABASE_NAME,
    MIGRATIONS,
    SCHEMA_VERSION,
    HistoryStore,
    Retention,
)
from natprobe.errors import HistoryError
from natprobe.verdicts.watch_changes import Health, ItemKind, ItemState, detect_changes
from tests.json_reports import assert_valid_report

RUNS_PER_WRITER = 25


def _item(value: str, health: Health = Health.OK) -> ItemState:
    return ItemState("port/udp/22124/ipv4", ItemKind.PORT, "udp/22124", "ipv4", value, health, "check")


def _run(store: HistoryStore, now: float, value: str, reports: dict[str, object] | None = None) -> int:
    with store.write() as tx:
        state, events = detect_changes(tx.load_state(), [_item(value, Health.OK if value == "reachable" else
                                                               Health.PROBLEM)],
                                       completed_scopes=("check",), now=now, repeat_s=3600)
        run_id = tx.add_run(now, now + 1, reports or {"check": {"ports": []}}, list(state.items.values()), [])
        for event in events:
            tx.add_event(run_id, now, event.kind, event.item, None, (), f"{event.item.key} {event.kind}")
        tx.save_state(state)
    return run_id


def test_a_new_history_has_the_current_schema_and_reads_back(tmp_path: Path) -> None:
    with HistoryStore.in_dir(tmp_path / "state") as store:
        _run(store, 1000.0, "reachable")
        _run(store, 2000.0, "not-forwarded-or-filtered")
        report = store.report()
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    db = sqlite3.connect(tmp_path / "state" / DATABASE_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert [r.items[0].value for r in report.runs] == ["reachable", "not-forwarded-or-filtered"]
    assert [c.kind.value for c in report.changes] == ["problem"]
    assert_valid_report(report.to_dict())


def test_an_older_schema_migrates_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / DATABASE_NAME
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])  # schema 1: runs with their reports only
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO runs (started, finished, reports) VALUES (?, ?, ?)", (500.0, 501.0, json.dumps({"check": {}})))
    db.commit()
    db.close()
    with HistoryStore(path) as store:
        report = store.report(with_reports=True)
        assert len(report.runs) == 1 and report.runs[0].items == () and report.runs[0].reports == {"check": {}}
        _run(store, 1000.0, "reachable")
        assert len(store.report().runs) == 2
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_a_truncated_file_is_a_clear_error_and_is_kept(tmp_path: Path) -> None:
    with HistoryStore.in_dir(tmp_path) as store:
        for index in range(40):
            _run(store, 1000.0 + index, "reachable", {"check": {"padding": "x" * 2000}})
    path = tmp_path / DATABASE_NAME
    # Fold the WAL into the file, then cut the file in the middle of its pages.
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    before = path.read_bytes()
    with pytest.raises(HistoryError) as caught:
        HistoryStore(path)
    message = str(caught.value)
    assert str(path) in message and "left the file as it is" in message
    assert path.read_bytes() == before  # nothing written, nothing deleted


def test_a_file_that_is_not_a_database_is_a_clear_error_and_is_kept(tmp_path: Path) -> None:
    path = tmp_path / DATABASE_NAME
    path.write_bytes(b"these are my notes, not a database\n" * 100)
    before = path.read_bytes()
    with pytest.raises(HistoryError, match="not a readable history database"):
        HistoryStore(path)
    assert path.read_bytes() == before


def test_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / DATABASE_NAME
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE future (x)")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(HistoryError, match="newer natprobe"):
        HistoryStore(path)
    assert path.read_bytes() == before


def _writer(state_dir: str, offset: int) -> None:
    with HistoryStore.in_dir(Path(state_dir)) as store:
        for index in range(RUNS_PER_WRITER):
            _run(store, 1000.0 + offset + index * 2, "reachable" if index % 2 else "not-forwarded-or-filtered")


def test_two_watches_at_once_do_not_corrupt_the_history(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(str(tmp_path), offset)) for offset in (0, 1)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    assert [w.exitcode for w in writers] == [0, 0]
    db = sqlite3.connect(tmp_path / DATABASE_NAME)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with HistoryStore.in_dir(tmp_path) as store:
        report = store.report()
        # Every run of both writers is there, and each event was found against the state the
        # other writer left: the values alternate strictly in commit order, so every run after
        # the first whose value differs from the one before it carries exactly one event.
        assert len(report.runs) == 2 * RUNS_PER_WRITER
        values = [r.items[0].value for r in report.runs]
        flips = sum(1 for a, b in zip(values, values[1:]) if a != b) + (values[0] != "reachable")
        assert len(report.changes) == flips


def test_retention_by_age_and_by_size_keeps_the_newest(tmp_path: Path) -> None:
    with HistoryStore.in_dir(tmp_path, retention=Retention(max_age_s=100.0, max_bytes=64 * 1024)) as store:
        for index in range(10):
            _run(store, 1000.0 + index * 10, "reachable")
        assert store.apply_retention(now=1000.0 + 9 * 10 + 50) == 4  # older than 100 s
        assert [r.started for r in store.report().runs] == [1040.0 + 10 * i for i in range(6)]
        for index in range(30):
            _run(store, 2000.0 + index, "reachable", {"check": {"padding": "y" * 8000}})
        store.apply_retention(now=2030.0)
        runs = store.report().runs
        assert runs[-1].started == 2029.0
        assert 1 <= len(runs) <= 8  # 64 KiB of 8 KB reports
    with pytest.raises(ValueError):
        Retention(max_age_s=0)


def test_a_message_is_claimed_by_one_watch_only(tmp_path: Path) -> None:
    with HistoryStore.in_dir(tmp_path) as first, HistoryStore.in_dir(tmp_path) as second:
        run_id = _run(first, 1000.0, "not-forwarded-or-filtered")
        with first.write() as tx:
            tx.add_delivery(run_id, 1000.0, "json://127.0.0.1:9/x", "json://…", "title", "body", "failure")
        (seen_by_first,), (seen_by_second,) = first.pending_deliveries(), second.pending_deliveries()
        assert first.claim_delivery(seen_by_first) is True
        assert second.claim_delivery(seen_by_second) is False  # the other watch is sending it
        first.delivery_result(seen_by_first.delivery_id, 1001.0, None)
        assert second.pending_deliveries() == []
        (delivery,) = second.report().deliveries
        assert delivery.delivered and delivery.attempts == 1
