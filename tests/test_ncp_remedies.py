"""The narrower remedies and the node list over real HTTP: request shapes, signatures, parsing,
refusals and unknown outcomes, against pytest-httpserver serving the NCP fixture bodies."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from remediator.clock import FakeClock
from remediator.errors import (
    NcpBadResponse,
    NcpRefused,
    NcpServerError,
    NcpTransportError,
)
from remediator.metrics import Metrics
from remediator.ncp.client import ACTIONS, CLUSTER_ACTIONS, CdssClient, Credentials
from remediator.ncp.signing import SIGNATURE_HEADER

FIXTURES = Path(__file__).parent / "fixtures" / "ncp"
RESTART_SUCCESS = (FIXTURES / "restart-success.json").read_bytes()
PRECHECK_SUCCESS = (FIXTURES / "rolling-precheck-success.json").read_bytes()
STATUS_GREEN = (FIXTURES / "cluster-status-green.json").read_bytes()
STATUS_RED = (FIXTURES / "cluster-status-broker-red.json").read_bytes()
NODE_LIST = (FIXTURES / "cluster-node-list.json").read_bytes()

ORDERS = "1484848"  # the fixtures' cluster
BROKER_002, BROKER_003 = 145022778, 145022779
REFUSAL = b'{"code": 11002, "message": "Cluster is changing.", "result": null, "requestId": "r-9"}'
Signer = Callable[[str, str, int, str, str], dict[str, str]]


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    target: str  # the request target exactly as sent on the wire
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = bytes | tuple[int, bytes]


def serve(httpserver: HTTPServer, method: str, path: str, *answers: Answer) -> list[Seen]:
    """Answer `method path` with `answers` in turn (the last one repeats); record each request."""
    seen: list[Seen] = []

    def handler(request: Request) -> Response:
        seen.append(
            Seen(
                request.method,
                request.environ["RAW_URI"],
                dict(request.headers),
                request.get_data(),
            )
        )
        answer = answers[min(len(seen), len(answers)) - 1]
        status, body = answer if isinstance(answer, tuple) else (200, answer)
        return Response(body, status, content_type="application/json")

    httpserver.expect_request(path, method=method).respond_with_handler(handler)
    return seen


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(
    httpserver: HTTPServer, sandbox_keys: tuple[str, str], metrics: Metrics, clock: FakeClock
) -> CdssClient:
    return CdssClient(
        credentials=Credentials.of(*sandbox_keys),
        clock=clock,
        endpoint=httpserver.url_for("/"),
        metrics=metrics,
    )


def requests_total(metrics: Metrics, operation: str, code: str) -> float | None:
    labels = {"operation": operation, "code": code}
    return metrics.registry.get_sample_value("remediator_ncp_requests_total", labels)


def assert_signed(seen: Seen, keys: tuple[str, str], sign: Signer) -> None:
    """The signature covers the method and the target as received, with the sent timestamp."""
    stamp = int(seen.headers["X-Ncp-Apigw-Timestamp"])
    expected = sign(seen.method, seen.target, stamp, *keys)
    assert seen.headers["X-Ncp-Apigw-Signature-V2"] == expected[SIGNATURE_HEADER]
    assert seen.headers["X-Ncp-Iam-Access-Key"] == keys[0]
    assert seen.headers["Content-Type"] == "application/json"


# -- each operation: method, exact path, body, signature, metric -----------------------------


@dataclass(frozen=True)
class Op:
    """One client operation and the request it must send."""

    name: str
    run: Callable[[CdssClient, str | None], object]
    method: str
    path: str  # after the region prefix
    body: object  # the JSON body, or None for no body
    answer: bytes
    operation: str
    action: bool


def _listing(n: int) -> bytes:
    clusters = [
        {"serviceGroupInstanceNo": 1484848 + i, "serviceGroupName": f"c{i}", "status": "running"}
        for i in range(n)
    ]
    return json.dumps(
        {"code": 0, "message": "SUCCESS", "result": {"allowedClusters": clusters}}
    ).encode()


NO_BODY = None
ROLLING_BODY = {"serviceGroupInstanceNo": 1484848}
OPS = [
    Op(
        "restart_kafka_nodes",
        lambda c, r: c.restart_kafka_nodes(ORDERS, [BROKER_002, BROKER_003], region=r),
        "POST",
        f"/cluster/restartKafkaServicePerNode/{ORDERS}",
        {"computeInstanceNoList": [BROKER_002, BROKER_003]},
        RESTART_SUCCESS,
        "restartKafkaServicePerNode",
        True,
    ),
    Op(
        "rolling_restart",
        lambda c, r: c.rolling_restart(ORDERS, region=r),
        "POST",
        "/cluster/rollingRestart",
        ROLLING_BODY,
        RESTART_SUCCESS,
        "rollingRestart",
        True,
    ),
    Op(
        "rolling_restart_precheck",
        lambda c, r: c.rolling_restart_precheck(ORDERS, region=r),
        "POST",
        "/cluster/rollingRestartPreCheck",
        ROLLING_BODY,
        PRECHECK_SUCCESS,
        "rollingRestartPreCheck",
        False,
    ),
    Op(
        "rolling_restart_progress",
        lambda c, r: c.rolling_restart_progress(ORDERS, region=r),
        "POST",
        "/cluster/rollingRestartProgressCheck",
        ROLLING_BODY,
        STATUS_RED,
        "rollingRestartProgressCheck",
        False,
    ),
    Op(
        "get_cluster_nodes",
        lambda c, r: c.get_cluster_nodes(ORDERS, region=r),
        "GET",
        f"/cluster/getClusterNodeList/{ORDERS}",
        NO_BODY,
        NODE_LIST,
        "getClusterNodeList",
        False,
    ),
    Op(
        "list_clusters",
        lambda c, r: c.list_clusters(region=r),
        "POST",
        "/cluster/getClusterInfoList",
        {"pageNo": 1, "pageSize": 100},
        _listing(2),
        "getClusterInfoList",
        False,
    ),
]
# the operations that were there before, for the refusal: it must hold for every one
OLDER_OPS = [
    Op(
        "restart_all_services",
        lambda c, r: c.restart_all_services(ORDERS, region=r),
        "GET",
        f"/cluster/restartAllServices/{ORDERS}",
        NO_BODY,
        RESTART_SUCCESS,
        "restartAllServices",
        True,
    ),
    Op(
        "get_cluster_status",
        lambda c, r: c.get_cluster_status(ORDERS, region=r),
        "GET",
        f"/cluster/getClusterStatus/{ORDERS}",
        NO_BODY,
        STATUS_GREEN,
        "getClusterStatus",
        False,
    ),
    Op(
        "get_cluster_info",
        lambda c, r: c.get_cluster_info(ORDERS, region=r),
        "POST",
        f"/cluster/getClusterInfoList/{ORDERS}",
        NO_BODY,
        b'{"code": 0, "message": "SUCCESS", "result": {"status": "running"}}',
        "getClusterInfoList",
        False,
    ),
]
ACTION_OPS = [op for op in OPS if op.action]


def _ids(op: Op) -> str:
    return op.name


@pytest.mark.parametrize("region", [None, "SGN"])
@pytest.mark.parametrize("op", OPS, ids=_ids)
def test_each_operation_sends_a_signed_request_of_the_documented_shape(
    op: Op,
    region: str | None,
    httpserver: HTTPServer,
    client: CdssClient,
    metrics: Metrics,
    sandbox_keys: tuple[str, str],
    sign: Signer,
) -> None:
    prefix = {None: "/api/v1", "SGN": "/api/sgn-v1"}[region]
    seen = serve(httpserver, op.method, prefix + op.path, op.answer)
    op.run(client, region)
    assert len(seen) == 1
    request = seen[0]
    assert (request.method, request.target) == (op.method, prefix + op.path)  # no query string
    if op.body is None:
        assert request.body == b""
    else:
        assert request.json() == op.body
        for value in request.json().values():  # integers, not strings of digits
            items = value if isinstance(value, list) else [value]
            assert all(type(v) is int for v in items)
    assert_signed(request, sandbox_keys, sign)
    assert requests_total(metrics, op.operation, "200") == 1


def test_a_gov_region_prefixes_the_rolling_operations(
    httpserver: HTTPServer, sandbox_keys: tuple[str, str], clock: FakeClock
) -> None:
    seen = serve(httpserver, "POST", "/api/krs-v1/cluster/rollingRestart", RESTART_SUCCESS)
    gov = CdssClient(
        credentials=Credentials.of(*sandbox_keys),
        clock=clock,
        site="gov",
        region="KRS",
        endpoint=httpserver.url_for("/"),
    )
    gov.rolling_restart(int(ORDERS))
    assert [s.target for s in seen] == ["/api/krs-v1/cluster/rollingRestart"]


# -- what the answers read as ----------------------------------------------------------------


def test_the_per_node_restart_result_names_the_nodes(
    httpserver: HTTPServer, client: CdssClient
) -> None:
    serve(
        httpserver, "POST", f"/api/v1/cluster/restartKafkaServicePerNode/{ORDERS}", RESTART_SUCCESS
    )
    result = client.restart_kafka_nodes(ORDERS, (BROKER_002,))
    assert (result.operation, result.cluster_no, result.http_status) == (
        "restartKafkaServicePerNode",
        ORDERS,
        200,
    )
    assert result.compute_instance_nos == (BROKER_002,)
    assert result.request_id == "2757144e-8548-472d-9d65-962406b4efa0"


def test_the_node_list_is_read_into_frozen_nodes(
    httpserver: HTTPServer, client: CdssClient
) -> None:
    serve(httpserver, "GET", f"/api/v1/cluster/getClusterNodeList/{ORDERS}", NODE_LIST)
    nodes = client.get_cluster_nodes(ORDERS)
    assert [(n.compute_instance_no, n.host_name) for n in nodes] == [
        (145022760, "orders-manager-001"),
        (145022777, "orders-broker-001"),
        (BROKER_002, "orders-broker-002"),
        (BROKER_003, "orders-broker-003"),
    ]
    broker = nodes[2]
    assert (broker.private_ip, broker.node_role_code, broker.status) == (
        "10.0.2.8",
        "BROKER",
        "running",
    )
    with pytest.raises(AttributeError):
        broker.host_name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("node", "missing"),
    [
        ({"hostName": "b1", "computeInstanceNo": "145022777"}, None),  # digits as a string
        ({"hostName": "b1"}, "computeInstanceNo"),
        ({"hostName": "b1", "computeInstanceNo": True}, "computeInstanceNo"),
        ({"computeInstanceNo": 145022777}, "hostName"),
    ],
)
def test_a_node_without_a_number_or_a_name_is_a_bad_response(
    httpserver: HTTPServer, client: CdssClient, node: dict[str, object], missing: str | None
) -> None:
    body = json.dumps({"code": 0, "message": "SUCCESS", "result": {"computeList": [node]}})
    serve(httpserver, "GET", f"/api/v1/cluster/getClusterNodeList/{ORDERS}", body.encode())
    if missing is None:
        (only,) = client.get_cluster_nodes(ORDERS)
        assert (only.compute_instance_no, only.private_ip, only.status) == (145022777, None, None)
        return
    with pytest.raises(NcpBadResponse, match=f"computeList\\[0\\] has no .*{missing}"):
        client.get_cluster_nodes(ORDERS)


def test_rolling_progress_reads_like_cluster_status_with_hostname_per_node(
    httpserver: HTTPServer, client: CdssClient
) -> None:
    serve(httpserver, "POST", "/api/v1/cluster/rollingRestartProgressCheck", STATUS_RED)
    status = client.rolling_restart_progress(ORDERS)
    assert (status.cluster_no, status.broker_status, status.zookeeper_status) == (
        ORDERS,
        "yellow",
        "green",
    )
    assert [(n.hostname, n.status) for n in status.broker_nodes] == [
        ("orders-broker-001", "green"),
        ("orders-broker-002", "red"),
        ("orders-broker-003", "green"),
    ]
    assert status.request_id == "0b4e2a51-7c0d-4f62-a3c9-5d8e1f2a3b4c"


def test_a_successful_precheck_is_possible(httpserver: HTTPServer, client: CdssClient) -> None:
    serve(httpserver, "POST", "/api/v1/cluster/rollingRestartPreCheck", PRECHECK_SUCCESS)
    check = client.rolling_restart_precheck(ORDERS)
    assert (check.possible, check.message, check.code) == (True, "SUCCESS", "0")
    assert check.request_id == "71b0ae2b-1c2d-4e3f-8a9b-3c26b10544cb"


@pytest.mark.parametrize(
    ("answer", "reason", "code"),
    [
        (
            b'{"code": 0, "message": "Broker is not ready", "result": false}',
            "Broker is not ready",
            "0",
        ),
        (b'{"code": 0, "message": "SUCCESS", "result": false}', "SUCCESS", "0"),
        (b'{"code": 0, "message": "SUCCESS", "result": null}', "SUCCESS", "0"),
        (b'{"code": 0, "message": "SUCCESS", "result": "true"}', "SUCCESS", "0"),
        (REFUSAL, "Cluster is changing.", "11002"),
        (b'{"code": "77", "result": null}', "no message (code 77)", "77"),
    ],
    ids=["other-message", "result-false", "result-null", "result-string", "refusal", "bare"],
)
def test_any_precheck_answer_but_success_is_a_value_saying_not_possible(
    httpserver: HTTPServer,
    client: CdssClient,
    clock: FakeClock,
    answer: bytes,
    reason: str,
    code: str,
) -> None:
    seen = serve(httpserver, "POST", "/api/v1/cluster/rollingRestartPreCheck", answer)
    check = client.rolling_restart_precheck(ORDERS)
    assert not check.possible
    assert (check.reason, check.code) == (reason, code)
    assert len(seen) == 1 and clock.sleeps == []  # an answer, not something to try again


def test_an_unreadable_precheck_answer_is_still_an_error(
    httpserver: HTTPServer, client: CdssClient
) -> None:
    serve(httpserver, "POST", "/api/v1/cluster/rollingRestartPreCheck", b"<html>oops</html>")
    with pytest.raises(NcpBadResponse, match="not a JSON object"):
        client.rolling_restart_precheck(ORDERS)


# -- refusals: HTTP 200 with code != 0 and a null result ------------------------------------


@pytest.mark.parametrize(
    "op", [op for op in OPS + OLDER_OPS if op.operation != "rollingRestartPreCheck"], ids=_ids
)
def test_a_200_refusal_fails_every_operation_quoting_ncp(
    op: Op, httpserver: HTTPServer, client: CdssClient, clock: FakeClock
) -> None:
    seen = serve(httpserver, op.method, "/api/v1" + op.path, REFUSAL)
    with pytest.raises(NcpRefused) as info:
        op.run(client, None)
    exc = info.value
    assert isinstance(exc, NcpBadResponse)  # callers catching the parent still see it
    assert (exc.status, exc.error_code, exc.sent, exc.request_id) == (200, "11002", "sent", "r-9")
    assert exc.gateway_message == "Cluster is changing."
    assert exc.operation == op.operation
    assert '"Cluster is changing."' in str(exc)
    assert not exc.retryable
    assert len(seen) == 1 and clock.sleeps == []


def test_a_refusal_with_a_string_code_and_an_error_object_is_refused_too(
    httpserver: HTTPServer, client: CdssClient
) -> None:
    serve(
        httpserver,
        "POST",
        "/api/v1/cluster/rollingRestart",
        b'{"code": "11002", "message": "busy", "result": null}',
        b'{"error": {"errorCode": 1200, "message": "Not allowed now"}}',
    )
    with pytest.raises(NcpRefused, match='code 11002: "busy"'):
        client.rolling_restart(ORDERS)
    with pytest.raises(NcpRefused, match='code 1200: "Not allowed now"') as info:
        client.rolling_restart(ORDERS)
    assert info.value.error_code == "1200"


@pytest.mark.parametrize("op", ACTION_OPS, ids=_ids)
@pytest.mark.parametrize("result", [b"null", b"false"])
def test_an_action_with_code_0_but_no_true_result_failed(
    op: Op, result: bytes, httpserver: HTTPServer, client: CdssClient
) -> None:
    body = b'{"code": 0, "message": "SUCCESS", "result": ' + result + b', "requestId": "r"}'
    seen = serve(httpserver, op.method, "/api/v1" + op.path, body)
    with pytest.raises(NcpBadResponse, match="action was not accepted") as info:
        op.run(client, None)
    assert not isinstance(info.value, NcpRefused)
    assert info.value.sent == "sent"
    assert len(seen) == 1


# -- unknown outcomes: never resent ----------------------------------------------------------


@pytest.mark.parametrize("op", ACTION_OPS, ids=_ids)
@pytest.mark.parametrize(("status", "code"), [(503, "500"), (504, "510"), (500, "900")])
def test_a_5xx_on_an_action_is_an_unknown_outcome_and_not_resent(
    op: Op,
    status: int,
    code: str,
    httpserver: HTTPServer,
    client: CdssClient,
    clock: FakeClock,
    metrics: Metrics,
) -> None:
    error = json.dumps({"error": {"errorCode": code, "message": "Endpoint Error"}}).encode()
    seen = serve(httpserver, op.method, "/api/v1" + op.path, (status, error), op.answer)
    with pytest.raises(NcpServerError) as info:
        op.run(client, None)
    assert info.value.sent == "unknown"
    assert not info.value.retryable
    assert "do not resend" in str(info.value)
    assert len(seen) == 1
    assert clock.sleeps == []
    assert requests_total(metrics, op.operation, str(status)) == 1


@pytest.mark.parametrize("op", ACTION_OPS, ids=_ids)
def test_a_read_timeout_on_an_action_is_unknown_and_not_resent(
    op: Op, httpserver: HTTPServer, sandbox_keys: tuple[str, str], metrics: Metrics
) -> None:
    release = threading.Event()
    seen: list[str] = []

    def hold(request: Request) -> Response:
        seen.append(request.environ["RAW_URI"])
        release.wait(10)  # held until the client has given up
        return Response(RESTART_SUCCESS, 200, content_type="application/json")

    httpserver.expect_request("/api/v1" + op.path, method=op.method).respond_with_handler(hold)
    clock = FakeClock()
    client = CdssClient(
        credentials=Credentials.of(*sandbox_keys),
        clock=clock,
        endpoint=httpserver.url_for("/"),
        metrics=metrics,
        read_timeout=0.2,
    )
    try:
        with pytest.raises(NcpTransportError) as info:
            op.run(client, None)
    finally:
        release.set()
    assert (info.value.kind, info.value.sent) == ("read_timeout", "unknown")
    assert "may have run" in str(info.value)
    assert seen == ["/api/v1" + op.path]
    assert clock.sleeps == []
    assert requests_total(metrics, op.operation, "error") == 1


@pytest.mark.parametrize("op", [op for op in OPS if not op.action], ids=_ids)
def test_the_read_only_calls_are_retried_like_reads(
    op: Op, httpserver: HTTPServer, client: CdssClient, clock: FakeClock
) -> None:
    error = b'{"error": {"errorCode": "500", "message": "Endpoint Error"}}'
    seen = serve(httpserver, op.method, "/api/v1" + op.path, (503, error), op.answer)
    op.run(client, None)
    assert len(seen) == 2
    assert len(clock.sleeps) == 1
    assert seen[0].headers["X-Ncp-Apigw-Timestamp"] != seen[1].headers["X-Ncp-Apigw-Timestamp"]


# -- arguments and dispatch ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nodes", "match"),
    [
        ([], "one or more"),
        (["145022777"], "positive integers"),
        ([True], "positive integers"),
        ([0], "positive integers"),
        ([145022777, 1.5], "positive integers"),
        ([145022777, 145022777], "repeat"),
        ("145022777", "list of integers"),
    ],
    ids=["empty", "string", "bool", "zero", "float", "repeated", "a-string"],
)
def test_the_node_list_is_checked_before_anything_is_sent(
    httpserver: HTTPServer, client: CdssClient, nodes: Any, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        client.restart_kafka_nodes(ORDERS, nodes)
    assert httpserver.log == []


def test_action_knows_the_narrower_actions_but_points_to_their_methods(
    httpserver: HTTPServer, client: CdssClient
) -> None:
    assert ACTIONS["restart_kafka_node"] == "restartKafkaServicePerNode"
    assert ACTIONS["rolling_restart"] == "rollingRestart"
    assert set(ACTIONS) == {*CLUSTER_ACTIONS, "restart_kafka_node", "rolling_restart"}
    with pytest.raises(ValueError, match=r"call restart_kafka_nodes\(cluster_no"):
        client.action("restart_kafka_node", ORDERS)
    with pytest.raises(ValueError, match=r"call rolling_restart_precheck\(cluster_no\)"):
        client.action("rolling_restart", ORDERS)
    with pytest.raises(ValueError, match="restart_kafka_node, rolling_restart"):
        client.action("reboot", ORDERS)
    with pytest.raises(ValueError, match="cluster number"):
        client.rolling_restart("1484848/../1")
    assert httpserver.log == []
