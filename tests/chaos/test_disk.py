"""A full and a read-only state directory, on a real filesystem (a 2 MiB tmpfs), under a real
daemon process (issue 14, items 1 and 7)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from remediator.sandbox import Sandbox
from tests.chaos.proc import AK, ORDERS, SK, TOKEN, Daemon
from tests.chaos.tmpfs import fill, tmpfs
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e  # daemon processes and a mounted filesystem

ALERT = {
    "version": "4",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "CMAKDown", "cluster_no": ORDERS},
            "startsAt": "2027-01-15T08:00:00Z",
            "fingerprint": "disk-1",
        }
    ],
}


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, restart_delay=1.0).start()
    box.set_cmak_restart(ORDERS, "available")
    try:
        yield box
    finally:
        box.stop()


def test_a_full_state_directory_at_start_is_exit_1_with_a_message(
    tmp_path: Path, sb: Sandbox
) -> None:
    with tmpfs(tmp_path / "state") as state:
        fill(state)
        daemon = Daemon(tmp_path / "d", sb, db=state / "state.db")
        assert daemon.start().wait(30) == 1
    out = daemon.output()
    assert "cannot start: ledger" in out and "cannot open: " in out, out
    assert "No space left on device" in out or "database or disk is full" in out, out
    assert "Traceback" not in out


def test_a_read_only_state_directory_at_start_is_exit_1_with_a_message(
    tmp_path: Path, sb: Sandbox
) -> None:
    with tmpfs(tmp_path / "state", read_only=True) as state:
        daemon = Daemon(tmp_path / "d", sb, db=state / "state.db")
        assert daemon.start().wait(30) == 1
    out = daemon.output()
    assert "cannot start: ledger" in out and "Read-only file system" in out, out
    assert "Traceback" not in out


def test_a_disk_that_fills_during_an_incident_holds_the_action_until_it_has_room(
    tmp_path: Path, sb: Sandbox
) -> None:
    with tmpfs(tmp_path / "state") as state:
        daemon = Daemon(tmp_path / "d", sb, db=state / "state.db")
        try:
            daemon.start()
            wait_for(daemon.ready, timeout=20, what="the daemon ready", detail=daemon.output)
            filler = fill(state)
            sb.break_tool(ORDERS, "down")
            wait_for(
                lambda: daemon.metric("remediator_ledger_writable") == 0.0,
                timeout=20,
                what="the ledger seen unwritable",
                detail=daemon.output,
            )
            assert not daemon.ready(), "/-/ready answers 503"
            hook = requests.post(
                daemon.url("/api/v1/alerts/alertmanager"),
                json=ALERT,
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=5,
            )
            assert (hook.status_code, hook.headers.get("Retry-After")) == (503, "10")
            assert sb.action_calls(ORDERS) == [], "no call without its intent on disk"
            filler.unlink()
            wait_for(daemon.ready, timeout=20, what="ready again", detail=daemon.output)
            wait_for(
                lambda: [r[2] for r in daemon.rows()] == ["recovered"],
                timeout=60,
                what="the remediation, once there is room",
                detail=lambda: f"{daemon.rows()}\n{daemon.output()[-3000:]}",
            )
            assert len(sb.action_calls(ORDERS)) == 1
        finally:
            daemon.kill()
    assert "Traceback" not in daemon.output()
