"""Mutated configurations (issue 14, item 6), reduced: every refusal is exit 2 with
FILE:LINE and no traceback, and every configuration `check` accepts runs. The full run (1,000)
is `make chaos`; the specific cases the campaign found are below."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from remediator.cli import main
from remediator.sandbox import Sandbox
from remediator.store.postgres import redact
from tests.chaos.configs import AK, ENVIRON, MAIN, RULES, SK, campaign, check_one, run_one
from tests.e2e import free_port


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK).start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRON.items():  # `check` reads secrets from the environment
        monkeypatch.setenv(name, value)


def main_text(sb: Sandbox) -> str:
    return MAIN.format(endpoint=sb.url, tool=sb.tool_url("1484848"))


def test_mutated_configurations_are_refused_well_or_run(
    tmp_path: Path, sb: Sandbox, environ: None
) -> None:
    result = campaign(
        tmp_path, 40, 7, endpoint=sb.url, tool=sb.tool_url("1484848"), port=free_port()
    )
    assert result.problems == []
    assert result.accepted >= 3 and result.refused >= 20, result


def test_the_base_configuration_runs(tmp_path: Path, sb: Sandbox, environ: None) -> None:
    assert check_one(tmp_path, main_text(sb), RULES, ENVIRON) == "accepted"
    assert run_one(tmp_path, ENVIRON, free_port()) is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("interval: 15s", "interval: 999999999999d", "must be at most 1d"),
        ("timeout: 10s", "timeout: 99999999d", "must be at most 5m"),
        ("min_unhealthy: 3}", "min_unhealthy: 1000000000000000000000000000000}", "at most"),
        ("path: state.db", 'url: "postgresql://u@db/r?password=hunter2"', "password"),
        ("path: state.db", 'url: "postgresql://u@db/r?sslpassword=hunter2"', "password"),
        ("region: KR\n    health", "region: KR\x00\n    health", "#x0000"),
    ],
    ids=["interval", "ncp-timeout", "huge-count", "password", "sslpassword", "nul"],
)
def test_what_passed_check_and_broke_run_is_refused_at_its_line(
    tmp_path: Path,
    sb: Sandbox,
    environ: None,
    capsys: pytest.CaptureFixture[str],
    old: str,
    new: str,
    message: str,
) -> None:
    text = main_text(sb)
    assert old in text
    line = text[: text.index(old)].count("\n") + 1
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(RULES)
    config = tmp_path / "remediator.yaml"
    config.write_text(text.replace(old, new, 1))
    assert main(["check", "-c", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{config}:{line}: "), err
    assert message in err and "Traceback" not in err and "hunter2" not in err


def test_a_password_in_a_postgresql_url_is_never_printed() -> None:
    assert redact("postgresql://u@db/r?password=hunter2&sslmode=require") == (
        "postgresql://u@db/r?sslmode=require"
    )
    assert "hunter2" not in redact("postgresql://u:hunter2@db:5433/r?sslpassword=hunter2")


def test_a_target_repeated_by_a_yaml_alias_is_a_duplicate(
    tmp_path: Path, sb: Sandbox, environ: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the campaign: an alias repeats the same lines, which hid the duplicate; `run`
    then failed scheduling the same probe twice."""
    text = main_text(sb).replace("  - name: payments", "  - &again\n    name: payments")
    text = text.replace("rules: [rules/*.yaml]", "  - *again\nrules: [rules/*.yaml]")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(RULES)
    config = tmp_path / "remediator.yaml"
    config.write_text(text)
    assert main(["check", "-c", str(config)]) == 2
    err = capsys.readouterr().err
    assert "targets[2].name: duplicate name 'payments' (first on line" in err, err


def test_a_target_named_by_a_list_is_a_problem_not_a_crash(
    tmp_path: Path, sb: Sandbox, environ: None
) -> None:
    """Found by the campaign after a merge: the cluster-evidence check hashed every raw name.
    `check_one` says "refused" only for exit 2 with FILE:LINE lines and no traceback."""
    text = main_text(sb).replace("  - name: orders", "  - name: [orders]")
    assert check_one(tmp_path, text, RULES, ENVIRON) == "refused"
