"""The join behind restart_kafka_node: unhealthy brokers of getClusterStatus -> node numbers."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from remediator.ncp import envelope, results
from remediator.ncp.nodes import UNHEALTHY_COLORS, unhealthy_brokers
from remediator.ncp.results import ClusterNode, ClusterStatus, NodeStatus

FIXTURES = Path(__file__).parent / "fixtures" / "ncp"
ORDERS = "1484848"
COLORS = ("green", "yellow", "orange", "red", "gray")


def _read(name: str) -> envelope.Envelope:
    body = (FIXTURES / name).read_bytes()
    return envelope.parse_envelope(200, body, operation="op", action=False, idempotent=True)


NODES = results.cluster_nodes(_read("cluster-node-list.json"), "getClusterNodeList")
STATUS_RED = results.cluster_status(_read("cluster-status-broker-red.json"), ORDERS, "s")
STATUS_GREEN = results.cluster_status(_read("cluster-status-green.json"), ORDERS, "s")


def _status(*brokers: tuple[str, str]) -> ClusterStatus:
    return ClusterStatus(
        cluster_no=ORDERS,
        broker_status="yellow",
        zookeeper_status="green",
        cmak_status=None,
        broker_nodes=tuple(NodeStatus(host, color) for host, color in brokers),
        zookeeper_nodes=(),
        request_id=None,
    )


def _node(no: int, host: str) -> ClusterNode:
    return ClusterNode(no, host, None, None, "running")


def test_the_red_broker_of_the_fixtures_is_broker_002() -> None:
    found = unhealthy_brokers(STATUS_RED, NODES)
    assert [(n.compute_instance_no, n.host_name) for n in found.matched] == [
        (145022778, "orders-broker-002")
    ]
    assert found.unmatched == ()
    assert found.compute_instance_nos == (145022778,)
    assert found.describe() == "unhealthy brokers: orders-broker-002 (145022778)"


def test_an_all_green_cluster_has_nothing_to_restart() -> None:
    found = unhealthy_brokers(STATUS_GREEN, NODES)
    assert (found.matched, found.unmatched) == ((), ())
    assert found.describe() == "no broker is red, yellow or gray"


def test_red_yellow_and_gray_are_taken_green_and_orange_never() -> None:
    status = _status(
        ("orders-broker-001", "green"),
        ("orders-broker-002", "red"),
        ("orders-broker-003", "orange"),
        ("orders-broker-004", "yellow"),
        ("orders-broker-005", "gray"),
    )
    nodes = [_node(100 + n, f"orders-broker-00{n}") for n in range(1, 6)]
    found = unhealthy_brokers(status, nodes)
    assert found.compute_instance_nos == (102, 104, 105)


def test_hostnames_are_joined_ignoring_case_and_edges() -> None:
    status = _status(("ORDERS-Broker-002", "red"), (" orders-broker-003 ", "yellow"))
    found = unhealthy_brokers(status, NODES)
    assert found.compute_instance_nos == (145022778, 145022779)
    assert found.unmatched == ()


def test_an_unhealthy_hostname_without_a_node_is_reported_unmatched() -> None:
    status = _status(("orders-broker-002", "red"), ("orders-broker-009", "gray"))
    found = unhealthy_brokers(status, NODES)
    assert found.compute_instance_nos == (145022778,)
    assert found.unmatched == ("orders-broker-009",)
    assert "no single node in the node list for orders-broker-009" in found.describe()

    nothing = unhealthy_brokers(_status(("orders-broker-009", "red")), NODES)
    assert (nothing.matched, nothing.unmatched) == ((), ("orders-broker-009",))
    assert nothing.describe().startswith("unhealthy brokers: none matched")


def test_a_hostname_two_nodes_share_is_not_guessed() -> None:
    nodes = [_node(1, "orders-broker-002"), _node(2, "Orders-Broker-002"), *NODES[3:]]
    found = unhealthy_brokers(_status(("orders-broker-002", "red")), nodes)
    assert (found.matched, found.unmatched) == ((), ("orders-broker-002",))


def test_a_broker_listed_twice_is_restarted_once() -> None:
    status = _status(("orders-broker-002", "red"), ("ORDERS-BROKER-002", "yellow"))
    assert unhealthy_brokers(status, NODES).compute_instance_nos == (145022778,)


def test_the_node_list_uses_hostName_and_the_status_hostname() -> None:
    # getClusterStatus spells it `hostname`, getClusterNodeList `hostName` (SPEC section 2)
    assert [n.hostname for n in STATUS_RED.broker_nodes][1] == "orders-broker-002"
    assert [n.host_name for n in NODES][2] == "orders-broker-002"


HOSTS = st.sampled_from([f"b{n}" for n in range(6)])


@given(
    brokers=st.lists(st.tuples(HOSTS, st.sampled_from(COLORS)), max_size=8),
    known=st.sets(HOSTS),
)
def test_only_unhealthy_brokers_are_ever_matched(
    brokers: list[tuple[str, str]], known: set[str]
) -> None:
    nodes = [_node(n, host.upper()) for n, host in enumerate(sorted(known))]
    found = unhealthy_brokers(_status(*brokers), nodes)
    unhealthy = {host for host, color in brokers if color in UNHEALTHY_COLORS}
    assert {n.host_name.lower() for n in found.matched} == unhealthy & known
    assert set(found.unmatched) == unhealthy - known
    assert len(found.matched) == len(set(found.compute_instance_nos))
