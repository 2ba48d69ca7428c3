"""A full and a read-only state directory, on a real filesystem (a 2 MiB tmpfs), under a real
daemon process (issue 14, items 1 and 7)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from remediator.sandbox import Sandbox
from tests.chaos.disk import at_start, filling
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


@pytest.mark.parametrize("read_only", [False, True], ids=["full", "read-only"])
def test_an_unwritable_state_directory_at_start_is_exit_1_with_a_message(
    tmp_path: Path, sb: Sandbox, read_only: bool
) -> None:
    seen = at_start(tmp_path, sb, read_only=read_only)
    assert seen.clear, seen
    why = "Read-only file system" if read_only else ("No space left", "disk is full")
    assert any(w in seen.output for w in ((why,) if isinstance(why, str) else why)), seen


def test_a_disk_that_fills_at_the_trip_holds_the_action_until_it_has_room(
    tmp_path: Path, sb: Sandbox
) -> None:
    seen = filling(tmp_path, sb, seconds=12.0)
    assert seen.held, seen


def test_the_webhook_answers_503_with_retry_after_on_a_full_disk(
    tmp_path: Path, sb: Sandbox
) -> None:
    with tmpfs(tmp_path / "state") as state:
        d = Daemon(tmp_path / "d", sb, db=state / "state.db")
        try:
            d.start()
            wait_for(d.ready, timeout=20, what="the daemon ready", detail=d.output)
            filler = fill(state)
            wait_for(lambda: not d.ready(), timeout=20, what="readiness 503", detail=d.output)
            hook = requests.post(
                d.url("/api/v1/alerts/alertmanager"),
                json=ALERT,
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=5,
            )
            assert (hook.status_code, hook.headers.get("Retry-After")) == (503, "10")
            filler.unlink()
            wait_for(d.ready, timeout=20, what="ready again", detail=d.output)
            hook = requests.post(
                d.url("/api/v1/alerts/alertmanager"),
                json=ALERT,
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=5,
            )
            assert hook.status_code == 200
        finally:
            d.kill()
