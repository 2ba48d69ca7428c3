"""The per-target families (remediator.series): prometheus_client's API and readings, safe
across threads, and their pre-rendered lines escaped and formatted as prometheus_client's."""

from __future__ import annotations

import math
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.registry import DuplicateTimeseries
from prometheus_client.utils import floatToGoString

from remediator import series
from remediator.exposition import choose, generate

# Label values as UTF-8 carries them (no lone surrogates).
LABEL_VALUES = st.text(st.characters(codec="utf-8"), max_size=30)


@given(st.floats())
def test_go_float_is_float_to_go_string(value: float) -> None:
    assert series.go_float(value) == floatToGoString(value)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    "value", [0.0, -0.0, 1.0, 999_999.9999, 1e6, 1.5e7, 1e22, 1e-7, -1e6, math.inf, -math.inf]
)
def test_go_float_at_the_edges(value: float) -> None:
    assert series.go_float(value) == floatToGoString(value)  # type: ignore[no-untyped-call]
    assert series.go_float(math.nan) == "NaN"


@given(st.lists(st.tuples(LABEL_VALUES, LABEL_VALUES, st.floats()), max_size=5))
def test_any_label_values_and_values_write_as_prometheus_clients(
    rows: list[tuple[str, str, float]],
) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    fast = series.Gauge("g_seconds", 'Help "with" \\ and\nlines.', ["zone", "a"], registry=ours)
    stock = Gauge("g_seconds", 'Help "with" \\ and\nlines.', ["zone", "a"], registry=theirs)
    for zone, a, value in rows:
        fast.labels(zone=zone, a=a).set(value)
        stock.labels(zone=zone, a=a).set(value)
    assert generate(ours, choose(None)) == generate_latest(theirs)
    om = choose("application/openmetrics-text; version=1.0.0")
    assert generate(ours, om) == openmetrics_latest(theirs)  # type: ignore[no-untyped-call]


def test_labels_gives_one_child_whatever_the_keyword_order() -> None:
    family = series.Gauge("g", "G.", ["rule", "target"], registry=CollectorRegistry())
    child = family.labels(rule="r", target="t")
    assert family.labels(target="t", rule="r") is child
    assert family.labels(rule="r", target="t") is child
    assert family.children() == [child]
    assert child.line == 'g{rule="r",target="t"} '


def test_labels_takes_values_as_str_like_prometheus_client() -> None:
    family = series.Counter("c_total", "C.", ["code"], registry=CollectorRegistry())
    one = family.labels(code=1)  # type: ignore[arg-type]
    assert family.labels(code="1") is one
    truth = family.labels(code=True)  # type: ignore[arg-type]
    assert truth is not one  # 1 == True, but "1" != "True"
    assert truth.values == ("True",)
    assert family.labels(code=1) is one  # type: ignore[arg-type]


@pytest.mark.parametrize("labels", [{}, {"rule": "r"}, {"rule": "r", "target": "t", "x": "y"}])
def test_labels_refuses_other_label_names(labels: dict[str, str]) -> None:
    family = series.Gauge("g", "G.", ["rule", "target"], registry=CollectorRegistry())
    with pytest.raises(ValueError, match="Incorrect label names"):
        family.labels(**labels)


def test_a_counter_only_goes_up() -> None:
    child = series.Counter("c", "C.", ["a"], registry=CollectorRegistry()).labels(a="x")
    child.inc()
    child.inc(2.5)
    with pytest.raises(ValueError, match="non-negative"):
        child.inc(-1)
    assert child.value == 3.5


def test_a_gauge_takes_bools_as_prometheus_clients() -> None:
    registry = CollectorRegistry()
    child = series.Gauge("g", "G.", ["a"], registry=registry).labels(a="x")
    child.set(True)
    assert registry.get_sample_value("g", {"a": "x"}) == 1.0
    child.set(False)
    assert registry.get_sample_value("g", {"a": "x"}) == 0.0


def test_the_registry_knows_their_names() -> None:
    registry = CollectorRegistry()
    series.Counter("remediator_probes_total", "P.", ["target"], registry=registry)
    series.Gauge("remediator_paused", "P.", ["target"], registry=registry)
    for clash in ("remediator_probes_total", "remediator_probes", "remediator_paused"):
        with pytest.raises(DuplicateTimeseries):
            Gauge(clash, "Clash.", registry=registry)
    family = next(iter(registry.restricted_registry(["remediator_probes_total"]).collect()), None)
    assert family is None  # no child yet: nothing to show


@pytest.mark.parametrize("names", [[], ["a", "a"], ["__reserved"], ["has-dash"], ["0digit"]])
def test_label_names_are_checked(names: list[str]) -> None:
    with pytest.raises(ValueError, match="label name"):
        series.Gauge("g", "G.", names, registry=CollectorRegistry())


def test_increments_from_many_threads_all_count() -> None:
    family = series.Counter("c_total", "C.", ["target"], registry=CollectorRegistry())
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for n in range(5000):
            family.labels(target=f"t{n % 50}").inc()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    children = family.children()
    assert len(children) == 50  # each child made once, whichever thread came first
    assert sum(c.value for c in children) == 8 * 5000


def test_a_snapshot_keeps_the_children_it_was_taken_with() -> None:
    registry = CollectorRegistry()
    family = series.Gauge("g", "G.", ["a"], registry=registry)
    family.labels(a="x").set(1)
    (snapshot,) = registry.collect()
    family.labels(a="y").set(2)
    assert [s.labels for s in snapshot.samples] == [{"a": "x"}]
    assert registry.get_sample_value("g", {"a": "y"}) == 2.0
