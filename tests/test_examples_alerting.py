"""The alerting examples as shipped: the real amtool and promtool accept them, and they agree
with remediator's own example config and rules (URL, path, labels, alert names)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from remediator.config.loader import load_config
from remediator.http.alertmanager import TARGET_LABELS
from remediator.http.intake import PATH
from tests.e2e import require_binary

ROOT = Path(__file__).resolve().parent.parent
ALERTMANAGER = ROOT / "examples" / "alertmanager.yml"
PROMETHEUS = ROOT / "examples" / "prometheus-alerts.yml"
RULE_TESTS = ROOT / "tests" / "fixtures" / "alerting" / "prometheus-alerts.test.yml"

pytestmark = pytest.mark.e2e


def run(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(argv)} exited {done.returncode}:\n{output}"
    return output


def remediator_route(am: dict[str, Any]) -> dict[str, Any]:
    routes: list[dict[str, Any]] = [
        r for r in am["route"].get("routes", []) if r["receiver"] == "remediator"
    ]
    assert len(routes) == 1, "one route to the remediator receiver"
    return routes[0]


def test_amtool_accepts_the_alertmanager_example() -> None:
    out = run([require_binary("amtool"), "check-config", str(ALERTMANAGER)])
    assert "SUCCESS" in out


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=CMAKDown", "cluster_no=1484848", "severity=critical"], "remediator"),
        (["alertname=KafkaUIDown", "cluster_no=2593711"], "remediator"),
        (["alertname=RemediatorProbeWithoutClusterNo"], "default"),
        (["alertname=DiskFull", "cluster_no=1484848"], "default"),
    ],
)
def test_the_route_sends_only_remediator_alerts_to_remediator(
    labels: list[str], receiver: str
) -> None:
    amtool = require_binary("amtool")
    out = run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER}",
            f"--verify.receivers={receiver}",
            *labels,
        ]
    )
    assert out.splitlines()[0] == receiver


def test_the_receiver_matches_remediators_example_config() -> None:
    am = yaml.safe_load(ALERTMANAGER.read_text())
    config = load_config(ROOT / "examples" / "remediator.yaml")
    (receiver,) = [r for r in am["receivers"] if r["name"] == "remediator"]
    (hook,) = receiver["webhook_configs"]
    assert hook["url"] == f"http://{config.server.listen}{PATH}"
    assert hook["send_resolved"] is True
    assert hook["http_config"]["authorization"]["type"] == "Bearer"
    assert hook["http_config"]["authorization"]["credentials_file"].startswith("/")
    assert config.server.webhook_token is not None, "the example config requires the token"
    assert 0 < hook["max_alerts"] <= 1000
    # Each notification group names one cluster, by the label remediator maps targets by.
    assert "cluster_no" in TARGET_LABELS
    assert set(remediator_route(am)["group_by"]) == {"alertname", "cluster_no"}


def test_promtool_accepts_the_prometheus_rules() -> None:
    out = run([require_binary("promtool"), "check", "rules", str(PROMETHEUS)])
    assert "SUCCESS: 3 rules found" in out


def test_the_alerts_fire_with_the_cluster_no_label_after_their_for() -> None:
    out = run([require_binary("promtool"), "test", "rules", str(RULE_TESTS)])
    assert "SUCCESS" in out


def test_every_alert_remediator_acts_on_is_defined_and_routed_to_it() -> None:
    """rules/*.yaml name alerts that the Prometheus example defines and the route delivers."""
    config = load_config(ROOT / "examples" / "remediator.yaml")
    wanted = {r.trigger.alert.alertname for r in config.rules if r.trigger.alert is not None}
    assert "CMAKDown" in wanted, "the shipped rules act on CMAKDown"
    defined = {
        rule["alert"]
        for group in yaml.safe_load(PROMETHEUS.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert wanted <= defined
    amtool = require_binary("amtool")
    for name in wanted:
        out = run(
            [
                amtool,
                "config",
                "routes",
                "test",
                f"--config.file={ALERTMANAGER}",
                "--verify.receivers=remediator",
                f"alertname={name}",
                "cluster_no=1484848",
            ]
        )
        assert out.splitlines()[0] == "remediator"
