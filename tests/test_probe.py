"""Health probes against real local HTTP servers (pytest-httpserver): every reason is a value,
whether the probe loop runs (the daemon) or not (a probe on a loop of its own)."""

from __future__ import annotations

import base64
import re
import socket
import threading
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from remediator.clock import FakeClock
from remediator.config.health import BasicAuth, HealthCheck, join_url, preset
from remediator.core.events import ProbeResult
from remediator.probe.loop import ProbeLoop
from remediator.probe.runner import Prober
from remediator.secrets import Secret, SecretRef

PASSWORD_REF = SecretRef("env", "TEST_CMAK_PASSWORD")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_800_000_000.0)


@pytest.fixture(params=["loop running", "loop not running"])
def loop(request: pytest.FixtureRequest) -> Iterator[ProbeLoop]:
    probes = ProbeLoop()
    if request.param == "loop running":
        probes.start()
    yield probes
    probes.stop()


@pytest.fixture
def prober(loop: ProbeLoop, clock: FakeClock) -> Prober:
    return Prober(loop, clock, secrets={PASSWORD_REF: Secret("pw-123")})


def check(kind: str, url: str, timeout: float = 2.0, **kw: object) -> HealthCheck:
    return preset(kind, "orders", url, timeout=timeout, interval=15.0, **kw)  # type: ignore[arg-type]


def probe(prober: Prober, hc: HealthCheck) -> str:
    return prober.probe(hc).reason


def test_cmak_healthy(prober: Prober, httpserver: HTTPServer, clock: FakeClock) -> None:
    httpserver.expect_request("/api/health", method="GET").respond_with_data(
        "healthy\n", content_type="text/plain"
    )
    result = prober.probe(check("cmak", httpserver.url_for("/")))
    assert result == ProbeResult(target="orders", ok=True, reason="ok", at=clock.now())


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [(200, "unhealthy", "body mismatch"), (200, "", "body mismatch"), (503, "", "status 503")],
)
def test_cmak_unhealthy(
    prober: Prober, httpserver: HTTPServer, status: int, body: str, reason: str
) -> None:
    httpserver.expect_request("/api/health").respond_with_data(body, status=status)
    result = prober.probe(check("cmak", httpserver.url_for("")))
    assert (result.ok, result.reason) == (False, reason)


def test_preset_path_is_joined_after_a_path_prefix(prober: Prober, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/tools/cmak/api/health").respond_with_data("healthy")
    httpserver.expect_request("/ui/actuator/health").respond_with_json({"status": "UP"})
    assert probe(prober, check("cmak", httpserver.url_for("/tools/cmak/"))) == "ok"
    assert probe(prober, check("kafka_ui", httpserver.url_for("/ui"))) == "ok"


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("http://h:9000", "http://h:9000/api/health"),
        ("http://h:9000/", "http://h:9000/api/health"),
        ("http://h/cmak", "http://h/cmak/api/health"),
        ("http://h/cmak//", "http://h/cmak/api/health"),
    ],
)
def test_join_url(base: str, url: str) -> None:
    assert join_url(base, "/api/health") == url


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, '{"status": "UP", "components": {}}', "ok"),
        (503, '{"status": "DOWN"}', "json status DOWN"),
        (200, '{"status": "OUT_OF_SERVICE"}', "json status OUT_OF_SERVICE"),
        (200, "<html>login</html>", "invalid json"),
        (200, '{"state": "UP"}', "json status missing"),
        (200, '["UP"]', "json status missing"),
        (502, "Bad Gateway", "status 502"),
    ],
)
def test_kafka_ui(
    prober: Prober, httpserver: HTTPServer, status: int, body: str, reason: str
) -> None:
    httpserver.expect_request("/actuator/health").respond_with_data(
        body, status=status, content_type="application/json"
    )
    result = prober.probe(check("kafka_ui", httpserver.url_for("/")))
    assert (result.ok, result.reason) == (reason == "ok", reason)


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (204, "", "ok"),
        (200, "", "status 200"),
        (500, "", "status 500"),
    ],
)
def test_http_expect_status(
    prober: Prober, httpserver: HTTPServer, status: int, body: str, reason: str
) -> None:
    httpserver.expect_request("/health").respond_with_data(body, status=status)
    hc = check("http", httpserver.url_for("/health"), expect_status=204)
    assert probe(prober, hc) == reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [("db: ok\nqueue: ok\n", "ok"), ("db: ok\nqueue: stuck\n", "body mismatch")],
)
def test_http_body_regex(prober: Prober, httpserver: HTTPServer, body: str, reason: str) -> None:
    httpserver.expect_request("/health", query_string="deep=1").respond_with_data(body)
    hc = check("http", httpserver.url_for("/health?deep=1"), expect_body=r"queue: ok$")
    assert hc.expect_body == re.compile(r"queue: ok$")
    assert probe(prober, hc) == reason


def test_a_redirect_is_a_failure_and_not_followed(prober: Prober, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/health").respond_with_data(
        "", status=302, headers={"Location": "/login"}
    )
    assert probe(prober, check("cmak", httpserver.url_for("/"))) == "status 302"
    assert [r.path for r, _ in httpserver.log] == ["/api/health"]


def test_basic_auth_is_sent(prober: Prober, httpserver: HTTPServer) -> None:
    token = base64.b64encode(b"admin:pw-123").decode()
    httpserver.expect_request(
        "/api/health", headers={"Authorization": f"Basic {token}"}
    ).respond_with_data("healthy")
    hc = check("cmak", httpserver.url_for("/"), basic_auth=BasicAuth("admin", PASSWORD_REF))
    assert probe(prober, hc) == "ok"


def test_basic_auth_resolves_an_unseen_reference(
    loop: ProbeLoop,
    clock: FakeClock,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_CMAK_PASSWORD", "from-env")
    token = base64.b64encode(b"admin:from-env").decode()
    httpserver.expect_request(
        "/api/health", headers={"Authorization": f"Basic {token}"}
    ).respond_with_data("healthy")
    hc = check("cmak", httpserver.url_for("/"), basic_auth=BasicAuth("admin", PASSWORD_REF))
    assert Prober(loop, clock).probe(hc).reason == "ok"


def test_auth_required(prober: Prober, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/health").respond_with_data(
        "", status=401, headers={"WWW-Authenticate": 'Basic realm="Kafka-Manager"'}
    )
    assert probe(prober, check("cmak", httpserver.url_for("/"))) == "auth required (401)"


def test_read_timeout_waiting_for_the_answer(prober: Prober, httpserver: HTTPServer) -> None:
    release = threading.Event()

    def stall(_: Request) -> Response:
        release.wait(5)
        return Response("healthy")

    httpserver.expect_request("/api/health").respond_with_handler(stall)
    try:
        result = prober.probe(check("cmak", httpserver.url_for("/"), timeout=0.2))
    finally:
        release.set()
    assert (result.ok, result.reason) == (False, "read timeout")


def test_read_timeout_in_the_middle_of_the_body(prober: Prober, httpserver: HTTPServer) -> None:
    release = threading.Event()

    def body() -> Iterator[bytes]:
        yield b"heal"
        release.wait(5)
        yield b"thy"

    httpserver.expect_request("/api/health").respond_with_response(Response(body()))
    try:
        reason = probe(prober, check("cmak", httpserver.url_for("/"), timeout=0.2))
    finally:
        release.set()
    assert reason == "read timeout"


def test_connection_refused(prober: Prober) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = prober.probe(check("cmak", f"http://127.0.0.1:{port}", timeout=0.5))
    assert (result.ok, result.reason) == (False, "connection refused")


def test_the_body_read_is_bounded(prober: Prober, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * (4 * 1024 * 1024) + b"END")
    assert probe(prober, check("http", httpserver.url_for("/big"), expect_body=r"\Ax+\Z")) == "ok"
    assert probe(prober, check("http", httpserver.url_for("/big"), expect_body="END")) == (
        "body mismatch"
    )


def test_duration_comes_from_the_monotonic_clock(httpserver: HTTPServer) -> None:
    class SteppingClock(FakeClock):
        def monotonic(self) -> float:
            self.advance(0.25)
            return super().monotonic()

    httpserver.expect_request("/api/health").respond_with_data("healthy")
    clock = SteppingClock(start=100.0)
    result = Prober(ProbeLoop(), clock).probe(check("cmak", httpserver.url_for("/")))
    assert result.duration == pytest.approx(0.25)
    assert result.at == pytest.approx(100.25)
