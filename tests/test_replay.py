"""`remediator explain`: the events codec, strict and synthesized replays, and the command."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remediator.cli.explain import (
    ClusterStatus,
    EventsError,
    entry_from_json,
    event_from_json,
    event_to_json,
    format_output,
    main,
    mode_of,
    read_events,
    replay,
)
from remediator.config.loader import load_config
from remediator.core.decisions import Act, BreakerChanged, CheckFirst, Decision, Output, Remediated
from remediator.core.engine import Engine
from remediator.core.events import (
    ActionOutcome,
    AlertEvent,
    Event,
    Pause,
    PreflightResult,
    ProbeResult,
    Resume,
    Tick,
)
from remediator.core.rules import (
    AlertTrigger,
    Budget,
    Guardrails,
    Policy,
    ProbeTrigger,
    Rule,
    TargetRef,
    Verify,
)
from remediator.runtime.runner import Runner

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "remediator.yaml"
INCIDENT = ROOT / "examples" / "incident.jsonl"
T0 = 1_795_748_400.0  # 2026-11-27T03:00:00Z

# -- the codec ------------------------------------------------------------------------------

times = st.floats(allow_nan=False, allow_infinity=False)
texts = st.text(max_size=12)
probes = st.builds(ProbeResult, texts, st.booleans(), texts, times, times)
events: st.SearchStrategy[Event] = st.one_of(
    probes,
    st.builds(
        AlertEvent,
        texts,
        texts,
        st.sampled_from(["firing", "resolved"]),
        texts,
        texts,
        times,
        st.dictionaries(texts, texts, max_size=4),
        st.none() | times,
    ),
    st.builds(
        PreflightResult,
        texts,
        texts,
        st.integers(),
        times,
        st.none() | probes,
        st.none() | st.booleans(),
        texts,
    ),
    st.builds(
        ActionOutcome,
        texts,
        texts,
        texts,
        st.sampled_from(["success", "failure", "unknown", "not_available"]),
        times,
        texts,
    ),
    st.builds(Tick, times),
    st.builds(Pause, st.none() | texts, times, texts, times),
    st.builds(Resume, st.none() | texts, times, st.booleans()),
)


@settings(max_examples=300)
@given(events, times)
def test_every_event_round_trips_exactly_on_one_line(event: Event, now: float) -> None:
    line = event_to_json(event, now)
    assert "\n" not in line
    assert json.loads(line)["type"] in (
        "probe",
        "alert",
        "preflight",
        "outcome",
        "tick",
        "pause",
        "resume",
    )
    assert event_from_json(line) == (event, now)


def test_hand_written_lines_take_rfc3339_times_and_defaults() -> None:
    probe, now = event_from_json(
        '{"type": "probe", "target": "orders", "ok": false, "now": "2026-11-27T03:00:15Z"}'
    )
    assert now == T0 + 15
    assert probe == ProbeResult("orders", False, "probe failed", T0 + 15)
    tick, now = event_from_json('{"type": "tick", "at": 1795748400.5}')
    assert (tick, now) == (Tick(T0 + 0.5), T0 + 0.5)
    alert, _ = event_from_json(
        '{"type": "alert", "target": "orders", "alertname": "CMAKDown", "now": 1795748460,'
        ' "starts_at": "2026-11-27T03:00:30.123456789Z", "labels": {"cluster_no": "1484848"}}'
    )
    assert isinstance(alert, AlertEvent)
    assert alert.status == "firing"
    assert alert.starts_at_ts == pytest.approx(T0 + 30.123456)
    assert alert.labels == {"cluster_no": "1484848"}
    pre, _ = event_from_json(
        '{"type": "preflight", "rule": "r", "target": "orders", "token": 1,'
        ' "now": "2026-11-27T03:00:45+00:00", "probe": {"ok": false}}'
    )
    assert isinstance(pre, PreflightResult)
    assert pre.probe == ProbeResult("orders", False, "probe failed", T0 + 45)
    pause, _ = event_from_json(
        '{"type": "pause", "target": null, "until": "2026-11-27T04:00:00Z", "now": 1795748400}'
    )
    assert pause == Pause(None, T0 + 3600, "", T0)
    cluster, _ = entry_from_json('{"type": "cluster", "target": "orders", "busy": true, "now": 1}')
    assert cluster == ClusterStatus("orders", True, 1.0)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"type": "probes", "now": 1}', '"type" must be "probe" or'),
        ('{"type": "probe", "target": "orders", "ok": true}', '"now" is missing'),
        (
            '{"type": "probe", "target": "orders", "ok": "yes", "now": 1}',
            '"ok" must be true or false',
        ),
        ('{"type": "probe", "ok": true, "now": 1}', '"target" is missing'),
        (
            '{"type": "probe", "target": "o", "ok": true, "now": 1, "okay": 1}',
            "unknown key(s) okay",
        ),
        ('{"type": "tick", "now": "yesterday"}', '"now" must be epoch seconds or an RFC 3339'),
        ('{"type": "tick", "now": "2026-11-27T03:00:00"}', "RFC 3339"),
        (
            '{"type": "outcome", "rule": "r", "target": "t", "action": "a", "result": "ok",'
            ' "now": 1}',
            '"result" must be',
        ),
        (
            '{"type": "preflight", "rule": "r", "target": "t", "token": true, "now": 1}',
            '"token" must be an int',
        ),
        (
            '{"type": "preflight", "rule": "r", "target": "t", "token": 1, "now": 1,'
            ' "probe": {"ok": true, "x": 1}}',
            'in "probe": unknown key(s) x',
        ),
        (
            '{"type": "alert", "target": "t", "alertname": "A", "labels": {"a": 1}, "now": 1}',
            '"labels" must be an object of strings',
        ),
    ],
)
def test_a_bad_line_names_its_line_number_and_the_problem(
    tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "events.jsonl"
    good = '{"type": "tick", "now": 1}'
    path.write_text(f"{good}\n\n# a comment\n{line}\n{good}\n")
    with pytest.raises(EventsError) as info:
        read_events(path)
    assert (info.value.file, info.value.line) == (str(path), 4)
    assert str(info.value).startswith(f"{path}:4: ")
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_a_line_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"type": "tick", "now": 1}\n{"type": "tick", "now": 1, "x": "\xff"}\n')
    with pytest.raises(EventsError, match=r":2: not UTF-8"):
        read_events(path)


def test_a_cluster_line_is_no_engine_event() -> None:
    with pytest.raises(EventsError, match="replay extension"):
        event_from_json('{"type": "cluster", "target": "orders", "busy": true, "now": 1}')


# -- the shipped incident -------------------------------------------------------------------


def test_the_shipped_incident_explains_as_documented() -> None:
    policy = load_config(CONFIG).policy()
    lines = read_events(INCIDENT)
    entries = [(entry, now) for _, entry, now in lines]
    assert mode_of(entries) == "synthesized"
    outputs = replay(policy, entries)
    assert [
        (d.rule, d.target, d.outcome, d.reason) for d in outputs if isinstance(d, Decision)
    ] == [
        ("cmak-unhealthy", "orders", "acted", "probe"),
        ("cmak-down-alert", "orders", "suppressed", "in_progress"),
        ("cmak-unhealthy", "orders", "suppressed", "cooldown"),
    ]
    assert [(a.action, a.cluster_no, a.at - T0) for a in outputs if isinstance(a, Act)] == [
        ("restart_cmak", "1484848", 45.0)
    ]
    assert [(r.outcome, r.at - T0) for r in outputs if isinstance(r, Remediated)] == [
        ("recovered", 180.0)
    ]
    assert all(o.target == "orders" for o in outputs), "payments flaps below its threshold"
    assert entries[0][1] == T0 and all(
        b[1] - a[1] in (0.0, 15.0) for a, b in itertools.pairwise(entries)
    )


# -- strict replays: the decisions the live daemon made -------------------------------------


def tight_policy() -> Policy:
    probe_rule = Rule(
        name="probe",
        targets=("*",),
        trigger=ProbeTrigger(failures=2, of=3),
        action="restart_cmak",
        fallback_action="restart_all_services",
        cooldown=60.0,
        budget=Budget(max=2, per=600.0),
        verify=Verify(grace=15.0, successes=1, timeout=60.0),
    )
    alert_rule = Rule(
        name="alert",
        targets=("orders",),
        trigger=AlertTrigger(alertname="CMAKDown", corroborate=True),
        action="restart_cmak",
        cooldown=60.0,
    )
    shadow = Rule(
        name="shadow",
        targets=("payments",),
        trigger=ProbeTrigger(failures=3, of=3),
        action="restart_kafka",
        mode="shadow",
    )
    return Policy(
        targets=(TargetRef("orders", "1484848"), TargetRef("payments", "2593711")),
        rules=(probe_rule, alert_rule, shadow),
        guardrails=Guardrails(max_concurrent_actions=1, max_actions_per_hour=4),
    )


@dataclass
class RecordingDriver:
    """A synchronous driver that answers late, and records every fed event as the daemon does."""

    engine: Engine
    health: list[tuple[bool, bool]]
    busy: list[bool]
    results: list[str]
    delays: list[int]
    now: float = T0
    step: int = 0
    acts: int = 0
    quiet_ticks_left_out: bool = False
    recording: list[str] = field(default_factory=list)
    live: list[Output] = field(default_factory=list)
    waiting: list[tuple[int, Callable[[], None]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The daemon's runner, with an "executor" that runs each answer some steps later.
        self.runner = Runner(
            self._step, check_first=self.answer, act=self.answer, submit=self._later
        )

    def feed(self, event: Event) -> None:
        self.runner.feed(event)

    def _step(self, event: Event) -> list[Output]:
        outputs = self.engine.handle(event, self.now)
        if outputs or not (self.quiet_ticks_left_out and isinstance(event, Tick)):
            self.recording.append(event_to_json(event, self.now))  # the daemon's recorder hook
        self.live.extend(outputs)
        return outputs

    def _later(self, work: Callable[[], None]) -> None:
        delay = self.delays[len(self.waiting) % len(self.delays)]
        self.waiting.append((self.step + delay, work))

    def healthy(self, target: str) -> bool:
        orders, payments = self.health[self.step % len(self.health)]
        return orders if target == "orders" else payments

    @overload
    def answer(self, out: CheckFirst) -> PreflightResult: ...

    @overload
    def answer(self, out: Act) -> ActionOutcome: ...

    def answer(self, out: CheckFirst | Act) -> PreflightResult | ActionOutcome:
        if isinstance(out, CheckFirst):
            ok = self.healthy(out.target)
            fresh = ProbeResult(out.target, ok, "ok" if ok else "status 503", self.now, 0.25)
            busy = self.busy[self.step % len(self.busy)]
            return PreflightResult(
                out.rule, out.target, out.token, self.now, fresh if out.probe else None, busy, "x"
            )
        result = self.results[self.acts % len(self.results)]
        self.acts += 1
        return ActionOutcome(out.rule, out.target, out.action, result, self.now, "d")  # type: ignore[arg-type]

    def release(self, everything: bool = False) -> None:
        while due := [w for w in self.waiting if everything or w[0] <= self.step]:
            self.waiting = [w for w in self.waiting if w not in due]
            for _, work in due:
                work()

    def run(self, steps: int, jitter: float, alerts: list[int]) -> None:
        for self.step in range(steps):
            self.now = T0 + 15 * self.step + jitter * (self.step % 7)
            self.release()
            for target in ("orders", "payments"):
                ok = self.healthy(target)
                self.feed(ProbeResult(target, ok, "ok" if ok else "read timeout", self.now))
            if self.step in alerts:
                starts = f"2026-11-27T03:{self.step % 60:02d}:00Z"
                self.feed(
                    AlertEvent("orders", "CMAKDown", "firing", f"fp{self.step}", starts, self.now)
                )
            if self.step % 37 == 11:
                self.feed(Pause("orders", self.now + 60, "maintenance", self.now))
            if self.step % 37 == 30:
                self.feed(Resume(None, self.now, reset_breaker=True))
            probed_at = self.now
            for second in (3, 6, 9, 12):  # the daemon's scheduler ticks (1 Hz there)
                self.now = probed_at + second
                self.feed(Tick(self.now))
        self.release(everything=True)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["example", "tight"]),
    st.lists(st.tuples(st.booleans(), st.booleans()), min_size=5, max_size=60),
    st.lists(st.booleans(), min_size=1, max_size=7),
    st.lists(st.sampled_from(["success", "failure", "unknown", "not_available"]), min_size=1),
    st.lists(st.integers(0, 3), min_size=1, max_size=5),
    st.floats(0, 1, exclude_max=True),
    st.lists(st.integers(0, 119), max_size=4),
    st.booleans(),
)
def test_a_recording_replays_to_exactly_the_live_decisions(
    which: str,
    health: list[tuple[bool, bool]],
    busy: list[bool],
    results: list[str],
    delays: list[int],
    jitter: float,
    alerts: list[int],
    quiet_ticks_left_out: bool,
) -> None:
    """Also when the recorder leaves out the daemon's 1 Hz ticks that produced nothing."""
    policy = load_config(CONFIG).policy() if which == "example" else tight_policy()
    driver = RecordingDriver(Engine(policy), health * 4, busy, results, delays)
    driver.quiet_ticks_left_out = quiet_ticks_left_out
    driver.run(120, jitter, alerts)
    recorded = [event_from_json(line) for line in driver.recording]
    notes: list[tuple[int, str]] = []
    assert replay(policy, recorded, notes=notes) == driver.live
    assert notes == []
    if any(isinstance(o, CheckFirst) for o in driver.live):
        assert mode_of(recorded) == "strict"


def test_a_recording_with_a_fallback_and_a_breaker_replays_exactly() -> None:
    policy = tight_policy()
    driver = RecordingDriver(
        Engine(policy), [(False, True)], [False], ["not_available", "success"], [1]
    )
    driver.run(200, 0.125, [3])
    kinds = {type(o) for o in driver.live}
    assert {Decision, Act, Remediated, BreakerChanged} <= kinds
    assert any(isinstance(o, Act) and o.fallback_of for o in driver.live)
    recorded = [event_from_json(line) for line in driver.recording]
    assert replay(policy, recorded) == driver.live


def test_a_strict_replay_notes_what_it_cannot_reproduce() -> None:
    policy = tight_policy()
    entries: list[tuple[Event | ClusterStatus, float]] = [
        (ClusterStatus("orders", True, T0), T0),
        (PreflightResult("probe", "orders", 7, T0), T0),
        (ActionOutcome("probe", "orders", "restart_cmak", "success", T0), T0),
    ]
    notes: list[tuple[int, str]] = []
    assert replay(policy, entries, notes=notes) == []
    assert [i for i, _ in notes] == [0, 1, 2]
    assert "never asked for" in notes[1][1]


# -- synthesized replays of hand-written files ----------------------------------------------


def lines_of(*objs: dict[str, object]) -> list[tuple[Event | ClusterStatus, float]]:
    return [entry_from_json(json.dumps(o)) for o in objs]


def probe(at: float, ok: bool, target: str = "orders") -> dict[str, object]:
    return {"type": "probe", "target": target, "ok": ok, "now": at}


def test_synthesized_busy_cluster_then_act_then_verification_times_out() -> None:
    policy = tight_policy()
    entries = lines_of(
        {"type": "cluster", "target": "orders", "busy": True, "now": T0, "detail": "changing"},
        probe(T0, False),
        probe(T0 + 15, False),
        {"type": "cluster", "target": "orders", "busy": False, "now": T0 + 20},
        probe(T0 + 30, False),
        probe(T0 + 1000, False),  # long silence: the deadline at T0 + 90 still fires on time
    )
    assert mode_of(entries) == "synthesized"
    outputs = replay(policy, entries)
    decided = [(d.reason, d.detail, d.at - T0) for d in outputs if isinstance(d, Decision)]
    assert decided[0] == ("cluster_busy", "changing", 15.0)
    assert decided[1][0] == "probe" and decided[1][2] == 30.0
    assert [(r.outcome, r.at - T0) for r in outputs if isinstance(r, Remediated)] == [
        ("not_recovered", 90.0)
    ]
    checks = [o for o in outputs if isinstance(o, CheckFirst)]
    assert len(checks) == 2


def test_synthesized_fresh_probe_is_the_latest_in_the_file() -> None:
    policy = tight_policy()
    alert = {"type": "alert", "target": "orders", "alertname": "CMAKDown", "now": T0 + 5}
    healthy = replay(policy, lines_of(probe(T0, True), alert))
    assert [d.reason for d in healthy if isinstance(d, Decision)] == ["not_corroborated"]
    failing = replay(policy, lines_of(probe(T0, False), alert))
    assert [d.reason for d in failing if isinstance(d, Decision)] == ["alert"]
    assert [a.action for a in failing if isinstance(a, Act)] == ["restart_cmak"]


def test_format_output_lines() -> None:
    act = Act(
        "r", "orders", "1484848", "restart_all_services", "probe", T0, T0 + 45, "restart_cmak"
    )
    assert format_output(T0 + 45, act, T0) == (
        "2026-11-27T03:00:45Z      +45s    → restart_all_services on orders (cluster 1484848;"
        " blast radius cluster), fallback: restart_cmak is not available"
    )
    d = Decision(
        "r", "orders", "suppressed", "cooldown", "cooldown: 615s left", T0 + 1.5, "probe", "a"
    )
    assert format_output(T0 + 1.5, d, T0) == (
        "2026-11-27T03:00:01.500Z     +1.5s  r on orders: suppressed (cooldown): cooldown: 615s"
        " left"
    )
    check = CheckFirst("r", "orders", "1484848", 3, True, "probe", T0)
    assert format_output(T0, check, T0) is None
    assert "check first (probe trigger, token 3)" in (
        format_output(T0, check, T0, verbose=True) or ""
    )


# -- the command ----------------------------------------------------------------------------


def test_main_explains_the_shipped_incident(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(CONFIG, INCIDENT) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert lines[0].startswith("2026-11-27T03:00:45Z      +45s  cmak-unhealthy on orders: acted")
    assert lines[1].endswith("→ restart_cmak on orders (cluster 1484848; blast radius tool)")
    assert "suppressed (in_progress)" in lines[2]
    assert "recovered after restart_cmak" in lines[3]
    assert "suppressed (cooldown): cooldown: 10m15s left of 15m" in lines[4]
    assert lines[5] == (
        "64 events (answers synthesized), 3 decisions: 1 acted, 2 suppressed "
        "(1 cooldown, 1 in_progress); 1 action sent; 1 recovered, 0 not recovered; "
        "0 breakers opened"
    )
    assert not any("check first" in line for line in lines)
    assert out.err == ""
    assert main(CONFIG, INCIDENT, verbose=True) == 0
    assert "check first" in capsys.readouterr().out


def test_main_json_prints_one_object_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(str(CONFIG), str(INCIDENT), as_json=True) == 0
    objs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["type"] for o in objs] == [
        "decision",
        "act",
        "decision",
        "remediated",
        "decision",
        "summary",
    ]
    assert objs[0]["time"] == "2026-11-27T03:00:45Z" and objs[0]["offset"] == 45.0
    assert objs[-1]["events"] == 64 and objs[-1]["mode"] == "synthesized"


def test_main_exit_2_on_bad_events_config_or_missing_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "tick", "now": 1}\n{"type": "probe", "now": 1}\n')
    assert main(CONFIG, bad) == 2
    assert capsys.readouterr().err.startswith(f"{bad}:2: ")
    assert main(CONFIG, tmp_path / "missing.jsonl") == 2
    assert "cannot read the events" in capsys.readouterr().err
    config = tmp_path / "remediator.yaml"
    config.write_text("ncp: {site: mars}\n")
    assert main(config, INCIDENT) == 2
    assert f"{config}:1: " in capsys.readouterr().err
    assert main(tmp_path / "nope.yaml", INCIDENT) == 2
    assert "cannot read the configuration" in capsys.readouterr().err


def test_main_warns_of_unconfigured_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    lines = [probe(T0 + i, False, "ordres") for i in range(64)] + [probe(T0 + 64, True)]
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(CONFIG, events) == 0
    out = capsys.readouterr()
    warnings = out.err.splitlines()
    assert len(warnings) == 1, "one warning per unconfigured target, not per event"
    assert warnings[0].startswith(f"{events}:1: warning: no target 'ordres' is configured")
    assert "(64 events name it; they decide nothing)" in warnings[0]
    assert out.out.startswith("65 events (answers synthesized), 0 decisions")
    # None of the events names a configured target: the wrong configuration, exit 2.
    events.write_text(json.dumps(probe(T0, False, "ordres")) + "\n")
    assert main(CONFIG, events) == 2
    assert "no event names a target of" in capsys.readouterr().err


RECORDED = ROOT / "examples" / "incident-recorded.jsonl"


def test_the_shipped_recording_replays_to_the_decisions_the_live_daemon_logged() -> None:
    """explain on the shipped recording gives exactly what the live daemon decided."""
    logged = [
        tuple(line.split("decision:", 1)[1].split())
        for line in RECORDED.read_text().splitlines()
        if line.startswith("#") and "decision:" in line
    ]
    assert logged == [
        ("cmak-unhealthy", "orders", "acted", "probe"),
        ("cmak-down-alert", "orders", "suppressed", "duplicate"),
        ("cmak-unhealthy", "orders", "suppressed", "cooldown"),
        ("broker-unhealthy", "orders", "acted", "probe"),
    ]
    entries = [(entry, now) for _, entry, now in read_events(RECORDED)]
    assert mode_of(entries) == "strict"
    notes: list[tuple[int, str]] = []
    outputs = replay(load_config(CONFIG).policy(), entries, notes=notes)
    assert notes == []
    replayed = [(d.rule, d.target, d.outcome, d.reason) for d in outputs if isinstance(d, Decision)]
    assert replayed == logged
    acts = [(a.action, a.fallback_of) for a in outputs if isinstance(a, Act)]
    assert acts == [("restart_cmak", None), ("restart_kafka_node", None)]
