"""What the campaign found by using remediator (issue 14, item 8): each as the operator meets
it — a metric, a log line, a command's exit code or words, the example configuration."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from remediator import logs
from remediator.cli import main
from remediator.cli.operator import render_result
from remediator.clock import FakeClock
from remediator.config.diff import describe_changes
from remediator.config.loader import load_config
from remediator.config.model import Target
from remediator.core.decisions import Decision
from remediator.core.engine import Engine
from remediator.core.events import AlertEvent, ProbeResult
from remediator.core.snapshot import snapshot
from remediator.ncp.envelope import WITHDRAWAL_NOTE
from remediator.sandbox import Sandbox
from tests.harness import AK, CMAK_RULE, ORDERS, SK, Harness
from tests.test_engine import alert_rule, policy

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_800_000_000.0


@pytest.fixture
def sb(fake_clock: FakeClock) -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def h(tmp_path: Path, sb: Sandbox, fake_clock: FakeClock) -> Iterator[Harness]:
    harness = Harness(tmp_path, sb, fake_clock, CMAK_RULE)
    yield harness
    harness.daemon.ledger.close()


def test_a_fallback_is_timed_from_the_detection_and_its_note_said_once(
    h: Harness, sb: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="remediator")
    sb.break_tool(ORDERS, "down")  # restartCMAKService is withdrawn: the fallback runs
    h.run(45)
    assert h.actions(ORDERS) == ["restartCMAKService", "restartAllServices"]
    seconds = h.metric("remediator_detection_to_action_seconds_sum", action="restart_all_services")
    assert 29 <= seconds <= 31, "from the first failed probe (30 s before), not the decision"
    notes = [r for r in caplog.records if WITHDRAWAL_NOTE in r.getMessage()]
    assert len(notes) == 1, [r.getMessage()[:80] for r in notes]


def test_a_duplicate_alert_says_when_the_action_was_as_a_time_not_an_epoch() -> None:
    engine = Engine(policy(alert_rule()))
    engine.state.last_action_at["orders"] = T0
    alert = AlertEvent("orders", "CMAKDown", "firing", "fp", "s", T0 + 300, starts_at_ts=T0 - 60)
    (decision,) = engine.handle(alert, T0 + 300)
    assert isinstance(decision, Decision) and decision.reason == "duplicate"
    assert "at 2027-01-15T08:00:00Z (5m ago)" in decision.detail, decision.detail
    assert str(int(T0)) not in decision.detail


def test_explain_into_head_ends_quietly(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    with events.open("w") as out:  # a trip held by the cooldown every 4 probes: pages of output
        for i in range(20_000):
            line = {"type": "probe", "target": "orders", "ok": i % 4 == 3, "now": T0 + 15 * i}
            out.write(json.dumps(line) + "\n")
    piped = subprocess.run(
        f"{sys.executable} -m remediator explain -c examples/remediator.yaml "
        f"--events {events} | head -1",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert piped.stdout.count("\n") == 1
    assert "Traceback" not in piped.stderr and "BrokenPipeError" not in piped.stderr


def test_a_dry_run_says_so_when_it_starts(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="remediator")
    h.daemon.driver.dry_run = True
    h.daemon.start()
    h.daemon.stop()
    (started,) = [r.getMessage() for r in caplog.records if "remediator started" in r.getMessage()]
    assert "DRY RUN: decisions are made and recorded, no action is sent" in started


def test_resuming_what_is_not_paused_says_so(h: Harness) -> None:
    operator = h.daemon.parts.operator
    result = operator.resume("orders", reset_breaker=False)
    assert render_result("resume", result, "the ledger") == (
        "orders was not paused: nothing to resume (breakers closed: none), via the ledger"
    )
    operator.pause("orders", 600, "patching")
    result = operator.resume("orders", reset_breaker=False)
    assert render_result("resume", result, "x").startswith("resumed orders ")
    assert render_result("resume", operator.resume(None, False), "x").startswith(
        "nothing was paused"
    )


def test_status_without_a_look_says_unknown_not_healthy() -> None:
    engine = Engine(policy(alert_rule()))
    engine.state.rule_states[("cmak-down-alert", "orders")].breaker_open = True
    (rule,) = snapshot(engine, T0)["targets"][0]["rules"]
    assert (rule["phase"], rule["breaker_open"]) == ("unknown", True)
    engine.handle(ProbeResult("orders", True, "ok", T0), T0)
    assert snapshot(engine, T0)["targets"][0]["rules"][0]["phase"] == "healthy"


def test_the_reload_line_writes_values_as_the_configuration_does(h: Harness) -> None:
    old = h.daemon.config
    (h.tmp / "rules" / "r.yaml").write_text(
        "rules:\n"
        + CMAK_RULE.replace("per: 6h", "per: 1h").replace("cooldown: 15m", "cooldown: 1h")
    )
    new = load_config(h.tmp / "remediator.yaml")
    line = describe_changes(old, new)
    assert "cooldown 15m -> 1h" in line
    assert "budget {max: 3, per: 6h} -> {max: 3, per: 1h}" in line, line
    assert "'" not in line and "3600" not in line


def test_log_lines_carry_their_time_zone() -> None:
    out = io.StringIO()
    logs.setup("INFO", out)
    try:
        logging.getLogger("remediator.test").info("hello")
    finally:
        logs.setup("INFO")
    record = json.loads(out.getvalue())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"]), record


def test_the_example_configuration_shows_every_optional_part() -> None:
    text = (ROOT / "examples" / "remediator.yaml").read_text()
    for key in ("admin_token:", "region: KR", "url: postgresql://", "kind: http", "expect:"):
        assert key in text, key
    for key in ("`status`", "`body`", "`json_status`"):
        assert key in text, f"expect's {key} is explained"
    # The commented kind: http target is a valid target once uncommented.
    block = re.search(r"  # - name: search\n((?:  #  .*\n)+)", text)
    assert block is not None
    target = yaml.safe_load(
        "- name: search\n" + "".join(line[4:] + "\n" for line in block.group(1).splitlines())
    )[0]
    assert Target.model_validate(target).health.expect is not None


def test_bad_usage_is_exit_2(
    h: Harness, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AK", AK)
    monkeypatch.setenv("SK", SK)
    config = ["-c", str(h.tmp / "remediator.yaml")]
    assert main(["restart", "nope", "--reason", "x", *config]) == 2
    assert "unknown target 'nope'" in capsys.readouterr().err
    assert main(["pause", "orders", "--for", "30 minutes", "--reason", "x", *config]) == 2
    assert "'30 minutes' is not a duration" in capsys.readouterr().err
    assert main(["pause", "orders", "--for", "400d", "--reason", "x", *config]) == 2
