"""`remediator check` says what each rule may do at worst (SPEC section 9), or why it may not."""

from __future__ import annotations

from pathlib import Path

import pytest

from remediator.cli import main

MAIN = """\
ncp: {access_key: {env: TEST_AK}, secret_key: {env: TEST_SK}}
targets:
  - name: orders
    cluster_no: "1484848"
    health: {kind: cmak, url: http://10.0.1.5:9000}
    cluster_health: {interval: 60s}
rules: [rules/*.yaml]
"""

RULES = """\
rules:
  - name: cmak-unhealthy
    trigger: {probe: {failures: 3, of: 3}}
    action: restart_cmak
    fallback_action: restart_all_services
    max_blast_radius: cluster
  - name: broker-down
    trigger: {probe: {failures: 2, of: 3, check: cluster}}
    actions: [restart_kafka_node, rolling_restart, restart_kafka]
    max_blast_radius: cluster
  - name: kafka-node
    trigger: {alert: {alertname: KafkaBrokerDown}}
    action: restart_kafka_node
"""


def check(tmp_path: Path, rules: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    (tmp_path / "remediator.yaml").write_text(MAIN)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(rules)
    code = main(["check", "-c", str(tmp_path / "remediator.yaml"), "--no-secrets"])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_ends_with_every_step_of_every_rule_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = check(tmp_path, RULES, capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "OK: 1 targets, 3 rules",
        "cmak-unhealthy: restart_cmak (tool; withdrawn by NCP) → "
        "restart_all_services (cluster: every broker and ZooKeeper restart at once)",
        "broker-down: restart_kafka_node (node: Kafka restarts on the broker nodes that are not "
        "green, never a green one) → rolling_restart (rolling: brokers restart one at a time, "
        "after NCP's pre-check) → restart_kafka (cluster: every broker restarts at once)",
        "kafka-node: restart_kafka_node (node: Kafka restarts on the broker nodes that are not "
        "green, never a green one)",
    ]


def test_check_refuses_a_rule_that_reaches_further_than_it_allows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = RULES.replace("    max_blast_radius: cluster\n", "")
    code, out, err = check(tmp_path, rules, capsys)
    assert (code, out) == (2, "")
    file = tmp_path / "rules" / "r.yaml"
    assert err.splitlines() == [
        f"{file}:5: rules[0].fallback_action: restart_all_services restarts every broker and "
        "ZooKeeper at once (blast radius cluster); set max_blast_radius: cluster to allow it",
        f"{file}:8: rules[1].actions[2]: restart_kafka restarts Kafka on every broker at once "
        "(blast radius cluster); set max_blast_radius: cluster to allow it",
    ]
