"""The embedded ledger: one SQLite file in WAL mode, fsynced on every commit.

The file is created readable by its owner only. A daemon holds it exclusively (`exclusive`):
an advisory lock on `<file>.lock` that a second `remediator run` on the same file finds taken
(`LedgerBusy`, naming the holder) — two engines with their own memory would act twice on one
incident. Opening it fails as `LedgerUnavailable` (an unwritable or full state directory),
and every failed read or write afterwards as `LedgerError`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from remediator.errors import LedgerBusy, LedgerError, LedgerUnavailable
from remediator.store.receipts import KNOWN_EPISODES, Cursor
from remediator.store.sql import MIGRATIONS, SCHEMA, SCHEMA_VERSION, SqlLedger

# The intent must be on disk before the signed call goes out: a writer waits this long for
# another process's write lock (a backup, an `sqlite3` shell) before the write fails.
BUSY_TIMEOUT = 5.0


class SqliteLedger(SqlLedger):
    """The ledger in a SQLite file; safe to share between the daemon's threads."""

    _errors = (sqlite3.Error,)

    def __init__(
        self,
        path: Path | str,
        *,
        known_episodes: int = KNOWN_EPISODES,
        exclusive: bool = False,
        busy_timeout: float = BUSY_TIMEOUT,
    ) -> None:
        super().__init__(known_episodes=known_episodes)
        self.path = Path(path)
        self._lockfile: int | None = None
        memory = str(path) == ":memory:"
        try:
            if not memory:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if exclusive:
                    self._lockfile = _hold(self.path)
                # Created by its owner for its owner (SQLite gives its -wal and -shm files the
                # same mode): it holds who restarted what, and why.
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
                info = self.path.stat()
                if info.st_mode & 0o077 and info.st_uid == os.geteuid():
                    self.path.chmod(0o600)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            self._release()
            raise LedgerUnavailable(f"ledger {self.path}: cannot open: {_why(exc)}") from None
        try:
            self._open(busy_timeout)
        except sqlite3.Error as exc:
            self._db.close()
            self._release()
            raise LedgerUnavailable(f"ledger {self.path}: cannot open: {_why(exc)}") from None
        except BaseException:
            self._db.close()
            self._release()
            raise

    def _open(self, busy_timeout: float) -> None:
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: the intent must be on disk before the signed call goes out.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
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
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _failed(self, exc: Exception) -> LedgerError:
        return LedgerError(f"ledger {self.path}: {_why(exc)}")

    def _execute(self, sql: str, params: Sequence[object] = ()) -> Cursor:
        return cast(Cursor, self._db.execute(sql, tuple(params)))

    def _begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def _rollback(self) -> None:
        # A full disk or an I/O error may have rolled the transaction back already.
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def close(self) -> None:
        try:
            with contextlib.suppress(LedgerError):  # what cannot be written now is lost
                self._flush_unwritten()
            with self._lock, contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            with self._lock:
                self._db.close()
            self._release()

    def _release(self) -> None:
        if self._lockfile is not None:
            os.close(self._lockfile)  # the lock goes with it
            self._lockfile = None


def _hold(path: Path) -> int:
    """Take `<path>.lock` for this process, or LedgerBusy naming the process that holds it."""
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "holder unknown"
        os.close(fd)
        raise LedgerBusy(
            f"ledger {path} is held by another remediator ({holder}): one daemon acts on a "
            "ledger at a time"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"remediator {socket.gethostname()} pid {os.getpid()}\n".encode(), 0)
    return fd


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return str(exc)
