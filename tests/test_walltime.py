"""The ledger under a stepped wall clock (`WallTimeLedger`): every time going in becomes wall
time, every time coming back for the engine steady time again, reads for people stay wall
time; and every `Ledger` method is either converted or named as passing through."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from remediator.clock import FakeClock, SteadyClock
from remediator.core.events import AlertEvent
from remediator.core.state import ActionRecord, ApprovalRecord, PauseRecord
from remediator.runtime.walltime import WallTimeLedger
from remediator.store import HistoryEntry, Ledger, LedgerAction
from remediator.store.sqlite import SqliteLedger

STEP = 3600.0  # the wall clock is an hour ahead of the daemon's steady time
T = 1_800_000_000.0  # a steady time

Args = tuple[tuple[Any, ...], dict[str, Any]]


def members(cls: type) -> set[str]:
    return {name for name, v in vars(cls).items() if inspect.isfunction(v) and name[0] != "_"}


LEDGER = members(Ledger)


# Methods that carry no time: written out to pass through unchanged, or (the outbox, which keeps
# the daemon's own time) reached through `__getattr__`.
WRITTEN_THROUGH = {"recent_actions", "actions_without_outcome", "open_breakers", "close"}
OUTBOX = {
    "enqueue",
    "due_notifications",
    "pending_notifications",
    "notification_sent",
    "notification_retry",
    "notification_failed",
    "forget_notifications",
}


def test_every_ledger_method_is_converted_or_known_to_pass_through() -> None:
    written = members(WallTimeLedger)
    assert written <= LEDGER, "WallTimeLedger only overrides Ledger methods"
    assert LEDGER - written == OUTBOX, "a new Ledger method: convert it, or say it passes through"


def alert(t: float) -> AlertEvent:
    return AlertEvent(
        target="orders",
        alertname="CMAKDown",
        status="firing",
        fingerprint="f1",
        starts_at="2027-01-15T08:00:00Z",
        at=t,
        labels={"alertname": "CMAKDown"},
        starts_at_ts=t - 60,
    )


def entry(t: float) -> HistoryEntry:
    return HistoryEntry(at=t, kind="decision", target="orders", outcome="acted", rule="r")


def action(t: float) -> ActionRecord:
    return ActionRecord("r", "orders", "restart_cmak", "enforce", t, "success", t + 5, None)


def approval(t: float) -> ApprovalRecord:
    return ApprovalRecord(
        "a1", "r", "orders", "restart_cmak", 0, "probe", "why", t, t + 600, "approved", t + 60
    )


@dataclass(frozen=True)
class Case:
    """A call with every time in it `t` (`call(t)`), and what the ledger answers (`answer(t)`)."""

    call: Callable[[float], Args]
    answer: Callable[[float], object] = lambda t: None
    # Reads for people: the answer stays wall time, as written.
    as_written: bool = False


CASES: dict[str, Case] = {
    "record_intent": Case(
        lambda t: (
            (),
            dict(
                rule="r",
                target="orders",
                cluster_no="1",
                action="restart_cmak",
                mode="enforce",
                trigger="probe",
                at=t,
            ),
        ),
        lambda t: 7,
    ),
    "record_outcome": Case(
        lambda t: ((7,), dict(result="success", at=t, request_id=None, detail=""))
    ),
    "record_fallback": Case(lambda t: ((7,), dict(action="restart_kafka_ui", at=t, detail=""))),
    "record_remediation": Case(
        lambda t: ((), dict(rule="r", target="orders", outcome="recovered", at=t, detail=""))
    ),
    "record_breaker": Case(
        lambda t: ((), dict(rule="r", target="orders", open=True, at=t, detail=""))
    ),
    "record_pause": Case(
        lambda t: ((), dict(target="orders", until=t + 3600, reason="maintenance", at=t))
    ),
    "clear_pause": Case(lambda t: ((), dict(target=None, at=t))),
    "record_approval": Case(
        lambda t: (
            (),
            dict(
                id="a1",
                rule="r",
                target="orders",
                cluster_no="1",
                action="restart_cmak",
                step=0,
                trigger="probe",
                reason="why",
                at=t,
                expires_at=t + 600,
            ),
        )
    ),
    "resolve_approval": Case(
        lambda t: (("a1",), dict(status="approved", at=t, by="ops", reason="ok"))
    ),
    "record_history": Case(lambda t: (([entry(t), entry(t + 1)],), {})),
    "sweep_history": Case(lambda t: ((t,), {}), lambda t: 3),
    "record_alerts": Case(lambda t: (([alert(t)], t), {}), lambda t: [True]),
    "mark_episode_decided": Case(lambda t: (("f1", "2027-01-15T08:00:00Z", t), {})),
    "forget_episodes": Case(lambda t: ((t,), {}), lambda t: 2),
    "touch": Case(lambda t: ((t,), {})),
    "pending_alerts": Case(lambda t: ((t,), {}), lambda t: [alert(t)]),
    "settled_episodes": Case(
        lambda t: ((t,), {}), lambda t: [("f1", "2027-01-15T08:00:00Z", "orders", t)]
    ),
    "actions_since": Case(lambda t: ((t,), {}), lambda t: [action(t)]),
    "unfinished_actions": Case(lambda t: ((), {}), lambda t: [action(t)]),
    "approvals_since": Case(lambda t: ((t,), {}), lambda t: [approval(t)]),
    "approval": Case(lambda t: (("a1",), {}), approval),
    "active_pauses": Case(
        lambda t: ((t,), {}), lambda t: [PauseRecord("orders", t + 3600, "maintenance")]
    ),
    "history": Case(
        lambda t: ((), dict(target="orders", since=t, limit=10)),
        lambda t: [entry(t)],
        as_written=True,
    ),
}


@dataclass
class Spy:
    """A ledger that remembers each call and answers what it is told to (in wall time)."""

    answer: object = None
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)

    def __getattr__(self, name: str) -> Callable[..., object]:
        def call(*args: Any, **kwargs: Any) -> object:
            self.calls.append((name, args, kwargs))
            return self.answer

        return call


def bound(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments of a call to `Ledger.name`, by name, defaults filled in."""
    b = inspect.signature(getattr(Ledger, name)).bind(None, *args, **kwargs)
    b.apply_defaults()
    return {k: v for k, v in b.arguments.items() if k != "self"}


@pytest.fixture
def steady(fake_clock: FakeClock) -> SteadyClock:
    clock = SteadyClock(fake_clock)
    fake_clock.step_wall(STEP)
    return clock


def test_the_cases_are_the_converted_methods() -> None:
    assert set(CASES) == members(WallTimeLedger) - WRITTEN_THROUGH


@pytest.mark.parametrize("name", sorted(CASES))
def test_times_go_in_as_wall_time_and_come_back_as_steady_time(
    name: str, steady: SteadyClock
) -> None:
    case = CASES[name]
    spy = Spy(answer=case.answer(T + STEP))
    ledger = WallTimeLedger(cast(Ledger, spy), steady)
    args, kwargs = case.call(T)
    got = getattr(ledger, name)(*args, **kwargs)
    ((called, sent_args, sent_kwargs),) = spy.calls
    assert called == name
    assert bound(name, sent_args, sent_kwargs) == bound(name, *case.call(T + STEP))
    assert got == case.answer(T + STEP if case.as_written else T)


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[SqliteLedger]:
    ledger = SqliteLedger(tmp_path / "state.db")
    yield ledger
    ledger.close()


def test_through_sqlite_the_disk_holds_wall_time_and_the_engine_reads_steady_time(
    sqlite: SqliteLedger, steady: SteadyClock
) -> None:
    ledger: Ledger = WallTimeLedger(sqlite, steady)
    now = steady.now()
    action_id = ledger.record_intent(
        rule="r",
        target="orders",
        cluster_no="1",
        action="restart_cmak",
        mode="enforce",
        trigger="probe",
        at=now,
    )
    ledger.record_outcome(action_id, result="success", at=now + 5, request_id=None, detail="")
    ledger.record_pause(target="orders", until=now + 3600, reason="maintenance", at=now)
    ledger.record_history([entry(now)])

    (on_disk,) = sqlite.actions_since(0)
    assert (on_disk.intent_at, on_disk.outcome_at) == (now + STEP, now + 5 + STEP)
    (read,) = ledger.actions_since(now - 1)
    assert (read.intent_at, read.outcome_at) == (now, now + 5)
    assert ledger.active_pauses(now) == [PauseRecord("orders", now + 3600, "maintenance")]
    assert [e.at for e in ledger.history(target="orders", since=now - 1)] == [now + STEP]
    assert isinstance(ledger.recent_actions(1)[0], LedgerAction)
    assert ledger.recent_actions(1)[0].record.intent_at == now + STEP, "for people: as written"
