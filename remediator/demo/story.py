"""The demo's three acts, played against the sandbox and told by the narrator.

1. A broker goes red: the broker rule trips on the cluster's own status, looks again, and
   restarts Kafka on exactly that node; it turns orange, then green; verified, recovered.
2. The manager tool fails with every broker green: the manager-tool rule trips, its
   restart_cmak is withdrawn by NCP, and the cluster-wide fallback is not allowed by the
   rule's max_blast_radius: no broker restarts.
3. CMAK stays down: the cooldown holds a second try back, until a human repairs it.

Each step waits, with a bound, for what it expects; DemoFailed says what did not happen.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from remediator.clock import Clock
from remediator.core.rules import action_summary
from remediator.demo import bundle, facts, report
from remediator.demo.clusters import ClusterWatcher
from remediator.demo.narrator import Narrator
from remediator.sandbox import RecordedCall, Sandbox
from remediator.sandbox.operations import RESTART_CMAK, RESTART_NODES

STEP = 10.0  # the usual wait for one step
BROKER_RULE = "broker-unhealthy"
CMAK_RULE = "cmak-unhealthy"
RED_BROKER = "orders-broker-002"
ORDERS = "orders"


class DemoFailed(Exception):
    """Something the demo expected did not happen in time (the message says what)."""


class Story:
    """The acts, with the waits between them bounded by one deadline (monotonic seconds)."""

    def __init__(  # noqa: PLR0913 - collaborators, then the bounds by keyword
        self,
        sb: Sandbox,
        n: Narrator,
        watcher: ClusterWatcher,
        clock: Clock,
        *,
        deadline: float,
        node_restart: float,
    ) -> None:
        self.sb, self.n, self.watcher, self.clock = sb, n, watcher, clock
        self.deadline = deadline
        self.node_restart = node_restart

    def play(self) -> report.Facts:
        """A healthy start, then the acts; the facts for the summary."""
        n = self.n
        start = n.marks.counts()
        for target in (ORDERS, "payments"):
            for check in ("tool", "cluster"):
                what = "probe of its manager tool" if check == "tool" else "cluster status read"
                self.expect(
                    [f"look:{target}:{check}:ok"], start, f"a healthy first {what} of {target}"
                )
        n.say(
            "both targets healthy, their manager tools and their clusters; from here on only looks "
            "that tell something are shown"
        )
        self.pause()
        broker = self.broker_act()
        self.pause()
        tool = self.tool_act()
        record = facts.of(self.sb, bundle.ORDERS)
        return report.Facts(
            broker=broker,
            tool=tool,
            brokers=len(record.restarted) + len(record.untouched),
            restarted=len(record.restarted),
            payments_looks=n.looks.count("payments"),
            calls=len(n.calls),
            verified=sum(1 for c in n.calls if c.verified),
        )

    # -- act 1 ---------------------------------------------------------------------------

    def broker_act(self) -> report.BrokerAct:
        """Break one broker; follow its node's restart to recovery; check no other restarted."""
        n = self.n
        since = n.marks.counts()
        node = next(x for x in self.sb.nodes(bundle.ORDERS) if x.host_name == RED_BROKER)
        n.do(
            f">>> breaking broker {RED_BROKER} (computeInstanceNo {node.compute_instance_no}) of "
            "orders: its Kafka stops (red). ZooKeeper, CMAK and the other brokers stay healthy",
            lambda: self.sb.break_broker(bundle.ORDERS, RED_BROKER, "red"),
            "fault:broker",
        )
        self.expect([f"node:{RED_BROKER}:red"], since, f"the sandbox to show {RED_BROKER} red", 5)
        self.expect([f"trip:{ORDERS}:{BROKER_RULE}"], since, f"{BROKER_RULE} to trip on orders")
        self.expect_act(BROKER_RULE, since)
        self.step(f"call:{RESTART_NODES}", since, f"a signed {RESTART_NODES} call")
        call = self.last_call(RESTART_NODES)
        if not (call.verified and call.code == 0 and call.applied):
            raise DemoFailed(f"expected {RESTART_NODES} to be accepted; got {call}")
        named = facts.named_nodes(call)
        if named != (node.compute_instance_no,):
            raise DemoFailed(
                f"expected {RESTART_NODES} to name node {node.compute_instance_no} only; it named "
                f"{list(named)}"
            )
        self.step(f"node:{RED_BROKER}:orange", since, f"{RED_BROKER} to restart", 5)
        self.step(
            f"node:{RED_BROKER}:green",
            since,
            f"{RED_BROKER} to be green again",
            self.node_restart + 5,
        )
        rule = n.rules[BROKER_RULE]
        done = self.expect(
            [self.ended(BROKER_RULE, "recovered"), self.ended(BROKER_RULE, "not_recovered")],
            since,
            "the verification of orders to end",
            rule.verify.timeout + 5,
        )
        if done != self.ended(BROKER_RULE, "recovered"):
            raise DemoFailed("expected orders to recover after its broker's restart; it did not")
        record = facts.of(self.sb, bundle.ORDERS)
        if record.restarted != (RED_BROKER,) or record.cluster_wide:
            raise DemoFailed(f"expected only {RED_BROKER} to be restarted; {record.lines()}")
        calm = [h for h in record.untouched if self.watcher.colours.get(h) == {"green"}]
        n.say(
            f"the sandbox's own record: one restart call on orders, {RESTART_NODES} "
            f"{list(named)}; restarted: {RED_BROKER} only. Never restarted: "
            + ", ".join(record.untouched)
            + (" (green throughout)" if calm == list(record.untouched) else "")
        )
        at = self.at
        return report.BrokerAct(
            host=RED_BROKER,
            node_no=node.compute_instance_no,
            broke=at("fault:broker", since),
            first_look=at(f"look:{ORDERS}:cluster:failed", since),
            acted=at(f"acted:{ORDERS}:{BROKER_RULE}", since),
            orange=at(f"node:{RED_BROKER}:orange", since),
            green=at(f"node:{RED_BROKER}:green", since),
            recovered=at(self.ended(BROKER_RULE, "recovered"), since),
            successes=rule.verify.successes,
        )

    # -- acts 2 and 3 ----------------------------------------------------------------------

    def tool_act(self) -> report.ToolAct:
        """Break CMAK with every broker green: the narrow restart is withdrawn, and no broker
        restarts; then the cooldown holds the next try back, until CMAK is repaired by hand."""
        n, sb = self.n, self.sb
        applied = [c for c in sb.action_calls(bundle.ORDERS) if c.applied]
        colours = {x.host_name: x.broker_status for x in sb.nodes(bundle.ORDERS) if x.broker_status}
        since = n.marks.counts()
        n.do(
            ">>> breaking orders' CMAK: it hangs up on every request. Its brokers are all green: "
            + ", ".join(f"{h} {c}" for h, c in colours.items()),
            lambda: sb.break_tool(bundle.ORDERS, "down"),
            "fault:cmak",
        )
        self.expect([f"trip:{ORDERS}:{CMAK_RULE}"], since, f"{CMAK_RULE} to trip on orders")
        self.expect_act(CMAK_RULE, since)
        self.step(f"call:{RESTART_CMAK}", since, f"a signed {RESTART_CMAK} call", rule=CMAK_RULE)
        call = self.last_call(RESTART_CMAK)
        if not (call.verified and call.http_status == 404 and call.error_code == "300"):
            raise DemoFailed(f"expected {RESTART_CMAK} to answer 404 / 300 (withdrawn); got {call}")
        self.expect(
            [self.ended(CMAK_RULE, "not_recovered")],
            since,
            "the remediation to end not recovered, without a fallback",
        )
        if [c for c in sb.action_calls(bundle.ORDERS) if c.applied] != applied:
            raise DemoFailed(
                f"expected no restart of orders; {facts.of(sb, bundle.ORDERS).lines()}"
            )
        rule = n.rules[CMAK_RULE]
        wider = action_summary("restart_all_services")
        n.say(
            "NOT DONE: a cluster-wide restart. On CDSS today the only way left to restart CMAK is "
            f"{wider}: producers and consumers lose the cluster until it is back. That is above "
            f"{CMAK_RULE}'s max_blast_radius ({rule.max_blast_radius}), so remediator stops at "
            "the withdrawn restart_cmak: no broker restarts, and the failed remediation is in "
            "the ledger, the log and the metrics for a human to see",
            [
                "(to accept that cost, an operator adds `fallback_action: restart_all_services` "
                "and `max_blast_radius: cluster` to the rule; `remediator check` then says "
                f"{CMAK_RULE}: {action_summary('restart_cmak')} → {wider})"
            ],
        )
        after = n.marks.counts()
        held = f"suppressed:{ORDERS}:{CMAK_RULE}:cooldown"
        got = self.expect(
            [held, f"acted:{ORDERS}:{CMAK_RULE}"], after, "the cooldown to hold the next try back"
        )
        if got != held:
            raise DemoFailed(f"expected the cooldown to hold a second try back; {self.last()}")
        n.say(
            "(while CMAK stays down, remediator tries restart_cmak again once the cooldown ends, "
            f"at most {rule.budget.max} times per {rule.budget.per / 3600:g}h; each is refused "
            "the same way, and then the breaker opens and holds every rule on orders until a "
            "human looks; no broker is ever restarted for it)"
        )
        self.pause()
        fixed = n.marks.counts()
        n.do(
            ">>> repairing orders' CMAK by hand, as the on-call engineer would",
            lambda: sb.fix_tool(bundle.ORDERS),
            "repaired:cmak",
        )
        self.expect([f"look:{ORDERS}:tool:ok"], fixed, "a healthy probe of orders' CMAK", 5)
        return report.ToolAct(
            broke=self.at("fault:cmak", since),
            acted=self.at(f"acted:{ORDERS}:{CMAK_RULE}", since),
            not_recovered=self.at(self.ended(CMAK_RULE, "not_recovered"), since),
            held=self.at(held, after),
            cooldown=rule.cooldown,
            fixed=self.at("repaired:cmak", fixed),
        )

    # -- waiting -------------------------------------------------------------------------

    def pause(self) -> None:
        """A moment of the steady state, for the reader."""
        threading.Event().wait(1.0)

    @staticmethod
    def ended(rule: str, outcome: str) -> str:
        """The milestone of a remediation of orders by `rule` ending with `outcome`."""
        return f"remediated:{ORDERS}:{rule}:{outcome}"

    def expect(
        self, names: Sequence[str], since: Mapping[str, int], what: str, timeout: float = STEP
    ) -> str:
        """Wait for the first of `names` after `since`; DemoFailed saying `what` if none comes."""
        left = self.deadline - self.clock.monotonic()
        got = self.n.marks.wait_any(names, min(timeout, left), since)
        if got is None:
            raise DemoFailed(f"expected {what} within {min(timeout, left):g}s; it did not happen")
        return got

    def step(
        self,
        name: str,
        since: Mapping[str, int],
        what: str,
        timeout: float = STEP,
        *,
        rule: str = BROKER_RULE,
    ) -> None:
        """Wait for `name`; fail at once if `rule`'s remediation ends not recovered first."""
        failed = self.ended(rule, "not_recovered")
        if self.expect([name, failed], since, what, timeout) != name:
            raise DemoFailed(f"expected {what}; instead orders was declared NOT RECOVERED")

    def expect_act(self, rule: str, since: Mapping[str, int]) -> None:
        """Wait for `rule`'s decision on orders after its trip: it must be to act."""
        acted = f"acted:{ORDERS}:{rule}"
        got = self.expect([acted, f"held:{ORDERS}"], since, f"a decision of {rule} on orders")
        if got != acted:
            raise DemoFailed(f"expected remediator to act on orders; {self.last()}")

    def at(self, name: str, since: Mapping[str, int]) -> float:
        """When `name` happened after `since` (the story waited for it)."""
        t = self.n.marks.at(name, since)
        if t is None:
            raise DemoFailed(f"expected {name} to have happened")
        return t

    def last_call(self, operation: str) -> RecordedCall:
        """The latest call of `operation` the narrator heard."""
        return next(c for c in reversed(self.n.calls) if c.operation == operation)

    def last(self) -> str:
        """The latest decision, in words."""
        d = self.n.decisions[-1] if self.n.decisions else None
        return (
            "it decided nothing"
            if d is None
            else f"it decided {d.outcome} ({d.reason}): {d.detail}"
        )
