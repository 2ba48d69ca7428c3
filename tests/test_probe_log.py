"""What the log says of probes: a line when a target's health changes, one reminder every few
minutes while any stay down — bounded however many probes fail."""

from __future__ import annotations

import logging

import pytest

from remediator.clock import FakeClock
from remediator.core.events import ProbeResult
from remediator.runtime.probelog import REMIND_EVERY, ProbeLog

LOGGER = "remediator.runtime.daemon"


def result(clock: FakeClock, target: str, reason: str = "ok") -> ProbeResult:
    return ProbeResult(target, reason == "ok", reason, clock.now())


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_a_failure_is_said_when_it_starts_and_when_it_ends(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    log = ProbeLog(fake_clock)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        log.note(result(fake_clock, "orders"))
        for _ in range(4):
            log.note(result(fake_clock, "orders", "connection refused"))
            fake_clock.advance(15)
        log.note(result(fake_clock, "orders"))
        log.note(result(fake_clock, "orders"))
    assert lines(caplog) == [
        "probe of orders failed: connection refused",
        "probe of orders ok again after 4 failed probe(s) over 1m",
    ]


def test_targets_that_stay_down_get_one_reminder_line_every_few_minutes(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    log = ProbeLog(fake_clock)
    targets = [f"t{n:03d}" for n in range(500)]
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for _ in range(int(3 * REMIND_EVERY / 15) + 1):  # 15 minutes of probes every 15 s
            for target in targets:
                log.note(result(fake_clock, target, "read timeout"))
            fake_clock.advance(15)
    said = lines(caplog)
    assert len(said) == 500 + 3, "a line per target going down, then a reminder per 5 minutes"
    reminder = said[-1]
    assert reminder.startswith("probes still failing on 500 target(s): t000 (read timeout; ")
    assert reminder.endswith(" and 490 more")
    assert reminder.count("read timeout") == 10


def test_no_reminder_once_every_target_is_back(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    log = ProbeLog(fake_clock)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        log.note(result(fake_clock, "a", "status 503"))
        fake_clock.advance(60)
        log.note(result(fake_clock, "a"))
        fake_clock.advance(REMIND_EVERY * 2)
        log.note(result(fake_clock, "a"))
        log.note(result(fake_clock, "b", "body mismatch"))
        fake_clock.advance(REMIND_EVERY - 1)
        log.note(result(fake_clock, "b", "body mismatch"))
    assert lines(caplog) == [
        "probe of a failed: status 503",
        "probe of a ok again after 1 failed probe(s) over 1m",
        "probe of b failed: body mismatch",
    ]
