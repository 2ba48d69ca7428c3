"""`remediator explain`: replay engine events (`remediator.runtime.eventlog`) through the rules.

A replay feeds every line of an events file to a fresh `Engine` at the line's `now`, in file
order, in one of two modes:

- strict, when the file holds a `preflight` or an `outcome` line, so that it is a recording of
  a live daemon: only the recorded events are fed, and the engine's `CheckFirst`s and `Act`s
  are answered by the recorded `PreflightResult`s and `ActionOutcome`s that follow them (tokens
  are a counter, so they match). This gives exactly the decisions the daemon made, provided it
  started with an empty ledger and kept its configuration: state restored from the ledger or
  carried over a reload is not in the file, and a `preflight` or `outcome` that the replay
  never asked for is reported as a note. A recording that stops before its first `preflight`
  looks hand-written: `replay(..., mode="strict")` says otherwise.
- synthesized, for files of probe results and alerts written by hand to rehearse rules: each
  `CheckFirst` is answered at once, with the target's latest probe result in the file so far
  as the fresh probe (none when the check needs none or the file has none yet) and the cluster
  not busy; each `Act` succeeds at once. A `Tick` is fed at each verification deadline that
  passes between two lines, so that verification times out when it would have live.
  A line `{"type": "cluster", "target": T, "busy": true, "now": ...}` (optional `detail`)
  makes the preflights from then on see T's cluster as changing (`cluster_busy`), until a line
  with `"busy": false`. Strict replays ignore such lines, with a note.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, assert_never

from remediator.cli.common import Subparsers, add_config_argument
from remediator.config.loader import load_config
from remediator.core.decisions import (
    SUPPRESSION_REASONS,
    Act,
    ApprovalRequested,
    ApprovalSettled,
    BreakerChanged,
    CheckFirst,
    Decision,
    Escalated,
    Output,
    Remediated,
)
from remediator.core.engine import Engine
from remediator.core.events import (
    ActionOutcome,
    AlertEvent,
    ApprovalAnswer,
    Event,
    ManualRestart,
    Pause,
    PreflightResult,
    ProbeResult,
    Resume,
    Tick,
)
from remediator.core.rules import Policy
from remediator.errors import ConfigError
from remediator.runtime.eventlog import (
    ClusterStatus,
    Entry,
    EventsError,
    entry_from_json,
    event_from_json,
    event_to_json,
    read_events,
)
from remediator.runtime.runner import Runner
from remediator.timetext import rfc3339

__all__ = [
    "ClusterStatus",
    "EventsError",
    "Mode",
    "entry_from_json",
    "event_from_json",
    "event_to_json",
    "format_output",
    "main",
    "mode_of",
    "read_events",
    "replay",
]

Mode = Literal["strict", "synthesized"]


# -- replaying ------------------------------------------------------------------------------


def mode_of(events: Iterable[tuple[Entry, float]]) -> Mode:
    """`strict` for a recording (it holds preflights or outcomes), else `synthesized`."""
    recorded = any(isinstance(e, PreflightResult | ActionOutcome) for e, _ in events)
    return "strict" if recorded else "synthesized"


def replay(
    policy: Policy,
    events: Iterable[tuple[Entry, float]],
    *,
    mode: Mode | None = None,
    notes: list[tuple[int, str]] | None = None,
) -> list[Output]:
    """Every output of a fresh engine fed `events`, in order (see the module docstring).

    `mode` None chooses by content. `notes` collects `(index of the event, message)` for what
    a strict replay cannot reproduce exactly.
    """
    entries = list(events)
    engine = Engine(policy)
    if (mode or mode_of(entries)) == "strict":
        return _strict(engine, entries, [] if notes is None else notes)
    return _synthesized(engine, entries)


def _strict(
    engine: Engine, entries: list[tuple[Entry, float]], notes: list[tuple[int, str]]
) -> list[Output]:
    out: list[Output] = []
    asked: dict[int, tuple[str, str]] = {}
    sent: Counter[tuple[str, str, str]] = Counter()
    for index, (event, now) in enumerate(entries):
        match event:
            case ClusterStatus():
                notes.append((index, "a cluster line is ignored in a recording"))
                continue
            case PreflightResult() if asked.get(event.token) != (event.rule, event.target):
                notes.append((index, f"preflight {event.token} was never asked for in this replay"))
            case ActionOutcome():
                key = (event.rule, event.target, event.action)
                if sent[key] <= 0:
                    notes.append((index, f"{event.action} on {event.target} was never sent here"))
                sent[key] -= 1
            case (
                ProbeResult()
                | AlertEvent()
                | PreflightResult()
                | Tick()
                | Pause()
                | Resume()
                | ManualRestart()
                | ApprovalAnswer()
            ):
                pass
            case _:
                assert_never(event)
        for o in engine.handle(event, now):
            match o:
                case CheckFirst():
                    asked[o.token] = (o.rule, o.target)
                case Act():
                    sent[(o.rule, o.target, o.action)] += 1
                case (
                    Decision()
                    | Remediated()
                    | Escalated()
                    | BreakerChanged()
                    | ApprovalRequested()
                    | ApprovalSettled()
                ):
                    pass
                case _:
                    assert_never(o)
            out.append(o)
    return out


@dataclass
class _Synthesized:
    """The world of a hand-written file: every look finds the target as its latest probe line of
    that kind (tool or cluster) and its cluster as its latest cluster line (not busy without
    one); a per-node restart finds unhealthy brokers when the latest cluster look failed; NCP's
    pre-check answers SUCCESS; every call succeeds."""

    engine: Engine
    now: float = 0.0
    latest: dict[tuple[str, str], ProbeResult] = field(default_factory=dict)
    cluster: dict[str, ClusterStatus] = field(default_factory=dict)

    def step(self, event: Event) -> list[Output]:
        return self.engine.handle(event, self.now)

    def check_first(self, c: CheckFirst) -> PreflightResult:
        status = self.cluster.get(c.target)
        looked = self.latest.get((c.target, "cluster"))
        sick = looked is not None and not looked.ok and not looked.inconclusive
        return PreflightResult(
            rule=c.rule,
            target=c.target,
            token=c.token,
            at=self.now,
            probe=self.latest.get((c.target, c.check)) if c.probe else None,
            cluster_busy=status.busy if status else False,
            cluster_detail=status.detail if status else "",
            nodes=(0,) if sick else (),
            nodes_detail=f"unhealthy brokers: {looked.reason}" if sick and looked else "",
            precheck_ok=True,
            precheck_message="SUCCESS",
        )

    def act(self, a: Act) -> ActionOutcome:
        return ActionOutcome(a.rule, a.target, a.action, "success", self.now)


def _synthesized(engine: Engine, entries: list[tuple[Entry, float]]) -> list[Output]:
    world = _Synthesized(engine)
    runner = Runner(world.step, check_first=world.check_first, act=world.act)
    out: list[Output] = []
    last: float | None = None
    for event, now in entries:
        if last is not None:
            for at in _deadlines(engine, last, now):
                world.now = at
                out.extend(runner.feed(Tick(at)))
        last = world.now = now
        if isinstance(event, ClusterStatus):
            world.cluster[event.target] = event
            continue
        if isinstance(event, ProbeResult):
            world.latest[(event.target, event.check)] = event
        out.extend(runner.feed(event))
    return out


def _deadlines(engine: Engine, after: float, before: float) -> list[float]:
    """Verification deadlines strictly between two lines' times, in order."""
    flights = (ts.in_flight for ts in engine.targets.values())
    times = {f.deadline for f in flights if f is not None and f.phase == "verifying"}
    return sorted(t for t in times if after < t < before)


# -- printing -------------------------------------------------------------------------------


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def format_output(now: float, output: Output, start: float, *, verbose: bool = False) -> str | None:  # noqa: PLR0912 - one arm per output type: an exhaustive match
    """One line for `output` at `now` (`start`: the first event's time); None for a hidden one."""
    who = f"{output.rule} on {output.target}"
    match output:
        case Decision():
            text = f"{who}: {output.outcome} ({output.reason}): {output.detail}"
            if output.blast_radius and output.outcome != "suppressed":
                text += f" [blast radius {output.blast_radius}]"
        case Act():
            text = (
                f"  → {output.action} on {output.target} (cluster {output.cluster_no}; "
                f"blast radius {output.blast_radius})"
            )
            if output.nodes:
                text += f", nodes {', '.join(map(str, output.nodes))}"
            if output.fallback_of:
                text += f", fallback: {output.fallback_of} is not available"
        case Remediated():
            text = f"{who}: {output.outcome} after {output.action}: {output.detail}"
        case Escalated():
            text = (
                f"{who}: {output.action} did not recover it ({output.detail}); "
                f"next step {output.next_action}"
            )
        case BreakerChanged():
            text = f"{who}: breaker {'opened' if output.open else 'closed'}: {output.detail}"
        case ApprovalRequested():
            text = (
                f"  ? approval {output.id} asked for {output.action} on {output.target} (blast "
                f"radius {output.blast_radius}), until {rfc3339(output.expires_at)}"
            )
        case ApprovalSettled():
            by = f" by {output.by}" if output.by else ""
            text = f"{who}: approval {output.id} {output.resolution}{by}: {output.reason}"
        case CheckFirst():
            if not verbose:
                return None
            looks = "a fresh probe and the cluster status" if output.probe else "the cluster status"
            text = f"{who}: check first ({output.trigger} trigger, token {output.token}): {looks}"
        case _:
            assert_never(output)
    return f"{rfc3339(now)} {'+' + _seconds(now - start) + 's':>9}  {text}"


def output_kind(output: Output) -> str:
    """The `type` of `output` in `explain --json`."""
    match output:
        case Decision():
            return "decision"
        case CheckFirst():
            return "check_first"
        case Act():
            return "act"
        case Remediated():
            return "remediated"
        case Escalated():
            return "escalated"
        case BreakerChanged():
            return "breaker"
        case ApprovalRequested():
            return "approval_requested"
        case ApprovalSettled():
            return "approval_settled"
        case _:
            assert_never(output)


def output_to_json(now: float, output: Output, start: float) -> str:
    """`output` as one JSON object with its time, for `explain --json`."""
    body: dict[str, Any] = {
        "time": rfc3339(now),
        "offset": now - start,
        "type": output_kind(output),
    }
    body.update((f.name, getattr(output, f.name)) for f in fields(output))
    if isinstance(output, Decision | Act | ApprovalRequested):
        body["blast_radius"] = output.blast_radius
    return json.dumps(body)


def summarize(events: int, mode: Mode, outputs: Sequence[Output]) -> str:
    """The closing line: how many events, decisions by outcome and reason, and their results."""
    decided = [o for o in outputs if isinstance(o, Decision)]
    outcomes = Counter(d.outcome for d in decided)
    reasons = Counter(d.reason for d in decided if d.outcome == "suppressed")
    ordered = sorted(reasons, key=lambda r: (*SUPPRESSION_REASONS, r).index(r))
    parts = [f"{outcomes['acted']} acted", f"{outcomes['suppressed']} suppressed"]
    if reasons:
        parts[-1] += f" ({', '.join(f'{reasons[r]} {r}' for r in ordered)})"
    if outcomes["shadow"]:
        parts.append(f"{outcomes['shadow']} shadow")
    if outcomes["awaiting_approval"]:
        parts.append(f"{outcomes['awaiting_approval']} awaiting approval")
    acts = sum(1 for o in outputs if isinstance(o, Act))
    ends = Counter(o.outcome for o in outputs if isinstance(o, Remediated))
    opened = sum(1 for o in outputs if isinstance(o, BreakerChanged) and o.open)
    how = "recorded answers" if mode == "strict" else "answers synthesized"
    return (
        f"{_n(events, 'event')} ({how}), {_n(len(decided), 'decision')}: {', '.join(parts)}; "
        f"{_n(acts, 'action')} sent; {ends['recovered']} recovered, "
        f"{ends['not_recovered']} not recovered; {_n(opened, 'breaker')} opened"
    )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# -- the command ----------------------------------------------------------------------------


def main(  # noqa: PLR0912 - each way the replay can end, with its exit code
    config_path: str | Path, events_path: str | Path, verbose: bool = False, as_json: bool = False
) -> int:
    """`remediator explain`: replay `events_path` through the rules of `config_path`; exit code."""
    try:
        policy = load_config(Path(config_path)).policy()
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"remediator: cannot read the configuration {config_path}: {exc}", file=sys.stderr)
        return 2
    try:
        lines = read_events(events_path)
    except EventsError as exc:
        print(exc, file=sys.stderr)
        return 2
    except OSError as exc:
        why = exc.strerror or str(exc)
        print(f"remediator: cannot read the events {events_path}: {why}", file=sys.stderr)
        return 2
    known = {t.name for t in policy.targets}
    unknown: dict[str, list[int]] = {}  # target -> the lines that name it
    named = 0
    for number, entry, _ in lines:
        target = getattr(entry, "target", None)
        if target is None:
            continue
        named += 1
        if target not in known:
            unknown.setdefault(target, []).append(number)
    for target, numbers in unknown.items():
        print(
            f"{events_path}:{numbers[0]}: warning: no target {target!r} is configured in "
            f"{config_path} ({_n(len(numbers), 'event')} name it; they decide nothing)",
            file=sys.stderr,
        )
    if named and sum(len(n) for n in unknown.values()) == named:
        print(
            f"remediator explain: no event names a target of {config_path}: is it the "
            "configuration these events were recorded with?",
            file=sys.stderr,
        )
        return 2
    entries = [(entry, now) for _, entry, now in lines]
    mode = mode_of(entries)
    notes: list[tuple[int, str]] = []
    outputs = replay(policy, entries, mode=mode, notes=notes)
    for index, note in notes:
        print(f"{events_path}:{lines[index][0]}: note: {note}", file=sys.stderr)
    start = entries[0][1] if entries else 0.0
    for o in outputs:
        if as_json and (verbose or not isinstance(o, CheckFirst)):
            print(output_to_json(o.at, o, start))
        elif not as_json and (text := format_output(o.at, o, start, verbose=verbose)):
            print(text)
    summary = summarize(len(entries), mode, outputs)
    if as_json:
        summary = json.dumps(
            {"type": "summary", "events": len(entries), "mode": mode, "text": summary}
        )
    print(summary)
    return 0


def explain(args: argparse.Namespace) -> int:
    """The `explain` subcommand's handler."""
    return main(args.config, args.events, verbose=args.verbose, as_json=args.json)


def add_parser(sub: Subparsers) -> None:
    """The `explain` subcommand."""
    p = sub.add_parser(
        "explain",
        help="replay recorded probe results and alerts through the rules, and say why",
        description="Replay events through the same engine as the daemon, with their times, and "
        "print each decision and its reason. A recording from `remediator run "
        "--record-events` replays exactly (the recorded fresh looks and call outcomes answer "
        "the engine); a hand-written file of probe results and alerts is answered as if every "
        "look found the target as its last probe and every call succeeded.",
    )
    add_config_argument(p)
    p.add_argument("--events", required=True, type=Path, metavar="FILE.jsonl")
    p.add_argument("--verbose", action="store_true", help="also show each look before acting")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=explain)
