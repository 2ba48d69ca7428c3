"""/metrics writes what prometheus_client would: every family of `Metrics`, populated with label
values that need escaping, compared byte for byte with prometheus_client's own Counter and Gauge
written by its own encoders, in text 0.0.4 and OpenMetrics; then the WSGI app against
`make_wsgi_app`, and the daemon's listener over real HTTP with the headers Prometheus sends."""

from __future__ import annotations

import gzip
import math
import socket
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client import CollectorRegistry, generate_latest, make_wsgi_app
from prometheus_client.exposition import choose_encoder
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from remediator import series
from remediator.clock import FakeClock
from remediator.exposition import choose, generate
from remediator.http.scrape import make_metrics_app
from remediator.metrics import Metrics
from remediator.sandbox import Sandbox
from tests.harness import AK, CMAK_RULE, SK, Harness

# What scrapers send: Prometheus 2.42 (captured from a real scrape), Prometheus 3, curl and
# requests, text 1.0, OpenMetrics without a version, and a scheme that changes every name.
PROMETHEUS_2 = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
PROMETHEUS_3 = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
)
ACCEPTS = [
    None,
    "*/*",
    PROMETHEUS_2,
    PROMETHEUS_3,
    "text/plain; version=0.0.4",
    "text/plain;version=1.0.0;escaping=allow-utf-8",
    "text/plain;version=1.0.0;escaping=values",
    "application/openmetrics-text",
    "application/openmetrics-text; version=1.0.0; escaping=underscores",
    "application/openmetrics-text; version=2.0.0",
    "application/openmetrics-text;version=1.0.0;escaping=dots",  # names change: the slow path
]
# Label values that need escaping, or look as if they did.
AWKWARD = ['quo"te', "back\\slash", "new\nline", "zürich-東京-🚀", "", "ends\\", "\\n", '"\\\n"']
TARGETS = ["orders", *AWKWARD]
RULES = ["cmak-unhealthy", 'r\\u"le\n✓']
VALUES = [0, 1, True, 0.5, 1e6, 123456789.0, 1.5e-7, -3.25, -0.0, 3599.999, 1e22]
SPECIAL = [math.inf, -math.inf, math.nan]
PER_TARGET = {
    "remediator_probes",
    "remediator_target_up",
    "remediator_remediations",
    "remediator_breaker_open",
    "remediator_cooldown_remaining_seconds",
    "remediator_paused",
    "remediator_approvals_pending",
}


def exercise(m: Metrics) -> None:
    """Every family of `Metrics` given series, as the daemon gives them (and a few more)."""
    m.declare(TARGETS, [(r, t) for t in TARGETS for r in RULES])
    m.declare_actions([("restart_cmak", "tool"), ("restart_all_services", "cluster")])
    m.declare_notifications([("audit", ("acted", "recovered"))])
    for n, t in enumerate(TARGETS):
        m.probes.labels(target=t, result="success").inc(n + 1)
        m.probes.labels(result="failure", target=t).inc(n * 1e5)
        m.target_up.labels(target=t).set(VALUES[n % len(VALUES)])
        m.paused.labels(target=t).set(n % 2)
        m.approvals_pending.labels(target=t).set(t == "orders")
        for k, r in enumerate(RULES):
            m.cooldown_remaining.labels(rule=r, target=t).set(VALUES[(n + k) % len(VALUES)])
            m.breaker_open.labels(target=t, rule=r).set(k)
            m.remediations.labels(rule=r, target=t, outcome="recovered").inc(0.5 * n)
    m.target_up.labels(target="late-comer").set(1)  # a child made after the others
    m.probe_duration.observe(0.02)
    m.decisions.labels(rule=RULES[1], target='quo"te', outcome="acted", reason="").inc()
    m.decision_actions.labels(action="restart_cmak", outcome="acted").inc()
    m.actions.labels(target="new\nline", action="restart_cmak", result="success").inc()
    m.action_duration.labels(action="restart_cmak").observe(3.2)
    m.ncp_requests.labels(operation="getClusterStatus", code="200").inc(3)
    m.ncp_retries.labels(operation="getClusterStatus", reason="503").inc()
    m.ncp_clock_skew.set(-0.25)
    m.action_path_up.set(1)
    m.alerts_received.labels(status="firing", outcome="matched").inc()
    m.alerts_truncated.inc(2)
    m.webhook_requests.labels(code="200").inc()
    m.detection_to_action.labels(action="restart_cmak").observe(42)
    m.config_last_reload_success.set(1)
    m.notifications.labels(sink="audit", event="acted", result="sent").inc()
    m.notifications_pending.set(2)
    m.silence_checks.labels(result="clear").inc()
    m.ledger_writable.set(1)
    m.ledger_write_failures.labels(record="intent").inc()
    m.ledger_deferred.set(0)
    m.standby.set(0)


def with_special_values(m: Metrics) -> None:
    """+Inf, -Inf and NaN, which only a gauge can hold."""
    for value, t in zip(SPECIAL, TARGETS, strict=False):
        m.target_up.labels(target=t).set(value)
        m.cooldown_remaining.labels(rule=RULES[0], target=t).set(value)


@pytest.fixture
def pair() -> tuple[Metrics, Metrics]:
    """(ours, prometheus_client's), with the same series and values."""
    ours, stock = Metrics(CollectorRegistry()), Metrics(CollectorRegistry(), stock=True)
    for m in (ours, stock):
        exercise(m)
        with_special_values(m)
    return ours, stock


def test_every_family_has_series_and_the_per_target_ones_are_ours(
    pair: tuple[Metrics, Metrics],
) -> None:
    ours, _stock = pair
    families = list(ours.registry.collect())
    assert all(f.samples for f in families), [f.name for f in families if not f.samples]
    fast = {f.name for f in families if isinstance(f, series.FamilySnapshot)}
    assert fast == PER_TARGET


@pytest.mark.parametrize("accept", ACCEPTS)
def test_the_writer_is_byte_for_byte_prometheus_clients(
    pair: tuple[Metrics, Metrics], accept: str | None
) -> None:
    ours, stock = pair
    fmt = choose(accept)
    encoder, content_type = choose_encoder(accept or "")
    assert fmt.content_type == content_type
    assert generate(ours.registry, fmt) == encoder(stock.registry)


def test_the_fast_path_writes_the_per_target_families_in_both_formats(
    pair: tuple[Metrics, Metrics],
) -> None:
    ours, _stock = pair
    for accept in (None, PROMETHEUS_2, PROMETHEUS_3):
        fmt = choose(accept)
        snapshots = [f for f in ours.registry.collect() if isinstance(f, series.FamilySnapshot)]
        assert snapshots and all(s.family.plain(fmt.escaping) for s in snapshots)
    dots = choose("application/openmetrics-text;version=1.0.0;escaping=dots")
    assert isinstance(ours.probes, series.Counter)
    assert not ours.probes.plain(dots.escaping)


def test_prometheus_clients_encoders_read_our_families_as_theirs(
    pair: tuple[Metrics, Metrics],
) -> None:
    ours, stock = pair
    assert generate_latest(ours.registry) == generate_latest(stock.registry)
    assert openmetrics_latest(ours.registry) == openmetrics_latest(stock.registry)  # type: ignore[no-untyped-call]


def test_get_sample_value_reads_every_sample_as_before(pair: tuple[Metrics, Metrics]) -> None:
    ours, stock = pair
    samples = [s for f in stock.registry.collect() for s in f.samples]
    assert len(samples) > 150
    for s in samples:
        found = ours.registry.get_sample_value(s.name, s.labels)
        assert found is not None, s
        assert found == s.value or (math.isnan(found) and math.isnan(s.value)), s


def test_the_output_parses_in_both_formats(pair: tuple[Metrics, Metrics]) -> None:
    ours, _stock = pair
    text = generate(ours.registry, choose(None)).decode()
    parsed = {f.name: f for f in parse_text(text)}
    # the label values come back as they were given
    up = {s.labels["target"] for s in parsed["remediator_target_up"].samples}
    assert up == {*TARGETS, "late-comer"}
    rules = {s.labels["rule"] for s in parsed["remediator_breaker_open"].samples}
    assert rules == set(RULES)
    om = generate(ours.registry, choose(PROMETHEUS_2)).decode()
    assert om.endswith("\n# EOF\n") and om.count("# EOF") == 1
    assert "# TYPE remediator_probes counter\n" in om
    assert {f.name for f in parse_openmetrics(om)} == set(parsed)  # type: ignore[no-untyped-call]


# -- the WSGI app against make_wsgi_app ----------------------------------------------------


def call(app: Callable[..., Iterable[bytes]], **environ: str) -> tuple[str, dict[str, str], bytes]:
    """(status, headers, body), the body gunzipped if it came gzipped."""
    answer: list[Any] = []
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": ""} | environ
    body = b"".join(app(env, lambda status, headers: answer.extend([status, dict(headers)])))
    status, headers = answer
    if headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return status, headers, body


REQUESTS: list[dict[str, str]] = [
    *({"HTTP_ACCEPT": a} for a in ACCEPTS if a is not None),
    {},
    {"HTTP_ACCEPT": PROMETHEUS_2, "HTTP_ACCEPT_ENCODING": "gzip"},
    {"HTTP_ACCEPT": PROMETHEUS_3, "HTTP_ACCEPT_ENCODING": "br, GZIP;q=0.5"},
    {"HTTP_ACCEPT_ENCODING": "gzip, deflate"},
    {"HTTP_ACCEPT_ENCODING": "identity"},
    {"QUERY_STRING": "name[]=remediator_target_up"},
    {"QUERY_STRING": "name[]=remediator_probes_total", "HTTP_ACCEPT": PROMETHEUS_2},
    {"QUERY_STRING": "name[]="},
    {"REQUEST_METHOD": "HEAD"},
    {"REQUEST_METHOD": "POST"},
    {"REQUEST_METHOD": "OPTIONS"},
]


@pytest.mark.parametrize("environ", REQUESTS)
def test_the_app_answers_as_make_wsgi_app(
    pair: tuple[Metrics, Metrics], environ: dict[str, str]
) -> None:
    ours, stock = pair
    assert call(make_metrics_app(ours.registry), **environ) == call(
        make_wsgi_app(stock.registry), **environ
    )


def test_name_filters_keep_those_series(pair: tuple[Metrics, Metrics]) -> None:
    ours, stock = pair
    query = "name[]=remediator_paused&name[]=remediator_build_info&name[]=remediator_probes_total"
    status, headers, body = call(make_metrics_app(ours.registry), QUERY_STRING=query)
    # (a restricted registry walks its collectors in no set order: compare the lines)
    want = call(make_wsgi_app(stock.registry), QUERY_STRING=query)
    assert (status, headers) == want[:2]
    assert sorted(body.splitlines()) == sorted(want[2].splitlines())
    names = {line.split(b"{")[0].split(b" ")[0] for line in body.splitlines() if line[:1] != b"#"}
    assert names == {b"remediator_paused", b"remediator_build_info", b"remediator_probes_total"}


# -- the daemon's listener, over real HTTP ---------------------------------------------------


@pytest.fixture
def daemon(tmp_path: Path, fake_clock: FakeClock) -> Iterator[Harness]:
    with Sandbox(access_key=AK, secret_key=SK, clock=fake_clock) as sb:
        h = Harness(tmp_path, sb, fake_clock, CMAK_RULE)
        h.daemon.http.start()
        try:
            h.run(60)  # probes counted, the tick's gauges set
            yield h
        finally:
            h.daemon.http.close()
            h.daemon.ledger.close()


@pytest.mark.parametrize(
    ("accept", "encoder"),
    [
        (PROMETHEUS_2, openmetrics_latest),
        (PROMETHEUS_3, openmetrics_latest),
        (None, generate_latest),
    ],
)
@pytest.mark.parametrize("gzipped", [True, False])
def test_the_daemon_serves_what_prometheus_asks_for(
    daemon: Harness,
    accept: str | None,
    encoder: Callable[[CollectorRegistry], bytes],
    gzipped: bool,
) -> None:
    headers = {"Accept-Encoding": "gzip" if gzipped else "identity"}
    if accept is not None:
        headers["Accept"] = accept
    session = requests.Session()
    session.trust_env = False
    url = f"http://127.0.0.1:{daemon.daemon.http.port}/metrics"
    reply = session.get(url, headers=headers, timeout=5)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == choose_encoder(accept or "*/*")[1]
    assert reply.headers.get("Content-Encoding") == ("gzip" if gzipped else None)
    assert reply.content == encoder(daemon.daemon.registry)  # (requests gunzips)
    assert 'remediator_target_up{target="orders"} 1.0\n' in reply.text
    assert 'remediator_breaker_open{rule="cmak-unhealthy",target="orders"} 0.0\n' in reply.text
    assert daemon.metric("remediator_probes_total", target="orders", result="success") >= 4


@pytest.mark.parametrize("path", ["/metrics", "/-/healthy", "/no/such/path"])
def test_a_head_answer_has_no_body_so_the_connection_stays_in_step(
    daemon: Harness, path: str
) -> None:
    # HEAD, then GET on the same connection (the GET closing it): the GET's answer must come
    # right after the HEAD's headers. (http.client would hide a body sent for HEAD: it drops
    # what its HEAD response had buffered.)
    with socket.create_connection(("127.0.0.1", daemon.daemon.http.port), timeout=5) as sock:
        sock.sendall(
            f"HEAD {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
            + b"GET /-/healthy HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, after = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 ")
    assert b"\r\ncontent-length: 0\r\n" not in head.lower() + b"\r\n", "GET's length"
    assert after.startswith(b"HTTP/1.1 "), after[:60]


def test_the_daemon_answers_head_and_post_on_metrics_as_before(daemon: Harness) -> None:
    url = f"http://127.0.0.1:{daemon.daemon.http.port}/metrics"
    session = requests.Session()
    session.trust_env = False
    head = session.head(url, timeout=5)
    assert head.status_code == 405
    assert head.headers["Allow"] == "OPTIONS,GET"
    post = session.post(url, timeout=5)
    assert post.status_code == 405
    assert post.json() == {"error": "method not allowed"}
