"""The dashboard and the alerts on remediator itself, against a real Prometheus.

Prometheus (Debian's `prometheus`, loopback only) scrapes a running `remediator run` driven
by the sandbox through a whole incident: a CMAK goes down, probes fail, the rule trips, a
signed restart recovers it; a read is retried after a 503, and the webhook takes a good and
a rejected request. Then every PromQL expression of dashboards/remediator.json and of
examples/prometheus-rules-remediator.yml is evaluated through Prometheus' HTTP API: each
succeeds, those the incident exercises return data, and no alert on remediator fires.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from prometheus_client import CollectorRegistry
from pytest_httpserver import HTTPServer

from remediator.http.intake import PATH as WEBHOOK_PATH
from remediator.metrics import Metrics
from remediator.sandbox import Sandbox
from tests.e2e import free_port, require_binary
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "dashboards" / "remediator.json"
RULES = ROOT / "examples" / "prometheus-rules-remediator.yml"
RULE_TESTS = ROOT / "tests" / "fixtures" / "prometheus" / "remediator-rules.test.yml"
ALERT_FIXTURE = ROOT / "tests" / "fixtures" / "alertmanager" / "firing-v0.25.json"

AK, SK = "PROM-E2E-AK", "prom-e2e-sk"  # sandbox test keys, not secrets
TOKEN = "prom-e2e-token-0123456789"  # a test token, not a secret
ORDERS, PAYMENTS = "1484848", "1484849"
# The incident takes about 10 s; generous bounds for a 2-core machine shared with other runs.
INCIDENT = 40.0
STARTUP = 20.0
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")

# Grafana's interval variables, as Grafana would expand them for a short time range.
INTERVALS = {"$__rate_interval": "30s", "$__interval": "15s", "$__range": "5m"}

# The incident exercises every panel: each query of each must return data afterwards.
PANELS_WITH_DATA = {
    "Version",
    "Targets up",
    "Action path",
    "NCP clock skew",
    "Config",
    "Breakers open",
    "Paused targets",
    "Probe success rate",
    "Probe latency",
    "Target up",
    "Decisions by outcome and reason",
    "Actions by result",
    "Remediations: recovered / not recovered",
    "Detection to action",
    "Action duration",
    "Decisions since start",
    "Actions since start",
    "Remediations since start",
    "Cooldown remaining",
    "Paused",
    "Action path up",
    "NCP requests by code",
    "NCP retries",
    "Webhook requests by code",
    "Alerts received by outcome",
    "Alerts truncated by Alertmanager",  # a label-less counter: 0 from start-up
    "Config reload",
    "Active or standby",  # 0 (active) from start-up
    "Build info",
    "Actions by blast radius",  # the restart_cmak the incident sent: tool
    "Decisions by blast radius",  # the decision to send it: tool, acted
    "Notifications by sink and result",
    "Notifications given up",  # declared at 0 from start-up
    "Notifications waiting",
    "Pending approvals",  # 0 for every target from start-up
    "Silence checks by result",  # 0 from start-up, with or without Alertmanager
    "Ledger writable",  # 1 from start-up
    "Ledger write failures",  # counters declared at 0 from start-up
}

# Every alert stays quiet after a healthy incident; its witness shows that the series it
# watches exist, so that the silence means "fine" rather than "nothing to look at".
ALERT_WITNESSES = {
    "RemediatorDown": 'up{job="remediator"} == 1',
    "RemediatorAbsent": 'up{job="remediator"}',
    "RemediatorActionPathDown": "remediator_action_path_up == 1",
    "RemediatorNcpClockSkew": "abs(remediator_ncp_clock_skew_seconds) < 5",
    "RemediatorBreakerOpen": "remediator_breaker_open == 0",
    "RemediatorRemediationNotRecovered": 'remediator_remediations_total{outcome="recovered"}',
    "RemediatorActionFailed": 'remediator_actions_total{result="success"}',
    "RemediatorTargetStillDown": "remediator_target_up == 1",
    "RemediatorConfigReloadFailed": "remediator_config_last_reload_success == 1",
    "RemediatorWebhookRejectionsRising": 'remediator_webhook_requests_total{code="401"}',
    "RemediatorNoActiveDaemon": "remediator_standby == 0",
    "RemediatorNotificationsFailing": 'remediator_notifications_total{result="sent"} > 0',
    "RemediatorNotificationsWaiting": "remediator_notifications_pending == 0",
    "RemediatorApprovalWaiting": "remediator_approvals_pending == 0",
    "RemediatorLedgerUnwritable": "remediator_ledger_writable == 1",
}


# -- the files -------------------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def panels() -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included, rows themselves left out."""
    found: list[dict[str, Any]] = []
    for panel in dashboard()["panels"]:
        if panel["type"] == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title / refId, expr) for every query of every panel."""
    return [
        (f"{p['title']} / {t['refId']}", t["expr"]) for p in panels() for t in p.get("targets", [])
    ]


def variables() -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard()["templating"]["list"]}


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def expand(expr: str, values: dict[str, str]) -> str:
    """`expr` with Grafana's variables replaced (`$name` and `${name}`)."""
    for name, value in INTERVALS.items():
        expr = expr.replace(name, value)
    for name, value in values.items():
        expr = expr.replace("${" + name + "}", value).replace("$" + name, value)
    assert "$" not in expr, f"an unknown variable is left in {expr}"
    return expr


def exported_names() -> set[str]:
    """The sample names remediator exports (SPEC section 7), whether or not observed yet."""
    suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}
    registry = CollectorRegistry()
    Metrics(registry)
    return {m.name + s for m in registry.collect() for s in suffixes[m.type]}


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\bremediator_[a-z_]+\b", expr))


# -- static checks ---------------------------------------------------------------------------


def test_the_dashboard_uses_the_current_schema_and_its_variables() -> None:
    board = dashboard()
    assert board["schemaVersion"] >= 39
    assert board["uid"] == "remediator"
    assert "__inputs" not in board, "the data source is a variable, not an import input"
    var = variables()
    assert var["datasource"]["type"] == "datasource"
    assert var["datasource"]["query"] == "prometheus"
    assert var["target"]["definition"].startswith("label_values(remediator_target_up")
    assert var["target"]["definition"].endswith(", target)")
    assert var["rule"]["definition"].startswith("label_values(remediator_breaker_open")
    assert var["rule"]["definition"].endswith(", rule)")
    for name in ("instance", "target", "rule"):
        assert var[name]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert var[name]["includeAll"] and var[name]["allValue"] == ".*"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
    titles = {p["title"] for p in panels()}
    assert titles == PANELS_WITH_DATA, "a new panel: add it here once the test shows its data"


def test_the_dashboard_and_the_rules_use_only_remediators_metrics_and_all_of_them() -> None:
    exported = exported_names()
    used_by_dashboard: set[str] = set()
    for where, expr in dashboard_queries():
        names = metric_names(expr)
        assert names <= exported, f"{where}: {names - exported} are not exported"
        used_by_dashboard |= names
    for rule in alert_rules():
        names = metric_names(rule["expr"])
        assert names <= exported, f"{rule['alert']}: {names - exported} are not exported"
    # Every metric of SPEC section 7 is on the dashboard (a histogram by one of its series).
    bases = {re.sub(r"_(bucket|sum|count)$", "", n) for n in used_by_dashboard}
    missing = {n for n in exported if re.sub(r"_(bucket|sum|count)$", "", n) not in bases}
    assert not missing, f"not on the dashboard: {sorted(missing)}"


def test_every_alert_has_a_summary_a_description_a_runbook_and_a_severity() -> None:
    rules = alert_rules()
    assert {r["alert"] for r in rules} == set(ALERT_WITNESSES)
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule["alert"]


@pytest.mark.e2e
def test_promtool_checks_and_unit_tests_the_rules() -> None:
    promtool = require_binary("promtool")
    for argv in ([promtool, "check", "rules", str(RULES)], [promtool, "test", "rules", RULE_TESTS]):
        done = subprocess.run(
            [str(a) for a in argv], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SUCCESS" in done.stdout + done.stderr


# -- the live run ----------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in PROXY_VARIABLES and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")
    }
    return env | extra


def http() -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # loopback only, whatever proxy the environment names
    return s


class Process:
    """A subprocess with its output in a file, stopped with SIGTERM, then SIGKILL."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


class Prometheus:
    """A real Prometheus on loopback scraping one remediator as job "remediator"."""

    def __init__(self, tmp: Path, scrape: str) -> None:
        binary = require_binary("prometheus")
        self.port = free_port()
        config = tmp / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {
                        "scrape_interval": "1s",
                        "scrape_timeout": "1s",
                        "evaluation_interval": "1s",
                    },
                    "rule_files": [str(RULES)],
                    "scrape_configs": [
                        {"job_name": "remediator", "static_configs": [{"targets": [scrape]}]}
                    ],
                }
            )
        )
        self.process = Process(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            tmp / "prometheus.log",
            clean_env(),
        )
        self.session = http()

    def api(self, path: str, **params: str) -> Any:
        reply = self.session.get(f"http://127.0.0.1:{self.port}{path}", params=params, timeout=10)
        body = reply.json()
        assert body["status"] == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The result of an instant query; fails on any error or warning."""
        reply = self.session.get(
            f"http://127.0.0.1:{self.port}/api/v1/query", params={"query": expr}, timeout=10
        )
        body = reply.json()
        assert body["status"] == "success", f"{expr}: {body.get('errorType')}: {body.get('error')}"
        assert not body.get("warnings"), f"{expr}: {body['warnings']}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def ready(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/-/ready"
            return self.session.get(url, timeout=1).status_code == 200
        except requests.ConnectionError:
            return False


def write_config(tmp: Path, sb: Sandbox, port: int) -> Path:
    (tmp / "rules").mkdir()
    (tmp / "rules" / "r.yaml").write_text(
        """
rules:
  - name: cmak-unhealthy
    targets: ["*"]
    trigger: {probe: {failures: 3, of: 3}}
    action: restart_cmak
    fallback_action: restart_all_services
    max_blast_radius: cluster
    cooldown: 1h
    verify: {grace: 1s, successes: 2, timeout: 15s}
"""
    )
    config = tmp / "remediator.yaml"
    config.write_text(
        f"""
ncp: {{endpoint: "{sb.url}", access_key: {{env: AK}}, secret_key: {{env: SK}}, timeout: 3s}}
server: {{listen: "127.0.0.1:{port}", webhook_token: {{env: HOOK}}}}
state: {{path: "{tmp / "state.db"}"}}
targets:
  - name: orders
    cluster_no: "{ORDERS}"
    health: {{kind: cmak, url: "{sb.tool_url(ORDERS)}", interval: 1s, timeout: 1s}}
  - name: payments
    cluster_no: "{PAYMENTS}"
    health: {{kind: kafka_ui, url: "{sb.tool_url(PAYMENTS)}", interval: 1s, timeout: 1s}}
rules: [rules/*.yaml]
notify:
  - {{name: audit, kind: webhook, url: {{env: AUDIT_URL}}}}
"""
    )
    return config


def webhook_payload() -> dict[str, Any]:
    """A real Alertmanager body: a resolved alert on payments and one on an unknown cluster."""
    body: dict[str, Any] = json.loads(ALERT_FIXTURE.read_text())
    known, unknown = (dict(body["alerts"][0]) for _ in range(2))
    known |= {"status": "resolved", "fingerprint": "a1a1a1a1a1a1a1a1"}
    known["labels"] = {"alertname": "KafkaUIDown", "cluster_no": PAYMENTS}
    known["endsAt"] = known["startsAt"]
    unknown |= {"fingerprint": "b2b2b2b2b2b2b2b2"}
    unknown["labels"] = {"alertname": "CMAKDown", "cluster_no": "9999999"}
    body["alerts"] = [known, unknown]
    return body


class Stack:
    """The sandbox, `remediator run` and Prometheus scraping it."""

    def __init__(self, tmp: Path, sb: Sandbox, hook: str) -> None:
        self.sb = sb
        self.port = free_port()
        self.instance = f"127.0.0.1:{self.port}"
        config = write_config(tmp, sb, self.port)
        self.prometheus = Prometheus(tmp, self.instance)
        self.daemon = Process(
            [sys.executable, "-m", "remediator", "run", "-c", str(config)],
            tmp / "daemon.log",
            clean_env(AK=AK, SK=SK, HOOK=TOKEN, AUDIT_URL=hook),
        )
        self.session = http()

    def daemon_ready(self) -> bool:
        assert self.daemon.alive(), self.daemon.output()
        try:
            url = f"http://{self.instance}/-/ready"
            return self.session.get(url, timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def post_alerts(self, token: str) -> int:
        reply = self.session.post(
            f"http://{self.instance}{WEBHOOK_PATH}",
            json=webhook_payload(),
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        return reply.status_code

    def has_data(self, expr: str) -> bool:
        return bool(self.prometheus.query(expr))

    def stop(self) -> None:
        self.prometheus.process.stop()
        self.daemon.stop()


@pytest.fixture
def stack(tmp_path: Path, httpserver: HTTPServer) -> Iterator[Stack]:
    require_binary("prometheus")
    # A webhook sink that takes every notification (acted, recovered, ...).
    httpserver.expect_request("/audit", method="POST").respond_with_data("ok")
    with Sandbox(access_key=AK, secret_key=SK, restart_delay=1.0) as sb:
        sb.set_cmak_restart(ORDERS, "available")
        sb.break_tool(ORDERS, "down")
        # two signed reads answered 503: the single-attempt readiness check may take one, and
        # the look before acting retries (remediator_ncp_retries_total), then all is fine
        sb.inject_error(503, "500", count=2, operation="getClusterStatus")
        s = Stack(tmp_path, sb, httpserver.url_for("/audit"))
        try:
            yield s
        finally:
            s.stop()


@pytest.mark.e2e
def test_prometheus_evaluates_every_dashboard_query_and_alert_on_a_live_incident(
    stack: Stack,
) -> None:
    prom = stack.prometheus
    wait_for(
        prom.ready,
        timeout=STARTUP,
        interval=0.2,
        what="Prometheus ready",
        detail=prom.process.output,
    )
    wait_for(
        stack.daemon_ready,
        timeout=STARTUP,
        interval=0.2,
        what="remediator ready",
        detail=stack.daemon.output,
    )
    assert stack.post_alerts("wrong-token") == 401
    assert stack.post_alerts(TOKEN) == 200

    # The incident: 3 failed probes trip the rule, the restart heals the tool, 2 healthy
    # probes verify it; Prometheus sees it within a scrape.
    def recovered() -> bool:
        assert stack.daemon.alive(), stack.daemon.output()
        return stack.has_data(
            'remediator_remediations_total{job="remediator", target="orders",'
            ' rule="cmak-unhealthy", outcome="recovered"}'
        )

    wait_for(
        recovered,
        timeout=INCIDENT,
        interval=0.2,
        what="the recovered remediation in Prometheus",
        detail=stack.daemon.output,
    )
    assert [c.operation for c in stack.sb.action_calls(ORDERS)] == ["restartCMAKService"]

    everything = {"instance": ".*", "target": ".*", "rule": ".*", "datasource": "unused"}
    concrete = {
        "instance": stack.instance,
        "target": "orders",
        "rule": "cmak-unhealthy",
        "datasource": "unused",
    }
    queries = [(w, expand(e, v)) for w, e in dashboard_queries() for v in (everything, concrete)]
    assert {w.rsplit(" / ", 1)[0] for w, _ in queries} == PANELS_WITH_DATA

    # Every query evaluates (Prometheus.query fails on an error or a warning) and, since the
    # incident exercised every panel, returns data. rate() needs two samples of a series and
    # the last counters moved a moment ago: poll until all show, then judge.
    def empty() -> list[str]:
        return [f"{w}: {q}" for w, q in queries if not stack.has_data(q)]

    wait_for(
        lambda: not empty(),
        timeout=15,
        interval=0.2,
        what="data in every panel",
        detail=lambda: "no data for:\n" + "\n".join(empty()) + "\n" + stack.daemon.output(),
    )

    # The blast-radius panels join each action to its blast radius: the incident's restart_cmak
    # shows as `tool`, and decisions count from 0 for every blast radius and outcome.
    by_panel = dict(queries)
    joined = prom.query(by_panel["Actions by blast radius / A"])
    assert [(s["metric"]["blast_radius"], s["metric"]["result"]) for s in joined] == [
        ("tool", "success")
    ]
    joined = prom.query(by_panel["Decisions by blast radius / A"])
    assert {(s["metric"]["blast_radius"], s["metric"]["outcome"]) for s in joined} == {
        (radius, outcome)
        for radius in ("tool", "node", "rolling", "cluster")
        for outcome in ("acted", "suppressed", "shadow")
    }

    # Grafana's label_values(SELECTOR, LABEL) is the label values API with match[].
    for name, want in (("instance", {stack.instance}), ("target", {"orders", "payments"})):
        found = re.fullmatch(r"label_values\((.+), (\w+)\)", variables()[name]["definition"])
        assert found, variables()[name]["definition"]
        selector = expand(found.group(1), everything)
        values = prom.api(f"/api/v1/label/{found.group(2)}/values", **{"match[]": selector})
        assert set(values) == want, name
    rule_values = prom.api("/api/v1/label/rule/values", **{"match[]": "remediator_breaker_open"})
    assert rule_values == ["cmak-unhealthy"]

    # The alerts on remediator: each expression evaluates and is quiet, over live inputs.
    for rule in alert_rules():
        assert prom.query(rule["expr"]) == [], f"{rule['alert']} would fire"
        witness = ALERT_WITNESSES[rule["alert"]]
        assert prom.query(witness), f"{rule['alert']}: no {witness}"

    # Prometheus loaded the rules file and evaluates every rule without error.
    def evaluated() -> list[dict[str, Any]]:
        groups = prom.api("/api/v1/rules", type="alert")["groups"]
        return [r for g in groups for r in g["rules"]]

    wait_for(
        lambda: all(r["lastEvaluation"][:4] != "0001" for r in evaluated()),
        timeout=10,
        interval=0.2,
        what="every rule evaluated",
    )
    loaded = evaluated()
    assert {r["name"] for r in loaded} == set(ALERT_WITNESSES)
    for rule in loaded:
        assert rule["health"] == "ok" and not rule.get("lastError"), rule
        assert rule["state"] == "inactive", rule
