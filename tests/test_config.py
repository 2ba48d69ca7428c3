"""Configuration: loading, conversion to the core's Policy, and FILE:LINE problems."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from remediator.cli import main
from remediator.config.loader import Config, load_config, resolve_secrets
from remediator.core import rules as core
from remediator.errors import ConfigError
from remediator.secrets import SecretRef
from remediator.timetext import format_duration, parse_duration

REPO = Path(__file__).resolve().parent.parent

MAIN = """\
ncp:
  site: public
  region: KR
  access_key: {env: TEST_AK}
  secret_key: {env: TEST_SK}
targets:
  - name: orders
    cluster_no: "1484848"
    health:
      kind: cmak
      url: http://10.0.1.5:9000
  - name: payments
    cluster_no: "2593711"
    health:
      kind: kafka_ui
      url: http://10.0.2.7:8080/kafka-ui/
rules: [rules/*.yaml]
"""

RULES = """\
rules:
  - name: cmak-unhealthy
    targets: [orders]
    trigger:
      probe: {failures: 3, of: 3}
    action: restart_cmak
    fallback_action: restart_all_services
    max_blast_radius: cluster
"""


def write(root: Path, main: str = MAIN, rules: str | None = RULES) -> Path:
    (root / "remediator.yaml").write_text(main)
    if rules is not None:
        (root / "rules").mkdir(exist_ok=True)
        (root / "rules" / "cmak.yaml").write_text(rules)
    return Path("remediator.yaml")


def problems(main: str = MAIN, rules: str | None = RULES) -> list[str]:
    path = write(Path.cwd(), main, rules)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [str(p) for p in info.value.problems]


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in its own directory, so that file names in problems are relative."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# --- valid configurations ---------------------------------------------------------------


def test_minimal_config_loads_with_defaults() -> None:
    config = load_config(write(Path.cwd()))
    assert config.files == ("remediator.yaml", "rules/cmak.yaml")
    assert config.server.listen == "127.0.0.1:9820"
    assert (config.server.host, config.server.port) == ("127.0.0.1", 9820)
    assert config.state.path == "/var/lib/remediator/state.db"
    assert config.state.url is None
    assert config.ncp.timeout == 10.0
    assert config.warnings == ()
    orders = config.target("orders")
    assert orders is not None
    assert (orders.health.interval, orders.health.timeout) == (15.0, 5.0)
    assert config.target("nope") is None
    assert config.region_of(orders) == "KR"


def test_policy_has_durations_in_seconds() -> None:
    rules = RULES + (
        "    cooldown: 1m30s\n"
        "    budget: {max: 2, per: 1d}\n"
        "    verify: {grace: 1s, successes: 1, timeout: 2h}\n"
        "    mode: shadow\n"
        "  - name: cmak-down\n"
        "    trigger:\n"
        "      alert: {alertname: CMAKDown, labels: {team: kafka, env: prod}}\n"
        "      corroborate: probe\n"
        "    action: restart_all_services\n"
        "    max_blast_radius: cluster\n"
    )
    policy = load_config(write(Path.cwd(), rules=rules)).policy()
    assert policy.targets == (
        core.TargetRef("orders", "1484848"),
        core.TargetRef("payments", "2593711"),
    )
    first, second = policy.rules
    assert first == core.Rule(
        name="cmak-unhealthy",
        targets=("orders",),
        trigger=core.ProbeTrigger(failures=3, of=3),
        action="restart_cmak",
        fallback_action="restart_all_services",
        max_blast_radius="cluster",
        cooldown=90.0,
        budget=core.Budget(max=2, per=86400.0),
        verify=core.Verify(grace=1.0, successes=1, timeout=7200.0),
        mode="shadow",
    )
    assert second.targets == ("*",)
    assert second.trigger == core.AlertTrigger(
        alertname="CMAKDown", labels=(("env", "prod"), ("team", "kafka")), corroborate=True
    )
    assert (second.cooldown, second.budget, second.verify) == (900.0, core.Budget(), core.Verify())
    assert policy.guardrails == core.Guardrails()


def test_guardrails_state_server_and_int_cluster_no() -> None:
    main = (
        replace(MAIN, 'cluster_no: "1484848"', "cluster_no: 1484848")
        + "server:\n  listen: '[::1]:0'\n  webhook_token: {file: /run/token}\n"
        + "state: {url: 'postgresql://remediator@db.internal/remediator'}\n"
        + "guardrails:\n  max_concurrent_actions: 2\n  max_actions_per_hour: 10\n"
        + "  mass_failure: {fraction: 1, min_unhealthy: 5}\n"
    )
    config = load_config(write(Path.cwd(), main))
    assert config.targets[0].cluster_no == "1484848"
    assert (config.server.host, config.server.port) == ("::1", 0)
    assert config.server.webhook_token == SecretRef("file", "/run/token")
    assert config.state.path is None
    assert config.policy().guardrails == core.Guardrails(2, 10, 1.0, 5)


def test_health_checks_join_the_preset_path() -> None:
    main = MAIN + (
        "  - name: api\n"
        '    cluster_no: "3"\n'
        "    health:\n"
        "      kind: http\n"
        "      url: http://10.0.3.1:8000/health?deep=1\n"
        "      interval: 2s\n"
        "      timeout: 1s\n"
        "      basic_auth: {username: probe, password: {env: API_PW}}\n"
        "      expect: {status: 204, body: 'ok|fine', json_status: GREEN}\n"
    )
    main = replace(main, "rules: [rules/*.yaml]\n", "") + "rules: [rules/*.yaml]\n"
    orders, payments, api = load_config(write(Path.cwd(), main)).health_checks()
    assert orders.url == "http://10.0.1.5:9000/api/health"
    assert orders.expect_body is not None and orders.expect_body.search(" healthy\n")
    assert not orders.expect_body.search("unhealthy")
    assert payments.url == "http://10.0.2.7:8080/kafka-ui/actuator/health"
    assert payments.expect_json_status == "UP"
    assert api.url == "http://10.0.3.1:8000/health?deep=1"
    assert (api.expect_status, api.expect_json_status, api.interval, api.timeout) == (
        204,
        "GREEN",
        2.0,
        1.0,
    )
    assert api.basic_auth is not None and api.basic_auth.password == SecretRef("env", "API_PW")


def test_config_is_frozen() -> None:
    config = load_config(write(Path.cwd()))
    with pytest.raises(ValidationError):
        config.targets = ()  # type: ignore[misc]


def test_restart_cmak_without_fallback_is_a_warning() -> None:
    rules = replace(RULES, "    fallback_action: restart_all_services\n", "")
    config = load_config(write(Path.cwd(), rules=rules))
    assert config.warnings == (
        "rules/cmak.yaml:6: rules[0].action: NCP withdrew restartCMAKService on 2026-09-17; "
        "add a fallback_action, e.g. restart_all_services with max_blast_radius: cluster "
        "(every broker and ZooKeeper restart at once)",
    )


def test_resolve_secrets(tmp_path: Path) -> None:
    main = MAIN + "server: {webhook_token: {credential: hook}}\n"
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "hook").write_text("the-token\n")
    config = load_config(write(Path.cwd(), main))
    env = {"TEST_AK": "ak", "TEST_SK": "sk", "CREDENTIALS_DIRECTORY": str(tmp_path / "creds")}
    secrets = resolve_secrets(config, environ=env)
    assert secrets.access_key.reveal() == "ak"
    assert secrets.secret_key.reveal() == "sk"
    assert secrets.webhook_token is not None and secrets.webhook_token.reveal() == "the-token"
    assert secrets.by_ref[SecretRef("credential", "hook")].reveal() == "the-token"


def test_unresolvable_secrets_are_located_problems(tmp_path: Path) -> None:
    main = replace(MAIN, "  access_key: {env: TEST_AK}\n  secret_key: {env: TEST_SK}\n", "")
    main = replace(
        main,
        "      url: http://10.0.1.5:9000\n",
        "      url: http://10.0.1.5:9000\n"
        "      basic_auth: {username: admin, password: {file: missing-pw}}\n",
    )
    config = load_config(write(Path.cwd(), main))
    env = {"HOME": str(tmp_path), "NCLOUD_ACCESS_KEY": "AK-VALUE"}
    with pytest.raises(ConfigError) as info:
        resolve_secrets(config, environ=env)
    lines = [str(p) for p in info.value.problems]
    assert len(lines) == 2
    assert lines[0].startswith("remediator.yaml:1: ncp.secret_key: no NCP secret_key: ")
    assert lines[1] == (
        "remediator.yaml:10: targets[0].health.basic_auth.password: "
        "file missing-pw: cannot read (No such file or directory)"
    )
    assert "AK-VALUE" not in str(info.value)


# --- one problem of each kind --------------------------------------------------------------

CASES: dict[str, tuple[str, str, str]] = {
    # name: (main, rules, the one expected line)
    "unknown key": (
        MAIN,
        replace(RULES, "    action: restart_cmak\n", "    action: restart_cmak\n    acton: x\n"),
        "rules/cmak.yaml:7: rules[0].acton: unknown key (expected one of: name, targets, "
        "trigger, action, actions, fallback_action, max_blast_radius, cooldown, budget, verify, "
        "mode, approval_timeout)",
    ),
    "duplicate key": (
        replace(MAIN, "  region: KR\n", "  region: KR\n  region: SGN\n"),
        RULES,
        "remediator.yaml:4: ncp.region: duplicate key (first on line 3)",
    ),
    "bad duration": (
        MAIN,
        RULES + "    cooldown: 15 minutes\n",
        "rules/cmak.yaml:9: rules[0].cooldown: '15 minutes' is not a duration "
        "(write e.g. '30s', '15m', '6h', '1d' or '1m30s')",
    ),
    "bare number duration": (
        MAIN,
        RULES + "    cooldown: 900\n",
        "rules/cmak.yaml:9: rules[0].cooldown: a bare number is not a duration: write '900s'",
    ),
    "duration under 1s": (
        MAIN,
        RULES + "    cooldown: 0s\n",
        "rules/cmak.yaml:9: rules[0].cooldown: must be at least 1s",
    ),
    "missing required key": (
        MAIN,
        replace(RULES, "    action: restart_cmak\n", ""),
        "rules/cmak.yaml:2: rules[0].action: is required (or actions: a ladder of steps)",
    ),
    "missing nested key": (
        replace(MAIN, "      url: http://10.0.1.5:9000\n", ""),
        RULES,
        "remediator.yaml:9: targets[0].health.url: is required",
    ),
    "failures > of": (
        MAIN,
        replace(RULES, "failures: 3, of: 3", "failures: 4, of: 3"),
        "rules/cmak.yaml:5: rules[0].trigger.probe.failures: must be at most 'of' (3)",
    ),
    "bad region for site": (
        replace(MAIN, "  site: public\n  region: KR\n", "  site: gov\n  region: SGN\n"),
        RULES,
        "remediator.yaml:3: ncp.region: region 'SGN' does not exist on site 'gov' (one of KR, KRS)",
    ),
    "bad target region for site": (
        replace(
            MAIN, '    cluster_no: "2593711"\n', '    cluster_no: "2593711"\n    region: KRS\n'
        ),
        RULES,
        "remediator.yaml:14: targets[1].region: region 'KRS' does not exist on site 'public' "
        "(one of KR, SGN, JPN)",
    ),
    "unknown site": (
        replace(MAIN, "site: public", "site: private"),
        RULES,
        "remediator.yaml:2: ncp.site: must be one of 'public', 'gov' or 'fin'",
    ),
    "unknown action": (
        MAIN,
        replace(RULES, "action: restart_cmak", "action: restart_everything"),
        "rules/cmak.yaml:6: rules[0].action: must be one of 'restart_cmak', "
        "'restart_kafka_node', 'rolling_restart', 'restart_kafka' or 'restart_all_services'",
    ),
    "fallback == action": (
        MAIN,
        replace(RULES, "fallback_action: restart_all_services", "fallback_action: restart_cmak"),
        "rules/cmak.yaml:7: rules[0].fallback_action: must differ from action (restart_cmak)",
    ),
    "glob matching no target": (
        MAIN,
        replace(RULES, "targets: [orders]", "targets: [orders, 'kafka-*']"),
        "rules/cmak.yaml:3: rules[0].targets[1]: 'kafka-*' matches no configured target "
        "(targets: orders, payments)",
    ),
    "duplicate target name": (
        replace(MAIN, "  - name: payments\n", "  - name: orders\n"),
        RULES,
        "remediator.yaml:12: targets[1].name: duplicate name 'orders' (first on line 7)",
    ),
    "duplicate cluster_no": (
        replace(MAIN, '"2593711"', "1484848"),
        RULES,
        "remediator.yaml:13: targets[1].cluster_no: duplicate cluster_no '1484848' "
        "(first on line 8)",
    ),
    "rules glob matching nothing": (
        replace(MAIN, "rules: [rules/*.yaml]", "rules: [rules/*.yaml, more/*.yaml]"),
        RULES,
        "remediator.yaml:17: rules[1]: 'more/*.yaml' matches no file",
    ),
    "timeout not under interval": (
        replace(MAIN, "      kind: cmak\n", "      kind: cmak\n      interval: 4s\n"),
        RULES,
        "remediator.yaml:9: targets[0].health.timeout: must not be longer than interval (4s)",
    ),
    "grace not under timeout": (
        MAIN,
        RULES + "    verify: {grace: 10m, timeout: 10m}\n",
        "rules/cmak.yaml:9: rules[0].verify.grace: must be shorter than timeout (10m)",
    ),
    "both probe and alert": (
        MAIN,
        replace(RULES, "      probe:", "      alert: {alertname: X}\n      probe:"),
        "rules/cmak.yaml:4: rules[0].trigger: needs exactly one of 'probe' or 'alert'",
    ),
    "corroborate with a probe trigger": (
        MAIN,
        replace(
            RULES,
            "      probe: {failures: 3, of: 3}\n",
            "      probe: {failures: 3, of: 3}\n      corroborate: probe\n",
        ),
        "rules/cmak.yaml:6: rules[0].trigger.corroborate: only with an alert trigger "
        "(a probe trigger is a probe already)",
    ),
    "bad target name": (
        replace(MAIN, "name: orders", "name: Orders"),
        replace(RULES, "[orders]", "[Orders]"),
        "remediator.yaml:7: targets[0].name: must be lowercase letters, digits, '.', '_' or '-', "
        "starting with a letter or digit",
    ),
    "expect with a preset kind": (
        replace(MAIN, "      kind: cmak\n", "      kind: cmak\n      expect: {status: 200}\n"),
        RULES,
        "remediator.yaml:11: targets[0].health.expect: only for kind: http "
        "(kind: cmak has a fixed expectation)",
    ),
    "path and url": (
        MAIN + "state: {path: /x.db, url: 'postgresql://h/db'}\n",
        RULES,
        "remediator.yaml:18: state.url: give either path (SQLite) or url (PostgreSQL), not both",
    ),
    "listen without brackets": (
        MAIN + "server: {listen: '::1:9820'}\n",
        RULES,
        "remediator.yaml:18: server.listen: an IPv6 address needs brackets, e.g. [::1]:9820",
    ),
    "yaml syntax error": (
        MAIN,
        RULES + "    mode: [enforce\n",
        "rules/cmak.yaml:10: (yaml): expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence)",
    ),
    "empty rules file": (
        MAIN,
        "",
        "rules/cmak.yaml:1: (root): must be a mapping with a 'rules:' list",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_problem_is_one_located_line(case: str) -> None:
    main, rules, expected = CASES[case]
    assert problems(main, rules) == [expected]


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ("secret_key: {env: TEST_SK}", "secret_key: 's3cr3t-value'", 5),
        ("access_key: {env: TEST_AK}", "access_key: {value: s3cr3t-value}", 4),
        ("access_key: {env: TEST_AK}", "access_key: [s3cr3t-value]", 4),
    ],
)
def test_a_secret_in_the_yaml_is_a_problem_that_never_shows_it(
    old: str, new: str, line: int
) -> None:
    [problem] = problems(replace(MAIN, old, new))
    key = new.partition(":")[0]
    assert problem.startswith(f"remediator.yaml:{line}: ncp.{key}: ")
    assert "s3cr3t-value" not in problem


def test_a_plain_password_is_named_but_not_echoed() -> None:
    main = replace(
        MAIN,
        "      url: http://10.0.1.5:9000\n",
        "      url: http://10.0.1.5:9000\n      basic_auth: {username: admin, password: hunter2}\n",
    )
    [line] = problems(main)
    assert line == (
        "remediator.yaml:12: targets[0].health.basic_auth.password: must be a secret reference "
        "({env: ...}, {file: ...}, {credential: ...}); secrets never live in the YAML"
    )
    assert "hunter2" not in line


def test_credentials_in_a_url_are_refused_without_echo() -> None:
    [line] = problems(replace(MAIN, "http://10.0.1.5:9000", "http://admin:hunter2@10.0.1.5:9000"))
    assert line == (
        "remediator.yaml:11: targets[0].health.url: must not carry credentials; "
        "use basic_auth with a secret reference"
    )


def test_every_problem_across_files_at_once_in_file_and_line_order() -> None:
    main = replace(MAIN, "  region: KR\n", "  region: KR\n  bogus: 1\n")
    main = replace(
        main,
        "      url: http://10.0.1.5:9000\n",
        "      url: http://10.0.1.5:9000\n      timeout: 5\n",
    )
    (Path.cwd() / "rules").mkdir()
    (Path.cwd() / "rules" / "a.yaml").write_text(
        replace(RULES, "failures: 3, of: 3", "failures: 4, of: 3")
    )
    rules = replace(RULES, "action: restart_cmak", "action: restart_it") + "    cooldown: 5\n"
    assert problems(main, rules) == [
        "remediator.yaml:4: ncp.bogus: unknown key (expected one of: site, region, endpoint, "
        "access_key, secret_key, timeout)",
        "remediator.yaml:13: targets[0].health.timeout: a bare number is not a duration: "
        "write '5s'",
        "rules/a.yaml:5: rules[0].trigger.probe.failures: must be at most 'of' (3)",
        "rules/cmak.yaml:2: rules[0].name: duplicate rule name 'cmak-unhealthy' "
        "(first at rules/a.yaml:2)",
        "rules/cmak.yaml:6: rules[0].action: must be one of 'restart_cmak', "
        "'restart_kafka_node', 'rolling_restart', 'restart_kafka' or 'restart_all_services'",
        "rules/cmak.yaml:9: rules[0].cooldown: a bare number is not a duration: write '5s'",
    ]


def test_rules_files_are_found_relative_to_the_main_file(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    write(tmp_path / "etc")
    config = load_config(Path("etc/remediator.yaml"))
    assert config.files == ("etc/remediator.yaml", "etc/rules/cmak.yaml")


# --- the shipped examples and the `check` command ------------------------------------------


def example_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir()
    for name in ("ncp-secret-key", "webhook-token", "cmak-orders-password"):
        (creds / name).write_text(f"test-{name}\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.setenv("NCLOUD_ACCESS_KEY", "test-access-key")


def test_examples_load_and_convert() -> None:
    config = load_config(REPO / "examples" / "remediator.yaml")
    assert isinstance(config, Config)
    assert [t.name for t in config.targets] == ["orders", "payments"]
    assert [r.name for r in config.rules] == [
        "broker-unhealthy",
        "cmak-unhealthy",
        "cmak-down-alert",
    ]
    assert config.warnings == ()
    assert [t.cluster_health is not None for t in config.targets] == [True, True]
    policy = config.policy()
    brokers, cmak, alert = policy.rules
    assert brokers.trigger == core.ProbeTrigger(2, 3, check="cluster")
    assert brokers.steps == ("restart_kafka_node", "rolling_restart")
    assert (brokers.cooldown, brokers.budget.max, brokers.verify.timeout) == (1800.0, 4, 1200.0)
    assert cmak.trigger == core.ProbeTrigger(3, 3)
    assert (cmak.action, cmak.fallback_action) == ("restart_cmak", None)
    assert (cmak.cooldown, cmak.budget.max, cmak.budget.per) == (900.0, 3, 21600.0)
    assert alert.trigger == core.AlertTrigger("CMAKDown", corroborate=True)
    assert [r.name for r in policy.rules_for("payments")] == ["broker-unhealthy"]


def test_check_examples_ok(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example_env(tmp_path, monkeypatch)
    monkeypatch.chdir(REPO)
    assert main(["check", "-c", "examples/remediator.yaml"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "OK: 2 targets, 3 rules",
        "broker-unhealthy: restart_kafka_node (node: Kafka restarts on the broker nodes that are "
        "not green, never a green one) → rolling_restart (rolling: brokers restart one at a "
        "time, after NCP's pre-check)",
        "cmak-unhealthy: restart_cmak (tool; withdrawn by NCP)",
        "cmak-down-alert: restart_cmak (tool; withdrawn by NCP)",
    ]
    assert err == ""


def test_check_reports_unreadable_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("NCLOUD_ACCESS_KEY", "")
    monkeypatch.chdir(REPO)
    assert main(["check", "-c", "examples/remediator.yaml"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == (
        "examples/remediator.yaml:18: ncp.access_key: "
        "environment variable NCLOUD_ACCESS_KEY is not set or empty"
    )
    assert [line.split(": ")[0:2] for line in lines[1:]] == [
        ["examples/remediator.yaml:19", "ncp.secret_key"],
        ["examples/remediator.yaml:24", "server.webhook_token"],
        ["examples/remediator.yaml:49", "targets[0].health.basic_auth.password"],
    ]
    assert main(["check", "-c", "examples/remediator.yaml", "--no-secrets"]) == 0


def test_check_prints_warnings_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    write(Path.cwd(), rules=replace(RULES, "    fallback_action: restart_all_services\n", ""))
    assert main(["check", "-c", "remediator.yaml", "--no-secrets"]) == 0
    out, err = capsys.readouterr()
    assert out == "OK: 2 targets, 1 rules\ncmak-unhealthy: restart_cmak (tool; withdrawn by NCP)\n"
    assert err == (
        "warning: rules/cmak.yaml:6: rules[0].action: NCP withdrew restartCMAKService on "
        "2026-09-17; add a fallback_action, e.g. restart_all_services with max_blast_radius: "
        "cluster (every broker and ZooKeeper restart at once)\n"
    )


def test_check_a_postgresql_ledger_needs_psycopg(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(Path.cwd(), MAIN + "state: {url: 'postgresql://remediator@db.internal/remediator'}\n")
    assert main(["check", "-c", "remediator.yaml", "--no-secrets"]) == 0
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as without the `postgres` extra
    assert main(["check", "-c", "remediator.yaml", "--no-secrets"]) == 2
    err = capsys.readouterr().err
    assert "remediator.yaml: state.url: needs psycopg" in err
    assert "pip install 'remediator[postgres]'" in err


def test_check_problems_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    write(Path.cwd(), rules=replace(RULES, "failures: 3", "failures: 4"))
    assert main(["check", "--config", "remediator.yaml"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "rules/cmak.yaml:5: rules[0].trigger.probe.failures: must be at most 'of' (3)\n"


def test_check_missing_file_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "-c", "nowhere/remediator.yaml"]) == 2
    _, err = capsys.readouterr()
    assert err == (
        "remediator: cannot read the configuration nowhere/remediator.yaml: "
        "No such file or directory\n"
    )


def test_check_copied_examples_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed layout: /etc/remediator/remediator.yaml with rules/ beside it."""
    example_env(tmp_path, monkeypatch)
    etc = tmp_path / "etc" / "remediator"
    etc.mkdir(parents=True)
    shutil.copy(REPO / "examples" / "remediator.yaml", etc)
    shutil.copytree(REPO / "rules", etc / "rules")
    assert main(["check", "-c", str(etc / "remediator.yaml")]) == 0


# --- durations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1),
        ("30s", 30),
        ("15m", 900),
        ("6h", 21600),
        ("1d", 86400),
        ("1m30s", 90),
        ("1d2h3m4s", 93784),
        ("90m", 5400),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "1.5s", "30 s", "1s1m", "1h1h", "s", "-1s", "1w"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@given(st.integers(min_value=1, max_value=10**8))
def test_format_then_parse_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(
    st.tuples(*(st.none() | st.integers(min_value=0, max_value=10**4) for _ in range(4))).filter(
        lambda parts: any(p is not None for p in parts)
    )
)
def test_parse_of_generated_durations(parts: tuple[int | None, ...]) -> None:
    text = "".join(f"{n}{unit}" for n, unit in zip(parts, "dhms", strict=True) if n is not None)
    expected = sum(n * size for n, size in zip(parts, (86400, 3600, 60, 1), strict=True) if n)
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected
