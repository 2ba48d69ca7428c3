"""The demo's narration: what the daemon, the simulated gateway and the clusters do, as lines.

The `Narrator` listens to the daemon's driver (each event fed to the engine and each output it
produced), to the sandbox's gateway (each call as received and answered) and to a poll of the
clusters, prints one readable line (or a few) for each thing worth telling, and marks
`Milestones` that the scenario waits on.
"""

from __future__ import annotations

import textwrap
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TextIO

from remediator.clock import Clock
from remediator.core.decisions import Act, BreakerChanged, CheckFirst, Decision, Output, Remediated
from remediator.core.events import ActionOutcome, Event, PreflightResult, ProbeResult
from remediator.core.rules import Guardrails, Policy, ProbeTrigger, Rule
from remediator.ncp.client import ACTIONS
from remediator.sandbox import ClusterSnapshot, RecordedCall

WIDTH = 100
INDENT = " " * 11  # under the text of a "[ 12.3s] " line, and two more


class Printer:
    """Writes lines stamped with the seconds since the demo started; thread-safe."""

    def __init__(self, out: TextIO, clock: Clock) -> None:
        self._out = out
        self._clock = clock
        self._start = clock.monotonic()
        self._lock = threading.Lock()
        self.muted = False

    def elapsed(self) -> float:
        """Seconds since the demo started."""
        return self._clock.monotonic() - self._start

    def say(self, text: str, more: Sequence[str] = ()) -> None:
        """One stamped line, wrapped, and indented continuation lines."""
        stamp = f"[{self.elapsed():5.1f}s] "
        lines = _wrap(text, stamp, INDENT)
        for extra in more:
            lines += _wrap(extra, INDENT, INDENT)
        self.write("\n".join(lines))

    def write(self, text: str = "") -> None:
        """Text as it is (unless muted)."""
        with self._lock:
            if not self.muted:
                print(text, file=self._out, flush=True)


def _wrap(text: str, first: str, rest: str) -> list[str]:
    # paths and URLs stay whole: no breaks on their hyphens, and long ones run over
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_on_hyphens=False,
        break_long_words=False,
    )


class Milestones:
    """Named things that happened, with when; the scenario waits for them."""

    def __init__(self, elapsed: Callable[[], float]) -> None:
        self._elapsed = elapsed
        self._cond = threading.Condition()
        self._times: dict[str, list[float]] = {}

    def reach(self, *names: str) -> None:
        """Mark each of `names` as having happened (once more) now."""
        with self._cond:
            for name in names:
                self._times.setdefault(name, []).append(self._elapsed())
            self._cond.notify_all()

    def counts(self) -> dict[str, int]:
        """How many times each milestone happened so far."""
        with self._cond:
            return {name: len(times) for name, times in self._times.items()}

    def at(self, name: str, since: Mapping[str, int]) -> float | None:
        """When `name` first happened after the `since` counts, if it did."""
        with self._cond:
            times = self._times.get(name, [])
            n = since.get(name, 0)
            return times[n] if len(times) > n else None

    def wait_any(
        self, names: Sequence[str], timeout: float, since: Mapping[str, int]
    ) -> str | None:
        """The first of `names` to happen after the `since` counts, or None after `timeout`."""

        def hit() -> str | None:
            return next((n for n in names if len(self._times.get(n, ())) > since.get(n, 0)), None)

        with self._cond:
            return self._cond.wait_for(hit, max(0.0, timeout))


@dataclass
class _Watch:
    """What the narrator follows of one target, mirroring the engine's view of it."""

    rule: Rule | None  # the target's probe rule
    window: deque[bool] = field(default_factory=deque)
    phase: Literal["acting", "verifying"] | None = None
    grace_until: float = 0.0
    successes: int = 0
    last_ok: bool | None = None
    probes: int = 0


class Narrator:
    """Listeners that tell the story; `marks` records each step for the scenario."""

    def __init__(self, printer: Printer, policy: Policy) -> None:
        self.p = printer
        self.marks = Milestones(printer.elapsed)
        self.rules = {r.name: r for r in policy.rules}
        self.guardrails = policy.guardrails
        self.decisions: list[Decision] = []
        self.calls: list[RecordedCall] = []
        self._watch: dict[str, _Watch] = {}
        for t in policy.targets:
            probe_rules = [
                r for r in policy.rules_for(t.name) if isinstance(r.trigger, ProbeTrigger)
            ]
            w = _Watch(rule=probe_rules[0] if probe_rules else None)
            if w.rule is not None and isinstance(w.rule.trigger, ProbeTrigger):
                w.window = deque(maxlen=w.rule.trigger.of)
            self._watch[t.name] = w
        self._explained_signing = False
        self._cluster_nos = {t.name: t.cluster_no for t in policy.targets}
        self._looking: set[str] = set()  # clusters whose status is read before an action
        # Listeners are called from the scheduler's, the executor's and the sandbox's threads.
        self._lock = threading.RLock()

    def probes(self, target: str) -> int:
        """How many scheduled probes of `target` the narrator heard."""
        return self._watch[target].probes

    # -- the daemon: events fed to the engine --------------------------------------------

    def on_event(self, event: Event) -> None:
        """A `Driver.event_listeners` listener."""
        with self._lock:
            if isinstance(event, ProbeResult):
                self._probe(event)
            elif isinstance(event, PreflightResult):
                self._preflight(event)
            elif isinstance(event, ActionOutcome):
                self._outcome(event)

    def _probe(self, r: ProbeResult) -> None:
        w = self._watch.get(r.target)
        if w is None:
            return
        w.probes += 1
        note: str | None = None
        if w.phase == "acting":
            note = "a restart is being sent; not counted"
        elif w.phase == "verifying" and w.rule is not None:
            if r.at < w.grace_until:
                note = f"verifying: inside the {w.rule.verify.grace:g}s grace, not counted"
            elif r.ok:
                w.successes += 1
                note = f"verifying: healthy {w.successes} of {w.rule.verify.successes}"
            else:
                w.successes = 0
                note = "verifying: still down, the count of healthy probes starts over"
        elif not r.ok:
            w.window.append(False)
            note = "failed"
            if w.rule is not None and isinstance(w.rule.trigger, ProbeTrigger):
                failures = sum(1 for ok in w.window if not ok)
                note = (
                    f"{failures} of the last {w.rule.trigger.of} probes failed; "
                    f"{w.rule.name} trips at {w.rule.trigger.failures}"
                )
        else:
            w.window.append(True)
            if w.last_ok is not True:
                note = "healthy"
        if note is not None:
            self.p.say(f"probe {r.target}: {r.reason} ({note})")
        w.last_ok = r.ok
        self.marks.reach(f"probe:{r.target}:{'ok' if r.ok else 'failed'}")

    def _preflight(self, p: PreflightResult) -> None:
        self._looking.discard(self._cluster_nos.get(p.target, ""))
        if p.probe is None:
            fresh = "no fresh probe"
        else:
            fresh = "fresh probe " + ("ok" if p.probe.ok else f"failed ({p.probe.reason})")
        word = {True: "changing", False: "not changing", None: "unknown"}[p.cluster_busy]
        cluster = f"cluster {word}" + (f" ({p.cluster_detail})" if p.cluster_detail else "")
        self.p.say(f"looked again before acting on {p.target}: {fresh}; {cluster}")
        self.marks.reach(f"preflight:{p.target}")

    def _outcome(self, o: ActionOutcome) -> None:
        w = self._watch.get(o.target)
        rule = self.rules.get(o.rule)
        if o.result in ("success", "unknown") and w is not None and rule is not None:
            w.phase, w.successes = "verifying", 0
            w.grace_until = o.at + rule.verify.grace
            v = rule.verify
            how = "accepted by CDSS" if o.result == "success" else "outcome unknown (reconciled)"
            self.p.say(
                f"daemon: {o.action} {how}. Verifying: after a {v.grace:g}s grace, "
                f"{v.successes} healthy probes within {v.timeout:g}s"
            )
        elif o.result == "not_available":
            self.p.say(f"daemon: {o.action} is not available. Its error says:", [o.detail])
        else:
            if w is not None:
                w.phase = None
            self.p.say(f"daemon: {o.action} failed: {o.detail}")
        self.marks.reach(f"outcome:{o.action}:{o.result}")

    # -- the daemon: outputs of the engine -----------------------------------------------

    def on_output(self, out: Output) -> None:
        """A `Driver.listeners` listener."""
        with self._lock:
            self._output(out)

    def _output(self, out: Output) -> None:
        if isinstance(out, CheckFirst):
            self._looking.add(out.cluster_no)
            looks = "a fresh probe and " if out.probe else ""
            self.p.say(
                f"TRIPPED: rule {out.rule} on {out.target}. Before acting it looks again: "
                f"{looks}the cluster's status (getClusterStatus)"
            )
            self.marks.reach(f"trip:{out.target}")
        elif isinstance(out, Decision):
            self._decision(out)
        elif isinstance(out, Act):
            if out.fallback_of is not None:
                self.p.say(
                    f"FALLBACK: {out.fallback_of} does not exist any more; the rule's "
                    f"fallback_action is {out.action}: sending it"
                )
            else:
                self.p.say(
                    f"daemon: intent recorded in the ledger; sending {out.action} for cluster "
                    f"{out.cluster_no}, signed"
                )
            self.marks.reach(f"act:{out.target}:{out.action}")
        elif isinstance(out, Remediated):
            w = self._watch.get(out.target)
            if w is not None:
                w.phase = None
                w.window.clear()
            word = "RECOVERED" if out.outcome == "recovered" else "NOT RECOVERED"
            self.p.say(f"{word}: {out.target} (rule {out.rule}): {out.detail}")
            self.marks.reach(f"remediated:{out.target}:{out.outcome}")
        elif isinstance(out, BreakerChanged):
            state = "OPEN" if out.open else "closed"
            self.p.say(f"breaker {state}: {out.rule} on {out.target}: {out.detail}")
            self.marks.reach(f"breaker:{out.target}")

    def _decision(self, d: Decision) -> None:
        self.decisions.append(d)
        if d.outcome == "acted":
            w = self._watch.get(d.target)
            if w is not None:
                w.phase = "acting"
                w.window.clear()
            self.p.say(
                f"DECISION: act - {d.action} on {d.target} (rule {d.rule})",
                _acted_reasons(d, self.guardrails),
            )
            self.marks.reach(f"acted:{d.target}")
            return
        self.p.say(
            f"DECISION: {d.action} on {d.target} {d.outcome} ({d.reason}): {d.detail}"
            + (" - no call is sent" if d.outcome == "suppressed" else "")
        )
        self.marks.reach(f"{d.outcome}:{d.target}", f"{d.outcome}:{d.target}:{d.reason}")

    # -- the simulated gateway -----------------------------------------------------------

    def on_call(self, c: RecordedCall) -> None:
        """A `Sandbox.subscribe` listener: one gateway call as the sandbox recorded it."""
        with self._lock:
            self._call(c)

    def _call(self, c: RecordedCall) -> None:
        self.calls.append(c)
        check = "signature v2 verified" if c.verified else f"signature REJECTED ({c.reason})"
        if c.http_status is None:
            answer = f"no answer ({c.reason})"
        elif c.http_status == 200:
            answer = f"HTTP 200, code {c.code}"
            if c.applied:
                answer += ": applied, the cluster restarts"
            if c.reason:
                answer += f": {c.reason}"
        else:
            answer = f"HTTP {c.http_status}, errorCode {c.error_code}"
            answer += f": {c.reason}" if c.reason else ""
        more = [f"gateway: {check} -> {answer}"]
        if c.operation not in ACTIONS.values() and c.cluster_no not in self._looking:
            more.insert(0, "(a routine signed read: the daemon checks that its action path works)")
        if c.verified and not self._explained_signing:
            self._explained_signing = True
            more.append(
                "(every call is signed: x-ncp-apigw-signature-v2 = HMAC-SHA256 of method, path, "
                "timestamp and access key; the simulated gateway recomputes it and checks that "
                "the timestamp is within 5 minutes of its clock, as NCP's does)"
            )
        self.p.say(f"CDSS <- {c.method} {c.target}", more)
        self.marks.reach(f"call:{c.operation}")

    # -- the clusters --------------------------------------------------------------------

    def on_cluster(self, s: ClusterSnapshot) -> None:
        """A cluster's status changed, as CDSS reports it."""
        with self._lock:
            self._cluster(s)

    def _cluster(self, s: ClusterSnapshot) -> None:
        tool = "cmak" if s.tool == "cmak" else "kafka-ui"
        colors = f"broker {s.broker_status}, zookeeper {s.zookeeper_status}"
        colors += f", cmak {s.cmak_status}" if s.cmak_status else ""
        if s.status == "changing":
            what = f"{s.restarting} in progress" if s.restarting else "changing"
            self.p.say(
                f"cluster {s.name} ({s.cluster_no}) is changing: {what} ({colors}); "
                f"its {tool} is offline meanwhile"
            )
        else:
            self.p.say(
                f"cluster {s.name} ({s.cluster_no}) is {s.status} ({colors}); "
                f"{tool} {'healthy' if s.tool_mode == 'ok' else s.tool_mode}"
            )
        self.marks.reach(f"cluster:{s.cluster_no}:{s.status}")


def _acted_reasons(d: Decision, g: Guardrails) -> list[str]:
    """The `acted` decision's detail as lines: the evidence, then each guard it passed."""
    detail = d.detail.removeprefix(f"{d.action}: ")
    evidence, sep, guards = detail.partition("; guards passed: ")
    if not sep:
        return [detail]
    passed = guards.split("; ")
    return _labelled("evidence:", evidence.split("; ")) + _labelled("guards passed:", passed)


def _labelled(label: str, items: list[str]) -> list[str]:
    return [f"{label if i == 0 else '':<15}{item}" for i, item in enumerate(items)]
