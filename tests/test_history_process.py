"""The history survives a SIGKILL and a restart, on both ledgers: `remediator run` as a process
against the sandbox, killed once it has acted; an operator pauses on the ledger while it is
down; the restarted daemon serves everything through `remediator history`."""

from __future__ import annotations

import json
import logging
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from remediator.cli import main
from remediator.runtime.history import os_user
from remediator.sandbox import Sandbox
from tests.test_daemon_process import AK, ORDERS, SK, Proc
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def cli_logging() -> Iterator[None]:
    """`main()` sets up the command line's logging on the `remediator` logger (its own handler,
    no propagation): put it back, so that later tests' caplog sees their records."""
    logger = logging.getLogger("remediator")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def history(p: Proc) -> list[tuple[str, str, str]]:
    """(kind, outcome, target) of every history row, read from the storage as another process."""
    sql = "SELECT kind, outcome, target FROM history ORDER BY id"
    try:
        if p.ledger_url:
            with psycopg.connect(p.ledger_url) as conn:
                return [tuple(map(str, r)) for r in conn.execute(sql)]  # type: ignore[misc]
        db = sqlite3.connect(p.db)
        try:
            return [tuple(map(str, r)) for r in db.execute(sql)]  # type: ignore[misc]
        finally:
            db.close()
    except (psycopg.errors.UndefinedTable, sqlite3.OperationalError):
        return []  # the daemon is still creating the schema


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, restart_delay=1.0).start()
    box.set_cmak_restart(ORDERS, "available")
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def proc(tmp_path: Path, sb: Sandbox, request: pytest.FixtureRequest) -> Iterator[Proc]:
    """`remediator run` on a SQLite ledger, or on a real PostgreSQL one."""
    url = request.getfixturevalue("postgres").database() if request.param == "postgres" else ""
    p = Proc(tmp_path, sb, url)
    yield p
    p.stop()


def test_the_history_survives_a_sigkill_and_a_restart(
    proc: Proc, sb: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AK", AK)
    monkeypatch.setenv("SK", SK)
    cfg = ["-c", str(proc.tmp / "remediator.yaml")]
    sb.break_tool(ORDERS, "down")
    p = proc.start()
    wait_for(
        lambda: ("decision", "acted", "orders") in history(proc),
        timeout=30,
        what="an acted decision in the history",
        detail=proc.output,
    )
    p.send_signal(signal.SIGKILL)
    assert p.wait(20) == -signal.SIGKILL
    before = history(proc)
    assert before[0] == ("decision", "acted", "orders")
    # while it is down, an operator acts on the ledger
    assert main(["pause", "payments", "--for", "1h", "--reason", "after the crash", *cfg]) == 0
    capsys.readouterr()
    proc.start()
    wait_for(proc.ready, timeout=30, what="the restarted daemon", detail=proc.output)
    assert main(["history", "--json", "--since", "1h", *cfg]) == 0
    served = json.loads(capsys.readouterr().out)
    oldest = [(e["kind"], e["outcome"], e["target"]) for e in reversed(served)]
    assert oldest[: len(before) + 1] == [*before, ("operator", "pause", "payments")]
    (pause,) = [e for e in served if e["kind"] == "operator"]
    me = f"{os_user()} (CLI on the ledger)"
    assert (pause["who"], pause["reason"]) == (me, "after the crash")
    (acted,) = [e for e in served if e["outcome"] == "acted"]
    assert (acted["rule"], acted["action"], acted["blast_radius"]) == (
        "cmak-unhealthy",
        "restart_cmak",
        "tool",
    )
    assert main(["history", "payments", "--since", "1h", *cfg]) == 0
    text = capsys.readouterr().out
    assert "from the daemon at http://127.0.0.1:" in text
    assert "payments  pause (for 1h, until " in text and f"by {me}: after the crash" in text
