"""Silences from a real Alertmanager (Debian's prometheus-alertmanager 0.25, loopback only,
gossip off), made and expired with `amtool`, asked by the daemon before every action.

The daemon is the in-process harness on a FakeClock against the sandbox; Alertmanager keeps
real time, which only dates its silences.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from remediator.clock import FakeClock
from remediator.sandbox import Sandbox
from tests.e2e import free_port, require_binary, stop_process
from tests.harness import AK, ANALYTICS, CMAK_RULE, ORDERS, PAYMENTS, SK, Harness
from tests.test_alertmanager_e2e import child_env, session
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e

HTTP = session()


class Alertmanager:
    """A real Alertmanager with no receiver: here only for its silences."""

    def __init__(self, tmp: Path) -> None:
        self.binary = require_binary("prometheus-alertmanager")
        self.amtool_path = require_binary("amtool")
        self.dir = tmp / "alertmanager"
        self.dir.mkdir()
        config = self.dir / "alertmanager.yml"
        config.write_text('route: {receiver: "null"}\nreceivers: [{name: "null"}]\n')
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.dir / "alertmanager.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={config}",
                    f"--storage.path={self.dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",  # no HA gossip: nothing leaves loopback
                ],
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.ready, timeout=20, what="Alertmanager to be ready", detail=self.output)

    def ready(self) -> bool:
        assert self.proc.poll() is None, f"Alertmanager exited:\n{self.output()}"
        try:
            return HTTP.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def amtool(self, *args: str) -> str:
        done = subprocess.run(
            [self.amtool_path, f"--alertmanager.url={self.url}", *args],
            capture_output=True,
            text=True,
            timeout=30,
            env=child_env(),
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip()

    def silence(self, *matchers: str, comment: str = "broker disk swap") -> str:
        """`amtool silence add`; the new silence's id."""
        return self.amtool(
            "silence", "add", *matchers, "--author=alice", f"--comment={comment}", "--duration=1h"
        )

    def expire(self, sid: str) -> None:
        self.amtool("silence", "expire", sid)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.proc, 10)


@pytest.fixture
def am(tmp_path: Path) -> Iterator[Alertmanager]:
    manager = Alertmanager(tmp_path)
    yield manager
    manager.stop()


@pytest.fixture
def sb(fake_clock: FakeClock) -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    box.set_cmak_restart(ORDERS, "available")
    box.set_cmak_restart(ANALYTICS, "available")
    try:
        yield box
    finally:
        box.stop()


def harness(tmp: Path, sb: Sandbox, clock: FakeClock, alertmanager: str) -> Harness:
    return Harness(
        tmp,
        sb,
        clock,
        CMAK_RULE,
        guardrails="{max_concurrent_actions: 2}",
        top=f"alertmanager: {alertmanager}",
    )


def test_a_silenced_target_is_held_another_is_not_and_expiry_lets_it_through(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock, am: Alertmanager
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # an HA pair whose first member is down
    h = harness(tmp_path, sb, fake_clock, f'{{urls: ["{dead}", "{am.url}"]}}')
    try:
        sid = am.silence("alertname=CMAKDown", f"cluster_no={ORDERS}")
        sb.break_tool(ORDERS, "down")
        sb.break_tool(ANALYTICS, "down")
        h.run(3 * 60)
        assert h.actions(ORDERS) == []
        assert h.actions(ANALYTICS) == ["restartCMAKService"]
        silenced = h.metric(
            "remediator_decisions_total",
            rule="cmak-unhealthy",
            target="orders",
            outcome="suppressed",
            reason="silenced",
        )
        assert silenced == 1
        am.expire(sid)
        h.run(60)
        assert h.actions(ORDERS) == ["restartCMAKService"]
        assert h.metric("remediator_silence_checks_total", result="error") == 0
    finally:
        h.daemon.ledger.close()


@pytest.mark.parametrize("on_error", ["act", "hold"])
def test_alertmanager_down_acts_or_holds_as_on_error_says(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock, am: Alertmanager, on_error: str
) -> None:
    h = harness(tmp_path, sb, fake_clock, f'{{url: "{am.url}", on_error: {on_error}, timeout: 2s}}')
    try:
        am.silence("remediator_target=analytics")
        am.stop()
        sb.break_tool(ORDERS, "down")
        h.run(3 * 60)
        held = h.metric(
            "remediator_decisions_total",
            rule="cmak-unhealthy",
            target="orders",
            outcome="suppressed",
            reason="silenced",
        )
        if on_error == "act":
            assert h.actions(ORDERS) == ["restartCMAKService"]
            assert held == 0
        else:
            assert h.actions(ORDERS) == []
            assert held == 1
        assert h.metric("remediator_silence_checks_total", result="error") >= 1
    finally:
        h.daemon.ledger.close()


def test_regex_and_negative_matchers_hold_as_alertmanager_would(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock, am: Alertmanager
) -> None:
    h = harness(tmp_path, sb, fake_clock, f'{{url: "{am.url}"}}')
    respect = h.daemon.parts.respect
    try:
        regex = am.silence("remediator_target=~ord.*|pay", comment="regex")
        held = {t: respect.hold(t, fake_clock.now()) for t in ("orders", "payments", "analytics")}
        assert (
            held["orders"] is not None and f"silence {regex} by alice (regex" in held["orders"][1]
        )
        assert held["payments"] is None, "anchored: 'pay' is not 'payments'"
        assert held["analytics"] is None
        am.expire(regex)
        fake_clock.advance(5)
        negative = am.silence(f"cluster_no!={ANALYTICS}", "alertname=CMAKDown", comment="not it")
        assert respect.hold("orders", fake_clock.now()) is not None
        assert respect.hold("payments", fake_clock.now()) is not None
        assert respect.hold("analytics", fake_clock.now()) is None
        am.expire(negative)
        fake_clock.advance(5)
        both = am.silence("remediator_target!~ana.*", f"service_group_instance_no!={PAYMENTS}")
        assert [respect.hold(t, fake_clock.now()) is not None for t in ("orders", "payments")] == [
            True,
            False,
        ], both
        assert respect.hold("analytics", fake_clock.now()) is None
    finally:
        h.daemon.ledger.close()
