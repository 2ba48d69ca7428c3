"""The embedded ledger: one SQLite file in WAL mode, fsynced on every commit."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from remediator.store.receipts import KNOWN_EPISODES, Cursor
from remediator.store.sql import MIGRATIONS, SCHEMA, SCHEMA_VERSION, SqlLedger


class SqliteLedger(SqlLedger):
    """The ledger in a SQLite file; safe to share between the daemon's threads."""

    def __init__(self, path: Path | str, *, known_episodes: int = KNOWN_EPISODES) -> None:
        super().__init__(known_episodes=known_episodes)
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: the intent must be on disk before the signed call goes out.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"ledger {self.path} has schema version {version}; this remediator knows "
                f"{SCHEMA_VERSION} (downgrade not supported)"
            )
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if version == 0:
                for statement in filter(str.strip, SCHEMA.split(";")):
                    self._db.execute(statement)
                version = 1
            for number in sorted(n for n in MIGRATIONS if n > version):
                for statement in MIGRATIONS[number]:
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _execute(self, sql: str, params: Sequence[object] = ()) -> Cursor:
        return cast(Cursor, self._db.execute(sql, tuple(params)))

    def _begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def close(self) -> None:
        self._flush_unwritten()
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()
