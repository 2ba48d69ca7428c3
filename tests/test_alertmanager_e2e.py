"""End to end with the real Alertmanager: `remediator run` as a process, the sandbox, real time.

Alertmanager (Debian's prometheus-alertmanager, loopback only, gossip off) delivers at least
once: on every group change, every repeat, and once per instance. Whatever it re-sends, one
incident gives exactly one signed restart; a resolve gives none; a wrong token gives none.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from remediator.clock import SystemClock
from remediator.http.intake import PATH
from remediator.sandbox import Sandbox
from remediator.timetext import parse_time
from tests.e2e import free_port, require_binary, stop_process
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e

AK, SK = "AM-E2E-AK", "am-e2e-sk"  # sandbox test keys, not secrets
TOKEN = "am-e2e-token-0123456789"  # a test token, not a secret
ORDERS = "1484848"
CLOCK = SystemClock()
# Generous for a 2-core machine shared with other test runs; the happy path takes a few seconds.
DELIVERY = 20.0
LABELS = ["alertname=CMAKDown", f"cluster_no={ORDERS}", "severity=critical"]
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def child_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in PROXY_VARIABLES and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")
    }
    return env | extra


def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # loopback only, whatever proxies the environment names
    return s


HTTP = session()


class Daemon:
    """`remediator run` with a webhook token and one alert rule on the CMAK cluster `orders`."""

    def __init__(self, tmp: Path, sb: Sandbox) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.db = tmp / "state.db"
        token = tmp / "webhook-token"
        token.write_text(TOKEN + "\n")
        token.chmod(0o600)
        (tmp / "rules").mkdir()
        (tmp / "rules" / "alerts.yaml").write_text(
            """
rules:
  - name: cmak-down-alert
    targets: ["*"]
    trigger: {alert: {alertname: CMAKDown}}
    action: restart_cmak
    cooldown: 1h
    verify: {grace: 1s, successes: 2, timeout: 30s}
"""
        )
        (tmp / "remediator.yaml").write_text(
            f"""
ncp: {{endpoint: "{sb.url}", access_key: {{env: AK}}, secret_key: {{env: SK}}, timeout: 3s}}
server: {{listen: "127.0.0.1:{self.port}", webhook_token: {{file: "{token}"}}}}
state: {{path: "{self.db}"}}
targets:
  - name: orders
    cluster_no: "{ORDERS}"
    health: {{kind: cmak, url: "{sb.tool_url(ORDERS)}", interval: 1s, timeout: 1s}}
rules: [rules/*.yaml]
"""
        )
        self.log_path = tmp / "daemon.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "remediator", "run", "-c", str(tmp / "remediator.yaml")],
                env=child_env(AK=AK, SK=SK),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.ready, timeout=DELIVERY, what="the daemon to be ready", detail=self.output)

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def ready(self) -> bool:
        assert self.proc.poll() is None, f"the daemon exited:\n{self.output()}"
        try:
            return HTTP.get(f"http://127.0.0.1:{self.port}/-/ready", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
        text = HTTP.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    total += sample.value
        return total

    def episodes(self) -> list[tuple[Any, ...]]:
        """(fingerprint, starts_at, receipts, resolved) of every alert episode in the ledger."""
        db = sqlite3.connect(self.db)
        try:
            return list(
                db.execute(
                    "SELECT fingerprint, starts_at, receipts, resolved_at IS NOT NULL "
                    "FROM alert_episodes ORDER BY first_seen"
                )
            )
        finally:
            db.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.proc, 15)


class Alertmanager:
    """A real Alertmanager on loopback whose only receiver is the daemon's webhook."""

    def __init__(self, tmp: Path, name: str, webhook_url: str, token: str) -> None:
        self.binary = require_binary("prometheus-alertmanager")
        self.amtool = require_binary("amtool")
        self.dir = tmp / name
        self.dir.mkdir()
        self.port = free_port()
        credentials = self.dir / "token"
        credentials.write_text(token)
        credentials.chmod(0o600)
        config = self.dir / "alertmanager.yml"
        # Short, since each step waits for a delivery: a new group goes out after group_wait, a
        # changed one at the next group_interval tick. Alertmanager refuses zero for either.
        # Repeats only happen at group_interval ticks (repeat_interval is at least that); no
        # step waits for one.
        config.write_text(
            f"""
route:
  receiver: remediator
  group_by: [alertname, cluster_no]
  group_wait: 100ms
  group_interval: 500ms
  repeat_interval: 10s
receivers:
  - name: remediator
    webhook_configs:
      - url: {webhook_url}
        send_resolved: true
        max_alerts: 100
        http_config:
          authorization: {{type: Bearer, credentials_file: "{credentials}"}}
"""
        )
        check = subprocess.run(
            [self.amtool, "check-config", str(config)], capture_output=True, text=True, check=False
        )
        assert check.returncode == 0, check.stdout + check.stderr
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
                    "--log.level=debug",
                ],
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(
            self.ready,
            timeout=DELIVERY,
            what=f"Alertmanager {name} to be ready",
            detail=self.output,
        )

    def ready(self) -> bool:
        assert self.proc.poll() is None, f"Alertmanager exited:\n{self.output()}"
        try:
            return HTTP.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def add(self, *labels: str, start: str | None = None, end: str | None = None) -> None:
        """`amtool alert add`, as a user or a Prometheus would post an alert."""
        argv = [self.amtool, f"--alertmanager.url={self.url}", "alert", "add", *labels]
        argv += [f"--start={start}"] if start else []
        argv += [f"--end={end}"] if end else []
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=30, env=child_env(), check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts this Alertmanager holds (its API v2)."""
        reply = HTTP.get(f"{self.url}/api/v2/alerts", timeout=5)
        reply.raise_for_status()
        alerts: list[dict[str, Any]] = reply.json()
        return alerts

    def starts_at(self, **labels: str) -> str:
        """startsAt of the one alert with exactly these labels."""
        (alert,) = [a for a in self.alerts() if a["labels"] == labels]
        return str(alert["startsAt"])

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.proc, 10)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, restart_delay=1.0).start()
    box.set_cmak_restart(ORDERS, "available")
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start daemons and Alertmanagers; every one is stopped afterwards, Alertmanagers first."""
    require_binary("prometheus-alertmanager")
    require_binary("amtool")
    started: list[Daemon | Alertmanager] = []

    def start(kind: type[Daemon] | type[Alertmanager], *args: Any) -> Any:
        thing = kind(*args)
        started.append(thing)
        return thing

    yield start
    for thing in sorted(started, key=lambda t: isinstance(t, Daemon)):
        thing.stop()


def rfc3339(epoch: float) -> str:
    """`epoch` as amtool's --start/--end take it (fractional seconds kept: no rounding down
    to before an alert's own startsAt)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def engine_caught_up(daemon: Daemon) -> None:
    """Wait until the engine has heard every alert the webhook has taken so far.

    The webhook answers once alerts are in the ledger; the engine hears them after, in the
    order they came (one queue). So an alert posted now is decided after all of them: a fresh
    firing episode on `orders`, which the guards hold (or a look under way, from an alert that
    should have acted on nothing, makes the engine skip it: then this wait fails too).
    """
    held = daemon.metric("remediator_decisions_total", outcome="suppressed")
    barrier = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": dict(label.split("=", 1) for label in [*LABELS, "instance=barrier"]),
                "startsAt": rfc3339(CLOCK.now()),
                "fingerprint": "barrier",
            }
        ],
    }
    reply = HTTP.post(
        daemon.webhook_url, json=barrier, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    assert reply.status_code == 200, reply.text
    wait_for(
        lambda: daemon.metric("remediator_decisions_total", outcome="suppressed") > held,
        timeout=DELIVERY,
        what="the engine to decide an alert posted after all the others",
        detail=daemon.output,
    )


def test_alertmanager_resends_and_a_second_instance_give_one_action_and_a_resolve_none(
    tmp_path: Path, sb: Sandbox, launch: Callable[..., Any]
) -> None:
    daemon: Daemon = launch(Daemon, tmp_path, sb)
    am1: Alertmanager = launch(Alertmanager, tmp_path, "am1", daemon.webhook_url, TOKEN)

    # 1. CMAKDown fires: one signed restart of the cluster's CMAK, accepted by the gateway.
    am1.add(*LABELS)
    wait_for(lambda: len(sb.action_calls(ORDERS)) >= 1, timeout=DELIVERY, what="the restart call")
    (call,) = sb.action_calls()
    assert (call.operation, call.cluster_no, call.verified) == ("restartCMAKService", ORDERS, True)
    assert call.applied and call.http_status == 200 and call.code == 0
    assert [c for c in sb.calls if not c.verified] == [], "every gateway call was signed right"
    ((a_fingerprint, a_start, _, _),) = daemon.episodes()

    # 2. A second alert (B) joins the group, with a startsAt of its own as Prometheus gives
    # one: at the next group_interval Alertmanager re-sends the group, the first alert again
    # (a duplicate) with the new one (a new episode, begun after the restart: guards hold it).
    b_start = rfc3339(CLOCK.now())
    am1.add(*LABELS, "instance=probe-b", start=b_start)
    wait_for(
        lambda: len(daemon.episodes()) == 2,
        timeout=DELIVERY,
        what="Alertmanager to re-send the group",
    )
    assert daemon.metric("remediator_alerts_received_total", outcome="duplicate") >= 1
    b_fingerprint, b_sent_start, _, _ = daemon.episodes()[1]

    # 3. A second Alertmanager on the same receiver. Told B's startsAt (as one Prometheus
    # tells each of an HA pair), it sends the same episode. Told none, it sets its own: the
    # first alert's labels (same fingerprint) with another startsAt are a new episode (A2),
    # begun after the restart. An alert that began before the restart (C) is answered by it.
    am2: Alertmanager = launch(Alertmanager, tmp_path, "am2", daemon.webhook_url, TOKEN)
    am2.add(*LABELS, "instance=probe-b", start=b_start)
    am2.add(*LABELS)
    began = parse_time(a_start)
    assert began is not None
    am2.add(*LABELS, "instance=probe-c", start=rfc3339(began - 1.0))
    wait_for(
        lambda: len(daemon.episodes()) == 4,
        timeout=DELIVERY,
        what="the second Alertmanager's alerts",
    )

    def held() -> float:
        return sum(
            daemon.metric("remediator_decisions_total", outcome="suppressed", reason=reason)
            for reason in ("in_progress", "cooldown")
        )

    # A2 and B began after the restart: the guards hold them. C began before: it answers C.
    wait_for(lambda: held() >= 2, timeout=DELIVERY, what="the guards to hold A2 and B")
    wait_for(lambda: "which answers it" in daemon.output(), timeout=DELIVERY, what="C, answered")
    episodes = [(row[0], row[1]) for row in daemon.episodes()]
    assert episodes.count((b_fingerprint, b_sent_start)) == 1, "B from both: one episode"
    assert [fp for fp, _ in episodes].count(a_fingerprint) == 2, "A: one fingerprint, 2 starts"
    assert len(sb.action_calls()) == 1

    # 4. Resolve everything on both: the resolved notifications arrive, and nothing is sent.
    end = rfc3339(CLOCK.now())
    for am, extra in ((am1, ["instance=probe-b"]), (am2, ["instance=probe-b", "instance=probe-c"])):
        am.add(*LABELS, end=end)
        for label in extra:
            am.add(*LABELS, label, end=end)
    wait_for(
        lambda: all(row[3] for row in daemon.episodes()),
        timeout=DELIVERY,
        what="every episode resolved in the ledger",
    )
    wait_for(
        lambda: daemon.metric("remediator_alerts_received_total", status="resolved") >= 5,
        timeout=DELIVERY,
        what="both Alertmanagers' resolved notifications",
    )
    engine_caught_up(daemon)
    assert len(sb.action_calls()) == 1
    assert daemon.metric("remediator_decisions_total", outcome="acted") == 1
    assert daemon.metric("remediator_actions_total", action="restart_cmak", result="success") == 1

    # 5. What the daemon counted: real deliveries, matched and duplicate, all answered 200.
    requests_200 = daemon.metric("remediator_webhook_requests_total", code="200")
    assert requests_200 >= 5
    assert daemon.metric("remediator_webhook_requests_total") == requests_200
    assert daemon.metric("remediator_alerts_received_total", outcome="matched") >= 4
    assert daemon.metric("remediator_alerts_received_total", outcome="duplicate") >= 2
    assert daemon.metric("remediator_alerts_received_total", outcome="unmatched") == 0
    for am in (am1, am2):
        assert "Notify success" in am.output()
        assert "Notify for alerts failed" not in am.output()

    # 6. SIGTERM while both Alertmanagers hold kept-alive connections: a prompt, clean exit
    # (waitress used to keep serving them, and the stop to wait 5 s for its thread).
    received = sum(
        daemon.metric("remediator_alerts_received_total", outcome=outcome)
        for outcome in ("matched", "duplicate")
    )
    stopping = CLOCK.monotonic()
    daemon.proc.terminate()
    assert daemon.proc.wait(15) == 0
    assert CLOCK.monotonic() - stopping < 4.0
    assert '"message": "stopped"' in daemon.output()
    # Re-sends answered from memory were counted into the ledger at the clean stop: every
    # receipt is there, B's from both Alertmanagers in its one row.
    receipts = {(row[0], row[1]): row[2] for row in daemon.episodes()}
    assert sum(receipts.values()) >= received
    assert receipts[(b_fingerprint, b_sent_start)] >= 2


def test_a_wrong_token_is_refused_401_and_nothing_is_sent(
    tmp_path: Path, sb: Sandbox, launch: Callable[..., Any]
) -> None:
    daemon: Daemon = launch(Daemon, tmp_path, sb)
    am: Alertmanager = launch(Alertmanager, tmp_path, "am", daemon.webhook_url, "not-" + TOKEN)
    am.add(*LABELS)
    wait_for(
        lambda: daemon.metric("remediator_webhook_requests_total", code="401") >= 1,
        timeout=DELIVERY,
        what="Alertmanager's delivery, refused",
    )
    wait_for(
        lambda: "Notify for alerts failed" in am.output(),
        timeout=DELIVERY,
        what="Alertmanager to log the failure",
    )
    assert "401" in am.output()
    assert "webhook rejected with 401" in daemon.output()
    assert daemon.metric("remediator_webhook_requests_total", code="200") == 0
    assert daemon.metric("remediator_alerts_received_total") == 0
    assert daemon.episodes() == []
    assert sb.action_calls() == []
