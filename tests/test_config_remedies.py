"""Remedies in the configuration (SPEC section 9): ladders, max_blast_radius, cluster health."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediator.clock import FakeClock
from remediator.config.diff import describe_changes
from remediator.config.health import ClusterCheck
from remediator.config.loader import load_config
from remediator.core import rules as core
from remediator.errors import ConfigError
from remediator.sandbox import Sandbox
from tests.harness import AK, CMAK_RULE, ORDERS, SK, Harness

MAIN = """\
ncp:
  region: KR
  access_key: {env: TEST_AK}
  secret_key: {env: TEST_SK}
targets:
  - name: orders
    cluster_no: "1484848"
    health: {kind: cmak, url: http://10.0.1.5:9000}
    cluster_health: {interval: 30s}
  - name: payments
    cluster_no: "2593711"
    region: JPN
    health: {kind: kafka_ui, url: http://10.0.2.7:8080}
    cluster_health: {}
  - name: analytics
    cluster_no: "3702622"
    health: {kind: cmak, url: http://10.0.3.9:9000}
rules: [rules/*.yaml]
"""

CLUSTER_WIDE = (
    "restart_all_services restarts every broker and ZooKeeper at once (blast radius cluster); "
    "set max_blast_radius: cluster to allow it"
)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in its own directory, so that file names in problems are relative."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(rules: str, main: str = MAIN) -> Path:
    Path("remediator.yaml").write_text(main)
    Path("rules").mkdir(exist_ok=True)
    Path("rules/r.yaml").write_text("rules:\n" + rules)
    return Path("remediator.yaml")


def problems(rules: str, main: str = MAIN) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(rules, main))
    return [str(p) for p in info.value.problems]


def rule(*lines: str, trigger: str = "{probe: {failures: 3, of: 3}}") -> str:
    """A rule on `orders` with these further lines (`action:` ... ), starting at line 2."""
    head = f"  - name: r\n    targets: [orders]\n    trigger: {trigger}\n"
    return head + "".join(f"    {line}\n" for line in lines)


# --- the core's words and order -------------------------------------------------------------


def test_every_action_has_the_blast_radius_of_the_spec_table() -> None:
    assert dict(core.BLAST_RADIUS) == {
        "restart_cmak": "tool",
        "restart_kafka_node": "node",
        "rolling_restart": "rolling",
        "restart_kafka": "cluster",
        "restart_all_services": "cluster",
    }
    assert set(core.ACTIONS) == set(core.BLAST_RADIUS)
    assert core.BLAST_RADII == ("tool", "node", "rolling", "cluster")
    assert core.exceeds("cluster", "rolling") and core.exceeds("node", "tool")
    assert not core.exceeds("rolling", "rolling") and not core.exceeds("tool", "cluster")
    assert core.widest(["node", "cluster", "tool"]) == "cluster"
    assert core.widest([]) == "tool"


def test_each_action_in_words() -> None:
    effects = {action: core.action_effect(action) for action in core.ACTIONS}
    assert effects == {
        "restart_cmak": "restarts CMAK only (withdrawn by NCP)",
        "restart_kafka_node": "restarts Kafka on the broker nodes that are not green",
        "rolling_restart": "restarts the brokers one at a time, after NCP's pre-check",
        "restart_kafka": "restarts Kafka on every broker at once",
        "restart_all_services": "restarts every broker and ZooKeeper at once",
    }
    assert core.action_summary("restart_cmak") == "restart_cmak (tool; withdrawn by NCP)"
    assert core.action_summary("restart_all_services") == (
        "restart_all_services (cluster: every broker and ZooKeeper restart at once)"
    )
    assert core.action_summary("restart_kafka_node") == (
        "restart_kafka_node (node: Kafka restarts on the broker nodes that are not green, "
        "never a green one)"
    )


def test_a_core_rule_defaults_to_one_step_within_rolling() -> None:
    one = core.Rule("r", ("*",), core.ProbeTrigger(3, 3), "restart_cmak")
    assert (one.then, one.max_blast_radius, one.steps, one.worst_case) == (
        (),
        "rolling",
        ("restart_cmak",),
        "tool",
    )
    assert core.ProbeTrigger(3, 3).check == "tool"
    ladder = core.Rule(
        "r",
        ("*",),
        core.ProbeTrigger(3, 3),
        "restart_kafka_node",
        fallback_action="restart_all_services",
        then=("rolling_restart",),
    )
    assert ladder.steps == ("restart_kafka_node", "rolling_restart")
    assert ladder.remedies == ("restart_kafka_node", "rolling_restart", "restart_all_services")
    assert ladder.worst_case == "cluster"


# --- loading ------------------------------------------------------------------------------


def test_defaults_are_rolling_and_the_tool_probe() -> None:
    [r] = load_config(write(rule("action: rolling_restart"))).policy().rules
    assert (r.action, r.then, r.fallback_action) == ("rolling_restart", (), None)
    assert r.max_blast_radius == "rolling"
    assert r.trigger == core.ProbeTrigger(failures=3, of=3, check="tool")


def test_a_ladder_becomes_the_first_action_then_the_others() -> None:
    rules = rule(
        "actions:",
        "  - restart_kafka_node",
        "  - rolling_restart",
        "  - restart_all_services",
        "max_blast_radius: cluster",
        trigger="{probe: {failures: 2, of: 3, check: cluster}}",
    )
    config = load_config(write(rules))
    assert config.rules[0].steps == (
        "restart_kafka_node",
        "rolling_restart",
        "restart_all_services",
    )
    [r] = config.policy().rules
    assert (r.action, r.then) == ("restart_kafka_node", ("rolling_restart", "restart_all_services"))
    assert (r.max_blast_radius, r.worst_case) == ("cluster", "cluster")
    assert r.trigger == core.ProbeTrigger(failures=2, of=3, check="cluster")


def test_a_fallback_above_the_limit_is_the_spec_message_at_its_line() -> None:
    rules = rule("action: restart_cmak", "fallback_action: restart_all_services")
    assert problems(rules) == [f"rules/r.yaml:6: rules[0].fallback_action: {CLUSTER_WIDE}"]


def test_an_action_above_the_limit_names_it_and_the_radius_to_allow() -> None:
    assert problems(rule("action: restart_all_services")) == [
        f"rules/r.yaml:5: rules[0].action: {CLUSTER_WIDE}"
    ]
    assert problems(rule("action: rolling_restart", "max_blast_radius: node")) == [
        "rules/r.yaml:5: rules[0].action: rolling_restart restarts the brokers one at a time, "
        "after NCP's pre-check (blast radius rolling); set max_blast_radius: rolling to allow it"
    ]
    assert problems(rule("action: restart_kafka_node", "max_blast_radius: tool")) == [
        "rules/r.yaml:5: rules[0].action: restart_kafka_node restarts Kafka on the broker nodes "
        "that are not green (blast radius node); set max_blast_radius: node to allow it"
    ]


def test_within_the_limit_loads() -> None:
    rules = rule(
        "action: restart_cmak", "fallback_action: restart_kafka", "max_blast_radius: cluster"
    )
    rules += rule("action: restart_kafka_node", "max_blast_radius: node").replace(
        "name: r", "name: s"
    )
    rules += rule("action: restart_cmak", "max_blast_radius: tool").replace("name: r", "name: t")
    worst = [r.worst_case for r in load_config(write(rules)).policy().rules]
    assert worst == ["cluster", "node", "tool"]


def test_every_step_above_the_limit_and_other_problems_at_once() -> None:
    rules = rule(
        "actions:",
        "  - restart_kafka_node",
        "  - restart_kafka",
        "  - restart_all_services",
        "fallback_action: restart_cmak",
        "cooldown: 5",
    ) + rule("actions: [rolling_restart, restart_all_services]").replace("name: r", "name: s")
    assert problems(rules) == [
        "rules/r.yaml:7: rules[0].actions[1]: restart_kafka restarts Kafka on every broker at "
        "once (blast radius cluster); set max_blast_radius: cluster to allow it",
        f"rules/r.yaml:8: rules[0].actions[2]: {CLUSTER_WIDE}",
        "rules/r.yaml:10: rules[0].cooldown: a bare number is not a duration: write '5s'",
        f"rules/r.yaml:14: rules[1].actions[1]: {CLUSTER_WIDE}",
    ]


LADDER_CASES: dict[str, tuple[str, str]] = {
    # name: (rules, the one expected line)
    "both action and actions": (
        rule("action: restart_cmak", "actions: [rolling_restart]"),
        "rules/r.yaml:6: rules[0].actions: give either action (one step) or actions (a ladder), "
        "not both",
    ),
    "neither": (
        rule(),
        "rules/r.yaml:2: rules[0].action: is required (or actions: a ladder of steps)",
    ),
    "empty ladder": (rule("actions: []"), "rules/r.yaml:5: rules[0].actions: must not be empty"),
    "not a list": (
        rule("actions: rolling_restart"),
        "rules/r.yaml:5: rules[0].actions: must be a list",
    ),
    "unknown step": (
        rule("actions:", "  - restart_kafka_node", "  - reboot"),
        "rules/r.yaml:7: rules[0].actions[1]: must be one of 'restart_cmak', "
        "'restart_kafka_node', 'rolling_restart', 'restart_kafka' or 'restart_all_services'",
    ),
    "repeated step": (
        rule("actions:", "  - restart_kafka_node", "  - rolling_restart", "  - restart_kafka_node"),
        "rules/r.yaml:8: rules[0].actions[2]: repeats actions[0] (restart_kafka_node)",
    ),
    "fallback is a step": (
        rule("actions: [restart_kafka_node, rolling_restart]", "fallback_action: rolling_restart"),
        "rules/r.yaml:6: rules[0].fallback_action: must differ from every step "
        "(actions[1] is the same)",
    ),
    "unknown radius": (
        rule("action: restart_cmak", "max_blast_radius: everything"),
        "rules/r.yaml:6: rules[0].max_blast_radius: must be one of 'tool', 'node', 'rolling' or "
        "'cluster'",
    ),
    "unknown check": (
        rule("action: restart_cmak", trigger="{probe: {failures: 3, of: 3, check: broker}}"),
        "rules/r.yaml:4: rules[0].trigger.probe.check: must be one of 'tool' or 'cluster'",
    ),
}


@pytest.mark.parametrize("case", list(LADDER_CASES))
def test_each_ladder_problem_is_one_located_line(case: str) -> None:
    rules, expected = LADDER_CASES[case]
    assert problems(rules) == [expected]


# --- cluster health as evidence -------------------------------------------------------------


def test_cluster_checks_are_scheduled_per_target_with_its_region() -> None:
    config = load_config(write(rule("action: restart_cmak")))
    assert config.cluster_checks() == (
        ClusterCheck("orders", "1484848", "KR", 30.0),
        ClusterCheck("payments", "2593711", "JPN", 60.0),
    )
    analytics = config.target("analytics")
    assert analytics is not None and analytics.cluster_health is None


@pytest.mark.parametrize(
    ("interval", "message"),
    [
        ("0s", "must be at least 1s"),
        ("60", "a bare number is not a duration: write '60s'"),
    ],
)
def test_a_cluster_health_interval_is_a_duration_of_at_least_1s(
    interval: str, message: str
) -> None:
    main = MAIN.replace(
        "cluster_health: {interval: 30s}", f"cluster_health: {{interval: {interval}}}"
    )
    assert problems(rule("action: restart_cmak"), main) == [
        f"remediator.yaml:9: targets[0].cluster_health.interval: {message}"
    ]


def test_a_cluster_trigger_on_a_target_without_cluster_health_names_both() -> None:
    cluster = "{probe: {failures: 2, of: 3, check: cluster}}"
    one = rule("action: restart_kafka_node", trigger=cluster).replace("[orders]", "[analytics]")
    assert problems(one) == [
        "rules/r.yaml:4: rules[0].trigger.probe.check: rule 'r' needs cluster status, but target "
        "'analytics' has no cluster_health: add cluster_health: {interval: 60s} to it"
    ]
    main = MAIN.replace("    cluster_health: {}\n", "")
    every = rule("action: restart_kafka_node", trigger=cluster).replace("[orders]", "['*']")
    assert problems(every, main) == [
        "rules/r.yaml:4: rules[0].trigger.probe.check: rule 'r' needs cluster status, but "
        "targets 'payments', 'analytics' have no cluster_health: "
        "add cluster_health: {interval: 60s} to them"
    ]
    covered = rule("action: restart_kafka_node", trigger=cluster).replace(
        "[orders]", "['o*', 'p*']"
    )
    [r] = load_config(write(covered)).policy().rules
    assert r.trigger == core.ProbeTrigger(failures=2, of=3, check="cluster")


# --- reload uses the same door ------------------------------------------------------------


@pytest.fixture
def harness(tmp_path: Path, fake_clock: FakeClock) -> Iterator[Harness]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    box.set_cmak_restart(ORDERS, "available")
    h = Harness(tmp_path, box, fake_clock, CMAK_RULE)
    try:
        yield h
    finally:
        h.daemon.ledger.close()
        box.stop()


def test_reload_refuses_a_fallback_above_the_limit_and_keeps_the_old_rules(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    before = harness.daemon.config
    rules = harness.tmp / "rules" / "r.yaml"
    rules.write_text("rules:\n" + CMAK_RULE.replace("    max_blast_radius: cluster\n", ""))
    with caplog.at_level(logging.ERROR, logger="remediator"):
        assert harness.daemon.reload() is False
    assert f"reload refused: {rules}:7: rules[0].fallback_action: {CLUSTER_WIDE}" in caplog.text
    assert harness.metric("remediator_config_last_reload_success") == 0
    assert harness.daemon.config is before
    assert harness.daemon.engine.policy.rules[0].max_blast_radius == "cluster"


def test_a_reload_says_when_a_rule_may_reach_further(harness: Harness) -> None:
    old = harness.daemon.config
    rules = harness.tmp / "rules" / "r.yaml"
    rules.write_text(
        "rules:\n"
        + CMAK_RULE.replace("    max_blast_radius: cluster\n", "").replace(
            "fallback_action: restart_all_services", "fallback_action: rolling_restart"
        )
    )
    new = load_config(old.path)
    assert describe_changes(old, new) == (
        "rules ~cmak-unhealthy (fallback_action restart_all_services -> rolling_restart, "
        "max_blast_radius cluster -> rolling)"
    )
