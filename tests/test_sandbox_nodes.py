"""The sandbox's nodes over real HTTP: identities, per-node status, faults, per-node restarts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from remediator.clock import FakeClock
from remediator.sandbox import Sandbox, cli
from remediator.sandbox.calls import RecordedCall
from remediator.sandbox.state import CODE_BAD_REQUEST, CODE_BUSY, CODE_NO_SUCH_CLUSTER

Signer = Callable[[str, str, int, str, str], dict[str, str]]

FIXTURES = Path(__file__).parent / "fixtures" / "ncp"  # copies of ../shared/fixtures/ncp
ORDERS, PAYMENTS = "1484848", "1484849"
MANAGER, B1, B2, B3 = 145022760, 145022777, 145022778, 145022779  # orders, as in the fixture
RESTART_DELAY, NODE_DELAY = 0.5, 2.0
BAD_REQUEST = {"error": {"errorCode": "100", "message": "Bad Request Exception"}}
DATES = ("createdDate", "createdYmdt", "operationYmdt")


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


@dataclass
class Cdss:
    """Signed calls to a sandbox's gateway, timestamped with the sandbox's own clock."""

    sb: Sandbox
    access_key: str
    secret_key: str
    sign: Signer

    def send(
        self, method: str, path: str, body: object = None, raw: bytes | None = None
    ) -> requests.Response:
        target = "/api/v1/cluster/" + path
        headers = self.sign(
            method, target, int(self.sb.clock.now() * 1000), self.access_key, self.secret_key
        )
        data = raw if raw is not None or body is None else json.dumps(body).encode()
        return requests.request(method, self.sb.url + target, headers=headers, data=data, timeout=2)

    def envelope(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        r = self.send(method, path, body)
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        assert set(answer) == {"code", "message", "result", "requestId"}
        return answer

    def status(self, no: str) -> dict[str, Any]:
        result: dict[str, Any] = self.envelope("GET", f"getClusterStatus/{no}")["result"]
        return result

    def brokers(self, no: str) -> dict[str, str]:
        """hostname -> status, from getClusterStatus."""
        return {n["hostname"]: n["status"] for n in self.status(no)["brokerStatusPerNode"]}

    def restart_nodes(self, no: str, body: object) -> dict[str, Any]:
        return self.envelope("POST", f"restartKafkaServicePerNode/{no}", body)

    def rolling(self, operation: str, no: str | int) -> dict[str, Any]:
        return self.envelope("POST", operation, {"serviceGroupInstanceNo": int(no)})


@contextmanager
def running_cdss(clock: FakeClock, keys: tuple[str, str], sign: Signer) -> Iterator[Cdss]:
    """A fake-clock sandbox whose broker restarts take longer than its cluster-wide ones."""
    sb = Sandbox(*keys, clock=clock, restart_delay=RESTART_DELAY, node_restart_delay=NODE_DELAY)
    with sb:
        yield Cdss(sb, *keys, sign)


@pytest.fixture
def cdss(fake_clock: FakeClock, sandbox_keys: tuple[str, str], sign: Signer) -> Iterator[Cdss]:
    with running_cdss(fake_clock, sandbox_keys, sign) as c:
        yield c


def _without_dates(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_dates(v) for k, v in value.items() if k not in DATES}
    if isinstance(value, list):
        return [_without_dates(v) for v in value]
    return value


# -- identities and shapes ---------------------------------------------------------------------


def test_node_list_has_the_fixture_shape_and_the_first_clusters_nodes_are_the_fixtures(
    cdss: Cdss,
) -> None:
    answer = cdss.envelope("GET", f"getClusterNodeList/{ORDERS}")
    expected = fixture("cluster-node-list.json")["result"]
    assert (answer["code"], answer["message"]) == (0, "SUCCESS")
    result = answer["result"]
    assert _without_dates(result) == _without_dates(expected)
    for got, want in zip(result["computeList"], expected["computeList"], strict=True):
        for key in ("createdYmdt", "operationYmdt"):
            assert set(got[key]) == set(want[key])
    assert set(result["createdDate"]) == set(expected["createdDate"])
    created = result["createdDate"]
    assert created["utc"] == int(cdss.sb.clock.now() * 1000)  # the cluster was made at start
    other = cdss.envelope("GET", f"getClusterNodeList/{PAYMENTS}")["result"]["computeList"]
    assert [n["hostName"] for n in other] == [
        "payments-manager-001",
        "payments-broker-001",
        "payments-broker-002",
        "payments-broker-003",
    ]
    numbers = {n["computeInstanceNo"] for n in other + result["computeList"]}
    assert len(numbers) == 8 and all(isinstance(n, int) for n in numbers)


def test_status_reports_each_broker_and_zookeeper_node_with_hostname(cdss: Cdss) -> None:
    cdss.sb.break_broker(ORDERS, "orders-broker-002", "red")
    answer = cdss.envelope("GET", f"getClusterStatus/{ORDERS}")
    assert answer["result"] == fixture("cluster-status-broker-red.json")["result"]
    assert cdss.status(PAYMENTS)["brokerStatus"] == "green"  # another cluster is untouched


@pytest.mark.parametrize(
    ("faults", "broker_status", "up"),
    [
        ({B1: "yellow"}, "yellow", 3),
        ({B1: "gray"}, "yellow", 2),
        ({B1: "red", B2: "red", B3: "red"}, "red", 0),
        ({B1: "red", B2: "gray", B3: "gray"}, "red", 0),
        ({B1: "gray", B2: "gray", B3: "gray"}, "gray", 0),
    ],
)
def test_the_cluster_colour_is_derived_from_the_nodes(
    cdss: Cdss, faults: dict[int, Any], broker_status: str, up: int
) -> None:
    for node, status in faults.items():
        cdss.sb.break_broker(ORDERS, node, status)
    s = cdss.status(ORDERS)
    assert (s["brokerStatus"], s["brokerNumber"], s["brokerNodeTotalNumber"]) == (
        broker_status,
        up,
        3,
    )
    assert s["zookeeperStatus"] == "green" and cdss.sb.cluster(ORDERS).status == "running"


def test_zookeeper_breaks_on_all_its_nodes_or_on_one(cdss: Cdss) -> None:
    cdss.sb.break_zookeeper(ORDERS, "red", node="orders-broker-003")
    s = cdss.status(ORDERS)
    assert [n["status"] for n in s["zookeeperStatusPerNode"]] == ["green", "green", "red"]
    assert (s["zookeeperStatus"], s["zookeeperNumber"], s["brokerStatus"]) == (
        "yellow",
        2,
        "green",
    )
    cdss.sb.break_zookeeper(ORDERS, "gray")
    assert cdss.status(ORDERS)["zookeeperStatus"] == "gray"
    cdss.sb.fix_zookeeper(ORDERS)
    assert cdss.status(ORDERS)["zookeeperStatus"] == "green"
    with pytest.raises(ValueError, match="ZooKeeper does not run"):
        cdss.sb.break_zookeeper(ORDERS, "red", node=MANAGER)


def test_a_big_cluster_has_zookeeper_on_three_brokers_and_bounds_are_enforced(cdss: Cdss) -> None:
    cdss.sb.add_cluster("9000001", "big", brokers=5)
    s = cdss.status("9000001")
    assert [n["hostname"] for n in s["brokerStatusPerNode"]] == [
        f"big-broker-{i:03d}" for i in range(1, 6)
    ]
    assert len(s["zookeeperStatusPerNode"]) == 3 and s["zookeeperTotalNumber"] == 3
    for brokers in (2, 65):
        with pytest.raises(ValueError, match="3 to 64 brokers"):
            cdss.sb.add_cluster("9000002", "odd", brokers=brokers)


def test_faults_on_the_manager_tool_brokers_and_zookeeper_are_separate(cdss: Cdss) -> None:
    cdss.sb.break_tool(ORDERS, "down")
    s = cdss.status(ORDERS)
    assert (s["cmakStatus"], s["brokerStatus"], s["zookeeperStatus"]) == ("red", "green", "green")
    with pytest.raises(requests.ConnectionError):
        requests.get(cdss.sb.tool_url(ORDERS) + "/api/health", timeout=2)
    cdss.sb.fix_tool(ORDERS)
    cdss.sb.break_broker(ORDERS, B3, "yellow")
    s = cdss.status(ORDERS)
    assert (s["cmakStatus"], s["brokerStatus"], s["zookeeperStatus"]) == (
        "green",
        "yellow",
        "green",
    )
    assert requests.get(cdss.sb.tool_url(ORDERS) + "/api/health", timeout=2).text == "healthy"
    with pytest.raises(ValueError, match="not a broker"):
        cdss.sb.break_broker(ORDERS, MANAGER)
    with pytest.raises(KeyError):
        cdss.sb.break_broker(ORDERS, 1)
    with pytest.raises(ValueError, match="status must be one of"):
        cdss.sb.break_broker(ORDERS, B1, "blue")  # type: ignore[arg-type]


# -- per-node restart --------------------------------------------------------------------------


def test_per_node_restart_takes_exactly_the_named_broker_orange_then_green(
    cdss: Cdss, fake_clock: FakeClock
) -> None:
    cdss.sb.break_broker(ORDERS, "orders-broker-002", "red")
    body = {"computeInstanceNoList": [B2]}
    answer = cdss.restart_nodes(ORDERS, body)
    assert {k: answer[k] for k in ("code", "message", "result")} == {
        k: v for k, v in fixture("restart-success.json").items() if k != "requestId"
    }
    assert cdss.brokers(ORDERS) == {
        "orders-broker-001": "green",
        "orders-broker-002": "orange",
        "orders-broker-003": "green",
    }
    assert cdss.status(ORDERS)["brokerStatus"] == "orange"
    info = cdss.envelope("POST", f"getClusterInfoList/{ORDERS}")["result"]
    assert info["status"] == "changing"
    assert cdss.status(ORDERS)["zookeeperStatus"] == "green"
    assert requests.get(cdss.sb.tool_url(ORDERS) + "/api/health", timeout=2).ok  # manager alone
    fake_clock.advance(NODE_DELAY - 0.01)
    assert cdss.brokers(ORDERS)["orders-broker-002"] == "orange"
    fake_clock.advance(0.01)
    assert set(cdss.brokers(ORDERS).values()) == {"green"}  # the fault cleared with the restart
    assert cdss.sb.cluster(ORDERS).status == "running"
    [call] = cdss.sb.action_calls(ORDERS)
    assert (call.operation, call.method, call.applied, call.code) == (
        "restartKafkaServicePerNode",
        "POST",
        True,
        0,
    )
    assert call.body is not None and json.loads(call.body) == body


def test_per_node_restart_of_several_brokers_and_a_persistent_fault(
    cdss: Cdss, fake_clock: FakeClock
) -> None:
    cdss.sb.break_broker(ORDERS, B1, "red", persistent=True)
    cdss.sb.break_broker(ORDERS, B3, "gray")
    assert cdss.restart_nodes(ORDERS, {"computeInstanceNoList": [B3, B1, B3]})["result"] is True
    assert list(cdss.brokers(ORDERS).values()) == ["orange", "green", "orange"]
    fake_clock.advance(NODE_DELAY)
    assert list(cdss.brokers(ORDERS).values()) == ["red", "green", "green"]
    [node] = [n for n in cdss.sb.nodes(ORDERS) if n.compute_instance_no == B1]
    assert (node.broker_fault, node.broker_fault_persistent) == ("red", True)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"computeInstanceNoList": []}, "non-empty"),
        ({"computeInstanceNoList": [str(B2)]}, "integers only"),
        ({"computeInstanceNoList": [B2, 1.5]}, "integers only"),
        ({"computeInstanceNoList": [True]}, "integers only"),
        ({"computeInstanceNoList": B2}, "non-empty list"),
        ({}, "required"),
        ([B2], "JSON object"),
        ({"computeInstanceNoList": [B2, 999]}, "no node 999"),
        ({"computeInstanceNoList": [145022877]}, "no node 145022877"),  # a payments broker
        ({"computeInstanceNoList": [MANAGER]}, "not a broker"),
    ],
)
def test_per_node_restart_refuses_a_bad_body_and_applies_nothing(
    cdss: Cdss, body: object, why: str
) -> None:
    answer = cdss.restart_nodes(ORDERS, body)
    assert answer["code"] == CODE_BAD_REQUEST and answer["result"] is None
    assert why in answer["message"]
    assert cdss.sb.cluster(ORDERS).status == "running"
    assert [c.applied for c in cdss.sb.action_calls(ORDERS)] == [False]


def test_a_body_that_is_not_json_is_the_gateways_400(cdss: Cdss) -> None:
    r = cdss.send("POST", f"restartKafkaServicePerNode/{ORDERS}", raw=b"{computeInstanceNoList")
    assert (r.status_code, r.json()) == (400, BAD_REQUEST)
    [call] = cdss.sb.calls
    assert (call.error_code, call.applied, call.body) == ("100", False, "{computeInstanceNoList")


def test_per_node_restart_of_an_unknown_cluster_and_with_the_wrong_method(cdss: Cdss) -> None:
    answer = cdss.restart_nodes("999", {"computeInstanceNoList": [B1]})
    assert answer["code"] == CODE_NO_SUCH_CLUSTER and answer["result"] is None
    r = cdss.send("GET", f"restartKafkaServicePerNode/{ORDERS}")
    assert r.status_code == 404


# -- cluster-wide restarts act on the nodes ----------------------------------------------------


def test_restart_kafka_turns_every_broker_orange_then_green_and_clears_their_faults(
    cdss: Cdss, fake_clock: FakeClock
) -> None:
    cdss.sb.break_broker(ORDERS, B1, "red")
    cdss.sb.break_broker(ORDERS, B2, "yellow", persistent=True)
    cdss.sb.break_zookeeper(ORDERS, "red")
    assert cdss.envelope("GET", f"restartKafkaService/{ORDERS}")["result"] is True
    assert set(cdss.brokers(ORDERS).values()) == {"orange"}
    fake_clock.advance(RESTART_DELAY)  # the cluster-wide delay, not the per-node one
    assert list(cdss.brokers(ORDERS).values()) == ["green", "yellow", "green"]
    assert cdss.status(ORDERS)["zookeeperStatus"] == "red"  # Kafka's restart leaves ZooKeeper
    assert cdss.envelope("GET", f"restartAllServices/{ORDERS}")["result"] is True
    s = cdss.status(ORDERS)
    assert {n["status"] for n in s["zookeeperStatusPerNode"]} == {"orange"}
    fake_clock.advance(RESTART_DELAY)
    s = cdss.status(ORDERS)
    assert (s["brokerStatus"], s["zookeeperStatus"]) == ("yellow", "green")


def test_a_restart_while_changing_is_refused_with_code_and_null_result(
    cdss: Cdss, fake_clock: FakeClock
) -> None:
    assert cdss.restart_nodes(ORDERS, {"computeInstanceNoList": [B1]})["result"] is True
    refusals = [
        cdss.envelope("GET", f"restartAllServices/{ORDERS}"),
        cdss.envelope("GET", f"restartKafkaService/{ORDERS}"),
        cdss.restart_nodes(ORDERS, {"computeInstanceNoList": [B2]}),
        cdss.rolling("rollingRestart", ORDERS),
    ]
    for answer in refusals:
        assert answer["code"] == CODE_BUSY and answer["result"] is None
        assert answer["message"] and answer["message"] != "SUCCESS"
    assert [c.applied for c in cdss.sb.action_calls(ORDERS)] == [True, False, False, False, False]
    assert list(cdss.brokers(ORDERS).values()) == ["orange", "green", "green"]
    fake_clock.advance(NODE_DELAY)
    assert cdss.restart_nodes(ORDERS, {"computeInstanceNoList": [B2]})["code"] == 0


# -- the admin API and the command line --------------------------------------------------------


def test_admin_api_reads_nodes_and_breaks_brokers_zookeeper_and_the_precheck(cdss: Cdss) -> None:
    admin = cdss.sb.admin_url + f"/clusters/{ORDERS}"
    nodes = requests.get(admin + "/nodes", timeout=2).json()["nodes"]
    assert [(n["compute_instance_no"], n["role"]) for n in nodes] == [
        (MANAGER, "MANAGER"),
        (B1, "BROKER"),
        (B2, "BROKER"),
        (B3, "BROKER"),
    ]
    assert nodes[0]["broker_status"] is None and nodes[1]["zookeeper_status"] == "green"
    r = requests.post(admin + f"/nodes/{B2}", json={"status": "red"}, timeout=2)
    assert (r.status_code, r.json()["broker_status"]) == (200, "red")
    r = requests.post(admin + "/nodes/ORDERS-BROKER-003", json={"status": "gray"}, timeout=2)
    assert r.json()["host_name"] == "orders-broker-003"  # hostnames match in any case
    assert list(cdss.brokers(ORDERS).values()) == ["green", "red", "gray"]
    r = requests.post(admin + "/nodes/orders-broker-002", json={"status": "green"}, timeout=2)
    assert r.json()["broker_fault"] is None
    body = {"status": "yellow", "node": B1, "persistent": True}
    zk = requests.post(admin + "/zookeeper", json=body, timeout=2).json()["nodes"]
    assert [n["zookeeper_fault"] for n in zk] == [None, "yellow", None, None]
    r = requests.post(admin + "/precheck", json={"message": "maintenance window"}, timeout=2)
    assert r.json()["precheck_refusal"] == "maintenance window"
    assert cdss.rolling("rollingRestartPreCheck", ORDERS)["message"] == "maintenance window"
    r = requests.delete(admin + "/precheck", timeout=2)
    assert r.json()["precheck_refusal"] is None
    for path, payload, status in [
        (f"/nodes/{MANAGER}", {"status": "red"}, 400),
        ("/nodes/orders-broker-042", {"status": "red"}, 404),
        (f"/nodes/{B1}", {"status": "purple"}, 400),
        (f"/nodes/{B1}", {"colour": "red"}, 400),
        ("/precheck", {"message": "SUCCESS"}, 400),
        ("/zookeeper", {"status": "red", "node": "orders-manager-001"}, 400),
    ]:
        assert requests.post(admin + path, json=payload, timeout=2).status_code == status, path
    assert requests.get(cdss.sb.admin_url + "/clusters/42/nodes", timeout=2).status_code == 404


def test_call_log_keeps_bodies_and_the_cluster_a_body_names(cdss: Cdss) -> None:
    cdss.rolling("rollingRestartPreCheck", ORDERS)
    cdss.restart_nodes(ORDERS, {"computeInstanceNoList": [B1]})
    calls = requests.get(cdss.sb.admin_url + "/calls", timeout=2).json()["calls"]
    assert [(c["operation"], c["cluster_no"], json.loads(c["body"])) for c in calls] == [
        ("rollingRestartPreCheck", ORDERS, {"serviceGroupInstanceNo": int(ORDERS)}),
        ("restartKafkaServicePerNode", ORDERS, {"computeInstanceNoList": [B1]}),
    ]
    line = cli.format_call(RecordedCall(**{**calls[1], "time": 1.8e9}))
    assert (
        'restartKafkaServicePerNode/1484848 {"computeInstanceNoList": [145022777]} -> 200' in line
    )


def test_faults_can_target_the_new_operations(cdss: Cdss) -> None:
    cdss.sb.inject_error(504, "510", operation="rollingRestart", applied=True)
    assert cdss.rolling("rollingRestartPreCheck", ORDERS)["result"] is True  # not the target
    assert (
        cdss.send("POST", "rollingRestart", {"serviceGroupInstanceNo": int(ORDERS)}).status_code
        == 504
    )
    assert cdss.sb.cluster(ORDERS).restarting == "rollingRestart"
    [call] = cdss.sb.action_calls(ORDERS)
    assert (call.applied, call.http_status, call.fault) == (True, 504, "error")
