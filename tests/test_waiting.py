"""The test suite's own helpers: `wait_for` on an injected clock, and the e2e marker guard."""

from __future__ import annotations

import pytest

from remediator.clock import FakeClock
from tests.e2e import require_binary, require_e2e
from tests.waiting import wait_for


def test_wait_for_returns_the_first_truthy_value_polling_at_the_interval() -> None:
    clock = FakeClock()
    values = iter([0, None, "", "ready"])
    assert wait_for(lambda: next(values), timeout=5, what="x", clock=clock) == "ready"
    assert clock.sleeps == [0.05, 0.05, 0.05]


def test_wait_for_names_what_it_waited_for_the_last_value_and_the_detail() -> None:
    clock = FakeClock()
    seen: list[int] = []

    def condition() -> list[int]:
        seen.append(len(seen))
        return []

    with pytest.raises(AssertionError) as failure:
        wait_for(
            condition,
            timeout=1.0,
            interval=0.25,
            what="the daemon ready",
            detail=lambda: f"log after {len(seen)} polls",
            clock=clock,
        )
    assert str(failure.value) == (
        "timed out after 1.0s waiting for the daemon ready; last seen: []\nlog after 5 polls"
    )
    assert clock.sleeps == [0.25] * 4, "polled at 0, 0.25, 0.5, 0.75 and 1.0"


def test_wait_for_stops_at_once_when_the_condition_raises() -> None:
    clock = FakeClock()

    def gone() -> bool:
        raise AssertionError("the daemon exited")

    with pytest.raises(AssertionError, match="the daemon exited"):
        wait_for(gone, timeout=10, what="x", clock=clock)
    assert clock.sleeps == []


def test_a_test_not_marked_e2e_may_not_use_an_external_binary() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"needs sh: mark it @pytest.mark.e2e"):
        require_binary("sh")


@pytest.mark.e2e
def test_a_test_marked_e2e_may(request: pytest.FixtureRequest) -> None:
    require_e2e(request.node, "PostgreSQL")  # does not fail
    assert require_binary("sh").endswith("/sh")
