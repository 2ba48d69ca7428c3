"""`remediator demo`: the bundled configuration, the narration's order, and a real run's story.

The run is a subprocess of `python -m remediator demo`, as a user starts it: the sandbox, the
daemon and its scheduler on real time and real sockets. Its output is asserted on for what
happened — a red broker's node restarted and no other, a withdrawn restartCMAKService with no
broker restarted after it, the cooldown, the metrics — so that removing any of those from the
product or from the bundled rules fails these tests. The narration's order is tested without
the daemon: the sandbox applies a restart a moment before it records the call, and the
narrator must still tell the call first.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from remediator.clock import FakeClock
from remediator.config.loader import load_config, resolve_secrets
from remediator.core.events import Tick
from remediator.core.rules import Policy, TargetRef
from remediator.demo import bundle, facts
from remediator.demo.clusters import ClusterWatcher
from remediator.demo.narrator import Narrator
from remediator.demo.printer import Printer
from remediator.sandbox import RecordedCall, Sandbox
from tests.conftest import Signer

ORDERS = "1484848"
RED, RED_NO = "orders-broker-002", 145022778
CMAK_404 = (
    "CDSS <- GET /api/v1/cluster/restartCMAKService/1484848 gateway: signature v2 verified -> "
    "HTTP 404, errorCode 300"
)
NODE_RESTART = (
    'CDSS <- POST /api/v1/cluster/restartKafkaServicePerNode/1484848 {"computeInstanceNoList": '
    "[145022778]} gateway: signature v2 verified -> HTTP 200, code 0: applied"
)
# Any call that restarts every broker, at once or one at a time.
WIDE_CALLS = (
    "CDSS <- GET /api/v1/cluster/restartAllServices/",
    "CDSS <- GET /api/v1/cluster/restartKafkaService/",
    "CDSS <- POST /api/v1/cluster/rollingRestart ",
)


def test_the_bundled_demo_config_is_valid(tmp_path: Path) -> None:
    files = bundle.write_config(
        tmp_path,
        sandbox_url="http://127.0.0.1:8480",
        orders_url="http://127.0.0.1:8480/clusters/1484848/cmak",
        payments_url="http://127.0.0.1:8480/clusters/1484849/kafka-ui",
    )

    config = load_config(files.config)

    # restart_cmak without a fallback warns, unless the rule limits itself below `cluster` as
    # the demo's does (max_blast_radius: tool): then the withdrawal is its design.
    assert config.warnings == ()
    assert config.ncp.endpoint == "http://127.0.0.1:8480"
    assert (config.server.host, config.server.port) == ("127.0.0.1", 0)
    assert config.state.path == str(files.state)
    assert [(t.name, t.cluster_no, t.health.kind) for t in config.targets] == [
        ("orders", bundle.ORDERS, "cmak"),
        ("payments", bundle.PAYMENTS, "kafka_ui"),
    ]
    assert [c.interval for c in config.cluster_checks()] == [1.0, 1.0]
    assert config.health_checks()[0].url == "http://127.0.0.1:8480/clusters/1484848/cmak/api/health"
    broker, cmak = config.policy().rules
    assert (broker.name, broker.steps, broker.evidence) == (
        "broker-unhealthy",
        ("restart_kafka_node", "rolling_restart"),
        "cluster",
    )
    assert (broker.max_blast_radius, broker.worst_case) == ("rolling", "rolling")
    assert (cmak.name, cmak.remedies, cmak.evidence) == (
        "cmak-unhealthy",
        ("restart_cmak",),
        "tool",
    )
    assert (cmak.max_blast_radius, cmak.worst_case) == ("tool", "tool")
    assert (cmak.cooldown, cmak.verify.grace, cmak.verify.successes) == (20.0, 1.0, 2)
    environ = {bundle.ACCESS_KEY_ENV: "AK", bundle.SECRET_KEY_ENV: "SK"}
    secrets = resolve_secrets(config, environ=environ)
    assert secrets.access_key.reveal() == "AK"


# -- the narration's order, without the daemon -----------------------------------------------


class Told:
    """A narrator of one sandbox cluster, writing into a string; started and stopped."""

    def __init__(self, sb: Sandbox) -> None:
        self.out = io.StringIO()
        self.watcher = ClusterWatcher(sb, [ORDERS])
        policy = Policy(targets=(TargetRef("orders", ORDERS),), rules=())
        self.narrator = Narrator(Printer(self.out, FakeClock()), policy, self.watcher)

    def text(self) -> str:
        assert self.narrator.drain(5)
        return " ".join(self.out.getvalue().split())


@pytest.fixture
def told(fake_sandbox: Sandbox) -> Iterator[Told]:
    t = Told(fake_sandbox)
    t.narrator.start()
    yield t
    t.narrator.stop()


def restart_node(sb: Sandbox, sign: Signer, keys: tuple[str, str], body: object) -> None:
    target = f"/api/v1/cluster/restartKafkaServicePerNode/{ORDERS}"
    headers = sign("POST", target, int(sb.clock.now() * 1000), *keys)
    r = requests.post(sb.url + target, headers=headers, data=json.dumps(body), timeout=5)
    assert r.json()["code"] == 0, r.text


def test_a_restart_is_told_after_the_call_that_made_it_even_when_seen_first(
    fake_sandbox: Sandbox, told: Told, sign: Signer, sandbox_keys: tuple[str, str]
) -> None:
    heard: list[RecordedCall] = []
    fake_sandbox.subscribe(heard.append)  # the call, held back from the narrator for now
    restart_node(fake_sandbox, sign, sandbox_keys, {"computeInstanceNoList": [RED_NO]})
    assert fake_sandbox.cluster(ORDERS).status == "changing"

    told.narrator.say("before the call is told")  # the clusters are looked at while idle
    told.narrator.on_event(Tick(0.0))  # ... and before each event
    before = told.text()
    told.narrator.on_call(heard[0])
    after = told.text()

    assert "orange" not in before  # the effect waits for its cause
    call = after.index("CDSS <- POST /api/v1/cluster/restartKafkaServicePerNode/1484848")
    change = after.index(f"{RED} green → orange (restarting)")
    assert call < change
    assert "cluster running → changing (restartKafkaServicePerNode in progress)" in after
    assert told.narrator.marks.counts()[f"node:{RED}:orange"] == 1


def test_a_fault_is_told_after_the_line_that_announces_it(
    fake_sandbox: Sandbox, told: Told
) -> None:
    told.narrator.do(
        ">>> breaking a broker", lambda: fake_sandbox.break_broker(ORDERS, RED), "fault"
    )
    told.narrator.say("after the fault")

    text = told.text()

    announced = text.index(">>> breaking a broker")
    red = text.index(f"CDSS: cluster orders (1484848): {RED} green → red; brokerStatus yellow")
    assert announced < red
    assert told.narrator.marks.counts()["fault"] == 1


def test_stamps_never_go_back_whatever_order_lines_are_stamped_in() -> None:
    out = io.StringIO()
    clock = FakeClock()
    p = Printer(out, clock)
    clock.advance(2.0)
    p.say("later", at=2.0)
    p.say("stamped earlier, told after", at=1.0)

    assert [line[:8] for line in out.getvalue().splitlines()] == ["[  2.0s]", "[  2.0s]"]


# -- the sandbox's own record --------------------------------------------------------------


def test_the_record_names_the_brokers_a_per_node_restart_touched_and_no_other(
    fake_sandbox: Sandbox, fake_clock: FakeClock, sign: Signer, sandbox_keys: tuple[str, str]
) -> None:
    restart_node(fake_sandbox, sign, sandbox_keys, {"computeInstanceNoList": [RED_NO]})

    record = facts.of(fake_sandbox, ORDERS)

    assert record.restarted == (RED,)
    assert record.untouched == ("orders-broker-001", "orders-broker-003")
    assert record.cluster_wide == ()
    assert record.calls == (f"restartKafkaServicePerNode [{RED_NO}] → code 0, applied",)
    assert facts.of(fake_sandbox, "1484849").lines() == [
        "payments (1484849): no restart call; every broker untouched"
    ]


def test_the_record_counts_a_cluster_wide_restart_as_every_broker(
    fake_sandbox: Sandbox, sign: Signer, sandbox_keys: tuple[str, str]
) -> None:
    target = f"/api/v1/cluster/restartAllServices/{ORDERS}"
    headers = sign("GET", target, int(fake_sandbox.clock.now() * 1000), *sandbox_keys)
    assert requests.get(fake_sandbox.url + target, headers=headers, timeout=5).json()["code"] == 0

    record = facts.of(fake_sandbox, ORDERS)

    assert record.restarted == ("orders-broker-001", RED, "orders-broker-003")
    assert record.untouched == ()
    assert record.cluster_wide == ("restartAllServices",)


# -- a real run ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_run() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "remediator", "demo"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def flat(run: subprocess.CompletedProcess[str]) -> str:
    """The output with wrapped lines joined (phrases may be wrapped over lines)."""
    return " ".join(run.stdout.split())


@pytest.mark.e2e  # runs `python -m remediator demo`
def test_the_demo_exits_0_and_writes_only_its_narration(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    assert demo_run.returncode == 0, demo_run.stdout + demo_run.stderr
    assert demo_run.stderr == ""
    assert "demo FAILED" not in demo_run.stdout
    assert "the narrator failed" not in demo_run.stdout
    assert not any(line.startswith("{") for line in demo_run.stdout.splitlines())  # no JSON logs
    removed = re.search(r"^removed (\S+);", demo_run.stdout, re.MULTILINE)
    assert removed is not None
    assert not Path(removed[1]).exists()


@pytest.mark.e2e  # runs `python -m remediator demo`
def test_the_demo_tells_the_story_in_order(demo_run: subprocess.CompletedProcess[str]) -> None:
    out = flat(demo_run)

    story = [
        "config OK: 2 targets, 2 rules",
        "broker-unhealthy: restart_kafka_node (node: Kafka restarts on the broker nodes that are "
        "not green, never a green one) → rolling_restart (rolling",
        "cmak-unhealthy: restart_cmak (tool; withdrawn by NCP)",
        # act 1: a broker goes red, and only its node is restarted
        f">>> breaking broker {RED} (computeInstanceNo {RED_NO})",
        f"CDSS: cluster orders (1484848): {RED} green → red; brokerStatus yellow",
        f"cluster status orders: broker yellow; broker {RED} red (2 of the last 2 cluster status "
        "reads failed; broker-unhealthy trips at 2)",
        "TRIPPED: rule broker-unhealthy on orders (restart_kafka_node, step 1 of 2)",
        "CDSS <- GET /api/v1/cluster/getClusterNodeList/1484848",
        f"joined by hostname with the node list: unhealthy brokers: {RED} ({RED_NO})",
        "DECISION: act - restart_kafka_node on orders (rule broker-unhealthy, step 1 of 2) "
        f"blast radius: node - Kafka restarts on {RED} ({RED_NO}) only",
        "guards passed: not in progress",
        NODE_RESTART,
        f"{RED} red → orange (restarting)",
        f"{RED} orange → green",
        "(verifying: healthy 2 of 2)",
        "RECOVERED: orders (rule broker-unhealthy)",
        f"restarted: {RED} only. Never restarted: orders-broker-001, orders-broker-003",
        # act 2: the manager tool fails with every broker green, and no broker restarts
        ">>> breaking orders' CMAK",
        "orders-broker-001 green, orders-broker-002 green, orders-broker-003 green",
        "CDSS: cluster orders (1484848): cmak green → red",
        "(3 of the last 3 probes failed; cmak-unhealthy trips at 3)",
        "TRIPPED: rule cmak-unhealthy on orders (restart_cmak)",
        "DECISION: act - restart_cmak on orders (rule cmak-unhealthy) blast radius: tool",
        CMAK_404,
        "NOT RECOVERED: orders (rule cmak-unhealthy)",
        "NOT DONE: a cluster-wide restart",
        "and `max_blast_radius: cluster` to the rule",
        # act 3: the cooldown, then a human
        "DECISION: restart_cmak on orders suppressed (cooldown)",
        ">>> repairing orders' CMAK by hand",
        "metrics, scraped from the daemon's",
        "the sandbox's own record of restart calls",
        "Summary:",
    ]
    positions = [out.find(phrase) for phrase in story]
    missing = [phrase for phrase, at in zip(story, positions, strict=True) if at < 0]
    assert missing == [], demo_run.stdout
    assert positions == sorted(positions), demo_run.stdout
    assert "signature REJECTED" not in out


@pytest.mark.e2e  # runs `python -m remediator demo`
def test_the_demo_narrates_from_one_queue_so_time_never_goes_back(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    stamps = [float(s) for s in re.findall(r"^\[\s*([0-9.]+)s\]", demo_run.stdout, re.MULTILINE)]

    assert len(stamps) > 40
    assert stamps == sorted(stamps), demo_run.stdout


@pytest.mark.e2e  # runs `python -m remediator demo`
def test_only_the_red_brokers_node_is_restarted_and_nothing_cluster_wide(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    out = flat(demo_run)

    assert out.count("CDSS <- POST /api/v1/cluster/restartKafkaServicePerNode/") == 1
    assert NODE_RESTART in out
    assert [wide for wide in WIDE_CALLS if wide in out] == []
    # the manager-tool act: its one call is the withdrawn restartCMAKService, and nothing else
    tool_act = out[out.index(">>> breaking orders' CMAK") : out.index("metrics, scraped")]
    assert re.findall(r"CDSS <- \S+ /api/v1/cluster/(restart\w+|rolling\w+)", tool_act) == [
        "restartCMAKService"
    ]
    # the sandbox's own record, and the summary's reading of it
    assert (
        f"orders (1484848): brokers restarted: {RED}; never restarted: orders-broker-001, "
        "orders-broker-003" in out
    )
    assert "payments (1484849): no restart call; every broker untouched" in out
    assert "1 of orders' 3 brokers restarted, nothing cluster-wide" in out


@pytest.mark.e2e  # runs `python -m remediator demo`
def test_the_demo_prints_the_daemons_own_metrics(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    lines = {line.strip() for line in demo_run.stdout.splitlines()}
    for expected in (
        'remediator_actions_total{action="restart_kafka_node",result="success",target="orders"} '
        "1.0",
        'remediator_actions_total{action="restart_cmak",result="failure",target="orders"} 1.0',
        'remediator_decisions_total{outcome="acted",reason="probe",rule="broker-unhealthy",'
        'target="orders"} 1.0',
        'remediator_decisions_total{outcome="acted",reason="probe",rule="cmak-unhealthy",'
        'target="orders"} 1.0',
        'remediator_decisions_total{outcome="suppressed",reason="cooldown",rule="cmak-unhealthy",'
        'target="orders"} 1.0',
        'remediator_remediations_total{outcome="recovered",rule="broker-unhealthy",'
        'target="orders"} 1.0',
        'remediator_remediations_total{outcome="not_recovered",rule="cmak-unhealthy",'
        'target="orders"} 1.0',
        'remediator_ncp_requests_total{code="200",operation="restartKafkaServicePerNode"} 1.0',
        'remediator_ncp_requests_total{code="404",operation="restartCMAKService"} 1.0',
        'remediator_breaker_open{rule="cmak-unhealthy",target="orders"} 0.0',
    ):
        assert expected in lines, demo_run.stdout
    assert not any(
        'action="restart_all_services"' in line or 'action="restart_kafka"' in line
        for line in lines
    )
    cooldown = re.search(
        r'^\s*remediator_cooldown_remaining_seconds\{rule="cmak-unhealthy",target="orders"\} '
        r"([0-9.]+)$",
        demo_run.stdout,
        re.MULTILINE,
    )
    assert cooldown is not None, demo_run.stdout
    assert 0 < float(cooldown[1]) < 20
