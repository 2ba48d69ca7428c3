"""The runner: the one loop that answers the engine's requests, in order or on an executor."""

from __future__ import annotations

from remediator.core.decisions import Act, CheckFirst, Output, Remediated
from remediator.core.engine import Engine
from remediator.core.events import ActionOutcome, Event, PreflightResult, ProbeResult
from remediator.core.rules import Policy, ProbeTrigger, Rule, TargetRef, Verify
from remediator.runtime.executors import DeferredExecutor
from remediator.runtime.runner import Runner

T0 = 1_800_000_000.0


def look(c: CheckFirst) -> PreflightResult:
    fresh = ProbeResult(c.target, False, "status 503", c.at) if c.probe else None
    return PreflightResult(c.rule, c.target, c.token, c.at, fresh, cluster_busy=False)


def succeed(a: Act) -> ActionOutcome:
    return ActionOutcome(a.rule, a.target, a.action, "success", a.at)


def check(target: str, token: int) -> CheckFirst:
    return CheckFirst("r", target, "1", token, False, "probe", T0)


def act(target: str) -> Act:
    return Act("r", target, "1", "restart_cmak", "probe", T0, T0)


def test_synchronous_answers_are_fed_breadth_first_and_all_outputs_returned() -> None:
    """Each event's requests are answered in the order asked, before their answers' own."""
    seen: list[object] = []
    script: dict[object, list[Output]] = {
        "probe": [check("a", 1), check("b", 2)],
        1: [act("a")],
        2: [act("b")],
        "a": [Remediated("r", "a", "restart_cmak", "recovered", "", T0)],
        "b": [],
    }

    def step(event: Event) -> list[Output]:
        match event:
            case ProbeResult():
                key: object = "probe"
            case PreflightResult():
                key = event.token
            case ActionOutcome():
                key = event.target
            case _:
                raise AssertionError(event)
        seen.append(key)
        return script[key]

    runner = Runner(step, check_first=look, act=succeed)
    out = runner.feed(ProbeResult("a", False, "down", T0))
    assert seen == ["probe", 1, 2, "a", "b"]
    assert out == [*script["probe"], *script[1], *script[2], *script["a"]]


def test_an_act_answered_with_nothing_feeds_nothing() -> None:
    """A dry run sends nothing, so no outcome comes back to the engine."""
    seen: list[Event] = []

    def step(event: Event) -> list[Output]:
        seen.append(event)
        return [act("a")] if isinstance(event, ProbeResult) else []

    runner = Runner(step, check_first=look, act=lambda _a: None)
    assert runner.feed(ProbeResult("a", False, "down", T0)) == [act("a")]
    assert len(seen) == 1


def engine() -> Engine:
    rule = Rule(
        name="r",
        targets=("*",),
        trigger=ProbeTrigger(failures=1, of=1),
        action="restart_cmak",
        cooldown=900.0,
        verify=Verify(grace=0.0, successes=1, timeout=600.0),
    )
    return Engine(Policy(targets=(TargetRef("orders", "1484848"),), rules=(rule,)))


def test_with_an_executor_feed_returns_its_own_outputs_and_the_answers_follow() -> None:
    eng, executor = engine(), DeferredExecutor()
    heard: list[tuple[str, list[str]]] = []

    def step(event: Event) -> list[Output]:
        outs = eng.handle(event, T0)
        heard.append((type(event).__name__, [type(o).__name__ for o in outs]))
        return outs

    runner = Runner(step, check_first=look, act=succeed, submit=executor.submit)
    out = runner.feed(ProbeResult("orders", False, "status 503", T0))
    assert [type(o) for o in out] == [CheckFirst], "the look is asked for, not yet answered"
    assert eng.targets["orders"].in_flight is None
    executor.drain()
    assert heard == [
        ("ProbeResult", ["CheckFirst"]),
        ("PreflightResult", ["Decision", "Act"]),
        ("ActionOutcome", []),
    ]
    flight = eng.targets["orders"].in_flight
    assert flight is not None and flight.phase == "verifying", "the outcome was fed back"
