"""`notify:` in the configuration: its sinks, their defaults, and FILE:LINE problems that never
quote a URL (a Slack or Teams webhook URL is its own credential)."""

from __future__ import annotations

from pathlib import Path

import pytest

from remediator.cli import main
from remediator.config.loader import Config, load_config, resolve_secrets
from remediator.config.notifymodel import NOTIFY_EVENTS
from remediator.errors import ConfigError
from remediator.secrets import SecretRef

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"

MAIN = """\
ncp:
  access_key: {env: TEST_AK}
  secret_key: {env: TEST_SK}
targets:
  - name: orders
    cluster_no: "1484848"
    health: {kind: cmak, url: "http://10.0.1.5:9000"}
notify:
%s
"""


def load(tmp_path: Path, sinks: str) -> Config:
    path = tmp_path / "remediator.yaml"
    path.write_text(MAIN % sinks)
    return load_config(path)


def problems(tmp_path: Path, sinks: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, sinks)
    return [str(p).replace(str(tmp_path) + "/", "") for p in info.value.problems]


def test_sinks_load_with_their_defaults_and_their_urls_are_secrets(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """\
  - name: oncall
    kind: slack
    url: {env: SLACK_URL}
    events: [acted, not_recovered, breaker_opened, approval_requested]
  - name: audit
    kind: webhook
    url: {file: /etc/remediator/audit-url}
    targets: ["pay*"]
    give_up_after: 2h
""",
    )
    oncall, audit = config.notify
    assert (oncall.kind, oncall.targets, oncall.give_up_after) == ("slack", ("*",), 3600.0)
    assert oncall.events == ("acted", "not_recovered", "breaker_opened", "approval_requested")
    assert audit.events == NOTIFY_EVENTS
    assert (audit.targets, audit.give_up_after) == (("pay*",), 7200.0)
    uses = {u.key: u for u in config.secret_uses}
    assert uses["notify[0].url"].ref == SecretRef("env", "SLACK_URL")
    assert uses["notify[1].url"].ref == SecretRef("file", "/etc/remediator/audit-url")


def test_a_url_written_in_the_yaml_is_refused_without_being_quoted(tmp_path: Path) -> None:
    found = problems(tmp_path, f"  - {{name: oncall, kind: slack, url: {SLACK_URL}}}")
    assert found == [
        "remediator.yaml:9: notify[0].url: must be a secret reference ({env: ...}, "
        "{file: ...}, {credential: ...}); secrets never live in the YAML"
    ]
    assert "hooks.slack.com" not in "".join(found)


def test_each_mistake_is_one_located_line(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
  - name: oncall
    kind: pager
    url: {env: URL}
  - name: oncall
    kind: teams
    url: {env: URL}
    events: [acted, restarted]
    give_up_after: 60
    colour: red
""",
    )
    assert found == [
        "remediator.yaml:10: notify[0].kind: must be one of 'slack', 'teams' or 'webhook'",
        "remediator.yaml:12: notify[1].name: duplicate sink 'oncall' (first on line 9)",
        "remediator.yaml:15: notify[1].events[1]: must be one of 'acted', 'recovered', "
        "'not_recovered', 'breaker_opened', 'breaker_closed', 'approval_requested', "
        "'approval_resolved', 'paused', 'resumed', 'action_path_down', 'action_path_up' "
        "or 'reload_refused'",
        "remediator.yaml:16: notify[1].give_up_after: a bare number is not a duration: write '60s'",
        "remediator.yaml:17: notify[1].colour: unknown key (expected one of: name, kind, url, "
        "events, targets, give_up_after, timeout)",
    ]


def test_an_unreadable_url_is_a_located_problem(tmp_path: Path) -> None:
    config = load(tmp_path, "  - {name: oncall, kind: slack, url: {env: SLACK_URL}}")
    with pytest.raises(ConfigError) as info:
        resolve_secrets(config, environ={"TEST_AK": "ak", "TEST_SK": "sk"})
    (problem,) = info.value.problems
    assert str(problem).endswith(
        "remediator.yaml:9: notify[0].url: environment variable SLACK_URL is not set or empty"
    )
    secrets = resolve_secrets(
        config,
        environ={"TEST_AK": "ak", "TEST_SK": "sk", "SLACK_URL": SLACK_URL},
    )
    (url,) = [s for ref, s in secrets.by_ref.items() if ref == SecretRef("env", "SLACK_URL")]
    assert url.reveal() == SLACK_URL and SLACK_URL not in repr(url)


def test_check_names_the_sinks_and_the_rules_that_ask_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(
        "rules:\n"
        "  - name: cmak-wedged\n"
        "    trigger: {probe: {failures: 10, of: 10}}\n"
        "    action: restart_all_services\n"
        "    max_blast_radius: cluster\n"
        "    mode: approve\n"
    )
    sinks = (
        "  - {name: oncall, kind: slack, url: {env: SLACK_URL}, events: [acted, paused]}\n"
        "  - {name: audit, kind: webhook, url: {env: SLACK_URL}, targets: ['ord*']}\n"
        "rules: [rules/*.yaml]"
    )
    (tmp_path / "remediator.yaml").write_text(MAIN % sinks)
    assert main(["check", "--no-secrets", "-c", str(tmp_path / "remediator.yaml")]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "cmak-wedged: restart_all_services (cluster: every broker and ZooKeeper restart at "
        "once); each step waits for a human's approval (mode approve)",
        "notify oncall (slack, targets *): acted, paused",
        "notify audit (webhook, targets ord*): every event",
    ]
