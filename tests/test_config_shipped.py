"""The shipped rules (rules/*.yaml): how far each may reach, how the files say to reach further,
and what they do on the sandbox — a sick broker gets only its node restarted, a sick manager
tool gets no broker restarted."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediator.cli import main
from remediator.clock import FakeClock
from remediator.config.loader import load_config
from remediator.core.rules import exceeds
from remediator.sandbox import Sandbox
from tests.harness import AK, ORDERS, SK, Harness

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "remediator.yaml"
BROKERS = REPO / "rules" / "brokers.yaml"
MANAGER_TOOL = REPO / "rules" / "manager-tool.yaml"
EVERYTHING = "restart_all_services (cluster: every broker and ZooKeeper restart at once)"
TOOL_LIMIT = "    max_blast_radius: tool      # the manager tool only, never a broker (see above)\n"


def test_the_shipped_rules_go_no_further_than_the_fault_they_watch() -> None:
    """The broker ladder stays within a rolling restart; the manager-tool rules within the tool."""
    config = load_config(EXAMPLE)
    assert config.warnings == ()
    rules = {r.name: r for r in config.policy().rules}
    assert set(rules) == {"broker-unhealthy", "cmak-unhealthy", "cmak-down-alert"}
    brokers = rules.pop("broker-unhealthy")
    assert brokers.evidence == "cluster"
    assert brokers.steps == ("restart_kafka_node", "rolling_restart")
    assert (brokers.worst_case, brokers.max_blast_radius) == ("rolling", "rolling")
    assert not exceeds(brokers.worst_case, "rolling")
    for rule in rules.values():
        assert (rule.worst_case, rule.max_blast_radius) == ("tool", "tool"), rule.name
        assert rule.remedies == ("restart_cmak",), rule.name


def installed(tmp_path: Path, edit: tuple[Path, str, str] | None = None) -> Path:
    """The example configuration and rules copied as installed; `edit` replaces one text."""
    shutil.copy(EXAMPLE, tmp_path / "remediator.yaml")
    shutil.copytree(REPO / "rules", tmp_path / "rules")
    if edit is not None:
        source, old, new = edit
        path = tmp_path / "rules" / source.name
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new))
    return tmp_path / "remediator.yaml"


def check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = main(["check", "-c", str(config), "--no-secrets"])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def uncommented(block: str) -> str:
    """A commented-out YAML block of the file with its `# ` taken off, indentation kept."""
    return re.sub(r"(?m)^(\s*)# ?", r"\1", block)


def documented_raise() -> tuple[str, str]:
    """What manager-tool.yaml says to write instead of `max_blast_radius: tool`."""
    text = MANAGER_TOOL.read_text()
    found = re.search(r"(?m)^#\s+(fallback_action: \S+)\n#\s+(max_blast_radius: \S+)$", text)
    assert found, "the file shows the two lines that allow the fallback"
    return found.group(1), found.group(2)


def test_the_raise_the_manager_tool_file_documents_passes_check_and_says_its_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fallback, limit = documented_raise()
    assert fallback == "fallback_action: restart_all_services"
    assert limit == "max_blast_radius: cluster"
    raised = f"    {fallback}\n    {limit}\n"
    code, out, err = check(installed(tmp_path, (MANAGER_TOOL, TOOL_LIMIT, raised)), capsys)
    assert (code, err) == (0, "")
    assert f"cmak-unhealthy: restart_cmak (tool; withdrawn by NCP) → {EVERYTHING}" in out


def test_the_fallback_without_the_raise_is_refused_with_what_it_would_restart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fallback, _ = documented_raise()
    config = installed(tmp_path, (MANAGER_TOOL, TOOL_LIMIT, f"    {fallback}\n"))
    code, out, err = check(config, capsys)
    assert (code, out) == (2, [])
    assert err == (
        f"{tmp_path}/rules/manager-tool.yaml:31: rules[0].fallback_action: restart_all_services "
        "restarts every broker and ZooKeeper at once (blast radius cluster); set "
        "max_blast_radius: cluster to allow it\n"
    )


def test_the_commented_kafka_ui_rule_works_when_uncommented_and_only_with_its_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = MANAGER_TOOL.read_text()
    block = text[text.index("  # - name: kafka-ui-unhealthy") :]
    code, out, err = check(installed(tmp_path, (MANAGER_TOOL, block, uncommented(block))), capsys)
    assert (code, err) == (0, "")
    assert out[-1] == f"kafka-ui-unhealthy: {EVERYTHING}"
    limit = next(line for line in uncommented(block).splitlines() if "max_blast_radius" in line)
    unlimited = uncommented(block).replace(limit + "\n", "")
    shutil.rmtree(tmp_path / "rules")
    code, out, err = check(installed(tmp_path, (MANAGER_TOOL, block, unlimited)), capsys)
    assert code == 2
    assert "rules[2].action: restart_all_services restarts every broker and ZooKeeper" in err


def test_a_stated_narrow_limit_silences_the_withdrawn_cmak_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = check(installed(tmp_path, (MANAGER_TOOL, TOOL_LIMIT, "")), capsys)
    assert code == 0
    assert "manager-tool.yaml:30: rules[0].action: NCP withdrew restartCMAKService" in err
    assert "rules[1]" not in err, "the alert rule states its limit: no warning for it"


# -- on the sandbox --------------------------------------------------------------------------


def shipped_rules() -> str:
    """The items of every shipped rules file, for the harness (which writes `rules:` itself)."""
    return "".join(
        path.read_text().split("\nrules:\n", 1)[1] for path in sorted((REPO / "rules").glob("*"))
    )


@pytest.fixture
def harness(tmp_path: Path, fake_clock: FakeClock) -> Iterator[Harness]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    h = Harness(tmp_path, box, fake_clock, shipped_rules(), cluster_health="60s")
    yield h
    h.daemon.ledger.close()
    box.stop()


def sent(sb: Sandbox) -> list[tuple[str, object]]:
    """Every mutation the sandbox accepted or refused for orders: (operation, JSON body)."""
    return [
        (c.operation or "", json.loads(c.body) if c.body else None) for c in sb.action_calls(ORDERS)
    ]


def test_with_the_shipped_rules_a_red_broker_gets_only_its_node_restarted(
    harness: Harness,
) -> None:
    sb = harness.sb
    broker = [n for n in sb.nodes(ORDERS) if n.role == "BROKER"][1]
    sb.break_broker(ORDERS, broker.host_name, "red")
    harness.run(15 * 20)
    assert sent(sb) == [
        ("restartKafkaServicePerNode", {"computeInstanceNoList": [broker.compute_instance_no]})
    ]
    outcome = {"rule": "broker-unhealthy", "target": "orders", "outcome": "recovered"}
    assert harness.metric("remediator_remediations_total", **outcome) == 1
    # The dashboard's "Decisions by blast radius" joins these two on action.
    decided = {"action": "restart_kafka_node", "outcome": "acted"}
    assert harness.metric("remediator_decisions_by_action_total", **decided) == 1
    info = {"action": "restart_kafka_node", "blast_radius": "node"}
    assert harness.metric("remediator_action_info", **info) == 1


def test_with_the_shipped_rules_a_failing_manager_tool_restarts_no_broker(
    harness: Harness,
) -> None:
    sb = harness.sb
    sb.break_tool(ORDERS, "down")
    harness.run(15 * 20)
    # NCP refuses the one remedy that fits (withdrawn); nothing wider follows.
    assert [op for op, _ in sent(sb)] == ["restartCMAKService"]
    outcome = {"rule": "cmak-unhealthy", "target": "orders", "outcome": "not_recovered"}
    assert harness.metric("remediator_remediations_total", **outcome) == 1
    assert all(n.broker_status == "green" for n in sb.nodes(ORDERS) if n.role == "BROKER")
