"""The smaller faults of the campaign (issue 14, item 7) that need no external process: the
ledger file's mode and its one holder, the bearer scheme's case, the listener naming its
address, and no action sent while the cluster status cannot be read (fail closed)."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from remediator.clock import FakeClock
from remediator.core.decisions import Act, CheckFirst, Decision
from remediator.core.engine import Engine
from remediator.core.events import PreflightResult, ProbeResult
from remediator.errors import LedgerBusy, LedgerUnavailable
from remediator.http.auth import authorized
from remediator.http.server import HttpServer
from remediator.sandbox import Sandbox
from remediator.store import open_ledger
from remediator.store.sqlite import SqliteLedger
from tests.harness import AK, ORDERS, SK, Harness
from tests.test_engine import policy, probe_rule

T0 = 1_800_000_000.0


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_ledger_and_its_wal_are_its_owners_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        ledger = SqliteLedger(tmp_path / "state.db")
        ledger.touch(T0)
        files = [tmp_path / n for n in ("state.db", "state.db-wal", "state.db-shm")]
        assert [mode(f) for f in files] == [0o600] * 3
        ledger.close()
    finally:
        os.umask(old)


def test_an_existing_world_readable_ledger_is_made_its_owners_only(tmp_path: Path) -> None:
    SqliteLedger(tmp_path / "state.db").close()
    (tmp_path / "state.db").chmod(0o644)
    SqliteLedger(tmp_path / "state.db").close()
    assert mode(tmp_path / "state.db") == 0o600


def test_one_daemon_holds_a_sqlite_ledger_and_a_second_is_told_who(tmp_path: Path) -> None:
    first = open_ledger(path=tmp_path / "state.db", url=None)
    with pytest.raises(LedgerBusy, match=f"held by another remediator .*pid {os.getpid()}"):
        open_ledger(path=tmp_path / "state.db", url=None)
    reader = open_ledger(path=tmp_path / "state.db", url=None, exclusive=False)  # `status`
    reader.close()
    first.close()
    open_ledger(path=tmp_path / "state.db", url=None).close()  # free again


def test_a_ledger_that_cannot_be_opened_is_ledger_unavailable(tmp_path: Path) -> None:
    (tmp_path / "not-a-directory").write_text("")
    with pytest.raises(LedgerUnavailable, match="cannot open"):
        SqliteLedger(tmp_path / "not-a-directory" / "state.db")


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("Bearer s3cret", True),
        ("bearer s3cret", True),
        ("BEARER  s3cret ", True),
        ("Basic s3cret", False),
        ("Bearer s3cre", False),
        ("s3cret", False),
        ("", False),
    ],
)
def test_the_bearer_scheme_is_case_insensitive(header: str, ok: bool) -> None:
    assert authorized(header, b"s3cret") is ok


def test_a_taken_address_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HttpServer(lambda _e, _s: [], "127.0.0.1", port)
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}: Address already"):
            server.start()


# -- the cluster status unreadable before acting: fail closed --------------------------------


def test_an_unreadable_cluster_status_holds_the_step_until_it_can_be_read() -> None:
    engine = Engine(policy(probe_rule()))
    out = []
    for i in range(3):
        out = engine.handle(ProbeResult("orders", False, "down", T0 + i), T0 + i)
    (check,) = out
    assert isinstance(check, CheckFirst)
    unread = PreflightResult(
        check.rule, "orders", check.token, T0 + 3, cluster_busy=None, cluster_detail="refused"
    )
    out = engine.handle(unread, T0 + 3)
    assert [(d.outcome, d.reason) for d in out if isinstance(d, Decision)] == [
        ("suppressed", "cluster_unknown")
    ]
    assert not any(isinstance(o, Act) for o in out)
    (check,) = engine.handle(ProbeResult("orders", False, "down", T0 + 4), T0 + 4)
    assert isinstance(check, CheckFirst)
    out = engine.handle(PreflightResult(check.rule, "orders", check.token, T0 + 5), T0 + 5)
    assert [o.action for o in out if isinstance(o, Act)] == ["restart_cmak"]


@pytest.fixture
def sb(fake_clock: FakeClock) -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock).start()
    box.set_cmak_restart(ORDERS, "available")
    try:
        yield box
    finally:
        box.stop()


def test_with_the_status_read_refused_no_action_is_sent(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock
) -> None:
    rule = """
  - name: cmak-unhealthy
    targets: ["orders"]
    trigger: {probe: {failures: 3, of: 3}}
    action: restart_cmak
"""
    h = Harness(tmp_path, sb, fake_clock, rule)
    sb.break_tool(ORDERS, "down")
    sb.inject_error(400, "100", count=100, operation="getClusterStatus")
    h.run(90)
    assert h.actions(ORDERS) == []
    reasons = h.metric(
        "remediator_decisions_total",
        rule="cmak-unhealthy",
        target="orders",
        outcome="suppressed",
        reason="cluster_unknown",
    )
    assert reasons == 1, "said once for the trip"
    sb.clear_faults()
    h.run(30)
    assert h.actions(ORDERS) == ["restartCMAKService"], "acts once the status can be read"


def test_a_lowercase_bearer_reaches_the_webhook(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock
) -> None:
    (tmp_path / "token").write_text("s3cret")
    h = Harness(
        tmp_path,
        sb,
        fake_clock,
        '  - {name: r, targets: ["*"], trigger: {alert: {alertname: X}}, action: restart_cmak}\n',
        server=f'listen: "127.0.0.1:0", webhook_token: {{file: "{tmp_path / "token"}"}}',
    )
    h.daemon.http.start()
    try:
        url = f"http://127.0.0.1:{h.daemon.http.port}/api/v1/alerts/alertmanager"
        body = {"version": "4", "status": "firing", "alerts": []}
        assert (
            requests.post(
                url, json=body, headers={"Authorization": "bearer s3cret"}, timeout=5
            ).status_code
            == 200
        )
        assert (
            requests.post(
                url, json=body, headers={"Authorization": "bearer nope"}, timeout=5
            ).status_code
            == 401
        )
    finally:
        h.daemon.http.close()
