"""Alertmanager silences: the matching rule of SPEC section 10 (a table), reading API v2
answers, asking several Alertmanagers over real HTTP with a brief cache, `on_error`, and the
`alertmanager:` and `labels:` configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pytest_httpserver import HTTPServer

from remediator.clock import FakeClock
from remediator.config.loader import load_config
from remediator.errors import ConfigError
from remediator.metrics import Metrics
from remediator.runtime.respect import Respect
from remediator.silences.client import SilencesClient, SilencesUnavailable
from remediator.silences.matching import Matcher, Silence, SilencesError, holding, parse_silences
from tests.e2e import free_port

ORDERS = {
    "remediator_target": "orders",
    "cluster_no": "1484848",
    "service_group_instance_no": "1484848",
    "team": "kafka",  # from the target's labels:
}


def m(text: str) -> Matcher:
    """A matcher as amtool writes it: name=value, name!=value, name=~re, name!~re."""
    for op, regex, equal in (("!~", True, False), ("=~", True, True), ("!=", False, False)):
        if op in text:
            name, value = text.split(op, 1)
            return Matcher(name, value, regex, equal)
    name, value = text.split("=", 1)
    return Matcher(name, value)


# --- the matching rule -------------------------------------------------------------------

TABLE: list[tuple[list[str], bool]] = [
    (["remediator_target=orders"], True),
    (["remediator_target=payments"], False),
    (["cluster_no=1484848"], True),
    (["service_group_instance_no=1484848"], True),
    (["team=kafka"], True),  # a key of the target's labels: names it too
    (["team=search"], False),
    (["alertname=CMAKDown"], False),  # no identifying label: not about a target
    (["alertname=CMAKDown", "severity=critical"], False),
    (["alertname=Other", "cluster_no=1484848"], True),  # other labels are ignored
    (["remediator_target=orders", "cluster_no=999"], False),  # contradicted
    (["remediator_target=orders", "team=search"], False),
    (["remediator_target=~ord.*"], True),
    (["remediator_target=~ord"], False),  # anchored at the end
    (["remediator_target=~rders"], False),  # and at the start
    (["remediator_target=~orders|payments"], True),  # the alternation is grouped
    (["remediator_target=~.*"], True),
    (["remediator_target="], False),
    (["cluster_no!=999"], True),  # negative, as Alertmanager: 1484848 is not 999
    (["cluster_no!=1484848"], False),
    (["remediator_target!~pay.*"], True),
    (["remediator_target!~ord.*"], False),
    (["remediator_target=~ord.*", "cluster_no!=1484848"], False),
    (["remediator_target=~ord.*", "cluster_no!~14.*", "alertname=X"], False),
    (["remediator_target!=payments", "alertname=CMAKDown"], True),
    (["rack=3"], False),  # a label this target does not have is not identifying
]


@pytest.mark.parametrize(("matchers", "held"), TABLE, ids=[",".join(r[0]) for r in TABLE])
def test_the_matching_rule(matchers: list[str], held: bool) -> None:
    silence = Silence("s1", "alice", "patching", tuple(m(x) for x in matchers))
    verdict = holding([silence], ORDERS)
    assert (verdict.held is silence) is held
    assert verdict.unreadable == ""


def test_the_first_silence_that_holds_is_named_and_others_do_not_matter() -> None:
    other = Silence("s0", "bob", "other cluster", (m("cluster_no=999"),))
    ours = Silence("s1", "alice", "broker disk swap", (m("remediator_target=orders"),))
    assert holding([other, ours], ORDERS).held is ours
    assert holding([other], ORDERS).held is None


def test_a_regex_python_cannot_read_is_unreadable_unless_another_silence_holds() -> None:
    odd = Silence("s9", "carol", "unicode classes", (m("remediator_target=~\\pL+"),))
    verdict = holding([odd], ORDERS)
    assert verdict.held is None
    assert verdict.unreadable.startswith("silence s9: regex '\\\\pL+' cannot be evaluated")
    plain = Silence("s1", "alice", "x", (m("cluster_no=1484848"),))
    assert holding([odd, plain], ORDERS).held is plain
    # on a label that does not name the target, it is never evaluated
    elsewhere = Silence("s8", "dave", "x", (m("alertname=~\\pL+"), m("cluster_no=1484848")))
    assert holding([elsewhere], ORDERS).held is elsewhere


def test_describe_names_id_author_comment_and_matchers() -> None:
    s = Silence("9a7b", "alice", "broker disk swap", (m("cluster_no=1484848"), m("x!~y")))
    assert s.describe() == (
        "silence 9a7b by alice (broker disk swap; {cluster_no='1484848', x!~'y'})"
    )


# --- reading Alertmanager's answer ----------------------------------------------------------


def api_silence(
    sid: str, state: str, matchers: list[dict[str, Any]], author: str = "alice"
) -> dict[str, Any]:
    """A silence as Alertmanager 0.25's API v2 returns it."""
    return {
        "id": sid,
        "status": {"state": state},
        "updatedAt": "2027-01-15T08:00:00.000Z",
        "comment": f"comment of {sid}",
        "createdBy": author,
        "startsAt": "2027-01-15T08:00:00.000Z",
        "endsAt": "2027-01-15T10:00:00.000Z",
        "matchers": matchers,
    }


def test_parse_keeps_active_silences_only_and_reads_every_operator() -> None:
    data = [
        api_silence(
            "a",
            "active",
            [
                {"name": "cluster_no", "value": "1", "isRegex": False, "isEqual": True},
                {"name": "t", "value": "o.*", "isRegex": True, "isEqual": False},
                {"name": "old", "value": "v", "isRegex": False},  # before isEqual existed
            ],
        ),
        api_silence("p", "pending", []),
        api_silence("e", "expired", []),
    ]
    (s,) = parse_silences(data)
    assert (s.id, s.created_by, s.comment, s.ends_at) == (
        "a",
        "alice",
        "comment of a",
        "2027-01-15T10:00:00.000Z",
    )
    assert [str(x) for x in s.matchers] == ["cluster_no='1'", "t!~'o.*'", "old='v'"]


@pytest.mark.parametrize(
    "data",
    [{"silences": []}, ["x"], [{"status": {"state": "active"}, "matchers": [{"value": "x"}]}]],
)
def test_parse_refuses_what_is_not_a_list_of_silences(data: Any) -> None:
    with pytest.raises(SilencesError):
        parse_silences(data)


# --- asking Alertmanager ----------------------------------------------------------------------

HELD = [
    api_silence(
        "9a7b",
        "active",
        [{"name": "remediator_target", "value": "orders", "isRegex": False, "isEqual": True}],
    )
]


def serve(server: HTTPServer, body: Any, status: int = 200) -> None:
    server.expect_request("/api/v2/silences", method="GET").respond_with_json(body, status=status)


def test_answers_are_cached_briefly(httpserver: HTTPServer, fake_clock: FakeClock) -> None:
    serve(httpserver, HELD)
    client = SilencesClient([httpserver.url_for("/")], timeout=2, clock=fake_clock)
    assert [s.id for s in client.active()] == ["9a7b"]
    fake_clock.advance(4.9)
    client.active()
    assert len(httpserver.log) == 1, "a storm asks once"
    fake_clock.advance(0.1)
    client.active()
    assert len(httpserver.log) == 2


def test_the_next_alertmanager_answers_when_the_first_does_not(
    httpserver: HTTPServer, fake_clock: FakeClock
) -> None:
    serve(httpserver, HELD)
    dead = f"http://127.0.0.1:{free_port()}"
    client = SilencesClient([dead, httpserver.url_for("/")], timeout=2, clock=fake_clock)
    assert [s.id for s in client.active()] == ["9a7b"]
    assert client.requests == 2
    fake_clock.advance(10)
    client.active()
    assert client.requests == 3, "the one that answered is asked first"


def test_no_alertmanager_answering_is_an_error_naming_each_and_is_cached(
    httpserver: HTTPServer, fake_clock: FakeClock
) -> None:
    serve(httpserver, {"error": "boom"}, status=500)
    dead = f"http://127.0.0.1:{free_port()}"
    client = SilencesClient([httpserver.url_for("/"), dead], timeout=2, clock=fake_clock)
    with pytest.raises(SilencesUnavailable) as info:
        client.active()
    assert str(info.value) == (
        f"{httpserver.url_for('/').rstrip('/')}: HTTP 500; {dead}: connection refused"
    )
    with pytest.raises(SilencesUnavailable):
        client.active()
    assert client.requests == 2, "a down Alertmanager is not hammered either"


# --- on_error, and the configuration ------------------------------------------------------

CONFIG = """\
ncp: {{access_key: {{env: AK}}, secret_key: {{env: SK}}}}
state: {{path: state.db}}
targets:
  - name: orders
    cluster_no: "1484848"
    health: {{kind: cmak, url: "http://127.0.0.1:9000"}}
    labels: {{team: kafka, rack: 3}}
  - name: payments
    cluster_no: "1484849"
    health: {{kind: kafka_ui, url: "http://127.0.0.1:9001"}}
{alertmanager}
"""


def respect(tmp_path: Path, alertmanager: str) -> tuple[Respect, Metrics]:
    (tmp_path / "remediator.yaml").write_text(CONFIG.format(alertmanager=alertmanager))
    config = load_config(tmp_path / "remediator.yaml")
    metrics = Metrics(CollectorRegistry())
    return Respect.from_config(config, clock=FakeClock(), metrics=metrics), metrics


def checks(metrics: Metrics, result: str) -> float:
    value = metrics.registry.get_sample_value("remediator_silence_checks_total", {"result": result})
    return 0.0 if value is None else value


def test_a_silence_on_a_target_label_holds_it_and_not_another(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    silence = api_silence(
        "c0ffee",
        "active",
        [{"name": "team", "value": "kafka", "isRegex": False, "isEqual": True}],
        author="alice@example.com",
    )
    serve(httpserver, [silence])
    r, metrics = respect(tmp_path, f'alertmanager: {{url: "{httpserver.url_for("/")}"}}')
    assert r.hold("orders", 0.0) == (
        "silenced",
        "held by Alertmanager silence c0ffee by alice@example.com (comment of c0ffee; "
        "{team='kafka'}, until 2027-01-15T10:00:00.000Z)",
    )
    assert r.hold("payments", 0.0) is None
    assert (checks(metrics, "silenced"), checks(metrics, "clear"), checks(metrics, "error")) == (
        1,
        1,
        0,
    )


@pytest.mark.parametrize("on_error", ["act", "hold"])
def test_on_error_decides_when_alertmanager_cannot_be_asked(
    tmp_path: Path, on_error: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    r, metrics = respect(tmp_path, f'alertmanager: {{url: "{url}", on_error: {on_error}}}')
    held = r.hold("orders", 0.0)
    why = f"Alertmanager could not be asked ({url}: connection refused)"
    if on_error == "hold":
        assert held == ("silenced", f"{why}; alertmanager.on_error is hold")
        assert f"{why}: holding orders (alertmanager.on_error: hold)" in caplog.messages
    else:
        assert held is None
        assert (
            f"{why}: acting on orders as if no silence held it (alertmanager.on_error: act)"
            in caplog.messages
        )
    assert checks(metrics, "error") == 1


def test_without_alertmanager_nothing_is_asked(tmp_path: Path) -> None:
    r, metrics = respect(tmp_path, "")
    assert r.hold("orders", 0.0) is None
    # the series exist at 0 all the same, for dashboards
    assert [checks(metrics, result) for result in ("clear", "silenced", "error")] == [0, 0, 0]
    assert (
        metrics.registry.get_sample_value("remediator_silence_checks_total", {"result": "clear"})
        == 0
    )


def test_identity_has_every_identifying_label(tmp_path: Path) -> None:
    (tmp_path / "remediator.yaml").write_text(CONFIG.format(alertmanager=""))
    orders = load_config(tmp_path / "remediator.yaml").targets[0]
    assert orders.identity() == {
        "remediator_target": "orders",
        "cluster_no": "1484848",
        "service_group_instance_no": "1484848",
        "team": "kafka",
        "rack": "3",
    }


@pytest.mark.parametrize(
    ("alertmanager", "labels", "expected"),
    [
        (
            'alertmanager: {url: "http://a:9093", urls: ["http://b:9093"]}',
            "",
            "remediator.yaml:11: alertmanager.urls: give either url (one Alertmanager) or urls "
            "(several), not both",
        ),
        (
            "alertmanager: {on_error: act}",
            "",
            "remediator.yaml:11: alertmanager.url: is required (or urls: a list, for an HA pair)",
        ),
        (
            'alertmanager: {url: "http://a:9093", on_error: skip}',
            "",
            "remediator.yaml:11: alertmanager.on_error: must be one of 'act' or 'hold'",
        ),
        (
            'alertmanager:\n  urls:\n    - "http://a:9093"\n    - "ftp://b"',
            "",
            "remediator.yaml:14: alertmanager.urls[1]: must be an http:// or https:// URL",
        ),
        (
            "",
            "labels: {cluster_no: '1'}",
            "remediator.yaml:7: targets[0].labels.cluster_no: cluster_no names every target "
            "already (remediator_target is its name, cluster_no and service_group_instance_no "
            "its cluster_no): leave it out of labels",
        ),
        (
            "",
            "labels: {9lives: x}",
            "remediator.yaml:7: targets[0].labels.9lives: must be a Prometheus label name: "
            "letters, digits and '_', not first a digit",
        ),
    ],
)
def test_alertmanager_and_labels_problems_name_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alertmanager: str, labels: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    text = CONFIG.format(alertmanager=alertmanager).replace(
        "labels: {team: kafka, rack: 3}", labels or "labels: {team: kafka}"
    )
    Path("remediator.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(Path("remediator.yaml"))
    assert [str(p) for p in info.value.problems] == [expected]
