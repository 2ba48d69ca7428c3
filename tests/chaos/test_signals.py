"""SIGTERM at any point ends the daemon within 10 s, exit 0; one daemon per SQLite ledger
(issue 14, item 7)."""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediator.clock import SystemClock
from remediator.sandbox import Sandbox
from tests.chaos.proc import AK, ORDERS, SK, Daemon
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e  # daemon processes

CLOCK = SystemClock()


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, restart_delay=1.0).start()
    box.set_cmak_restart(ORDERS, "available")
    try:
        yield box
    finally:
        box.stop()


def stopped_within(daemon: Daemon, seconds: float) -> tuple[int | None, float]:
    """SIGTERM, then (exit code or None if still running, seconds it took)."""
    assert daemon.proc is not None
    start = CLOCK.monotonic()
    daemon.proc.send_signal(signal.SIGTERM)
    try:
        code: int | None = daemon.proc.wait(seconds)
    except Exception:
        code = None
    return code, CLOCK.monotonic() - start


def test_sigterm_during_a_hanging_call_exits_0_within_10_s_and_never_resends(
    tmp_path: Path, sb: Sandbox
) -> None:
    sb.inject_latency(60.0, operation="restartCMAKService")  # a gateway that hangs
    daemon = Daemon(tmp_path, sb, ncp_timeout="2m")
    try:
        daemon.start()
        sb.break_tool(ORDERS, "down")
        wait_for(lambda: daemon.rows() != [], timeout=30, what="the intent", detail=daemon.output)
        code, took = stopped_within(daemon, 10)
        assert (code, took < 10) == (0, True), daemon.output()
        assert "abandoned; their intents are in the ledger" in daemon.output()
        daemon.start()
        wait_for(
            lambda: "resuming restart_cmak on orders" in daemon.output(),
            timeout=20,
            what="the resumed remediation",
            detail=daemon.output,
        )
        assert len(sb.action_calls(ORDERS)) <= 1, "the abandoned call is never sent again"
        code, _ = stopped_within(daemon, 10)
        assert code == 0
    finally:
        daemon.kill()


def test_sigterm_at_random_points_always_exits_0_within_10_s(tmp_path: Path, sb: Sandbox) -> None:
    r = random.Random(14)
    for n in range(4):
        sb.reset()
        sb.set_cmak_restart(ORDERS, "available")
        sb.inject_latency(r.choice((0.5, 3.0, 30.0)), count=3)
        daemon = Daemon(tmp_path / f"d{n}", sb, ncp_timeout="1m")
        try:
            daemon.start()
            wait_for(daemon.answers, timeout=20, what="the listener", detail=daemon.output)
            sb.break_tool(ORDERS, "down")
            CLOCK.sleep(r.uniform(0.0, 6.0))
            code, took = stopped_within(daemon, 10)
            assert code == 0 and took < 10, (n, code, took, daemon.output()[-2000:])
        finally:
            daemon.kill()


def test_a_second_daemon_on_one_sqlite_ledger_is_refused_naming_the_first(
    tmp_path: Path, sb: Sandbox
) -> None:
    first = Daemon(tmp_path / "a", sb)
    second = Daemon(tmp_path / "b", sb, db=first.db)
    try:
        first.start()
        wait_for(first.ready, timeout=20, what="the first daemon", detail=first.output)
        assert second.start().wait(20) == 1, "exit 1: systemd may try again"
        assert "is held by another remediator (remediator " in second.output()
        assert first.ready()
    finally:
        first.kill()
        second.kill()
