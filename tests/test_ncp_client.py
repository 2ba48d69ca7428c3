"""The CDSS client over real sockets: against the sandbox, and pytest-httpserver where the
sandbox cannot say it (exact headers per attempt, HTML bodies, odd envelopes)."""

from __future__ import annotations

import itertools
import json
import logging
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client import CollectorRegistry
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from remediator.clock import Clock, FakeClock, OffsetClock, SystemClock
from remediator.errors import (
    NcpAuthFailed,
    NcpBadRequest,
    NcpBadResponse,
    NcpError,
    NcpNotFound,
    NcpPermissionDenied,
    NcpQuotaExceeded,
    NcpServerError,
    NcpThrottled,
    NcpTransportError,
)
from remediator.metrics import Metrics
from remediator.ncp import envelope, results
from remediator.ncp.client import CdssClient, Credentials
from remediator.ncp.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from remediator.ncp.transport import USER_AGENT, make_session
from remediator.sandbox import RecordedCall, Sandbox

FIXTURES = Path(__file__).parent / "fixtures" / "ncp"
GATEWAY_ERRORS: list[dict[str, Any]] = json.loads((FIXTURES / "gateway-errors.json").read_text())[
    "errors"
]
RESTART_SUCCESS = (FIXTURES / "restart-success.json").read_bytes()
STATUS_GREEN = (FIXTURES / "cluster-status-green.json").read_bytes()

ORDERS, PAYMENTS, ANALYTICS = "1484848", "1484849", "1484850"
RESTART_ALL, GET_STATUS, GET_INFO = "restartAllServices", "getClusterStatus", "getClusterInfoList"

EXPECTED_ERROR: dict[str, type[NcpError]] = {
    "100": NcpBadRequest,
    "200": NcpAuthFailed,
    "210": NcpPermissionDenied,
    "300": NcpNotFound,
    "400": NcpQuotaExceeded,
    "410": NcpThrottled,
    "420": NcpThrottled,
    "430": NcpBadRequest,
    "500": NcpServerError,
    "510": NcpServerError,
    "900": NcpServerError,
}
Signer = Callable[[str, str, int, str, str], dict[str, str]]


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


@pytest.fixture
def client_for(sandbox_keys: tuple[str, str], metrics: Metrics) -> Callable[..., CdssClient]:
    """Build a client for a sandbox (or any endpoint); it never really sleeps."""

    def build(endpoint: str, clock: Clock, **kw: Any) -> CdssClient:
        kw.setdefault("credentials", Credentials.of(*sandbox_keys))
        kw.setdefault("metrics", metrics)
        if not isinstance(clock, FakeClock):
            kw.setdefault("sleep", [].append)
        return CdssClient(endpoint=endpoint, clock=clock, **kw)

    return build


def calls_of(sb: Sandbox, operation: str) -> list[RecordedCall]:
    return [c for c in sb.calls if c.operation == operation]


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


# -- the gateway table -----------------------------------------------------------------------


def _row_id(row: dict[str, Any]) -> str:
    return f"{row['http']}-{row['errorCode']}"


@pytest.mark.parametrize("row", GATEWAY_ERRORS, ids=_row_id)
def test_gateway_error_on_an_action(
    row: dict[str, Any],
    fake_sandbox: Sandbox,
    fake_clock: FakeClock,
    client_for: Callable[..., CdssClient],
) -> None:
    client = client_for(fake_sandbox.url, fake_clock)
    fake_sandbox.inject_error(row["http"], row["errorCode"], count=2, operation=RESTART_ALL)
    if row["retry"] is True:
        result = client.restart_all_services(PAYMENTS)
        assert result.http_status == 200
        assert len(fake_sandbox.action_calls(PAYMENTS)) == 3
        assert len(fake_clock.sleeps) == 2
        return
    with pytest.raises(NcpError) as info:
        client.restart_all_services(PAYMENTS)
    exc = info.value
    assert type(exc) is EXPECTED_ERROR[row["errorCode"]]
    assert (exc.status, exc.error_code, exc.gateway_message) == (
        row["http"],
        row["errorCode"],
        row["message"],
    )
    assert exc.operation == RESTART_ALL
    assert exc.sent == ("unknown" if row["retry"] == "reads only" else "not_sent")
    assert not exc.retryable
    assert len(fake_sandbox.action_calls(PAYMENTS)) == 1, "an action is never resent"
    assert fake_clock.sleeps == []
    if isinstance(exc, NcpNotFound):
        assert not exc.withdrawn  # only restartCMAKService was withdrawn


@pytest.mark.parametrize("row", GATEWAY_ERRORS, ids=_row_id)
def test_gateway_error_on_a_read(
    row: dict[str, Any],
    fake_sandbox: Sandbox,
    fake_clock: FakeClock,
    client_for: Callable[..., CdssClient],
) -> None:
    client = client_for(fake_sandbox.url, fake_clock)
    fake_sandbox.inject_error(row["http"], row["errorCode"], count=2, operation=GET_STATUS)
    if row["retry"] in (True, "reads only"):
        status = client.get_cluster_status(ORDERS)
        assert status.broker_status == "green"
        assert len(calls_of(fake_sandbox, GET_STATUS)) == 3
        assert len(fake_clock.sleeps) == 2
        return
    with pytest.raises(EXPECTED_ERROR[row["errorCode"]]) as info:
        client.get_cluster_status(ORDERS)
    assert (info.value.status, info.value.error_code) == (row["http"], row["errorCode"])
    assert len(calls_of(fake_sandbox, GET_STATUS)) == 1
    assert fake_clock.sleeps == []


def test_an_action_the_backend_applied_before_a_5xx_is_reported_unknown(
    fake_sandbox: Sandbox, fake_clock: FakeClock, client_for: Callable[..., CdssClient]
) -> None:
    client = client_for(fake_sandbox.url, fake_clock)
    fake_sandbox.inject_error(504, "510", operation=RESTART_ALL, applied=True)
    with pytest.raises(NcpServerError) as info:
        client.restart_all_services(PAYMENTS)
    assert info.value.sent == "unknown"
    assert "reconcile" in str(info.value)
    assert [c.applied for c in fake_sandbox.action_calls(PAYMENTS)] == [True]
    assert client.get_cluster_info(PAYMENTS).busy  # what reconciling reads


# -- retry policy ----------------------------------------------------------------------------


def test_retry_after_is_honoured(
    fake_sandbox: Sandbox, fake_clock: FakeClock, client_for: Callable[..., CdssClient]
) -> None:
    client = client_for(fake_sandbox.url, fake_clock)
    fake_sandbox.inject_error(429, "420", operation=GET_STATUS, retry_after=7)
    fake_sandbox.inject_error(429, "410", operation=GET_STATUS, retry_after=0.25)
    client.get_cluster_status(ORDERS)
    assert fake_clock.sleeps == [7.0, 0.25]


def test_backoff_is_exponential_with_jitter(
    fake_sandbox: Sandbox, fake_clock: FakeClock, client_for: Callable[..., CdssClient]
) -> None:
    client = client_for(fake_sandbox.url, fake_clock, backoff_initial=0.5, backoff_max=8.0)
    fake_sandbox.inject_error(429, "410", count=4, operation=GET_STATUS)
    client.get_cluster_status(ORDERS)
    waits = fake_clock.sleeps
    assert len(waits) == 4
    for n, wait in enumerate(waits):
        assert 0.5 * 2**n <= wait <= 0.5 * 2**n + 0.5


def test_the_deadline_stops_retries_on_the_injected_clock(
    fake_sandbox: Sandbox, fake_clock: FakeClock, client_for: Callable[..., CdssClient]
) -> None:
    client = client_for(fake_sandbox.url, fake_clock, deadline=10.0, max_attempts=10)
    fake_sandbox.inject_error(429, "410", count=10, operation=GET_STATUS, retry_after=4)
    with pytest.raises(NcpThrottled) as info:
        client.get_cluster_status(ORDERS)
    # attempts at t=0, 4, 8; the next would start at 12 > 10
    assert fake_clock.sleeps == [4.0, 4.0]
    assert len(calls_of(fake_sandbox, GET_STATUS)) == 3
    assert info.value.attempts == 3
    assert "gave up after 3 attempts" in str(info.value)


def test_max_attempts_stops_retries(
    fake_sandbox: Sandbox, fake_clock: FakeClock, client_for: Callable[..., CdssClient]
) -> None:
    client = client_for(fake_sandbox.url, fake_clock, max_attempts=3)
    fake_sandbox.inject_error(503, "500", count=10, operation=GET_STATUS)
    with pytest.raises(NcpServerError):
        client.get_cluster_status(ORDERS)
    assert len(calls_of(fake_sandbox, GET_STATUS)) == 3


def test_apply_then_time_out_on_an_action_is_unknown_and_not_resent(
    fake_sandbox: Sandbox, fake_clock: FakeClock, client_for: Callable[..., CdssClient]
) -> None:
    client = client_for(fake_sandbox.url, fake_clock, read_timeout=0.3)
    fake_sandbox.inject_apply_then_timeout(hold_seconds=1.0, operation=RESTART_ALL)
    with pytest.raises(NcpTransportError) as info:
        client.restart_all_services(PAYMENTS)
    assert (info.value.kind, info.value.sent) == ("read_timeout", "unknown")
    assert "may have run" in str(info.value)
    assert [c.applied for c in fake_sandbox.action_calls(PAYMENTS)] == [True]
    assert fake_sandbox.cluster(PAYMENTS).status == "changing"
    assert fake_clock.sleeps == []


def test_a_read_timeout_on_a_read_is_retried(
    fake_sandbox: Sandbox,
    fake_clock: FakeClock,
    client_for: Callable[..., CdssClient],
    metrics: Metrics,
) -> None:
    client = client_for(fake_sandbox.url, fake_clock, read_timeout=0.2)
    fake_sandbox.inject_latency(0.6, operation=GET_STATUS)
    assert client.get_cluster_status(ORDERS).broker_status == "green"
    # (the sandbox records the held call only once its latency is over)
    requests_total, retries = "remediator_ncp_requests_total", "remediator_ncp_retries_total"
    assert sample(metrics, requests_total, operation=GET_STATUS, code="error") == 1
    assert sample(metrics, requests_total, operation=GET_STATUS, code="200") == 1
    assert sample(metrics, retries, operation=GET_STATUS, reason="read_timeout") == 1


def test_a_dropped_connection_on_an_action_is_unknown(
    fake_sandbox: Sandbox, fake_clock: FakeClock, client_for: Callable[..., CdssClient]
) -> None:
    client = client_for(fake_sandbox.url, fake_clock)
    fake_sandbox.inject_drop(count=2, operation=RESTART_ALL)
    with pytest.raises(NcpTransportError) as info:
        client.restart_all_services(PAYMENTS)
    assert (info.value.kind, info.value.sent) == ("connection_dropped", "unknown")
    assert len(fake_sandbox.action_calls(PAYMENTS)) == 1
    assert fake_clock.sleeps == []


def test_a_dropped_connection_on_a_read_is_retried(
    fake_sandbox: Sandbox,
    fake_clock: FakeClock,
    client_for: Callable[..., CdssClient],
    metrics: Metrics,
) -> None:
    client = client_for(fake_sandbox.url, fake_clock)
    fake_sandbox.inject_drop(count=2, operation=GET_INFO)
    assert client.get_cluster_info(ORDERS).status == "running"
    assert len(calls_of(fake_sandbox, GET_INFO)) == 3
    reason = "connection_dropped"
    assert sample(metrics, "remediator_ncp_retries_total", operation=GET_INFO, reason=reason) == 2


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_connection_refused_is_retried_even_for_an_action_then_not_sent(
    client_for: Callable[..., CdssClient], metrics: Metrics
) -> None:
    clock = FakeClock()
    client = client_for(f"http://127.0.0.1:{_closed_port()}", clock, max_attempts=4)
    with pytest.raises(NcpTransportError) as info:
        client.restart_all_services(PAYMENTS)
    exc = info.value
    assert (exc.kind, exc.sent, exc.attempts) == ("connect_error", "not_sent", 4)
    assert len(clock.sleeps) == 3
    assert (
        sample(metrics, "remediator_ncp_requests_total", operation=RESTART_ALL, code="error") == 4
    )
    retries = sample(
        metrics, "remediator_ncp_retries_total", operation=RESTART_ALL, reason="connect_error"
    )
    assert retries == 3


# -- authentication, clock skew, withdrawal --------------------------------------------------


def test_a_wrong_secret_is_an_auth_failure_that_names_the_causes(
    sandbox: Sandbox, sandbox_keys: tuple[str, str], client_for: Callable[..., CdssClient]
) -> None:
    creds = Credentials.of(sandbox_keys[0], "not-the-secret")
    client = client_for(sandbox.url, SystemClock(), credentials=creds)
    with pytest.raises(NcpAuthFailed) as info:
        client.get_cluster_status(ORDERS)
    exc = info.value
    assert (exc.status, exc.error_code, exc.sent) == (401, "200", "not_sent")
    assert "wrong access key or secret key" in str(exc)
    assert "clock looks fine" in str(exc)
    assert exc.skew is not None and abs(exc.skew) < 2
    assert [c.reason for c in sandbox.calls] == ["bad signature"]


def test_a_clock_six_minutes_off_is_rejected_and_the_skew_reported(
    sandbox: Sandbox, client_for: Callable[..., CdssClient], metrics: Metrics
) -> None:
    client = client_for(sandbox.url, OffsetClock(360))
    with pytest.raises(NcpAuthFailed) as info:
        client.restart_all_services(PAYMENTS)
    exc = info.value
    assert exc.skew is not None and abs(exc.skew + 360) < 2
    assert client.last_skew == exc.skew
    gauge = sample(metrics, "remediator_ncp_clock_skew_seconds")
    assert gauge is not None and abs(gauge + 360) < 2
    # the Date header has 1-second resolution: the skew reads -360 or -361
    assert re.search(r"measured clock skew -36[01] s", str(exc)) and "host clock" in str(exc)
    assert [c.reason for c in sandbox.calls] == ["stale timestamp"]
    assert sandbox.cluster(PAYMENTS).status == "running"


def test_withdrawn_restart_cmak_explains_the_withdrawal(
    fake_sandbox: Sandbox, fake_clock: FakeClock, client_for: Callable[..., CdssClient]
) -> None:
    client = client_for(fake_sandbox.url, fake_clock)
    with pytest.raises(NcpNotFound) as info:
        client.restart_cmak(ORDERS)
    exc = info.value
    assert exc.withdrawn
    assert (exc.status, exc.error_code, exc.sent) == (404, "300", "not_sent")
    text = str(exc)
    assert "NCP withdrew restartCMAKService on 2026-09-17" in text
    assert "no operation restarts the manager tool alone now" in text
    assert len(fake_sandbox.action_calls(ORDERS)) == 1

    fake_sandbox.set_cmak_restart(ORDERS, "available")
    result = client.action("restart_cmak", ORDERS)
    assert (result.operation, result.cluster_no, result.http_status) == (
        "restartCMAKService",
        ORDERS,
        200,
    )


# -- what is signed is what is sent ----------------------------------------------------------


def _capture(session: requests.Session) -> list[requests.PreparedRequest]:
    sent: list[requests.PreparedRequest] = []

    def hook(response: requests.Response, *args: object, **kwargs: object) -> None:
        sent.append(response.request)

    session.hooks["response"].append(hook)
    return sent


def test_signed_bytes_are_the_sent_bytes_with_spaces_and_non_ascii(
    sandbox: Sandbox,
    sandbox_keys: tuple[str, str],
    sign: Signer,
    client_for: Callable[..., CdssClient],
) -> None:
    session = make_session(2)
    sent = _capture(session)
    client = client_for(sandbox.url, SystemClock(), session=session)
    params: dict[str, str | int] = {"inputText": "my cluster 카프카", "pageNo": 1}
    result = client.call(
        "POST",
        f"/cluster/{GET_INFO}/{ORDERS}",
        operation=GET_INFO,
        params=params,
        cluster_no=ORDERS,
    )
    assert result.result == {
        "serviceGroupInstanceNo": ORDERS,
        "clusterName": "orders",
        "status": "running",
    }
    with pytest.raises(NcpNotFound):
        client.call("GET", "/cluster/noSuchOperation", operation="x", params=params)

    query = "inputText=my+cluster+%EC%B9%B4%ED%94%84%EC%B9%B4&pageNo=1"
    recorded = sandbox.calls
    assert [(c.target, c.verified, c.http_status) for c in recorded] == [
        (f"/api/v1/cluster/{GET_INFO}/{ORDERS}?{query}", True, 200),
        (f"/api/v1/cluster/noSuchOperation?{query}", True, 404),
    ]
    # and an independent signer over the received target gives the signature that was sent
    for call, request in zip(recorded, sent, strict=True):
        ts = int(request.headers[TIMESTAMP_HEADER])
        expected = sign(call.method, call.target, ts, *sandbox_keys)
        assert request.headers[SIGNATURE_HEADER] == expected[SIGNATURE_HEADER]


def test_every_attempt_carries_a_fresh_timestamp_and_signature(
    httpserver: HTTPServer,
    sandbox_keys: tuple[str, str],
    sign: Signer,
    client_for: Callable[..., CdssClient],
) -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    def handler(request: Request) -> Response:
        seen.append((request.environ["RAW_URI"], dict(request.headers)))
        if len(seen) < 3:  # errorCode as a number, as some gateways send it
            body = {"error": {"errorCode": 410, "message": "Throttle Limited"}}
            return Response(json.dumps(body), 429, content_type="application/json")
        return Response(RESTART_SUCCESS, 200, content_type="application/json")

    path = f"/api/v1/cluster/{RESTART_ALL}/{PAYMENTS}"
    httpserver.expect_request(path, method="GET").respond_with_handler(handler)
    clock = FakeClock()
    client = client_for(httpserver.url_for("/"), clock)
    result = client.restart_all_services(PAYMENTS)
    assert result.request_id == "2757144e-8548-472d-9d65-962406b4efa0"

    stamps = [int(headers["X-Ncp-Apigw-Timestamp"]) for _, headers in seen]
    assert len(set(stamps)) == 3
    assert stamps[0] == 1_800_000_000 * 1000
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert len(gaps) == len(clock.sleeps) == 2
    for gap, wait in zip(gaps, clock.sleeps, strict=True):  # each stamp taken after the wait
        assert abs(gap - wait * 1000) <= 1
    for target, headers in seen:
        assert target == path
        expected = sign("GET", target, int(headers["X-Ncp-Apigw-Timestamp"]), *sandbox_keys)
        assert headers["X-Ncp-Apigw-Signature-V2"] == expected[SIGNATURE_HEADER]
        assert headers["X-Ncp-Iam-Access-Key"] == sandbox_keys[0]
        assert headers["Content-Type"] == "application/json"
        assert headers["User-Agent"] == USER_AGENT
    assert len({h["X-Ncp-Apigw-Signature-V2"] for _, h in seen}) == 3


def test_a_per_call_region_override_uses_that_prefix(
    fake_sandbox: Sandbox, fake_clock: FakeClock, client_for: Callable[..., CdssClient]
) -> None:
    client = client_for(fake_sandbox.url, fake_clock)
    client.get_cluster_status(ORDERS, region="SGN")
    client.restart_all_services(PAYMENTS, region="JPN")
    client.get_cluster_info(ORDERS)
    with pytest.raises(ValueError, match="region 'KRS' does not exist on site 'public'"):
        client.get_cluster_status(ORDERS, region="KRS")
    assert [c.target for c in fake_sandbox.calls] == [
        f"/api/sgn-v1/cluster/{GET_STATUS}/{ORDERS}",
        f"/api/jpn-v1/cluster/{RESTART_ALL}/{PAYMENTS}",
        f"/api/v1/cluster/{GET_INFO}/{ORDERS}",
    ]
    gov = client_for(fake_sandbox.url, fake_clock, site="gov", region="KRS")
    gov.get_cluster_status(ORDERS)
    assert fake_sandbox.calls[-1].target == f"/api/krs-v1/cluster/{GET_STATUS}/{ORDERS}"


# -- results, envelopes, odd bodies ----------------------------------------------------------


def test_cluster_status_and_info_are_read_into_values(
    fake_sandbox: Sandbox, fake_clock: FakeClock, client_for: Callable[..., CdssClient]
) -> None:
    client = client_for(fake_sandbox.url, fake_clock)
    orders = client.get_cluster_status(ORDERS)
    assert (orders.broker_status, orders.zookeeper_status, orders.cmak_status) == (
        "green",
        "green",
        "green",
    )
    assert len(orders.broker_nodes) == 3 and not orders.busy
    assert orders.request_id
    assert client.get_cluster_status(PAYMENTS).cmak_status is None  # a Kafka-UI cluster

    fake_sandbox.set_state(ANALYTICS, "changing")
    assert client.get_cluster_status(ANALYTICS).busy
    info = client.get_cluster_info(ANALYTICS)
    assert (info.status, info.name, info.busy) == ("changing", "analytics", True)
    assert not client.get_cluster_info(ORDERS).busy


def test_the_green_fixture_parses() -> None:
    env = envelope.parse_envelope(
        200, STATUS_GREEN, operation=GET_STATUS, action=False, idempotent=True
    )
    status = results.cluster_status(env, ORDERS, GET_STATUS)
    assert status.cluster_name == "orders"
    assert [n.hostname for n in status.zookeeper_nodes] == [
        "orders-broker-001",
        "orders-broker-002",
        "orders-broker-003",
    ]
    assert not status.busy
    assert env.request_id == "6f1c1d0e-2b1a-4c35-9d1e-3f4a5b6c7d8e"


def test_a_refused_action_in_the_envelope_is_a_definite_failure(
    fake_sandbox: Sandbox, fake_clock: FakeClock, client_for: Callable[..., CdssClient]
) -> None:
    client = client_for(fake_sandbox.url, fake_clock)
    fake_sandbox.set_state(PAYMENTS, "changing")
    with pytest.raises(NcpBadResponse) as info:
        client.restart_all_services(PAYMENTS)
    assert (info.value.sent, info.value.error_code, info.value.status) == ("sent", "11002", 200)
    assert "changing" in str(info.value)
    assert len(fake_sandbox.action_calls(PAYMENTS)) == 1


@pytest.mark.parametrize(
    ("body", "sent"),
    [
        (b'{"code": 0, "message": "SUCCESS", "result": null, "requestId": "r"}', "sent"),
        (b'{"code": "1", "message": "nope", "result": true, "requestId": "r"}', "sent"),
        (b"<html><body>maintenance</body></html>", "unknown"),
    ],
    ids=["null-result", "non-zero-code", "html-200"],
)
def test_a_2xx_that_is_not_a_success_envelope_fails_the_action(
    httpserver: HTTPServer, client_for: Callable[..., CdssClient], body: bytes, sent: str
) -> None:
    path = f"/api/v1/cluster/{RESTART_ALL}/{PAYMENTS}"
    httpserver.expect_request(path).respond_with_data(body, 200, content_type="text/html")
    client = client_for(httpserver.url_for("/"), FakeClock())
    with pytest.raises(NcpBadResponse) as info:
        client.restart_all_services(PAYMENTS)
    assert info.value.sent == sent
    assert len(httpserver.log) == 1


def test_an_html_error_page_is_handled(
    httpserver: HTTPServer, client_for: Callable[..., CdssClient]
) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
    httpserver.expect_request("/api/v1/cluster/getClusterStatus/1484848").respond_with_data(
        page, 502, content_type="text/html"
    )
    httpserver.expect_request(f"/api/v1/cluster/{RESTART_ALL}/{PAYMENTS}").respond_with_data(
        page, 502, content_type="text/html"
    )
    clock = FakeClock()
    client = client_for(httpserver.url_for("/"), clock, max_attempts=2)
    with pytest.raises(NcpServerError) as read:
        client.get_cluster_status(ORDERS)
    assert "502 Bad Gateway" in str(read.value)
    assert (read.value.status, read.value.error_code) == (502, None)
    assert len(httpserver.log) == 2  # a read is retried
    with pytest.raises(NcpServerError) as action:
        client.restart_all_services(PAYMENTS)
    assert action.value.sent == "unknown"
    assert len(httpserver.log) == 3  # an action is not


def test_gateway_error_mapping_without_a_body() -> None:
    exc = envelope.gateway_error(
        429, b"", {"Retry-After": "3"}, operation="op", action=True, idempotent=False
    )
    assert isinstance(exc, NcpThrottled) and exc.retry_after == 3.0 and exc.sent == "not_sent"
    exc = envelope.gateway_error(409, b"{}", {}, operation="op", action=True, idempotent=False)
    assert isinstance(exc, NcpBadRequest) and exc.sent == "sent"


def test_retry_after_accepts_an_http_date() -> None:
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    assert envelope.parse_retry_after("Wed, 21 Oct 2026 07:28:30 GMT", date=date) == 30.0
    assert envelope.parse_retry_after("soon") is None
    assert envelope.parse_retry_after("-5") == 0.0


# -- metrics, logs, secrets ------------------------------------------------------------------


def test_metrics_count_requests_retries_and_the_action_path(
    fake_sandbox: Sandbox,
    fake_clock: FakeClock,
    client_for: Callable[..., CdssClient],
    metrics: Metrics,
) -> None:
    client = client_for(fake_sandbox.url, fake_clock)
    fake_sandbox.inject_error(429, "410", count=2, operation=GET_STATUS)
    fake_sandbox.inject_error(503, "500", operation=GET_STATUS)
    client.get_cluster_status(ORDERS)
    requests_total = "remediator_ncp_requests_total"
    assert sample(metrics, requests_total, operation=GET_STATUS, code="429") == 2
    assert sample(metrics, requests_total, operation=GET_STATUS, code="503") == 1
    assert sample(metrics, requests_total, operation=GET_STATUS, code="200") == 1
    retries = "remediator_ncp_retries_total"
    assert sample(metrics, retries, operation=GET_STATUS, reason="throttled") == 2
    assert sample(metrics, retries, operation=GET_STATUS, reason="server_error") == 1
    assert sample(metrics, "remediator_action_path_up") == 1
    assert sample(metrics, "remediator_ncp_clock_skew_seconds") == client.last_skew
    assert client.last_skew is not None and -1 < client.last_skew <= 0

    fake_sandbox.inject_error(401, "210", operation=GET_INFO)
    with pytest.raises(NcpPermissionDenied):
        client.get_cluster_info(ORDERS)
    assert sample(metrics, "remediator_action_path_up") == 0
    client.restart_all_services(PAYMENTS)  # an action says nothing about the read path
    assert sample(metrics, "remediator_action_path_up") == 0


def test_the_secret_never_reaches_logs_or_errors(
    sandbox: Sandbox,
    sandbox_keys: tuple[str, str],
    client_for: Callable[..., CdssClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-secret-0xDEADBEEF"
    texts: list[str] = []
    session = make_session(2)
    sent = _capture(session)
    good = client_for(sandbox.url, SystemClock(), session=session)
    bad = client_for(
        sandbox.url,
        SystemClock(),
        session=session,
        credentials=Credentials.of(sandbox_keys[0], wrong),
    )
    sandbox.inject_error(429, "410", operation=GET_STATUS)
    sandbox.inject_error(503, "500", operation=RESTART_ALL)
    good.get_cluster_status(ORDERS)
    for attempt in (
        lambda: bad.get_cluster_status(ORDERS),
        lambda: bad.restart_all_services(PAYMENTS),
        lambda: good.restart_all_services(PAYMENTS),
        lambda: good.restart_cmak(ORDERS),
    ):
        with pytest.raises(NcpError) as info:
            attempt()
        texts += [str(info.value), repr(info.value), repr(info.value.__cause__)]
    texts += [repr(good), repr(bad), caplog.text]
    texts += [repr(r.__dict__) for r in caplog.records]
    signatures = [r.headers[SIGNATURE_HEADER] for r in sent]
    assert len(signatures) == 6
    for text in texts:
        assert sandbox_keys[1] not in text
        assert wrong not in text
        for signature in signatures:
            assert signature not in text

    retry = next(r for r in caplog.records if "retrying" in r.getMessage())
    assert retry.name == "remediator.ncp"
    keys = ("operation", "cluster_no", "status", "error_code", "attempt")
    assert {k: getattr(retry, k) for k in keys} == {
        "operation": GET_STATUS,
        "cluster_no": ORDERS,
        "status": 429,
        "error_code": "410",
        "attempt": 1,
    }


def test_make_session_is_tuned(client_for: Callable[..., CdssClient]) -> None:
    session = make_session(7)
    adapter = session.get_adapter("https://clouddatastreamingservice.apigw.ntruss.com")
    assert isinstance(adapter, requests.adapters.HTTPAdapter)
    pool = adapter.poolmanager.connection_pool_kw
    assert adapter.poolmanager.pools._maxsize == 7 and pool["maxsize"] == 7
    assert adapter.max_retries.total == 0 and adapter.max_retries.read is False
    assert session.headers["User-Agent"] == USER_AGENT
    with pytest.raises(ValueError, match="pool_size"):
        make_session(0)


def test_bad_arguments_fail_before_any_call(
    fake_sandbox: Sandbox, fake_clock: FakeClock, client_for: Callable[..., CdssClient]
) -> None:
    client = client_for(fake_sandbox.url, fake_clock)
    with pytest.raises(ValueError, match="unknown action 'reboot'"):
        client.action("reboot", ORDERS)
    with pytest.raises(ValueError, match="cluster number"):
        client.get_cluster_status("14848/../1")
    assert fake_sandbox.calls == []
