"""Taking one step of a rule's ladder: the step's own conditions, the action, and the way on.

A rule's `steps` are tried in order as one remediation (SPEC section 9): a step is taken once
its look before acting passed; a step that cannot be taken (`no_unhealthy_node`,
`precheck_failed`) or that ended `not_recovered` (see `verification.step_failed`) hands over
to the next, whose guards are checked again on a fresh look. An exhausted ladder ends
`not_recovered`, and `verification.finish` opens the breaker.
"""

from __future__ import annotations

from remediator.core.approval import request
from remediator.core.decisions import Act, Output
from remediator.core.events import PreflightResult
from remediator.core.guardrails import Blocked, ladder_guard, passed_summary
from remediator.core.respect import respected
from remediator.core.rules import REMEDIES, Rule
from remediator.core.state import Charge, EngineState, InFlight, RuleState
from remediator.core.trip import Trip, ask_first, decide, rule_state, suppress
from remediator.core.verification import finish
from remediator.timetext import format_duration

# A ladder step held by a passing guard (a pause, the fleet limit, a changing cluster) is looked
# at again this often, until the step's verify timeout.
LOOK_AGAIN = 30.0
# Guards after which a ladder stops at once instead of waiting.
_STOPS_LADDER = frozenset({"budget", "breaker"})


def step_condition(rule: Rule, step: int, p: PreflightResult) -> Blocked | None:
    """What keeps the step's action from being taken at all, from what the look found."""
    action = rule.steps[step]
    if action == "restart_kafka_node" and not p.nodes:
        return "no_unhealthy_node", p.nodes_detail or "no broker node is red, yellow or gray"
    if action == "rolling_restart" and p.precheck_ok is not True:
        if p.precheck_ok is None:
            return (
                "precheck_failed",
                p.precheck_message or "rollingRestartPreCheck was not answered",
            )
        return "precheck_failed", f"rollingRestartPreCheck answered {p.precheck_message!r}"
    return None


def take(  # noqa: PLR0913 - a step's trip and look; the rest by keyword
    state: EngineState,
    trip: Trip,
    p: PreflightResult,
    now: float,
    step: int,
    *,
    approved: bool = False,
) -> list[Output]:
    """Every guard passed for `step`: take it, or hand over when it cannot be taken."""
    held = step_condition(trip.rule, step, p)
    if held is not None:
        return not_taken(state, trip, step, held, now)
    return act(state, trip, p, now, step, approved=approved)


def act(  # noqa: PLR0913 - a step's trip and look; the rest by keyword
    state: EngineState,
    trip: Trip,
    p: PreflightResult,
    now: float,
    step: int,
    *,
    approved: bool = False,
) -> list[Output]:
    """Decide to send `step`'s action (in shadow mode, that it would be; in approve mode, to ask
    a human first, unless `approved`) and say why."""
    rule, target, trigger = trip.rule, trip.target, trip.trigger
    action = rule.steps[step]
    st = rule_state(state, trip)
    ts = state.targets[target]
    flight = ts.in_flight if ts.in_flight is not None and ts.in_flight.rule == rule.name else None
    detected = st.first_failure_at if st.first_failure_at is not None else now
    if flight is not None and flight.detected_at:  # a later step, or one tried again
        detected = flight.detected_at
    why = evidence_text(state, trip, p)
    if trigger != "manual" and flight is None:
        why += f"; guards passed: {passed_summary(state, rule, target, now)}"
    what = f"{action} ({step_words(rule, step)}): {REMEDIES[action].effect}"
    if action == "restart_kafka_node":
        what += f" [{p.nodes_detail or ', '.join(map(str, p.nodes or ()))}]"
    if rule.mode == "approve":
        if not approved:
            return request(state, trip, step, now, what=what, why=why)
        why = f"approved, and checked again: {why}"
    started = flight is None or not flight.sent_any
    charge = Charge(
        at=now,
        started=started,
        prior_action_at=state.last_action_at.get(target),
        prior_sent_any=flight is not None and flight.sent_any,
    )
    st.action_times.append(now)
    if started:
        st.started_times.append(now)
    ep = state.episodes.get(trip.episode) if trip.episode else None
    if ep is not None:
        ep.final = True
    st.reset_trip()
    if rule.mode == "shadow":
        ts.in_flight = None
        return [decide(trip, "shadow", "shadow", f"would {what}: {why}", now, action=action)]
    state.fleet_action_times.append(now)
    state.last_action_at[target] = now
    state.looks_due.pop(target, None)
    ts.in_flight = InFlight(
        rule=rule.name,
        action=action,
        phase="acting",
        decided_at=now,
        trigger=trigger,
        step=step,
        started_at=flight.started_at if flight is not None else now,
        sent_any=True,
        green_needed=action == "rolling_restart",
        charge=charge,
        detected_at=detected,
    )
    return [
        decide(trip, "acted", trigger, f"{what}: {why}", now, action=action),
        Act(
            rule=rule.name,
            target=target,
            cluster_no=state.cluster_no(target),
            action=action,
            trigger=trigger,
            detected_at=detected,
            at=now,
            nodes=tuple(p.nodes or ()) if action == "restart_kafka_node" else (),
            step=step,
        ),
    ]


def not_taken(state: EngineState, trip: Trip, step: int, held: Blocked, now: float) -> list[Output]:
    """`step` cannot be taken: go on to the next step, or end the remediation."""
    rule, target = trip.rule, trip.target
    reason, detail = held
    action = rule.steps[step]
    ts = state.targets[target]
    flight = ts.in_flight if ts.in_flight is not None and ts.in_flight.rule == rule.name else None
    if step + 1 < len(rule.steps):
        nxt = rule.steps[step + 1]
        said = f"{action} not taken: {detail}; next step: {nxt}"
        out: list[Output] = [decide(trip, "suppressed", reason, said, now, action=action)]
        ep = state.episodes.get(trip.episode) if trip.episode else None
        if ep is not None:
            ep.final = True
        if flight is None:
            st = rule_state(state, trip)
            detected = st.first_failure_at if st.first_failure_at is not None else now
            st.reset_trip()
            flight = ts.in_flight = InFlight(
                rule=rule.name,
                action=nxt,
                phase="escalating",
                decided_at=now,
                trigger=trip.trigger,
                started_at=now,
                sent_any=False,
                detected_at=detected,
            )
        escalate(state, flight, rule, now, step + 1)
        state.looks_due.pop(target, None)
        out.append(ask_first(state, Trip(rule, target, trip.trigger), now, step + 1))
        return out
    if flight is not None and flight.sent_any:
        said = f"{action} not taken: {detail}; the ladder is exhausted"
        return [
            decide(trip, "suppressed", reason, said, now, action=action),
            *finish(
                state, target, "not_recovered", f"ladder exhausted: {said}", now, exhausted=True
            ),
        ]
    if flight is not None:
        ts.in_flight = None
    return suppress(state, trip, reason, f"{action} not taken: {detail}", now)


def escalate(state: EngineState, flight: InFlight, rule: Rule, now: float, step: int) -> None:
    """Make `flight` wait for the look before `step` (bounded by the rule's verify timeout)."""
    flight.phase = "escalating"
    flight.step = step
    flight.action = rule.steps[step]
    flight.fallback_used = False
    flight.green_needed = flight.green_seen = False
    flight.successes = 0
    flight.deadline = now + rule.verify.timeout
    flight.look_again_at = now


def next_step_look(  # noqa: PLR0913 - a step's trip and look; the rest by keyword
    state: EngineState,
    rule: Rule,
    flight: InFlight,
    p: PreflightResult,
    now: float,
    *,
    approved: bool = False,
) -> list[Output]:
    """The look before a ladder's next step: recovered meanwhile, wait, stop, or take it
    (`approved`: a human approved the step, and this look was asked for it)."""
    target = p.target
    trip = Trip(rule, target, flight.trigger)
    step, action = flight.step, rule.steps[flight.step]
    st = rule_state(state, trip)
    if p.probe is not None and p.probe.ok and not p.probe.inconclusive:
        if flight.sent_any:
            detail = f"healthy before {action} ({p.probe.reason})"
            return finish(state, target, "recovered", detail, now)
        state.targets[target].in_flight = None
        return suppress(state, trip, "recovered", "healthy again before acting", now)
    held: Blocked | None = None
    if p.cluster_busy:
        held = ("cluster_busy", p.cluster_detail or "cluster status is changing")
    elif p.cluster_busy is None:  # fail closed, as before a first step (see acting)
        held = ("cluster_unknown", p.cluster_detail or "the cluster status could not be read")
    else:
        held = respected(p) or ladder_guard(state, rule, target, now)
    if held is None:
        st.last_reason = None
        return take(state, trip, p, now, step, approved=approved)
    reason, detail = held
    if reason in _STOPS_LADDER or now >= flight.deadline:
        said = f"{action} held back: {detail}; the ladder stops"
        out: list[Output] = [decide(trip, "suppressed", reason, said, now, action=action)]
        if flight.sent_any:
            out += finish(state, target, "not_recovered", f"ladder stopped: {said}", now)
        else:
            state.targets[target].in_flight = None
        return out
    flight.look_again_at = now + LOOK_AGAIN
    state.looks_due[target] = flight.look_again_at
    state.wake(flight.look_again_at)
    repeat = st.last_reason == reason
    st.last_reason = reason
    said = f"{action} waits: {detail}; looking again in {format_duration(LOOK_AGAIN)}"
    return [] if repeat else [decide(trip, "suppressed", reason, said, now, action=action)]


def ask_due_looks(state: EngineState, now: float) -> list[Output]:
    """Ask for the look before each ladder step that is due (after a step failed, a guard held
    one, or a restart found a ladder half-way in the ledger)."""
    out: list[Output] = []
    for target, at in list(state.looks_due.items()):
        if now < at:
            continue
        del state.looks_due[target]
        flight = state.targets[target].in_flight
        if flight is None or flight.phase != "escalating":
            continue
        rule = state.rule(flight.rule, target)
        if rule is None or flight.step >= len(rule.steps):
            continue
        st = state.rule_states[(rule.name, target)]
        if st.pending_token is None:
            out.append(ask_first(state, Trip(rule, target, flight.trigger), now, flight.step))
    return out


def step_words(rule: Rule, step: int) -> str:
    """The step's blast radius, and where it stands in the ladder: `node, step 1 of 2`."""
    radius = REMEDIES[rule.steps[step]].blast_radius
    return radius if len(rule.steps) == 1 else f"{radius}, step {step + 1} of {len(rule.steps)}"


def evidence_text(state: EngineState, trip: Trip, p: PreflightResult) -> str:
    """Why the trip happened, and what the look before acting found."""
    if trip.trigger == "manual":
        why = f"requested by an operator: {state.manual_reasons.get(trip.target, '')}"
    elif trip.trigger == "alert":
        why = "alert firing"
    else:
        why = window_text(rule_state(state, trip), trip.rule.evidence)
    flight = state.targets[trip.target].in_flight
    if flight is not None and flight.rule == trip.rule.name and flight.waited:
        why = f"{trip.rule.name} tripped on {trip.target}; the step waited: {flight.waited}"
    elif flight is not None and flight.rule == trip.rule.name:  # a ladder's later step
        why = f"{trip.rule.name}'s earlier step did not recover {trip.target}"
    if p.probe is not None:
        what = "fresh probe" if p.probe.check == "tool" else "fresh cluster status"
        why += f"; {what} failed ({p.probe.reason})"
    if p.cluster_busy is None and p.cluster_detail:
        why += f"; cluster status unknown ({p.cluster_detail})"
    elif p.cluster_detail:
        why += f"; cluster not changing ({p.cluster_detail})"
    return why


def window_text(st: RuleState, evidence: str = "tool") -> str:
    """The trip's window in words: `3 of the last 3 probes failed` (or cluster status reads)."""
    failures = sum(1 for ok in st.window if not ok)
    looks = "probes" if evidence == "tool" else "cluster status reads"
    return f"{failures} of the last {len(st.window)} {looks} failed"
