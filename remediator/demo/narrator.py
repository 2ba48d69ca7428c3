"""The demo's narration: what the daemon, the simulated gateway and the clusters do, as lines,
told from one thread in the order it happened.

Listeners on the daemon's driver (each event fed to the engine, then each output it produced)
and on the sandbox's gateway (each call, recorded before it is answered) only stamp what they
hear and queue it; the scenario queues its own lines and its faults the same way. One thread
takes the queue in order, looks at the clusters when idle and before each event (see
`clusters`), prints, and marks the `Milestones` the scenario waits for. So a cause is always
told before its effects, whichever thread heard them.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import assert_never

from remediator.core.decisions import (
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
from remediator.demo import wording
from remediator.demo.clusters import ClusterWatcher
from remediator.demo.looks import Looks
from remediator.demo.milestones import Milestones
from remediator.demo.printer import Printer
from remediator.ncp.client import ACTIONS as OPERATIONS
from remediator.sandbox import RecordedCall

log = logging.getLogger("remediator.demo")

IDLE = 0.05  # how often the clusters are looked at while nothing else happens
_ACTION_OPERATIONS = frozenset(OPERATIONS.values())


@dataclass(frozen=True)
class _Heard:
    """An event fed to the engine."""

    event: Event


@dataclass(frozen=True)
class _Decided:
    """An output of the engine."""

    out: Output


@dataclass(frozen=True)
class _Called:
    """A call the gateway recorded."""

    call: RecordedCall


@dataclass(frozen=True)
class _Said:
    """A line of the scenario's (stamped), or text as it is."""

    text: str
    more: tuple[str, ...] = ()
    stamped: bool = True


@dataclass(frozen=True)
class _Done:
    """Work for the narration thread (a fault injected, the end of a drain), and its mark."""

    work: Callable[[], object]
    mark: str = ""


_Item = _Heard | _Decided | _Called | _Said | _Done


class Narrator:
    """Tells the story from one thread; `marks` records each step for the scenario."""

    def __init__(self, printer: Printer, policy: Policy, clusters: ClusterWatcher) -> None:
        self.p = printer
        self.marks = Milestones()
        self.rules = {r.name: r for r in policy.rules}
        self.calls: list[RecordedCall] = []
        self.decisions: list[Decision] = []
        self.looks = Looks(policy)
        self._clusters = clusters
        self._cluster_nos = {t.name: t.cluster_no for t in policy.targets}
        self._tools: dict[str, str] = {}
        self._looking: dict[str, set[str]] = {}  # cluster -> reads told in its look before acting
        self._nodes: dict[str, str] = {}  # target -> the nodes its last look found to restart
        self._errors: dict[str, str] = {}  # target -> the error its last action was told with
        self._first_read = True
        self._queue: queue.SimpleQueue[tuple[float, _Item | None]] = queue.SimpleQueue()
        self._stamp = threading.Lock()  # stamps in queue order
        self._thread = threading.Thread(target=self._run, name="demo-narrator", daemon=True)

    def tool_of(self, target: str, tool: str) -> None:
        """Name the manager tool of `target` (`CMAK`, `Kafka-UI`) in what is told of it."""
        self._tools[target] = tool

    # -- what is heard, from any thread --------------------------------------------------

    def on_event(self, event: Event) -> None:
        """A `Driver.event_listeners` listener."""
        self._put(_Heard(event))

    def on_output(self, out: Output) -> None:
        """A `Driver.listeners` listener."""
        self._put(_Decided(out))

    def on_call(self, call: RecordedCall) -> None:
        """A `Sandbox.subscribe` listener."""
        self._put(_Called(call))

    def say(self, text: str, more: Sequence[str] = ()) -> None:
        """A stamped line of the scenario's, told in turn."""
        self._put(_Said(text, tuple(more)))

    def write(self, text: str = "") -> None:
        """Text as it is, told in turn."""
        self._put(_Said(text, stamped=False))

    def do(self, text: str, work: Callable[[], object], mark: str) -> None:
        """Say `text`, then do `work` (a fault) from the narration thread and reach `mark`: what
        it causes is told after the line that announces it."""
        self.say(text)
        self._put(_Done(work, mark))

    def drain(self, timeout: float) -> bool:
        """Wait until everything queued so far is told; False if that took over `timeout`."""
        done = threading.Event()
        self._put(_Done(done.set))  # the clusters are looked at before it is set
        return done.wait(timeout)

    def _put(self, item: _Item | None) -> None:
        with self._stamp:
            self._queue.put((self.p.elapsed(), item))

    # -- the narration thread ------------------------------------------------------------

    def start(self) -> None:
        """Start telling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop telling (what is still queued is dropped unheard)."""
        self._put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            try:
                at, item = self._queue.get(timeout=IDLE)
            except queue.Empty:
                self._guarded(self.p.elapsed(), None)
                continue
            if item is None:
                return
            self._guarded(at, item)

    def _guarded(self, at: float, item: _Item | None) -> None:
        """Tell `item` (None: only look at the clusters); a bug must not end the story silently."""
        try:
            if item is None or isinstance(item, _Heard):
                self._look_at_clusters(at)
            if item is not None:
                self._tell(at, item)
        except Exception:
            log.exception("the demo's narrator failed on %r", item)
            what = "a look at the clusters" if item is None else type(item).__name__
            self.p.say(f"(the narrator failed on {what}; see the daemon's log)", at=at)

    def _tell(self, at: float, item: _Item) -> None:
        match item:
            case _Heard(event):
                self._event(at, event)
            case _Decided(out):
                self._output(at, out)
            case _Called(call):
                self._call(at, call)
            case _Said(text, more, stamped):
                if stamped:
                    self.p.say(text, more, at=at)
                else:
                    self.p.write(text)
            case _Done(work, mark):
                if mark:
                    self.marks.reach(at, mark)
                self._look_at_clusters(at)  # before the fault, and so right after it
                work()
                self._look_at_clusters(at)
            case _:
                assert_never(item)

    def _look_at_clusters(self, at: float) -> None:
        for change in self._clusters.changes():
            self.p.say(change.text, at=at)
            names = [f"cluster:{change.cluster_no}:{change.status}"]
            names += [f"node:{host}:{colour}" for host, colour in change.brokers]
            self.marks.reach(at, *names)

    # -- the daemon: events fed to the engine --------------------------------------------

    def _event(self, at: float, event: Event) -> None:
        match event:
            case ProbeResult():
                line = self.looks.look(event)
                if line is not None:
                    self.p.say(line, at=at)
                verdict = "inconclusive" if event.inconclusive else "ok" if event.ok else "failed"
                self.marks.reach(at, f"look:{event.target}:{event.check}:{verdict}")
            case PreflightResult():
                self._looking.pop(self._cluster_nos.get(event.target, ""), None)
                if event.nodes:
                    self._nodes[event.target] = event.nodes_detail.removeprefix(
                        "unhealthy brokers: "
                    )
                self.p.say(wording.preflight(event), at=at)
                self.marks.reach(at, f"preflight:{event.target}")
            case ActionOutcome():
                self.looks.outcome(event)
                self._errors[event.target] = event.detail
                text, more = wording.outcome(event, self.rules.get(event.rule))
                self.p.say(text, more, at=at)
                self.marks.reach(at, f"outcome:{event.action}:{event.result}")
            case AlertEvent() | Tick() | Pause() | Resume() | ManualRestart() | ApprovalAnswer():
                pass  # the demo sends no alerts, pauses, manual restarts or approvals
            case _:
                assert_never(event)

    # -- the daemon: outputs of the engine -----------------------------------------------

    def _output(self, at: float, out: Output) -> None:
        match out:
            case CheckFirst():
                self._looking[out.cluster_no] = set()
                tool = self._tools.get(out.target, "manager tool")
                self.p.say(wording.trip(out, self.rules[out.rule], tool), at=at)
                self.marks.reach(at, f"trip:{out.target}:{out.rule}")
            case Decision():
                self._decision(at, out)
            case Act():
                self.p.say(wording.act(out), at=at)
                self.marks.reach(at, f"act:{out.target}:{out.action}")
            case Remediated():
                self.looks.remediated(out)
                told = self._errors.pop(out.target, "")
                self.p.say(wording.remediated(out, told), at=at)
                self.marks.reach(at, f"remediated:{out.target}:{out.rule}:{out.outcome}")
            case Escalated():
                self.looks.escalated(out)
                self.p.say(wording.escalated(out), at=at)
                self.marks.reach(at, f"escalated:{out.target}:{out.rule}")
            case BreakerChanged():
                self.p.say(wording.breaker(out), at=at)
                self.marks.reach(at, f"breaker:{out.target}:{'open' if out.open else 'closed'}")
            case ApprovalRequested() | ApprovalSettled():
                pass  # the demo's rules do not ask a human first
            case _:
                assert_never(out)

    def _decision(self, at: float, d: Decision) -> None:
        self.decisions.append(d)
        rule = self.rules[d.rule]
        if d.outcome == "acted":
            self.looks.acted(d, rule)
            step = next((i for i, a in enumerate(rule.steps) if a == d.action), 0)
            nodes = self._nodes.pop(d.target, "")
            text, more = wording.acted(d, rule, step, nodes)
            self.p.say(text, more, at=at, hang=wording.LABELS)
            self.marks.reach(at, f"acted:{d.target}:{d.rule}")
            return
        if d.outcome == "shadow":
            self.looks.acted(d, rule)
        self.p.say(wording.held(d), at=at)
        self.marks.reach(at, f"{d.outcome}:{d.target}:{d.rule}:{d.reason}", f"held:{d.target}")

    # -- the simulated gateway -----------------------------------------------------------

    def _call(self, at: float, c: RecordedCall) -> None:
        self.calls.append(c)
        self._clusters.told(c)
        note = self._why_shown(c)
        if note is not None:
            text, more = wording.call(c, note or None)
            if c.verified and self._first_read:
                self._first_read = False
                more.append(
                    "(every call is signed: x-ncp-apigw-signature-v2 = HMAC-SHA256 of method, "
                    "path, timestamp and access key; the simulated gateway recomputes it and "
                    "checks that the timestamp is within 5 minutes of its clock, as NCP's does)"
                )
            self.p.say(text, more, at=at)
        self.marks.reach(at, f"call:{c.operation}")

    def _why_shown(self, c: RecordedCall) -> str | None:
        """Why a call is told ("" for no note), or None when it is routine and not told."""
        if c.operation in _ACTION_OPERATIONS:
            return ""
        trouble = not c.verified or c.http_status != 200 or c.code != 0
        told = self._looking.get(c.cluster_no or "")
        if told is not None and c.operation is not None and c.operation not in told:
            told.add(c.operation)
            return ""
        if trouble:
            return "(a read that went wrong)"
        if self._first_read:
            return (
                "(the first signed read: the daemon reads each cluster's status every second "
                "(cluster_health) and checks its action path; routine reads are not shown)"
            )
        return None
