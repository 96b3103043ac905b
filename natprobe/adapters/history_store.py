"""The watch history: one SQLite file (standard library ``sqlite3``) under the state directory.

``$XDG_STATE_HOME/natprobe/history.sqlite3`` (else ``~/.local/state/natprobe/``; XDG Base
Directory Specification), or ``--state-dir DIR``. It holds every run (its reports as
``--json`` prints them, the watched items with the public address per family, the DNS
answers and the verdicts), the events each run found with their message text, the watch's
state between runs (last item states, open alerts) and the messages to deliver.

* **Versioned schema.** ``PRAGMA user_version`` is the schema version; :data:`MIGRATIONS`
  brings an older file up step by step inside one transaction. A file from a *newer*
  natprobe is refused with a clear :class:`~natprobe.errors.HistoryError`, untouched.
* **Two watches at once** (a timer and a manual ``--once``): WAL journal (readers never
  block the writer), a busy timeout, and every write in one ``BEGIN IMMEDIATE`` transaction
  that re-reads the state it updates, so the second writer waits and builds on the first.
* **Corruption** (a truncated or overwritten file) is found before anything is written
  (``PRAGMA quick_check``) and reported with the file's path; natprobe never deletes,
  repairs or rewrites it: the owner may want it back (``sqlite3 FILE .recover``).
* **Bounded**: runs older than the retention age go, then the oldest runs until the stored
  reports fit the size budget (the newest run always stays); freed pages are returned to the
  file system (incremental auto-vacuum).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from natprobe.errors import HistoryError
from natprobe.reports.watch_report import HistoryChange, HistoryDelivery, HistoryReport, HistoryRun
from natprobe.verdicts.watch_changes import Alert, EventKind, Health, ItemKind, ItemState, WatchState

__all__ = (
    "DATABASE_NAME",
    "DEFAULT_MAX_AGE_S",
    "DEFAULT_MAX_BYTES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "MAX_DELIVERY_ATTEMPTS",
    "HistoryStore",
    "PendingDelivery",
    "Retention",
    "WriteTransaction",
    "default_state_dir",
    "item_from_json",
    "item_to_json",
    "target_digest",
)

logger = logging.getLogger(__name__)

DATABASE_NAME = "history.sqlite3"
DEFAULT_MAX_AGE_S = 90 * 86400.0
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
BUSY_TIMEOUT_MS = 15_000
MAX_DELIVERY_ATTEMPTS = 12
"""A message that failed this many times is given up (kept in the history as failed)."""

_V1 = """
CREATE TABLE runs (id INTEGER PRIMARY KEY, started REAL NOT NULL, finished REAL NOT NULL, reports TEXT NOT NULL);
CREATE INDEX runs_started ON runs (started);
"""
_V2 = """
ALTER TABLE runs ADD COLUMN items TEXT NOT NULL DEFAULT '[]';
ALTER TABLE runs ADD COLUMN errors TEXT NOT NULL DEFAULT '[]';
CREATE TABLE events (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, at REAL NOT NULL, kind TEXT NOT NULL,
    item TEXT NOT NULL, previous TEXT, causes TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX events_run ON events (run_id);
CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, created REAL NOT NULL, target_digest TEXT NOT NULL,
    target TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, level TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, delivered REAL, error TEXT);
CREATE INDEX deliveries_pending ON deliveries (delivered);
"""
MIGRATIONS: tuple[str, ...] = (_V1, _V2)
"""``MIGRATIONS[n]`` takes a file from schema version ``n`` to ``n + 1`` (0: a new file)."""
SCHEMA_VERSION = len(MIGRATIONS)


def default_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/natprobe``, else ``~/.local/state/natprobe``."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_STATE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path(environ.get("HOME") or Path.home()) / ".local" / "state"
    return root / "natprobe"


def target_digest(target: str) -> str:
    """How a delivery remembers its target without storing the URL's secrets twice."""
    return hashlib.sha256(target.encode()).hexdigest()[:32]


def item_to_json(item: ItemState) -> dict[str, Any]:
    return {"key": item.key, "kind": item.kind.value, "subject": item.subject, "family": item.family,
            "value": item.value, "health": item.health.value, "scope": item.scope, "reason": item.reason,
            "advice": list(item.advice), "code": item.code}


def item_from_json(data: Mapping[str, Any]) -> ItemState:
    return ItemState(str(data["key"]), ItemKind(data["kind"]), str(data["subject"]), data.get("family"),
                     str(data["value"]), Health(data["health"]), str(data.get("scope", "check")),
                     str(data.get("reason", "")), tuple(data.get("advice", ())), str(data.get("code", "")))


def _state_to_json(state: WatchState) -> str:
    return json.dumps({
        "items": [item_to_json(i) for i in state.items.values()],
        "alerts": {k: [a.since, a.last_sent] for k, a in state.alerts.items()},
        "changed_at": dict(state.changed_at),
    })


def _state_from_json(text: str) -> WatchState:
    data = json.loads(text)
    items = {i["key"]: item_from_json(i) for i in data.get("items", [])}
    alerts = {k: Alert(float(v[0]), float(v[1])) for k, v in data.get("alerts", {}).items()}
    return WatchState(items, alerts, {k: float(v) for k, v in data.get("changed_at", {}).items()})


@dataclass(frozen=True, slots=True)
class Retention:
    max_age_s: float = DEFAULT_MAX_AGE_S
    max_bytes: int = DEFAULT_MAX_BYTES
    """Budget for the stored reports and items (the file is a little larger: indexes, pages)."""

    def __post_init__(self) -> None:
        if not self.max_age_s > 0 or self.max_bytes < 4096:
            raise ValueError("retention: the age must be > 0 and the size at least 4 KiB")


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    delivery_id: int
    target_digest: str
    title: str
    body: str
    level: str
    attempts: int


class WriteTransaction:
    """The one write of a run: read the latest state, then store the run and what follows."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def load_state(self) -> WatchState:
        row = self._db.execute("SELECT data FROM state WHERE id = 1").fetchone()
        return WatchState() if row is None else _state_from_json(row[0])

    def add_run(self, started: float, finished: float, reports: Mapping[str, Any], items: Sequence[ItemState],
                errors: Sequence[str]) -> int:
        cursor = self._db.execute(
            "INSERT INTO runs (started, finished, reports, items, errors) VALUES (?, ?, ?, ?, ?)",
            (started, finished, json.dumps(reports), json.dumps([item_to_json(i) for i in items]),
             json.dumps(list(errors))))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def add_event(self, run_id: int, at: float, kind: EventKind, item: ItemState, previous: str | None,
                  causes: Sequence[str], text: str) -> None:
        self._db.execute(
            "INSERT INTO events (run_id, at, kind, item, previous, causes, text) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, at, kind.value, json.dumps(item_to_json(item)), previous, json.dumps(list(causes)), text))

    def save_state(self, state: WatchState) -> None:
        self._db.execute("INSERT OR REPLACE INTO state (id, data) VALUES (1, ?)", (_state_to_json(state),))

    def add_delivery(self, run_id: int, created: float, target: str, shown: str, title: str, body: str,
                     level: str) -> None:
        self._db.execute(
            "INSERT INTO deliveries (run_id, created, target_digest, target, title, body, level) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", (run_id, created, target_digest(target), shown, title, body, level))


class HistoryStore:
    """One open history database; see the module docstring. Use as a context manager."""

    def __init__(self, path: Path, *, retention: Retention = Retention()) -> None:
        self.path = path
        self.retention = retention
        self._db = self._open(path)

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @classmethod
    def in_dir(cls, state_dir: Path, *, retention: Retention = Retention()) -> HistoryStore:
        try:
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise HistoryError(f"{state_dir}: cannot create the history folder: {exc.strerror or exc}") from None
        return cls(state_dir / DATABASE_NAME, retention=retention)

    # --- opening: check before writing anything --------------------------------------------

    def _fail(self, what: str) -> HistoryError:
        return HistoryError(
            f"{self.path}: {what}. natprobe left the file as it is; move it aside (or use another --state-dir) "
            "to start a new history, or try 'sqlite3 FILE .recover' to save what it holds")

    def _open(self, path: Path) -> sqlite3.Connection:
        existed = path.exists() and path.stat().st_size > 0
        try:
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise HistoryError(f"{path}: cannot open the history database: {exc}") from None
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if existed:
                check = db.execute("PRAGMA quick_check").fetchall()
                if check != [("ok",)]:
                    raise self._fail("the history database is damaged (" + "; ".join(str(r[0]) for r in check[:3]) + ")")
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise HistoryError(
                    f"{path}: this history was written by a newer natprobe (schema version {version}; this "
                    f"natprobe knows up to {SCHEMA_VERSION}). Upgrade natprobe, or use another --state-dir; "
                    "the file was left as it is")
            if not existed:
                db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect before the first table
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            if version < SCHEMA_VERSION:
                self._migrate(db, version)
        except HistoryError:
            db.close()
            raise
        except sqlite3.DatabaseError as exc:
            db.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise HistoryError(f"{path}: the history database stayed locked: {exc}") from None
            if isinstance(exc, sqlite3.OperationalError) and not existed:
                # A new file that cannot be written (read-only folder): nothing to keep, say why.
                raise HistoryError(f"{path}: cannot create the history database: {exc}") from None
            raise self._fail(f"this is not a readable history database ({exc})") from None
        return db

    def _migrate(self, db: sqlite3.Connection, version: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            # Another watch may have migrated while this one waited for the lock.
            current = int(db.execute("PRAGMA user_version").fetchone()[0])
            for step in range(current, SCHEMA_VERSION):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        db.execute(statement)
                logger.info("%s: history schema %d -> %d", self.path, step, step + 1)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # --- writing ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[WriteTransaction]:
        """One ``BEGIN IMMEDIATE`` transaction: the second of two watches waits here (bounded by
        the busy timeout) and then sees what the first wrote."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise HistoryError(f"{self.path}: cannot write the history: {exc}") from None
        try:
            yield WriteTransaction(self._db)
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._db.execute("ROLLBACK")
            raise HistoryError(f"{self.path}: cannot write the history: {exc}") from None
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def apply_retention(self, now: float) -> int:
        """Forget runs beyond the retention age and size budget; the number of runs removed."""
        with self.write():
            db = self._db
            newest = db.execute("SELECT max(id) FROM runs").fetchone()[0]
            if newest is None:
                return 0
            doomed = {row[0] for row in db.execute(
                "SELECT id FROM runs WHERE started < ? AND id != ?", (now - self.retention.max_age_s, newest))}
            used = 0
            for run_id, size in db.execute(
                    "SELECT id, length(reports) + length(items) FROM runs ORDER BY id DESC"):
                used += int(size)
                if used > self.retention.max_bytes and run_id != newest:
                    doomed.add(run_id)
            for run_id in doomed:
                db.execute("DELETE FROM events WHERE run_id = ?", (run_id,))
                db.execute("DELETE FROM deliveries WHERE run_id = ? AND (delivered IS NOT NULL OR attempts >= ?)",
                           (run_id, MAX_DELIVERY_ATTEMPTS))
                db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        if doomed:
            with contextlib.suppress(sqlite3.DatabaseError):
                self._db.execute("PRAGMA incremental_vacuum")
        return len(doomed)

    def pending_deliveries(self) -> list[PendingDelivery]:
        rows = self._db.execute(
            "SELECT id, target_digest, title, body, level, attempts FROM deliveries "
            "WHERE delivered IS NULL AND attempts < ? ORDER BY id", (MAX_DELIVERY_ATTEMPTS,)).fetchall()
        return [PendingDelivery(int(r[0]), r[1], r[2], r[3], r[4], int(r[5])) for r in rows]

    def claim_delivery(self, pending: PendingDelivery) -> bool:
        """Count an attempt before making it; ``False`` when another watch running at the same
        time claimed it first (so two watches never send the same message twice)."""
        with self.write():
            cursor = self._db.execute(
                "UPDATE deliveries SET attempts = attempts + 1 WHERE id = ? AND attempts = ? AND delivered IS NULL",
                (pending.delivery_id, pending.attempts))
            return cursor.rowcount == 1

    def delivery_result(self, delivery_id: int, at: float, error: str | None, *, give_up: bool = False) -> None:
        """Record a claimed attempt's outcome; ``give_up`` ends the retries (the target is gone
        from the configuration)."""
        with self.write():
            if error is None:
                self._db.execute("UPDATE deliveries SET delivered = ?, error = NULL WHERE id = ?", (at, delivery_id))
            elif give_up:
                self._db.execute("UPDATE deliveries SET attempts = max(attempts, ?), error = ? WHERE id = ?",
                                 (MAX_DELIVERY_ATTEMPTS, error[:500], delivery_id))
            else:
                self._db.execute("UPDATE deliveries SET error = ? WHERE id = ?", (error[:500], delivery_id))

    # --- reading ----------------------------------------------------------------------------

    def state(self) -> WatchState:
        row = self._db.execute("SELECT data FROM state WHERE id = 1").fetchone()
        return WatchState() if row is None else _state_from_json(row[0])

    def report(self, since: float | None = None, *, with_reports: bool = False) -> HistoryReport:
        """Everything since ``since`` (epoch seconds; ``None``: all) as a :class:`HistoryReport`."""
        start = since if since is not None else float("-inf")
        try:
            runs = tuple(
                HistoryRun(int(r[0]), float(r[1]), float(r[2]) - float(r[1]),
                           tuple(item_from_json(i) for i in json.loads(r[3])), tuple(json.loads(r[4])),
                           json.loads(r[5]) if with_reports else {})
                for r in self._db.execute(
                    "SELECT id, started, finished, items, errors, reports FROM runs WHERE started >= ? ORDER BY id",
                    (start,)))
            changes = tuple(
                HistoryChange(int(r[0]), float(r[1]), EventKind(r[2]), item_from_json(json.loads(r[3])), r[4],
                              tuple(json.loads(r[5])), r[6])
                for r in self._db.execute(
                    "SELECT run_id, at, kind, item, previous, causes, text FROM events WHERE at >= ? ORDER BY id",
                    (start,)))
            deliveries = tuple(
                HistoryDelivery(int(r[0]), float(r[1]), r[2], r[3] is not None, int(r[4]), r[5])
                for r in self._db.execute(
                    "SELECT run_id, created, target, delivered, attempts, error FROM deliveries "
                    "WHERE created >= ? ORDER BY id", (start,)))
        except (sqlite3.DatabaseError, ValueError, KeyError) as exc:
            raise self._fail(f"the history cannot be read ({exc})") from None
        return HistoryReport(str(self.path), since, runs, changes, deliveries, with_reports)
