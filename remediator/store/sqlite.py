"""The embedded ledger: one SQLite file in WAL mode, fsynced on every commit."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from remediator.store.receipts import Cursor
from remediator.store.sql import SqlLedger

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    rule        TEXT NOT NULL,
    target      TEXT NOT NULL,
    cluster_no  TEXT NOT NULL,
    action      TEXT NOT NULL,
    mode        TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    intent_at   REAL NOT NULL,
    result      TEXT,
    outcome_at  REAL,
    request_id  TEXT,
    remediation TEXT,
    verified_at REAL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS actions_intent ON actions (intent_at);
CREATE INDEX IF NOT EXISTS actions_open ON actions (rule, target, remediation);
CREATE TABLE IF NOT EXISTS breakers (
    rule   TEXT NOT NULL,
    target TEXT NOT NULL,
    open   INTEGER NOT NULL,
    at     REAL NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (rule, target)
);
CREATE TABLE IF NOT EXISTS alert_episodes (
    fingerprint  TEXT NOT NULL,
    starts_at    TEXT NOT NULL,
    target       TEXT NOT NULL,
    alertname    TEXT NOT NULL,
    labels       TEXT NOT NULL,
    starts_at_ts REAL,
    first_seen   REAL NOT NULL,
    last_seen    REAL NOT NULL,
    receipts     INTEGER NOT NULL DEFAULT 1,
    resolved_at  REAL,
    decided_at   REAL,
    PRIMARY KEY (fingerprint, starts_at)
);
CREATE TABLE IF NOT EXISTS pauses (
    target TEXT NOT NULL PRIMARY KEY,  -- '*' pauses every target
    until  REAL NOT NULL,
    reason TEXT NOT NULL,
    at     REAL NOT NULL
);
"""


class SqliteLedger(SqlLedger):
    """The ledger in a SQLite file; safe to share between the daemon's threads."""

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: the intent must be on disk before the signed call goes out.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise RuntimeError(
                f"ledger {self.path} has schema version {version}; this remediator knows "
                f"{_SCHEMA_VERSION} (downgrade not supported)"
            )
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    def _execute(self, sql: str, params: Sequence[object] = ()) -> Cursor:
        return cast(Cursor, self._db.execute(sql, tuple(params)))

    def _begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def close(self) -> None:
        self._flush_unwritten()
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()
