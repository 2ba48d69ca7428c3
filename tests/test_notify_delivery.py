"""The sender against real HTTP receivers, on a real SQLite outbox and a FakeClock: at least
once, in order per sink, the same id on every attempt, retried on what is worth retrying until
`give_up_after`, and the URL — a credential — never shown."""

from __future__ import annotations

import io
import itertools
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from remediator import logs
from remediator.clock import FakeClock
from remediator.config.notifymodel import NOTIFY_EVENTS, SinkKind
from remediator.metrics import Metrics
from remediator.notify.dispatcher import Dispatcher, backoff
from remediator.notify.notice import notice
from remediator.notify.sinks import Router, Sink
from remediator.secrets import Secret
from remediator.store.sqlite import SqliteLedger
from tests.e2e import free_port
from tests.notify_receiver import Receiver
from tests.waiting import REAL_TIME

SECRET_PART = "s3cr3t-T0K3N-do-not-show"


class Rig:
    """An outbox in a real SQLite file, a router, a sender, and the metrics they count in."""

    def __init__(self, tmp: Path, clock: FakeClock, sinks: list[Sink]) -> None:
        self.clock = clock
        self.path = tmp / "state.db"
        self.ledger = SqliteLedger(self.path)
        self.registry = CollectorRegistry()
        self.metrics = Metrics(self.registry)
        self.router = Router(sinks)
        self.dispatcher = Dispatcher(self.ledger, self.router, clock=clock, metrics=self.metrics)
        self.dispatcher.session.trust_env = False  # loopback, whatever proxy is set

    def post(self, *events: str, target: str = "orders") -> list[str]:
        """Write one notice per event (as the driver does) and return their ids."""
        made = [
            notice(e, at=self.clock.now(), message=f"{e} on {target}", target=target)  # type: ignore[arg-type]
            for e in events
        ]
        self.ledger.enqueue(self.router.route(*made))
        return [n.id for n in made]

    def rows(self) -> list[tuple[str, str, str, int, str]]:
        db = sqlite3.connect(self.path)
        try:
            return list(
                db.execute(
                    "SELECT id, sink, status, attempts, last_error FROM notifications ORDER BY seq"
                )
            )
        finally:
            db.close()

    def count(self, sink: str, event: str, result: str) -> float:
        value = self.registry.get_sample_value(
            "remediator_notifications_total", {"sink": sink, "event": event, "result": result}
        )
        return value or 0.0

    def run_until_settled(self, limit: int = 50) -> None:
        """Rounds of the sender, the clock moved to each next retry, until nothing is due."""
        for _ in range(limit):
            due = self.dispatcher.run_once()
            if due is None:
                return
            self.clock.advance(max(0.0, due - self.clock.now()))
        raise AssertionError("the outbox never settled")

    def close(self) -> None:
        self.dispatcher.stop()
        self.ledger.close()


def sink(url: str, kind: SinkKind = "webhook", name: str = "hook", **kw: float) -> Sink:
    return Sink(name, kind, Secret(url), frozenset(NOTIFY_EVENTS), **kw)  # type: ignore[arg-type]


@pytest.fixture
def receiver(httpserver: HTTPServer) -> Receiver:
    return Receiver(httpserver)


@pytest.fixture
def rig(tmp_path: Path, fake_clock: FakeClock, receiver: Receiver) -> Iterator[Rig]:
    r = Rig(tmp_path, fake_clock, [sink(receiver.url)])
    yield r
    r.close()


def test_a_receiver_that_fails_first_gets_each_notification_once_with_a_stable_id(
    rig: Rig, receiver: Receiver
) -> None:
    receiver.script = [503, 503]
    ids = rig.post("acted", "recovered", "breaker_closed")
    rig.run_until_settled()
    delivered = receiver.delivered()
    assert [r.id for r in delivered] == ids, "each once, in the order they were made"
    # The two failures were the first notification, with the same id; the others waited.
    assert [r.id for r in receiver.got] == [ids[0], ids[0], *ids]
    for r in receiver.got:
        assert r.headers["Idempotency-Key"] == r.id
        assert r.headers["Content-Type"] == "application/json"
    assert [row[2] for row in rig.rows()] == ["sent"] * 3
    assert rig.count("hook", "acted", "retried") == 2
    assert rig.count("hook", "acted", "sent") == 1
    assert rig.count("hook", "recovered", "sent") == 1


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        *((status, "retried") for status in (408, 429, 500, 502, 503)),
        *((status, "failed") for status in (400, 403, 404, 410, 301)),
    ],
)
def test_which_answers_are_retried_and_which_end_it(
    rig: Rig, receiver: Receiver, status: int, outcome: str
) -> None:
    receiver.script = [status]
    rig.post("acted")
    rig.dispatcher.run_once()
    (row,) = rig.rows()
    assert row[2] == ("pending" if outcome == "retried" else "failed")
    assert row[3] == 1
    assert f"HTTP {status}" in row[4]
    assert rig.count("hook", "acted", outcome) == 1
    if outcome == "retried":
        rig.run_until_settled()
        assert rig.rows()[0][2] == "sent"


def test_retry_after_is_honoured(rig: Rig, receiver: Receiver) -> None:
    receiver.script = [(429, {"Retry-After": "120"}, "slow down")]
    rig.post("acted")
    due = rig.dispatcher.run_once()
    assert due == rig.clock.now() + 120
    rig.clock.advance(119)
    rig.dispatcher.run_once()
    assert len(receiver.got) == 1, "not before its Retry-After"
    rig.clock.advance(1)
    rig.dispatcher.run_once()
    assert len(receiver.delivered()) == 1


def test_the_backoff_grows_to_five_minutes() -> None:
    waits = [backoff(n) for n in range(1, 12)]
    assert 2 <= waits[0] <= 3
    assert all(a <= b + 1 for a, b in itertools.pairwise(waits))
    assert 300 <= waits[-1] <= 301


def test_a_refused_connection_and_a_timeout_are_retried(
    tmp_path: Path, fake_clock: FakeClock, httpserver: HTTPServer
) -> None:
    done = threading.Event()

    def slow(_request: Request) -> Response:
        done.wait(10)  # a real receiver that answers too late: once the sink (0.5 s) gave up
        return Response("ok")

    httpserver.expect_request("/slow", method="POST").respond_with_handler(slow)
    refused = sink(f"http://127.0.0.1:{free_port()}/hook", name="refused")
    late = sink(httpserver.url_for("/slow"), name="late", timeout=0.5)
    rig = Rig(tmp_path, fake_clock, [refused, late])
    try:
        rig.post("acted")
        rig.dispatcher.run_once()
        errors = {row[1]: (row[2], row[4]) for row in rig.rows()}
        assert errors == {
            "refused": ("pending", "connection refused"),
            "late": ("pending", "no answer within 0.5s"),
        }
        assert rig.count("refused", "acted", "retried") == 1
        assert rig.count("late", "acted", "retried") == 1
    finally:
        done.set()
        rig.close()


def test_it_gives_up_after_give_up_after(
    tmp_path: Path, fake_clock: FakeClock, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.default = 503
    rig = Rig(tmp_path, fake_clock, [sink(receiver.url, give_up_after=600)])
    try:
        start = fake_clock.now()
        rig.post("breaker_opened")
        with caplog.at_level(logging.INFO, logger="remediator.notify"):
            rig.run_until_settled()
        (row,) = rig.rows()
        assert row[2] == "failed"
        assert fake_clock.now() == start + 600, "the last attempt is at the deadline"
        assert 4 <= row[3] <= 10, "backed off, not hammered"
        assert rig.count("hook", "breaker_opened", "failed") == 1
        assert rig.count("hook", "breaker_opened", "retried") == row[3] - 1
        assert "given up: still failing after" in caplog.text
    finally:
        rig.close()


def test_a_dead_sink_holds_back_only_its_own_notifications(
    tmp_path: Path, fake_clock: FakeClock, receiver: Receiver
) -> None:
    dead = sink(f"http://127.0.0.1:{free_port()}/hook", name="dead")
    rig = Rig(tmp_path, fake_clock, [dead, sink(receiver.url, name="live")])
    try:
        ids = rig.post("acted", "recovered")
        rig.dispatcher.run_once()
        assert [r.id for r in receiver.delivered()] == ids
        status = {(row[0], row[1]): row[2] for row in rig.rows()}
        assert status[(ids[0], "dead")] == "pending"
        assert status[(ids[1], "dead")] == "pending"
        assert rig.count("dead", "acted", "retried") == 1
        assert rig.count("dead", "recovered", "retried") == 0, "it waits behind the first"
    finally:
        rig.close()


def test_sinks_get_only_their_events_and_targets(
    tmp_path: Path, fake_clock: FakeClock, receiver: Receiver
) -> None:
    picky = Sink("picky", "webhook", Secret(receiver.url), frozenset({"acted"}), targets=("pay*",))
    rig = Rig(tmp_path, fake_clock, [picky])
    try:
        rig.post("acted", target="orders")
        rig.post("recovered", target="payments")
        (wanted,) = rig.post("acted", target="payments")
        rig.ledger.enqueue(
            rig.router.route(notice("acted", at=fake_clock.now(), message="about remediator"))
        )
        rig.run_until_settled()
        assert next(r.id for r in receiver.delivered()) == wanted
        assert len(receiver.delivered()) == 2, "a notice with no target goes to every sink"
    finally:
        rig.close()


def test_a_restarted_sender_goes_on_with_the_same_ids(
    tmp_path: Path, fake_clock: FakeClock, receiver: Receiver
) -> None:
    receiver.script = [500]
    rig = Rig(tmp_path, fake_clock, [sink(receiver.url)])
    ids = rig.post("acted", "not_recovered")
    rig.dispatcher.run_once()
    rig.close()
    fake_clock.advance(10)
    again = Rig(tmp_path, fake_clock, [sink(receiver.url)])
    try:
        again.run_until_settled()
        assert [r.id for r in receiver.delivered()] == ids
        assert [r.headers["Idempotency-Key"] for r in receiver.got] == [ids[0], *ids]
    finally:
        again.close()


def test_the_url_never_shows_in_logs_the_ledger_or_metrics(
    tmp_path: Path, fake_clock: FakeClock, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    path = f"/services/T000/B000/{SECRET_PART}"

    def echo(request: Request) -> Response:  # a receiver that quotes the URL it was sent to
        return Response(f"no_service for {request.url} ({request.path})", status=404)

    httpserver.expect_request(path, method="POST").respond_with_handler(echo)
    httpserver.expect_request(path + "x", method="POST").respond_with_data("down", status=503)
    sinks = [
        sink(httpserver.url_for(path), kind="slack", name="slack"),
        sink(httpserver.url_for(path + "x"), kind="teams", name="teams"),
        sink(f"http://127.0.0.1:{free_port()}{path}", name="refused"),
        sink(f"http://{SECRET_PART}.invalid{path}", name="dns"),
    ]
    rig = Rig(tmp_path, fake_clock, sinks)
    try:
        rig.post("acted", "breaker_opened")
        with caplog.at_level(logging.DEBUG):
            rig.dispatcher.run_once()
        # The receiver's own log (werkzeug) shows its path, as any web server's does; urllib3's
        # debug lines would too, and the daemon's logging keeps them off (see below).
        ours = [r for r in caplog.records if not r.name.startswith(("werkzeug", "urllib3"))]
        assert any(r.name == "remediator.notify" for r in ours)
        seen = [
            "\n".join(r.getMessage() for r in ours),
            json.dumps([r.__dict__ for r in ours], default=str),
            json.dumps(rig.rows()),
            generate_latest(rig.registry).decode(),
            repr(sinks),
            str(sinks),
        ]
        assert {row[1] for row in rig.rows()} == {"slack", "teams", "refused", "dns"}
        assert any("no_service for" in row[4] for row in rig.rows()), "the answer is kept"
        for text in seen:
            assert SECRET_PART not in text
    finally:
        rig.close()


def test_the_daemons_logging_keeps_urllib3_debug_lines_with_request_paths_off() -> None:
    names = ("remediator", "apscheduler", "waitress", "waitress.queue", "urllib3")
    loggers = [logging.getLogger(n) for n in names]
    saved = [(lg, lg.level, lg.handlers[:], lg.propagate) for lg in loggers]
    stream = io.StringIO()
    try:
        logs.setup("DEBUG", stream)
        urllib3_log = logging.getLogger("urllib3.connectionpool")
        urllib3_log.debug('"POST /services/T/B/%s" 200', SECRET_PART)
        logging.getLogger("remediator.notify").debug("a line of ours")
    finally:
        for lg, level, handlers, propagate in saved:
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.propagate = propagate
    assert "a line of ours" in stream.getvalue()
    assert SECRET_PART not in stream.getvalue()


def test_a_hanging_receiver_is_waited_for_only_by_the_sender_thread(
    rig: Rig, receiver: Receiver
) -> None:
    receiver.hold.set()
    rig.post("acted")
    rig.dispatcher.start()
    try:
        assert receiver.arrived.wait(10), "the sender's thread made its request"
        # The sender is stuck in it; writing notifications (what the driver does, with the
        # records that cause them) is not held up meanwhile.
        for _ in range(20):
            started = REAL_TIME.monotonic()
            rig.post("recovered")
            assert REAL_TIME.monotonic() - started < 0.5
        assert receiver.got == [], "still waiting for its answer"
    finally:
        receiver.release.set()
    rig.dispatcher.stop()
    assert [r.status for r in receiver.got] == [200]
