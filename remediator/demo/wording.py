"""The narration's words for what the daemon decides and sends, and what the gateway answers.

Pure functions from the core's values and the sandbox's records to a line and its indented
continuation lines; the blast radius is said before any action is sent.
"""

from __future__ import annotations

from remediator.core.decisions import (
    Act,
    BreakerChanged,
    CheckFirst,
    Decision,
    Escalated,
    Remediated,
)
from remediator.core.events import ActionOutcome, PreflightResult
from remediator.core.rules import REMEDIES, BlastRadius, Evidence, Remedy, Rule
from remediator.ncp.client import ACTIONS as OPERATIONS
from remediator.sandbox import RecordedCall

Lines = tuple[str, list[str]]  # a line, and its continuation lines
LABELS = 15  # the width of the column of labels (`evidence:`, `guards passed:`)

LOOKS: dict[Evidence, str] = {"tool": "probes", "cluster": "cluster status reads"}
# What a rule's max_blast_radius promises, in words.
LIMIT: dict[BlastRadius, str] = {
    "tool": "no broker ever restarts for it",
    "node": "never more than the brokers that are not green",
    "rolling": "never every broker at once",
    "cluster": "up to every broker and ZooKeeper at once",
}
_GUARDS = "; guards passed: "


def step_of(rule: Rule, step: int) -> str:
    """`, step 1 of 2` for a ladder; nothing for a single action."""
    return f", step {step + 1} of {len(rule.steps)}" if len(rule.steps) > 1 else ""


def trip(c: CheckFirst, rule: Rule, tool: str) -> str:
    """A rule tripped (or a ladder's next step is due): what it looks at before acting."""
    looks = ["the cluster's status (getClusterStatus)"]
    if c.probe and c.check == "tool":
        looks.insert(0, f"a fresh probe of its {tool}")
    if c.action == "restart_kafka_node":
        looks.append(
            "the node list (getClusterNodeList), to find the computeInstanceNo of each broker "
            "that is not green"
        )
    elif c.action == "rolling_restart":
        looks.append("NCP's pre-check (rollingRestartPreCheck)")
    head = "TRIPPED" if c.step == 0 else "NEXT STEP"
    return (
        f"{head}: rule {c.rule} on {c.target} ({c.action}{step_of(rule, c.step)}). Before "
        f"acting it looks again: {' and '.join(looks)}"
    )


def preflight(p: PreflightResult) -> str:
    """What the look before acting found."""
    found: list[str] = []
    if p.probe is not None:
        what = "fresh probe" if p.probe.check == "tool" else "fresh cluster status"
        if p.probe.inconclusive:
            found.append(f"{what} inconclusive ({p.probe.reason})")
        else:
            found.append(f"{what} " + ("ok" if p.probe.ok else f"failed ({p.probe.reason})"))
    word = {True: "changing", False: "not changing", None: "unknown"}[p.cluster_busy]
    found.append(f"cluster {word}" + (f" ({p.cluster_detail})" if p.cluster_detail else ""))
    if p.nodes is not None or p.nodes_detail:
        found.append(f"joined by hostname with the node list: {p.nodes_detail}")
    if p.precheck_ok is not None or p.precheck_message:
        found.append(f"rollingRestartPreCheck: {p.precheck_message or p.precheck_ok}")
    return f"looked again before acting on {p.target}: " + "; ".join(found)


def acted(d: Decision, rule: Rule, step: int, nodes: str) -> Lines:
    """The decision to act: the blast radius first, then the evidence and each guard passed."""
    more = _labelled("blast radius:", [blast_radius(d.action, rule, nodes)])
    evidence, _, guards = _evidence(d).partition(_GUARDS)
    more += _labelled("evidence:", split(evidence))
    if guards:
        more += _labelled("guards passed:", split(guards))
    return f"DECISION: act - {d.action} on {d.target} (rule {d.rule}{step_of(rule, step)})", more


def remedy(action: str) -> Remedy:
    """What the action named `action` does; KeyError for a name that is no action."""
    for name, found in REMEDIES.items():
        if name == action:
            return found
    raise KeyError(action)


def blast_radius(action: str, rule: Rule, nodes: str = "") -> str:
    """How far `action` reaches (`node - Kafka restarts on ...`), and how far `rule` may go."""
    what = remedy(action)
    if action == "restart_kafka_node" and nodes:
        reach = (
            f"Kafka restarts on {nodes} only; every other broker, ZooKeeper and the tool stay up"
        )
    else:
        reach = what.effect + (f" ({what.caveat})" if what.caveat else "")
    limit = rule.max_blast_radius
    return f"{what.blast_radius} - {reach}. The rule's max_blast_radius is {limit}: {LIMIT[limit]}"


def _evidence(d: Decision) -> str:
    """The decision's detail without its leading `action (radius): effect [nodes]: `."""
    effect = remedy(d.action).effect
    at = d.detail.find(effect)
    if at < 0:
        return d.detail
    rest = d.detail[at + len(effect) :]
    if rest.startswith(" ["):
        rest = rest[rest.find("]") + 1 :]
    return rest.removeprefix(": ")


def split(text: str, sep: str = "; ") -> list[str]:
    """`text` split at each `sep` outside parentheses (a cluster's words keep theirs)."""
    items: list[str] = []
    depth = start = i = 0
    while i < len(text):
        if text[i] in "([":
            depth += 1
        elif text[i] in ")]":
            depth = max(0, depth - 1)
        elif depth == 0 and text.startswith(sep, i):
            items.append(text[start:i])
            start = i = i + len(sep)
            continue
        i += 1
    return [*items, text[start:]]


def _labelled(label: str, items: list[str]) -> list[str]:
    return [f"{label if i == 0 else '':<{LABELS}}{item}" for i, item in enumerate(items)]


def held(d: Decision) -> str:
    """A suppressed (or shadow) decision, with its reason."""
    tail = " - no call is sent" if d.outcome == "suppressed" else ""
    return f"DECISION: {d.action} on {d.target} {d.outcome} ({d.reason}): {d.detail}{tail}"


def act(a: Act) -> str:
    """The daemon is about to send an action."""
    operation = OPERATIONS.get(a.action, a.action)
    if a.fallback_of is not None:
        return (
            f"FALLBACK: {a.fallback_of} does not exist any more; the rule's fallback_action is "
            f"{a.action} (blast radius {a.blast_radius}): sending {operation}"
        )
    nodes = f" with computeInstanceNoList {list(a.nodes)}" if a.nodes else ""
    return (
        f"daemon: intent recorded in the ledger; sending {operation}{nodes} for cluster "
        f"{a.cluster_no} (blast radius {a.blast_radius}), signed"
    )


def outcome(o: ActionOutcome, rule: Rule | None) -> Lines:
    """What came of a signed action, as the daemon tells it."""
    if o.result in ("success", "unknown") and rule is not None:
        v = rule.verify
        how = "accepted by CDSS" if o.result == "success" else "outcome unknown (reconciled)"
        looks = LOOKS[rule.evidence]
        return (
            f"daemon: {o.action} {how}. Verifying: after a {v.grace:g}s grace, {v.successes} "
            f"healthy {looks} in a row within {v.timeout:g}s",
            [],
        )
    if o.result == "not_available":
        return f"daemon: {o.action} is not available. Its error says:", [o.detail]
    return f"daemon: {o.action} failed: {o.detail}", []


def remediated(r: Remediated, told: str = "") -> str:
    """The verified end of a remediation; an error `told` just before is not said twice."""
    word = "RECOVERED" if r.outcome == "recovered" else "NOT RECOVERED"
    detail = r.detail
    if told and detail.endswith(told):
        detail = detail.removesuffix(told).rstrip(": ") + " (its error is above)"
    return f"{word}: {r.target} (rule {r.rule}): {detail}"


def escalated(e: Escalated) -> str:
    """A ladder step did not recover its target: the next one is looked at."""
    return (
        f"ESCALATING: {e.action} did not recover {e.target} ({e.detail}); the ladder's next "
        f"step is {e.next_action} (blast radius {remedy(e.next_action).blast_radius})"
    )


def breaker(b: BreakerChanged) -> str:
    """A breaker opened or closed."""
    return f"breaker {'OPEN' if b.open else 'closed'}: {b.rule} on {b.target}: {b.detail}"


def call(c: RecordedCall, note: str | None) -> Lines:
    """One gateway call as received and answered; `note` says why a read is shown."""
    check = "signature v2 verified" if c.verified else f"signature REJECTED ({c.reason})"
    if c.http_status is None:
        answer = f"no answer ({c.reason})"
    elif c.http_status == 200:
        answer = f"HTTP 200, code {c.code}"
        if c.applied:
            answer += ": applied"
        if c.reason:
            answer += f": {c.reason}"
    else:
        answer = f"HTTP {c.http_status}, errorCode {c.error_code}"
        answer += f": {c.reason}" if c.reason else ""
    more = [f"gateway: {check} -> {answer}"]
    if note:
        more.insert(0, note)
    body = f" {c.body}" if c.body and c.method == "POST" else ""
    return f"CDSS <- {c.method} {c.target}{body}", more
