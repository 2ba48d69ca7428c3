"""The sandbox, over real sockets: signature checks, cluster state, tools, faults, admin, CLI."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
import requests

from remediator.clock import FakeClock, SystemClock
from remediator.sandbox import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, Sandbox, auth, cli
from remediator.sandbox.state import CMAK_WITHDRAWN_AT, CODE_BUSY, CODE_NO_SUCH_CLUSTER
from tests.waiting import wait_for

Signer = Callable[[str, str, int, str, str], dict[str, str]]

FIXTURES = Path(__file__).parent / "fixtures"  # copies of ../shared/fixtures
VECTORS = json.loads((FIXTURES / "ncp" / "signature-vectors.json").read_text())["vectors"]
GATEWAY_ERRORS = json.loads((FIXTURES / "ncp" / "gateway-errors.json").read_text())["errors"]

ORDERS, PAYMENTS, ANALYTICS = "1484848", "1484849", "1484850"
AUTH_FAILED = {"error": {"errorCode": "200", "message": "Authentication Failed"}}
NOT_FOUND = {"error": {"errorCode": "300", "message": "Not Found Exception"}}


@dataclass
class Gateway:
    """Signs and sends requests to a sandbox's gateway, with the sandbox's own clock."""

    sb: Sandbox
    access_key: str
    secret_key: str
    sign: Signer

    def call(
        self,
        method: str,
        target: str,
        *,
        offset: float = 0.0,
        access_key: str | None = None,
        secret_key: str | None = None,
        timeout: float = 2.0,
    ) -> requests.Response:
        ts_ms = int((self.sb.clock.now() + offset) * 1000)
        ak = access_key or self.access_key
        headers = self.sign(method, target, ts_ms, ak, secret_key or self.secret_key)
        return requests.request(method, self.sb.url + target, headers=headers, timeout=timeout)

    def op(self, operation: str, no: str, prefix: str = "/api/v1", **kw: Any) -> requests.Response:
        method = "POST" if operation == "getClusterInfoList" else "GET"
        return self.call(method, f"{prefix}/cluster/{operation}/{no}", **kw)

    def status(self, no: str) -> dict[str, Any]:
        result: dict[str, Any] = self.op("getClusterStatus", no).json()["result"]
        return result

    def info_status(self, no: str) -> str:
        return str(self.op("getClusterInfoList", no).json()["result"]["status"])


@pytest.fixture
def gw(sandbox: Sandbox, sandbox_keys: tuple[str, str], sign: Signer) -> Gateway:
    return Gateway(sandbox, *sandbox_keys, sign)


@pytest.fixture
def fgw(fake_sandbox: Sandbox, sandbox_keys: tuple[str, str], sign: Signer) -> Gateway:
    return Gateway(fake_sandbox, *sandbox_keys, sign)


# -- the verifier, against the known-answer vectors --------------------------------------------


def _headers(v: dict[str, str], **changes: str) -> dict[str, str]:
    h = {
        auth.TIMESTAMP_HEADER: v["timestamp"],
        auth.ACCESS_KEY_HEADER: v["access_key"],
        auth.SIGNATURE_HEADER: v["signature"],
    }
    h.update(changes)
    return h


def _verify(v: dict[str, str], headers: dict[str, str], now: float) -> auth.Verdict:
    return auth.verify(
        v["method"],
        v["request_target"],
        headers,
        access_key=v["access_key"],
        secret_key=v["secret_key"],
        now=now,
    )


@pytest.mark.parametrize("v", VECTORS, ids=[v["signature"][:8] for v in VECTORS])
def test_verifier_accepts_every_known_answer_vector(v: dict[str, str]) -> None:
    clock = FakeClock(start=int(v["timestamp"]) / 1000)
    assert _verify(v, _headers(v), clock.now()) == auth.Verdict(True)
    target = v["request_target"].encode()
    ts, ak, sk = v["timestamp"], v["access_key"], v["secret_key"]
    assert auth.expected_signature(v["method"], target, ts, ak, sk) == v["signature"]


def test_verifier_rejects_a_bad_signature_a_wrong_key_and_missing_headers() -> None:
    v = VECTORS[0]
    now = int(v["timestamp"]) / 1000
    tampered = _headers(v, **{auth.SIGNATURE_HEADER: VECTORS[1]["signature"]})
    assert _verify(v, tampered, now).reason == auth.BAD_SIGNATURE
    other_target = dict(v, request_target=v["request_target"] + "?x=1")
    assert _verify(other_target, _headers(v), now).reason == auth.BAD_SIGNATURE
    wrong_key = _headers(v, **{auth.ACCESS_KEY_HEADER: "someone-else"})
    assert _verify(v, wrong_key, now).reason == auth.UNKNOWN_ACCESS_KEY
    for name in (auth.TIMESTAMP_HEADER, auth.ACCESS_KEY_HEADER, auth.SIGNATURE_HEADER):
        headers = _headers(v)
        del headers[name]
        verdict = _verify(v, headers, now)
        assert (verdict.ok, verdict.reason) == (False, auth.MISSING_HEADER)
        assert verdict.detail is not None and name in verdict.detail
    bad_ts = _headers(v, **{auth.TIMESTAMP_HEADER: "yesterday"})
    assert _verify(v, bad_ts, now).reason == auth.BAD_TIMESTAMP


@pytest.mark.parametrize("direction", [1, -1])
def test_verifier_window_is_five_minutes_exclusive(direction: int) -> None:
    v = VECTORS[0]
    ts = int(v["timestamp"]) / 1000
    assert _verify(v, _headers(v), ts + direction * 299.0).ok  # 4 min 59 s off
    stale = _verify(v, _headers(v), ts + direction * 300.0)  # exactly 5 min off
    assert (stale.ok, stale.reason) == (False, auth.STALE_TIMESTAMP)


# -- the gateway over HTTP ---------------------------------------------------------------------


def test_signed_read_answers_the_envelope_with_the_fixture_shape(fgw: Gateway) -> None:
    r = fgw.op("getClusterStatus", ORDERS)
    assert r.status_code == 200
    body = r.json()
    fixture = json.loads((FIXTURES / "ncp" / "cluster-status-green.json").read_text())
    assert body["code"] == 0 and body["message"] == "SUCCESS"
    assert body["result"] == fixture["result"]
    assert body["requestId"] and body["requestId"] == fgw.sb.calls[-1].request_id
    info = fgw.op("getClusterInfoList", ORDERS).json()["result"]
    assert info == {"serviceGroupInstanceNo": ORDERS, "clusterName": "orders", "status": "running"}
    assert "cmakStatus" not in fgw.status(PAYMENTS)  # Kafka-UI cluster


@pytest.mark.parametrize("prefix", ["/api/v1", "/api/sgn-v1", "/api/jpn-v1", "/api/krs-v1"])
def test_every_region_prefix_is_served(fgw: Gateway, prefix: str) -> None:
    r = fgw.op("getClusterStatus", ORDERS, prefix=prefix)
    assert r.status_code == 200 and r.json()["code"] == 0


def test_the_signature_covers_the_query_exactly_as_sent(fgw: Gateway, sign: Signer) -> None:
    target = "/api/v1/cluster/getClusterStatus/1484848?inputText=my%20cluster"
    assert fgw.call("GET", target).status_code == 200
    ts = int(fgw.sb.clock.now() * 1000)
    path_only = sign("GET", target.split("?", maxsplit=1)[0], ts, fgw.access_key, fgw.secret_key)
    r = requests.get(fgw.sb.url + target, headers=path_only, timeout=2)
    assert (r.status_code, r.json()) == (401, AUTH_FAILED)
    assert fgw.sb.calls[-1].reason == auth.BAD_SIGNATURE


def test_rejections_are_401_200_with_the_exact_body_and_a_recorded_reason(fgw: Gateway) -> None:
    cases = [
        (fgw.op("restartKafkaService", ORDERS, secret_key="wrong"), auth.BAD_SIGNATURE),
        (fgw.op("restartKafkaService", ORDERS, access_key="other"), auth.UNKNOWN_ACCESS_KEY),
        (fgw.op("restartKafkaService", ORDERS, offset=-300.0), auth.STALE_TIMESTAMP),
        (fgw.op("restartKafkaService", ORDERS, offset=300.0), auth.STALE_TIMESTAMP),
        (
            requests.get(fgw.sb.url + "/api/v1/cluster/restartKafkaService/1484848", timeout=2),
            auth.MISSING_HEADER,
        ),
    ]
    for response, _ in cases:
        assert (response.status_code, response.json()) == (401, AUTH_FAILED)
    calls = fgw.sb.calls
    assert [c.reason for c in calls] == [reason for _, reason in cases]
    assert not any(c.verified or c.applied for c in calls)
    assert fgw.sb.cluster(ORDERS).status == "running"
    assert fgw.op("restartKafkaService", ORDERS, offset=-299.0).json()["code"] == 0


def test_unknown_operation_or_method_is_404_300_after_authentication(fgw: Gateway) -> None:
    for method, target in [
        ("GET", "/api/v1/cluster/restartEverything/1484848"),
        ("GET", "/api/v1/cluster/getClusterInfoList/1484848"),  # the operation is POST
        ("GET", "/api/v2/cluster/getClusterStatus/1484848"),
        ("GET", "/"),
    ]:
        r = fgw.call(method, target)
        assert (r.status_code, r.json()) == (404, NOT_FOUND), target
        assert fgw.sb.calls[-1].verified
    unsigned = requests.get(fgw.sb.url + "/api/v1/cluster/restartEverything/1", timeout=2)
    assert unsigned.status_code == 401


def test_unknown_cluster_is_a_non_zero_code_in_a_200_envelope(fgw: Gateway) -> None:
    for op in ("restartKafkaService", "getClusterStatus", "getClusterInfoList"):
        body = fgw.op(op, "999").json()
        assert body["code"] == CODE_NO_SUCH_CLUSTER and body["result"] is None
    assert not any(c.applied for c in fgw.sb.calls)


def test_date_header_follows_the_sandbox_clock(fgw: Gateway, fake_clock: FakeClock) -> None:
    fake_clock.advance(3600.0)
    r = fgw.op("getClusterStatus", ORDERS)
    assert r.headers["Date"] == formatdate(fake_clock.now(), usegmt=True)
    assert (
        requests.get(fgw.sb.tool_url(ORDERS) + "/api/health", timeout=2).headers["Date"]
        == (r.headers["Date"])
    )


# -- cluster state -----------------------------------------------------------------------------


def test_restart_all_services_goes_orange_then_green_after_the_delay(
    fgw: Gateway, fake_clock: FakeClock
) -> None:
    body = fgw.op("restartAllServices", ORDERS).json()
    assert (body["code"], body["result"]) == (0, True)
    s = fgw.status(ORDERS)
    assert (s["brokerStatus"], s["zookeeperStatus"], s["cmakStatus"]) == ("orange",) * 3
    assert {n["status"] for n in s["brokerStatusPerNode"]} == {"orange"}
    assert fgw.info_status(ORDERS) == "changing"
    fake_clock.advance(0.49)
    assert fgw.info_status(ORDERS) == "changing"
    fake_clock.advance(0.01)
    s = fgw.status(ORDERS)
    assert (s["brokerStatus"], s["zookeeperStatus"], s["cmakStatus"]) == ("green",) * 3
    assert fgw.info_status(ORDERS) == "running"
    [call] = fgw.sb.action_calls(ORDERS)
    assert (call.operation, call.applied, call.http_status, call.code) == (
        "restartAllServices",
        True,
        200,
        0,
    )


def test_restart_kafka_and_restart_cmak_turn_only_their_component_orange(fgw: Gateway) -> None:
    fgw.op("restartKafkaService", ORDERS)
    s = fgw.status(ORDERS)
    assert (s["brokerStatus"], s["zookeeperStatus"], s["cmakStatus"]) == (
        "orange",
        "green",
        "green",
    )
    fgw.sb.set_cmak_restart(ANALYTICS, "available")
    assert fgw.op("restartCMAKService", ANALYTICS).json()["code"] == 0
    s = fgw.status(ANALYTICS)
    assert (s["brokerStatus"], s["zookeeperStatus"], s["cmakStatus"]) == (
        "green",
        "green",
        "orange",
    )


def test_an_action_on_a_changing_cluster_is_refused_and_not_applied(fgw: Gateway) -> None:
    assert fgw.op("restartKafkaService", ORDERS).json()["code"] == 0
    body = fgw.op("restartAllServices", ORDERS).json()
    assert body["code"] == CODE_BUSY and body["result"] is None and "changing" in body["message"]
    assert [c.applied for c in fgw.sb.action_calls(ORDERS)] == [True, False]
    assert fgw.sb.cluster(ORDERS).restarting == "restartKafkaService"


def test_set_state_forces_a_status_for_a_while(fgw: Gateway, fake_clock: FakeClock) -> None:
    fgw.sb.set_state(PAYMENTS, "changing", for_seconds=10.0)
    assert fgw.info_status(PAYMENTS) == "changing"
    assert fgw.op("restartKafkaService", PAYMENTS).json()["code"] == CODE_BUSY
    fake_clock.advance(10.0)
    assert fgw.info_status(PAYMENTS) == "running"
    fgw.sb.set_state(PAYMENTS, "error")
    assert fgw.status(PAYMENTS)["brokerStatus"] == "red"


def test_restart_cmak_is_withdrawn_by_default_after_2026_09_17(fgw: Gateway) -> None:
    assert fgw.sb.clock.now() > CMAK_WITHDRAWN_AT
    r = fgw.op("restartCMAKService", ORDERS)
    assert (r.status_code, r.json()) == (404, NOT_FOUND)
    [call] = fgw.sb.action_calls(ORDERS)
    assert (call.verified, call.applied, call.error_code) == (True, False, "300")
    assert fgw.sb.cluster(ORDERS).status == "running"
    fgw.sb.set_cmak_restart(ORDERS, "available")
    assert fgw.op("restartCMAKService", ORDERS).json()["code"] == 0


@pytest.mark.parametrize(
    ("offset", "setting", "withdrawn"),
    [
        (-1.0, "auto", False),
        (0.0, "auto", True),
        (0.0, "available", False),
        (-1.0, "withdrawn", True),
    ],
)
def test_cmak_restart_setting_of_the_whole_sandbox(
    offset: float, setting: Any, withdrawn: bool
) -> None:
    sb = Sandbox(clock=FakeClock(start=CMAK_WITHDRAWN_AT + offset), cmak_restart=setting)
    assert sb.cluster(ORDERS).cmak_restart == ("withdrawn" if withdrawn else "available")


# -- manager tools -----------------------------------------------------------------------------


def test_cmak_and_kafka_ui_answer_like_the_real_tools(sandbox: Sandbox) -> None:
    cmak, kui = sandbox.tool_url(ORDERS), sandbox.tool_url(PAYMENTS)
    assert cmak.endswith("/clusters/1484848/cmak") and kui.endswith("/clusters/1484849/kafka-ui")
    health = requests.get(cmak + "/api/health", timeout=2)
    assert (health.status_code, health.text) == (200, "healthy")
    assert health.headers["Content-Type"].startswith("text/plain")
    brokers = requests.get(cmak + "/api/status/orders/brokers", timeout=2)
    assert (brokers.status_code, brokers.json()) == (200, {"brokers": [1, 2, 3]})
    unknown = requests.get(cmak + "/api/status/nope/brokers", timeout=2)
    assert unknown.status_code == 400 and "msg" in unknown.json()
    ui = requests.get(kui + "/actuator/health", timeout=2)
    assert (ui.status_code, ui.json()) == (200, {"status": "UP"})
    other = sandbox.url + "/clusters/1484849/cmak/api/health"
    assert requests.get(other, timeout=2).status_code == 404
    assert sandbox.cluster(ORDERS).tool_requests == 3


def test_cmak_basic_auth_spares_only_the_health_endpoint(sandbox: Sandbox) -> None:
    sandbox.add_cluster("7", "secured", cmak_basic_auth=("admin", "pw"))
    base = sandbox.tool_url("7")
    assert requests.get(base + "/api/health", timeout=2).text == "healthy"
    denied = requests.get(base + "/api/status/secured/brokers", timeout=2)
    assert denied.status_code == 401
    assert denied.headers["WWW-Authenticate"] == 'Basic realm="Kafka-Manager"'
    wrong = requests.get(base + "/api/status/secured/brokers", auth=("admin", "x"), timeout=2)
    assert wrong.status_code == 401
    ok = requests.get(base + "/api/status/secured/brokers", auth=("admin", "pw"), timeout=2)
    assert ok.status_code == 200


def test_broken_tools_answer_per_mode(sandbox: Sandbox) -> None:
    cmak = sandbox.tool_url(ORDERS) + "/api/health"
    kui = sandbox.tool_url(PAYMENTS) + "/actuator/health"
    sandbox.break_tool(ORDERS, "down")
    with pytest.raises(requests.ConnectionError):
        requests.get(cmak, timeout=2)
    sandbox.break_tool(ORDERS, "error")
    assert requests.get(cmak, timeout=2).status_code == 500
    sandbox.break_tool(PAYMENTS, "error")
    down = requests.get(kui, timeout=2)
    assert (down.status_code, down.json()) == (503, {"status": "DOWN"})
    sandbox.break_tool(ORDERS, "wrong_body")
    wrong = requests.get(cmak, timeout=2)
    assert wrong.status_code == 200 and wrong.text != "healthy"
    sandbox.break_tool(PAYMENTS, "wrong_body")
    assert requests.get(kui, timeout=2).text != '{"status": "UP"}'
    sandbox.break_tool(ORDERS, "hang", hang_seconds=5.0)
    with pytest.raises(requests.ReadTimeout):
        requests.get(cmak, timeout=0.2)
    sandbox.break_tool(ORDERS, "hang", hang_seconds=0.1)
    with pytest.raises(requests.ConnectionError):  # held, then closed unanswered
        requests.get(cmak, timeout=2)
    sandbox.fix_tool(ORDERS)
    assert requests.get(cmak, timeout=2).text == "healthy"


@pytest.mark.parametrize(
    ("no", "operation", "heals"),
    [
        (ORDERS, "restartCMAKService", True),
        (ORDERS, "restartAllServices", True),
        (PAYMENTS, "restartAllServices", True),
        (ORDERS, "restartKafkaService", False),
    ],
)
def test_the_matching_restart_heals_the_tool_after_the_delay(
    fgw: Gateway, fake_clock: FakeClock, no: str, operation: str, heals: bool
) -> None:
    sb = fgw.sb
    sb.set_cmak_restart(no, "available")
    sb.break_tool(no, "error")
    assert fgw.op(operation, no).json()["code"] == 0
    assert sb.cluster(no).tool_effective_mode == "down"
    health = sb.tool_url(no) + ("/api/health" if no == ORDERS else "/actuator/health")
    with pytest.raises(requests.ConnectionError):  # the tool restarts with the cluster
        requests.get(health, timeout=2)
    fake_clock.advance(0.5)
    assert requests.get(health, timeout=2).status_code == (200 if heals else 500)
    assert sb.cluster(no).tool_mode == ("ok" if heals else "error")


# -- faults ------------------------------------------------------------------------------------


def test_error_fault_answers_the_next_n_calls_then_normal(fgw: Gateway) -> None:
    fgw.sb.inject_error(429, "410", count=2, retry_after=1.5, operation="restartKafkaService")
    assert fgw.op("getClusterStatus", ORDERS).status_code == 200  # another operation
    for _ in range(2):
        r = fgw.op("restartKafkaService", ORDERS)
        assert r.status_code == 429 and r.headers["Retry-After"] == "1.5"
        assert r.json() == {"error": {"errorCode": "410", "message": "Throttle Limited"}}
    assert fgw.sb.cluster(ORDERS).status == "running"  # throttled: never ran
    assert fgw.op("restartKafkaService", ORDERS).json()["code"] == 0
    assert [(c.http_status, c.applied, c.fault) for c in fgw.sb.action_calls()] == [
        (429, False, "error"),
        (429, False, "error"),
        (200, True, None),
    ]


@pytest.mark.parametrize(
    "row", GATEWAY_ERRORS, ids=[f"{e['http']}-{e['errorCode']}" for e in GATEWAY_ERRORS]
)
def test_every_gateway_error_of_the_table_can_be_injected(
    fgw: Gateway, row: dict[str, Any]
) -> None:
    fgw.sb.inject_error(row["http"], row["errorCode"])
    r = fgw.op("getClusterStatus", ORDERS)
    assert r.status_code == row["http"]
    assert r.json() == {"error": {"errorCode": row["errorCode"], "message": row["message"]}}


def test_a_5xx_may_have_applied_the_action_but_a_4xx_never(fgw: Gateway) -> None:
    with pytest.raises(ValueError, match="before the backend"):
        fgw.sb.inject_error(429, "420", applied=True)
    with pytest.raises(ValueError, match="no error"):
        fgw.sb.inject_error(429, "999")
    fgw.sb.inject_error(504, "510", applied=True)
    assert fgw.op("restartAllServices", ORDERS).status_code == 504
    assert fgw.sb.cluster(ORDERS).restarting == "restartAllServices"
    fgw.sb.inject_error(503, "500")
    assert fgw.op("restartKafkaService", ANALYTICS).status_code == 503
    assert fgw.sb.cluster(ANALYTICS).status == "running"
    assert [c.applied for c in fgw.sb.action_calls()] == [True, False]


def test_drop_closes_the_connection_and_applies_nothing(fgw: Gateway) -> None:
    fgw.sb.inject_drop(count=1)
    with pytest.raises(requests.ConnectionError):
        fgw.op("restartKafkaService", ORDERS)
    assert fgw.sb.cluster(ORDERS).status == "running"
    [call] = fgw.sb.calls
    assert (call.http_status, call.applied, call.fault) == (None, False, "drop")
    assert fgw.op("restartKafkaService", ORDERS).json()["code"] == 0


def test_apply_then_timeout_applies_exactly_once_and_the_client_times_out(fgw: Gateway) -> None:
    fgw.sb.inject_apply_then_timeout(count=1, hold_seconds=1.0)
    with pytest.raises(requests.ReadTimeout):
        fgw.op("restartAllServices", ORDERS, timeout=0.2)
    assert fgw.sb.cluster(ORDERS).status == "changing"
    assert [(c.applied, c.http_status) for c in fgw.sb.action_calls(ORDERS)] == [(True, None)]
    assert fgw.sb.cluster(ORDERS).actions_applied == 1


def test_latency_delays_the_answer(gw: Gateway) -> None:
    gw.sb.inject_latency(0.3, count=1)
    started = SystemClock().monotonic()
    assert gw.op("getClusterStatus", ORDERS).status_code == 200
    assert SystemClock().monotonic() - started >= 0.3
    gw.sb.inject_latency(5.0)
    with pytest.raises(requests.ReadTimeout):
        gw.op("getClusterStatus", ORDERS, timeout=0.2)


def test_stop_is_prompt_and_ends_held_and_idle_connections(
    sandbox_keys: tuple[str, str], sign: Signer
) -> None:
    sb = Sandbox(*sandbox_keys).start()
    sb.inject_apply_then_timeout(hold_seconds=30.0)
    gw = Gateway(sb, *sandbox_keys, sign)
    session = requests.Session()
    health = sb.tool_url(ORDERS) + "/api/health"
    assert session.get(health, timeout=2).ok  # kept alive
    errors: list[BaseException] = []

    def held() -> None:
        try:
            gw.op("getClusterStatus", ORDERS, timeout=10.0)
        except requests.RequestException as e:
            errors.append(e)

    thread = threading.Thread(target=held)
    thread.start()
    wait_for(lambda: sb.calls, timeout=2.0, interval=0.01, what="the request to be held")
    clock = SystemClock()
    started = clock.monotonic()
    sb.stop()
    thread.join(timeout=2)
    assert not thread.is_alive() and clock.monotonic() - started < 1.0
    assert errors and isinstance(errors[0], requests.ConnectionError)
    with pytest.raises(requests.ConnectionError):
        session.get(health, timeout=2)


# -- admin API ---------------------------------------------------------------------------------


def test_admin_api_controls_the_sandbox(fgw: Gateway, fake_clock: FakeClock) -> None:
    admin = fgw.sb.url + "/_sandbox"
    clusters = requests.get(admin + "/clusters", timeout=2).json()["clusters"]
    assert [c["cluster_no"] for c in clusters] == [ORDERS, PAYMENTS, ANALYTICS]
    r = requests.post(admin + f"/clusters/{ORDERS}/tool", json={"mode": "error"}, timeout=2)
    assert r.json()["tool_mode"] == "error"
    assert requests.get(fgw.sb.tool_url(ORDERS) + "/api/health", timeout=2).status_code == 500
    r = requests.post(admin + f"/clusters/{ORDERS}", json={"cmak_restart": "available"}, timeout=2)
    assert r.json()["cmak_restart"] == "available"
    body = {"state": "changing", "for_seconds": 5}
    assert requests.post(admin + f"/clusters/{ANALYTICS}", json=body, timeout=2).ok
    assert fgw.info_status(ANALYTICS) == "changing"
    fault = {"kind": "error", "http": 503, "error_code": "500", "count": 2, "applied": True}
    assert requests.post(admin + "/faults", json=fault, timeout=2).status_code == 201
    [pending] = requests.get(admin + "/faults", timeout=2).json()["faults"]
    assert (pending["remaining"], pending["http"]) == (2, 503)
    assert fgw.op("restartCMAKService", ORDERS).status_code == 503
    assert fgw.sb.cluster(ORDERS).restarting == "restartCMAKService"
    assert requests.delete(admin + "/faults", timeout=2).json() == {"faults": []}
    calls = requests.get(admin + "/calls", timeout=2).json()["calls"]
    assert [(c["operation"], c["http_status"], c["applied"]) for c in calls] == [
        ("getClusterInfoList", 200, False),
        ("restartCMAKService", 503, True),
    ]
    bad = requests.post(admin + "/faults", json={"kind": "error", "http": 418}, timeout=2)
    assert bad.status_code == 400 and "error" in bad.json()
    assert requests.get(admin + "/clusters/42", timeout=2).status_code == 404
    assert requests.post(admin + "/reset", timeout=2).ok
    assert fgw.sb.calls == [] and fgw.sb.cluster(ORDERS).tool_mode == "ok"
    assert fgw.sb.cluster(ORDERS).cmak_restart == "withdrawn"


# -- the command line --------------------------------------------------------------------------


def test_cli_parses_durations_addresses_and_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [cli.duration(t) for t in ("5s", "500ms", "2m", "1.5")] == [5.0, 0.5, 120.0, 1.5]
    assert cli.listen_address("127.0.0.1:0") == ("127.0.0.1", 0)
    assert cli.listen_address("[::1]:8480") == ("::1", 8480)
    for bad in ("soon", "-1s"):
        with pytest.raises(argparse.ArgumentTypeError):
            cli.duration(bad)
    with pytest.raises(argparse.ArgumentTypeError):
        cli.listen_address("localhost")
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    monkeypatch.setenv(cli.ENV_ACCESS_KEY, "ENV-AK")
    monkeypatch.setenv(cli.ENV_SECRET_KEY, "env-secret")
    access, secret, shown = cli._keys(parser.parse_args([]))
    assert (access, secret) == ("ENV-AK", "env-secret") and "env-secret" not in shown
    monkeypatch.delenv(cli.ENV_SECRET_KEY)
    with pytest.raises(ValueError, match="without its secret"):
        cli._keys(parser.parse_args([]))


@pytest.mark.e2e  # runs `python -m remediator sandbox`
@pytest.mark.parametrize("given_keys", [False, True])
def test_cli_serves_signed_calls_and_exits_0_on_sigterm(given_keys: bool, sign: Signer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMEDIATOR_SANDBOX_")}
    ak, sk = (
        ("CLI-AK", "cli-secret-value") if given_keys else (DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY)
    )
    argv = [sys.executable, "-m", "remediator", "sandbox", "--listen", "127.0.0.1:0"]
    argv += ["--restart-delay", "1s"]
    if given_keys:
        argv += ["--access-key", ak, "--secret-key", sk]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in first, first
        while not first.endswith("SIGTERM stops\n") and proc.poll() is None:
            first += proc.stdout.readline()  # the rest of the banner
        url = first.split("listening on ")[1].split()[0]
        target = "/api/v1/cluster/restartKafkaService/1484848"
        ts = int(SystemClock().now() * 1000)
        r = requests.get(url + target, headers=sign("GET", target, ts, ak, sk), timeout=2)
        assert r.status_code == 200 and r.json()["code"] == 0
        assert requests.get(url + target, timeout=2).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0, err
    output = first + out
    assert (sk in output) is (not given_keys)  # a secret the user gave is never printed
    assert ak in output and "/clusters/1484849/kafka-ui" in output and "/_sandbox" in output
    assert f"GET {target} -> 200 verified code=0 APPLIED" in output
    assert f"GET {target} -> 401 rejected: missing header" in output
