"""The sandbox's rolling restart over real HTTP: pre-check, one broker at a time, progress."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from remediator.clock import FakeClock
from remediator.sandbox import Sandbox
from remediator.sandbox.state import (
    CODE_BAD_REQUEST,
    CODE_BAD_STATE,
    CODE_BUSY,
    CODE_NO_SUCH_CLUSTER,
    CODE_PRECHECK_FAILED,
)
from tests.test_sandbox_nodes import (
    B1,
    B2,
    NODE_DELAY,
    ORDERS,
    RESTART_DELAY,
    Cdss,
    Signer,
    fixture,
    running_cdss,
)

HOSTS = ("orders-broker-001", "orders-broker-002", "orders-broker-003")


@pytest.fixture
def cdss(fake_clock: FakeClock, sandbox_keys: tuple[str, str], sign: Signer) -> Iterator[Cdss]:
    with running_cdss(fake_clock, sandbox_keys, sign) as c:
        yield c


def _refused(answer: dict[str, Any]) -> str:
    """The reason of a pre-check that says no (anything but SUCCESS, `result` null)."""
    assert answer["message"] != "SUCCESS" and answer["result"] is None
    message: str = answer["message"]
    return message


def test_precheck_answers_success_when_a_rolling_restart_is_possible(cdss: Cdss) -> None:
    answer = cdss.rolling("rollingRestartPreCheck", ORDERS)
    expected = fixture("rolling-precheck-success.json")
    assert {k: v for k, v in answer.items() if k != "requestId"} == {
        k: v for k, v in expected.items() if k != "requestId"
    }
    cdss.sb.break_broker(ORDERS, B1, "yellow")  # degraded but up: still possible
    assert cdss.rolling("rollingRestartPreCheck", ORDERS)["result"] is True
    assert not cdss.sb.action_calls(ORDERS)  # a pre-check is not an action
    assert cdss.sb.cluster(ORDERS).status == "running"


def test_rolling_restart_takes_brokers_down_one_at_a_time_in_order(
    cdss: Cdss, fake_clock: FakeClock
) -> None:
    cdss.sb.break_broker(ORDERS, "orders-broker-003", "yellow")
    assert cdss.rolling("rollingRestart", ORDERS)["result"] is True
    seen = []
    for _ in HOSTS:
        seen.append(tuple(cdss.brokers(ORDERS).values()))
        assert cdss.sb.cluster(ORDERS).status == "changing"
        fake_clock.advance(NODE_DELAY / 2)
        assert tuple(cdss.brokers(ORDERS).values()) == seen[-1]  # still the same broker
        fake_clock.advance(NODE_DELAY / 2)
    assert seen == [
        ("orange", "green", "yellow"),
        ("green", "orange", "yellow"),
        ("green", "green", "orange"),
    ]
    s = cdss.status(ORDERS)
    assert (s["brokerStatus"], s["brokerNumber"]) == ("green", 3)  # yellow cleared on its turn
    assert cdss.sb.cluster(ORDERS).status == "running"
    [call] = cdss.sb.action_calls(ORDERS)
    assert (call.operation, call.cluster_no, call.target) == (
        "rollingRestart",
        ORDERS,
        "/api/v1/cluster/rollingRestart",
    )


def test_progress_check_answers_the_status_shape_as_the_roll_goes(
    cdss: Cdss, fake_clock: FakeClock
) -> None:
    assert cdss.rolling("rollingRestart", ORDERS)["code"] == 0
    fake_clock.advance(NODE_DELAY)
    progress = cdss.rolling("rollingRestartProgressCheck", ORDERS)
    assert (progress["code"], progress["message"]) == (0, "SUCCESS")
    assert progress["result"] == cdss.status(ORDERS)
    per_node = {n["hostname"]: n["status"] for n in progress["result"]["brokerStatusPerNode"]}
    assert per_node == dict(zip(HOSTS, ("green", "orange", "green"), strict=True))
    assert progress["result"]["brokerStatus"] == "orange"
    fake_clock.advance(2 * NODE_DELAY)
    done = cdss.rolling("rollingRestartProgressCheck", ORDERS)["result"]
    assert {n["status"] for n in done["brokerStatusPerNode"]} == {"green"}
    assert set(done) == set(fixture("cluster-status-green.json")["result"])


def test_rolling_leaves_the_manager_tool_up_but_restarts_count_as_actions(
    cdss: Cdss, fake_clock: FakeClock
) -> None:
    cdss.rolling("rollingRestart", ORDERS)
    assert requests.get(cdss.sb.tool_url(ORDERS) + "/api/health", timeout=2).text == "healthy"
    assert cdss.status(ORDERS)["cmakStatus"] == "green"
    assert cdss.sb.cluster(ORDERS).actions_applied == 1
    assert cdss.sb.cluster(ORDERS).changing_until == fake_clock.now() + 3 * NODE_DELAY


def test_precheck_and_rolling_restart_refuse_while_changing(
    cdss: Cdss, fake_clock: FakeClock
) -> None:
    assert cdss.envelope("GET", f"restartKafkaService/{ORDERS}")["code"] == 0
    precheck = cdss.rolling("rollingRestartPreCheck", ORDERS)
    assert "changing" in _refused(precheck) and precheck["code"] == CODE_BUSY
    rolling = cdss.rolling("rollingRestart", ORDERS)
    assert "changing" in _refused(rolling) and rolling["code"] == CODE_BUSY
    assert [c.applied for c in cdss.sb.action_calls(ORDERS)] == [True, False]
    fake_clock.advance(RESTART_DELAY)
    assert cdss.rolling("rollingRestartPreCheck", ORDERS)["message"] == "SUCCESS"


def test_precheck_refuses_while_a_roll_is_under_way(cdss: Cdss, fake_clock: FakeClock) -> None:
    cdss.rolling("rollingRestart", ORDERS)
    fake_clock.advance(NODE_DELAY * 1.5)  # broker-002 orange
    assert _refused(cdss.rolling("rollingRestartPreCheck", ORDERS))
    assert cdss.rolling("rollingRestart", ORDERS)["code"] == CODE_BUSY


@pytest.mark.parametrize(
    ("breaks", "needle"),
    [
        (lambda sb: sb.break_broker(ORDERS, B2, "red"), "orders-broker-002 is red"),
        (lambda sb: sb.break_broker(ORDERS, B2, "gray"), "orders-broker-002 is gray"),
        (lambda sb: sb.break_zookeeper(ORDERS, "yellow", node=B1), "ZooKeeper"),
    ],
)
def test_precheck_refuses_when_a_broker_is_not_green_enough_to_roll(
    cdss: Cdss, breaks: Any, needle: str
) -> None:
    breaks(cdss.sb)
    precheck = cdss.rolling("rollingRestartPreCheck", ORDERS)
    assert needle in _refused(precheck) and precheck["code"] == CODE_PRECHECK_FAILED
    assert cdss.rolling("rollingRestart", ORDERS)["code"] == CODE_PRECHECK_FAILED
    assert cdss.sb.cluster(ORDERS).status == "running"


def test_the_precheck_fault_switch_refuses_with_its_message_and_code(cdss: Cdss) -> None:
    cdss.sb.set_precheck_refusal(ORDERS, "Rolling restart is not available for this cluster")
    precheck = cdss.rolling("rollingRestartPreCheck", ORDERS)
    assert _refused(precheck) == "Rolling restart is not available for this cluster"
    assert precheck["code"] == CODE_PRECHECK_FAILED
    assert cdss.rolling("rollingRestart", ORDERS)["result"] is None
    cdss.sb.set_precheck_refusal(ORDERS, "quota of restarts used", code=0)
    precheck = cdss.rolling("rollingRestartPreCheck", ORDERS)
    assert precheck["code"] == 0 and _refused(precheck) == "quota of restarts used"
    assert cdss.sb.calls[-1].reason == "quota of restarts used"  # logged as a refusal
    cdss.sb.set_precheck_refusal(ORDERS, None)
    assert cdss.rolling("rollingRestartPreCheck", ORDERS)["result"] is True
    assert [c.applied for c in cdss.sb.action_calls(ORDERS)] == [False]
    with pytest.raises(ValueError, match="other than SUCCESS"):
        cdss.sb.set_precheck_refusal(ORDERS, "SUCCESS")


def test_precheck_refuses_a_cluster_that_cannot_restart(cdss: Cdss) -> None:
    cdss.sb.set_state(ORDERS, "creating")
    precheck = cdss.rolling("rollingRestartPreCheck", ORDERS)
    assert "creating" in _refused(precheck) and precheck["code"] == CODE_BAD_STATE


@pytest.mark.parametrize(
    "operation", ["rollingRestartPreCheck", "rollingRestart", "rollingRestartProgressCheck"]
)
def test_rolling_operations_take_the_cluster_in_the_body_only(cdss: Cdss, operation: str) -> None:
    assert cdss.send("POST", f"{operation}/{ORDERS}").status_code == 404  # no path parameter
    assert cdss.send("GET", operation).status_code == 404
    for body, code in [
        ({}, CODE_BAD_REQUEST),
        ({"serviceGroupInstanceNo": ORDERS}, CODE_BAD_REQUEST),  # a string, not an integer
        ({"serviceGroupInstanceNo": 999}, CODE_NO_SUCH_CLUSTER),
    ]:
        answer = cdss.envelope("POST", operation, body)
        assert (answer["code"], answer["result"]) == (code, None), body
    assert not any(c.applied for c in cdss.sb.calls)
    assert cdss.sb.cluster(ORDERS).status == "running"


def test_a_broker_restart_takes_the_restart_delay_unless_told_otherwise(
    fake_sandbox: Sandbox, fake_clock: FakeClock, sandbox_keys: tuple[str, str], sign: Signer
) -> None:
    plain = Cdss(fake_sandbox, *sandbox_keys, sign)
    plain.rolling("rollingRestart", ORDERS)
    fake_clock.advance(0.5)  # the fixture's restart delay: one broker done
    assert tuple(plain.brokers(ORDERS).values()) == ("green", "orange", "green")
    fake_clock.advance(1.0)
    assert plain.sb.cluster(ORDERS).status == "running"
