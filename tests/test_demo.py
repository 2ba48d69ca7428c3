"""`remediator demo`: the bundled configuration is valid, and a real run tells the whole story.

The run is a subprocess of `python -m remediator demo`, as a user starts it: the sandbox, the
daemon and its scheduler on real time and real sockets. Its output is asserted on for what
happened (a withdrawn restartCMAKService, the fallback, recovery, the cooldown, the metrics),
so that removing any of those from the product or from the bundled rules fails this test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from remediator.config.loader import load_config, resolve_secrets
from remediator.demo import bundle

CMAK_404 = (
    "CDSS <- GET /api/v1/cluster/restartCMAKService/1484848 gateway: signature v2 verified -> "
    "HTTP 404, errorCode 300"
)
FALLBACK_OK = (
    "CDSS <- GET /api/v1/cluster/restartAllServices/1484848 gateway: signature v2 verified -> "
    "HTTP 200, code 0: applied"
)


def test_the_bundled_demo_config_is_valid(tmp_path: Path) -> None:
    files = bundle.write_config(
        tmp_path,
        sandbox_url="http://127.0.0.1:8480",
        orders_url="http://127.0.0.1:8480/clusters/1484848/cmak",
        payments_url="http://127.0.0.1:8480/clusters/1484849/kafka-ui",
    )

    config = load_config(files.config)

    assert config.warnings == ()
    assert config.ncp.endpoint == "http://127.0.0.1:8480"
    assert (config.server.host, config.server.port) == ("127.0.0.1", 0)
    assert config.state.path == str(files.state)
    assert [(t.name, t.cluster_no, t.health.kind) for t in config.targets] == [
        ("orders", bundle.ORDERS, "cmak"),
        ("payments", bundle.PAYMENTS, "kafka_ui"),
    ]
    assert config.health_checks()[0].url == "http://127.0.0.1:8480/clusters/1484848/cmak/api/health"
    cmak = next(r for r in config.rules if r.name == "cmak-unhealthy")
    assert (cmak.action, cmak.fallback_action) == ("restart_cmak", "restart_all_services")
    assert cmak.cooldown == 20.0
    assert (cmak.verify.grace, cmak.verify.successes, cmak.verify.timeout) == (1.0, 2, 15.0)
    environ = {bundle.ACCESS_KEY_ENV: "AK", bundle.SECRET_KEY_ENV: "SK"}
    secrets = resolve_secrets(config, environ=environ)
    assert secrets.access_key.reveal() == "AK"


@pytest.fixture(scope="module")
def demo_run() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "remediator", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.e2e  # runs `python -m remediator demo`
def test_the_demo_exits_0_and_writes_only_its_narration(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    assert demo_run.returncode == 0, demo_run.stdout + demo_run.stderr
    assert demo_run.stderr == ""
    assert "demo FAILED" not in demo_run.stdout
    assert not any(line.startswith("{") for line in demo_run.stdout.splitlines())  # no JSON logs
    removed = re.search(r"^removed (\S+);", demo_run.stdout, re.MULTILINE)
    assert removed is not None
    assert not Path(removed[1]).exists()


@pytest.mark.e2e  # runs `python -m remediator demo`
def test_the_demo_tells_the_remediation_in_order(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    out = " ".join(demo_run.stdout.split())  # phrases may be wrapped over lines

    story = [
        "config OK: 2 targets, 2 rules",
        "probe orders: connection closed without a response (3 of the last 3 probes failed",
        "TRIPPED: rule cmak-unhealthy on orders",
        "looked again before acting on orders: fresh probe failed",
        "DECISION: act - restart_cmak on orders",
        "guards passed: not in progress",
        CMAK_404,
        "NCP withdrew restartCMAKService on 2026-09-17",
        "FALLBACK: restart_cmak does not exist any more",
        FALLBACK_OK,
        "cluster orders (1484848) is changing: restartAllServices in progress",
        "cluster orders (1484848) is running",
        "probe orders: ok (verifying: healthy 2 of 2)",
        "RECOVERED: orders (rule cmak-unhealthy)",
        "DECISION: restart_cmak on orders suppressed (cooldown)",
        "Summary:",
    ]
    positions = [out.find(phrase) for phrase in story]
    missing = [phrase for phrase, at in zip(story, positions, strict=True) if at < 0]
    assert missing == [], demo_run.stdout
    assert positions == sorted(positions), demo_run.stdout
    # one restart only: the cooldown held the second one back
    assert out.count("CDSS <- GET /api/v1/cluster/restartAllServices/") == 1
    assert "signature REJECTED" not in out


@pytest.mark.e2e  # runs `python -m remediator demo`
def test_the_demo_prints_the_daemons_own_metrics(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    lines = {line.strip() for line in demo_run.stdout.splitlines()}
    for expected in (
        'remediator_actions_total{action="restart_all_services",result="success",target="orders"}'
        " 1.0",
        'remediator_decisions_total{outcome="acted",reason="probe",rule="cmak-unhealthy",'
        'target="orders"} 1.0',
        'remediator_decisions_total{outcome="suppressed",reason="cooldown",rule="cmak-unhealthy",'
        'target="orders"} 1.0',
        'remediator_remediations_total{outcome="recovered",rule="cmak-unhealthy",target="orders"}'
        " 1.0",
        'remediator_ncp_requests_total{code="404",operation="restartCMAKService"} 1.0',
        'remediator_ncp_requests_total{code="200",operation="restartAllServices"} 1.0',
    ):
        assert expected in lines, demo_run.stdout
    # The withdrawn restartCMAKService fell back: not a failed action.
    assert 'result="failure"' not in demo_run.stdout
    cooldown = re.search(
        r'^\s*remediator_cooldown_remaining_seconds\{rule="cmak-unhealthy",target="orders"\} '
        r"([0-9.]+)$",
        demo_run.stdout,
        re.MULTILINE,
    )
    assert cooldown is not None, demo_run.stdout
    assert 0 < float(cooldown[1]) < 20
