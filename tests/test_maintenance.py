"""Maintenance windows: cron starts in a time zone across daylight-saving changes (explicit
times), their configuration's FILE:LINE problems, and the daemon holding an action inside one
and showing the current and next window — on a FakeClock set around a DST change."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from remediator.cli.statustable import render_status
from remediator.clock import FakeClock
from remediator.config.loader import load_config
from remediator.config.windows import Schedule, cron
from remediator.errors import ConfigError
from remediator.sandbox import Sandbox
from remediator.timetext import iso
from tests.harness import AK, ANALYTICS, CMAK_RULE, ORDERS, SK, Harness


def at(text: str) -> float:
    """An RFC 3339 UTC time (`2026-03-29T01:00Z`) in epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=UTC).timestamp()


def starts(schedule: Schedule, after: str, count: int) -> list[str]:
    return [iso(s) for s in itertools.islice(schedule.starts(at(after)), count)]


# --- the arithmetic, across clock changes ------------------------------------------------


def test_a_start_in_the_skipped_hour_begins_when_the_clocks_jump() -> None:
    # Europe/Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00Z); 02:30 never happens
    sunday = Schedule("patch", "30 2 * * SUN", 3600, "Europe/Berlin")
    assert starts(sunday, "2026-03-20T00:00Z", 3) == [
        "2026-03-22T01:30:00Z",  # 02:30 CET
        "2026-03-29T01:00:00Z",  # the jump, 03:00 CEST
        "2026-04-05T00:30:00Z",  # 02:30 CEST
    ]
    window = sunday.current(at("2026-03-29T01:00Z"))
    assert window is not None
    assert (iso(window.start), iso(window.end)) == ("2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z")
    assert window.describe() == (
        "patch (Europe/Berlin): 2026-03-29T03:00+02:00 to 2026-03-29T04:00+02:00"
    )
    assert sunday.current(at("2026-03-29T00:59:59Z")) is None
    assert sunday.current(at("2026-03-29T02:00Z")) is None


def test_a_start_in_the_repeated_hour_begins_once_at_its_first_occurrence() -> None:
    # Europe/Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00Z); 02:30 happens twice
    sunday = Schedule("patch", "30 2 * * SUN", 3600, "Europe/Berlin")
    assert starts(sunday, "2026-10-20T00:00Z", 2) == [
        "2026-10-25T00:30:00Z",  # 02:30 CEST, the first
        "2026-11-01T01:30:00Z",  # 02:30 CET next week; not 01:30Z on the 25th
    ]
    assert sunday.current(at("2026-10-25T01:29:59Z")) is not None
    assert sunday.current(at("2026-10-25T01:30:00Z")) is None


def test_the_duration_is_elapsed_time_across_a_change() -> None:
    night = Schedule("night", "0 1 * * *", 3 * 3600, "Europe/Berlin")
    spring = night.current(at("2026-03-29T02:59Z"))
    assert spring is not None  # 01:00 CET to 05:00 CEST: three real hours
    assert (iso(spring.start), iso(spring.end)) == ("2026-03-29T00:00:00Z", "2026-03-29T03:00:00Z")
    autumn = night.current(at("2026-10-25T01:59Z"))
    assert autumn is not None  # 01:00 CEST to 03:00 CET
    assert (iso(autumn.start), iso(autumn.end)) == ("2026-10-24T23:00:00Z", "2026-10-25T02:00:00Z")


def test_new_york_and_seoul() -> None:
    # America/New_York, 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00Z)
    ny = Schedule("ny", "30 2 * * *", 1800, "America/New_York")
    assert starts(ny, "2026-03-07T00:00Z", 3) == [
        "2026-03-07T07:30:00Z",
        "2026-03-08T07:00:00Z",
        "2026-03-09T06:30:00Z",
    ]
    # Asia/Seoul has no DST: 02:00 KST on Sundays is 17:00Z on Saturdays, all year
    seoul = Schedule("weekly-patching", "0 2 * * SUN", 7200, "Asia/Seoul")
    assert starts(seoul, "2026-03-27T00:00Z", 2) == [
        "2026-03-28T17:00:00Z",
        "2026-04-04T17:00:00Z",
    ]
    assert starts(seoul, "2026-10-23T00:00Z", 1) == ["2026-10-24T17:00:00Z"]


def test_overlapping_windows_are_one_and_next_is_after_it() -> None:
    twice = Schedule("busy", "0 10,11 * * *", 5400, "UTC")  # 10:00-11:30 and 11:00-12:30
    now = at("2026-01-10T11:10Z")
    current = twice.current(now)
    assert current is not None
    assert (iso(current.start), iso(current.end)) == (
        "2026-01-10T10:00:00Z",
        "2026-01-10T12:30:00Z",
    )
    nxt = twice.next(now)
    assert nxt is not None and iso(nxt.start) == "2026-01-11T10:00:00Z"
    # windows that always overlap never close
    hourly = Schedule("always", "0 * * * *", 5400, "UTC")
    assert all(hourly.current(now + k * 600) is not None for k in range(12))


def test_a_schedule_that_never_comes_has_no_window() -> None:
    never = Schedule("never", "0 0 30 2 *", 3600, "UTC")
    assert never.current(at("2026-02-28T00:00Z")) is None
    assert never.next(at("2026-02-28T00:00Z")) is None


@pytest.mark.parametrize(
    ("expression", "day"),
    [("0 2 * * 0", "Sun"), ("0 2 * * 7", "Sun"), ("0 2 * * 1", "Mon"), ("0 2 * * SAT", "Sat")],
)
def test_weekday_numbers_are_crontabs(expression: str, day: str) -> None:
    fire = cron(expression).get_next_fire_time(None, datetime(2026, 3, 2, 3, tzinfo=UTC))
    assert fire is not None and fire.strftime("%a") == day


# --- configuration -----------------------------------------------------------------------

CONFIG = """\
ncp: {access_key: {env: AK}, secret_key: {env: SK}}
state: {path: state.db}
targets:
  - name: orders
    cluster_no: "1484848"
    health: {kind: cmak, url: "http://127.0.0.1:9000"}
  - name: payments
    cluster_no: "1484849"
    health: {kind: kafka_ui, url: "http://127.0.0.1:9001"}
maintenance:
  - name: weekly-patching
    targets: ["orders", "pay*"]
    schedule: "0 2 * * SUN"
    duration: 2h
    timezone: Asia/Seoul
"""


def load(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "remediator.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(Path("remediator.yaml"))
    return [str(p) for p in info.value.problems]


def test_the_specs_example_loads(tmp_path: Path) -> None:
    (tmp_path / "remediator.yaml").write_text(CONFIG)
    config = load_config(tmp_path / "remediator.yaml")
    (entry,) = config.maintenance
    assert (entry.duration, entry.timezone, entry.targets) == (
        7200.0,
        "Asia/Seoul",
        ("orders", "pay*"),
    )
    assert config.maintenance_of("payments") == (entry,)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            '"0 2 * * SUN"',
            '"0 26 * * SUN"',
            "remediator.yaml:13: maintenance[0].schedule: '0 26 * * SUN' is not a cron "
            "schedule: Error validating expression '26': the last value (26) is higher than "
            "the maximum value (23)",
        ),
        (
            '"0 2 * * SUN"',
            '"0 2 * *"',
            "remediator.yaml:13: maintenance[0].schedule: '0 2 * *' is not a cron schedule: "
            "expected 5 fields, got 4",
        ),
        (
            "Asia/Seoul",
            "Asia/Soul",
            "remediator.yaml:15: maintenance[0].timezone: 'Asia/Soul' is not an IANA time zone "
            "(e.g. Asia/Seoul, Europe/Berlin, UTC)",
        ),
        (
            '["orders", "pay*"]',
            '["orders", "bill*"]',
            "remediator.yaml:12: maintenance[0].targets[1]: 'bill*' matches no configured "
            "target (targets: orders, payments)",
        ),
        (
            "    duration: 2h\n",
            "",
            "remediator.yaml:11: maintenance[0].duration: is required",
        ),
        (
            "    timezone: Asia/Seoul\n",
            "    timezone: Asia/Seoul\n  - name: weekly-patching\n"
            '    schedule: "0 3 * * *"\n    duration: 1h\n',
            "remediator.yaml:16: maintenance[1].name: duplicate maintenance window "
            "'weekly-patching' (first on line 11)",
        ),
    ],
)
def test_maintenance_problems_name_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert old in CONFIG
    assert load(tmp_path, CONFIG.replace(old, new, 1)) == [expected]


# --- the daemon, on a clock set around a DST change ---------------------------------------

WINDOW = """
maintenance:
  - name: sunday-patching
    targets: [orders]
    schedule: "30 2 * * SUN"
    duration: 1h
    timezone: Europe/Berlin
"""


@pytest.fixture
def sb(fake_clock: FakeClock) -> Iterator[Sandbox]:
    box = Sandbox(access_key=AK, secret_key=SK, clock=fake_clock, restart_delay=20.0).start()
    box.set_cmak_restart(ORDERS, "available")
    box.set_cmak_restart(ANALYTICS, "available")
    try:
        yield box
    finally:
        box.stop()


def daemon(tmp_path: Path, sb: Sandbox, clock: FakeClock) -> Harness:
    return Harness(
        tmp_path, sb, clock, CMAK_RULE, guardrails="{max_concurrent_actions: 2}", top=WINDOW
    )


@pytest.mark.parametrize("fake_clock", [FakeClock(at("2026-03-29T01:00:30Z"))], indirect=False)
def test_spring_forward_holds_inside_the_shifted_window_then_acts(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock
) -> None:
    h = daemon(tmp_path, sb, fake_clock)
    try:
        sb.break_tool(ORDERS, "down")
        sb.break_tool(ANALYTICS, "down")
        h.run(15 * 60)
        assert h.actions(ORDERS) == []
        assert h.actions(ANALYTICS) == ["restartCMAKService"], "no window on analytics"
        status = h.daemon.status()
        orders = next(t for t in status["targets"] if t["name"] == "orders")
        assert orders["maintenance"]["current"]["local_end"] == "2026-03-29T04:00+02:00"
        assert orders["maintenance"]["next"]["local_start"] == "2026-04-05T02:30+02:00"
        assert next(t for t in status["targets"] if t["name"] == "analytics")["maintenance"] is None
        text = render_status(status)
        assert "sunday-patching until 2026-03-29T04:00+02:00" in text
        assert "sunday-patching 2026-04-05T02:30+02:00 to 2026-04-05T03:30+02:00" in text
        h.run(at("2026-03-29T02:00:00Z") - fake_clock.now())
        assert h.actions(ORDERS) == []
        h.run(60)
        (call,) = sb.action_calls(ORDERS)
        assert at("2026-03-29T02:00Z") <= call.time < at("2026-03-29T02:01Z")
        held = h.metric(
            "remediator_decisions_total",
            rule="cmak-unhealthy",
            target="orders",
            outcome="suppressed",
            reason="maintenance",
        )
        assert held == 1, "said once for the trip"
    finally:
        h.daemon.ledger.close()


@pytest.mark.parametrize("fake_clock", [FakeClock(at("2026-10-25T01:30:30Z"))], indirect=False)
def test_fall_back_the_repeated_hour_is_not_a_second_window(
    tmp_path: Path, sb: Sandbox, fake_clock: FakeClock
) -> None:
    h = daemon(tmp_path, sb, fake_clock)  # 02:30:30 CET, the second 02:30 of the night
    try:
        sb.break_tool(ORDERS, "down")
        h.run(60)
        assert h.actions(ORDERS) == ["restartCMAKService"]
    finally:
        h.daemon.ledger.close()
