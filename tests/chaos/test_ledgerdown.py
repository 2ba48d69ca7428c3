"""The ledger unwritable at the moment of a trip, under a real daemon (issue 14, item 1): a
SQLite write lock held 12 s by another process, PostgreSQL stopped 20 s."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from remediator.sandbox import Sandbox
from tests.chaos.ledgerdown import locked_sqlite, stopped_postgres
from tests.chaos.proc import AK, ORDERS, SK
from tests.pg import Postgres

pytestmark = pytest.mark.e2e  # daemon processes, PostgreSQL


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, restart_delay=1.0).start()
    box.set_cmak_restart(ORDERS, "available")
    try:
        yield box
    finally:
        box.stop()


def test_a_sqlite_write_lock_held_12_s_at_the_trip(tmp_path: Path, sb: Sandbox) -> None:
    seen = locked_sqlite(tmp_path, sb, seconds=12.0)
    assert seen.held, seen


def test_postgresql_stopped_20_s_at_the_trip(
    tmp_path: Path, sb: Sandbox, postgres: Postgres
) -> None:
    seen = stopped_postgres(tmp_path, sb, postgres, seconds=20.0)
    assert seen.held, seen
