"""`remediator demo`: the sandbox, the real daemon and a broken CMAK, narrated on the terminal.

The scenario: start the sandbox; write and validate the bundled configuration; start the daemon;
break the `orders` cluster's CMAK and follow the remediation (the withdrawn restartCMAKService,
the fallback, the restart, verification); break it again inside the cooldown and see it held
back; print the daemon's metrics and a summary. Every wait has a timeout: when something
expected does not happen, the demo says what, keeps its directory and exits 1.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TextIO

import requests
from prometheus_client import CollectorRegistry

from remediator import logs
from remediator.clock import Clock, SystemClock
from remediator.config.loader import ConfigError, load_config
from remediator.core.decisions import Decision
from remediator.demo import bundle, report
from remediator.demo.clusters import ClusterWatcher
from remediator.demo.narrator import WIDTH, Narrator, Printer
from remediator.runtime.daemon import Daemon
from remediator.sandbox import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_SECRET_KEY,
    EXAMPLE_CLUSTERS,
    RecordedCall,
    Sandbox,
)

EXIT_OK, EXIT_FAILURE = 0, 1
RESTART_DELAY = 2.0  # how long the sandbox keeps a restarting cluster `changing`
DEADLINE = 90.0  # the whole demo, whatever happens
STEP = 10.0  # the usual wait for one step
_LOGGERS = ("remediator", "apscheduler", "waitress")
CMAK_RULE = "cmak-unhealthy"  # the bundled rule the story follows
NOT_RECOVERED = "remediated:orders:not_recovered"


class DemoFailed(Exception):
    """Something the demo expected did not happen in time (the message says what)."""


def main(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit code."""
    return Demo(sys.stdout, keep=args.keep).run()


@contextmanager
def logs_to(path: Path) -> Iterator[None]:
    """Send the daemon's JSON logs (and its libraries') to `path` instead of the terminal."""
    saved = [
        (lg, lg.handlers[:], lg.level, lg.propagate) for lg in map(logging.getLogger, _LOGGERS)
    ]
    with path.open("a", encoding="utf-8") as stream:
        logs.setup("INFO", stream=stream)
        waitress = logging.getLogger("waitress")
        waitress.handlers[:] = logging.getLogger("remediator").handlers
        waitress.propagate = False
        try:
            yield
        finally:
            for lg, handlers, level, propagate in saved:
                lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


class Demo:
    """One run of the demo, writing to `out`."""

    def __init__(self, out: TextIO, *, keep: bool = False, clock: Clock | None = None) -> None:
        self.out = out
        self.keep = keep
        self.clock = clock or SystemClock()
        self.p = Printer(out, self.clock)
        self._deadline = self.clock.monotonic() + DEADLINE

    def run(self) -> int:
        """Play the scenario, clean up, and say where things are; the exit code."""
        directory = Path(tempfile.mkdtemp(prefix="remediator-demo-"))
        where = bundle.demo_files(directory)
        code, interrupted = EXIT_FAILURE, False
        try:
            with ExitStack() as stack:
                stack.enter_context(logs_to(where.log))
                self._play(where, stack)
            code = EXIT_OK
        except DemoFailed as exc:
            self.p.muted = False
            self.p.write()
            self.p.write(textwrap.fill(f"demo FAILED: {exc}", WIDTH, break_on_hyphens=False))
        except KeyboardInterrupt:
            self.p.muted = False
            self.p.write("\ninterrupted; the daemon and the sandbox are stopped")
            interrupted = True
        finally:
            self.p.muted = False
            if self.keep or (code != EXIT_OK and not interrupted):  # a failure: see the log
                self.p.write(
                    textwrap.fill(
                        f"kept {directory}: remediator.yaml, rules/demo.yaml, the ledger "
                        "state.db and the daemon's JSON log remediator.log",
                        WIDTH,
                        break_on_hyphens=False,
                    )
                )
            else:
                shutil.rmtree(directory, ignore_errors=True)
                self.p.write(
                    textwrap.fill(
                        f"removed {directory}; `remediator demo --keep` keeps its configuration, "
                        "ledger and the daemon's JSON log. `remediator sandbox` runs this "
                        "simulator for rehearsing your own rules.",
                        WIDTH,
                        break_on_hyphens=False,
                    )
                )
        return code

    # -- the scenario ----------------------------------------------------------------------

    def _play(self, where: bundle.DemoFiles, stack: ExitStack) -> None:
        """Start everything (stopped by `stack`), tell the story, show the metrics, sum up."""
        p = self.p
        p.write(
            "remediator demo: a rehearsal on this machine. A simulated CDSS (the sandbox) with "
            "two Kafka\nclusters, the real remediator daemon watching them, and a manager tool "
            "that breaks.\nNothing is sent to NAVER Cloud. It takes about 15 seconds; times are "
            "seconds since the start.\n"
        )
        specs = [s for s in EXAMPLE_CLUSTERS if s.cluster_no in (bundle.ORDERS, bundle.PAYMENTS)]
        sb = Sandbox(
            DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, restart_delay=RESTART_DELAY, clusters=specs
        )
        sb.start()
        stack.callback(sb.stop)
        p.say(
            f"sandbox: a simulated CDSS API Gateway at {sb.url}, restarts take {RESTART_DELAY:g}s",
            [
                f"cluster {s.cluster_no} {s.name}: {s.tool.replace('_', '-')} at "
                f"{sb.tool_url(s.cluster_no)}"
                for s in specs
            ],
        )

        files = bundle.write_config(
            where.directory,
            sandbox_url=sb.url,
            orders_url=sb.tool_url(bundle.ORDERS),
            payments_url=sb.tool_url(bundle.PAYMENTS),
        )
        try:
            config = load_config(files.config)
        except ConfigError as exc:
            raise DemoFailed(f"the bundled configuration is invalid:\n{exc}") from exc
        p.say(f"config: wrote {files.config} and {files.rules}")
        p.say(f"config OK: {len(config.targets)} targets, {len(config.rules)} rules")
        for warning in config.warnings:
            p.say(f"config warning: {warning}")

        narrator = Narrator(p, config.policy())
        sb.subscribe(narrator.on_call)
        environ = {
            bundle.ACCESS_KEY_ENV: DEFAULT_ACCESS_KEY,
            bundle.SECRET_KEY_ENV: DEFAULT_SECRET_KEY,
        }
        daemon = Daemon(config, environ=environ, registry=CollectorRegistry())
        watcher = ClusterWatcher(sb, [bundle.ORDERS, bundle.PAYMENTS], narrator)
        daemon.driver.event_listeners += [watcher.on_event, narrator.on_event]
        daemon.driver.listeners.append(narrator.on_output)
        daemon.start()
        stack.callback(daemon.stop)
        watcher.start()
        stack.callback(watcher.stop)
        stack.callback(setattr, p, "muted", True)  # what is heard while stopping is no story
        metrics_url = f"http://127.0.0.1:{daemon.http.port}/metrics"
        p.say(
            "daemon: the real remediator daemon (what `remediator run` starts) is up, probing each "
            f"target every second; metrics at {metrics_url}; its JSON log goes to {files.log}"
        )
        facts = self._story(sb, narrator)
        self._metrics(metrics_url)
        p.write()
        p.write(textwrap.fill(report.summary(facts), WIDTH))
        p.write()

    def _expect(
        self,
        n: Narrator,
        names: Sequence[str],
        since: Mapping[str, int],
        what: str,
        timeout: float = STEP,
    ) -> str:
        """Wait for the first of `names` after `since`; DemoFailed saying `what` if none comes."""
        left = self._deadline - self.clock.monotonic()
        got = n.marks.wait_any(names, min(timeout, left), since)
        if got is None:
            raise DemoFailed(f"expected {what} within {timeout:g}s; it did not happen")
        return got

    def _step(
        self, n: Narrator, name: str, since: Mapping[str, int], what: str, timeout: float = STEP
    ) -> None:
        """Wait for `name`; fail at once if the remediation of orders ends not recovered first."""
        if self._expect(n, [name, NOT_RECOVERED], since, what, timeout) != name:
            raise DemoFailed(f"expected {what}; instead orders was declared NOT RECOVERED")

    def _story(self, sb: Sandbox, n: Narrator) -> report.Facts:
        """A healthy start, the first incident, the second inside the cooldown; the facts."""
        start = n.marks.counts()
        for target in ("orders", "payments"):
            self._expect(n, [f"probe:{target}:ok"], start, f"a healthy first probe of {target}")
        self.p.say("both targets healthy; from here on, only probes that tell something are shown")
        threading.Event().wait(1.0)  # a moment of the steady state
        first = n.marks.counts()
        broke = self.p.elapsed()
        fallback = self._first_incident(sb, n, first)
        threading.Event().wait(1.0)  # a breath for the reader before the second act
        second = n.marks.counts()
        broke_again = self.p.elapsed()
        held = self._second_incident(sb, n, second, broke_again - _at(n, "acted:orders", first))
        changing = _at(n, f"cluster:{bundle.ORDERS}:changing", first)
        rule = n.rules[CMAK_RULE]
        return report.Facts(
            broke=broke,
            first_failure=_at(n, "probe:orders:failed", first),
            acted=_at(n, "acted:orders", first),
            fallback=fallback,
            changing_for=_at(n, f"cluster:{bundle.ORDERS}:running", first) - changing,
            recovered=_at(n, "remediated:orders:recovered", first),
            successes=rule.verify.successes,
            broke_again=broke_again,
            held=_at(n, "suppressed:orders:cooldown", second),
            cooldown=rule.cooldown,
            held_detail=held.detail,
            payments_probes=n.probes("payments"),
            calls=len(n.calls),
            verified=sum(1 for c in n.calls if c.verified),
        )

    def _first_incident(self, sb: Sandbox, n: Narrator, since: Mapping[str, int]) -> bool:
        """Break orders' CMAK and follow the remediation; whether it fell back."""
        self.p.say(">>> breaking orders' CMAK: it hangs up on every request without an answer")
        sb.break_tool(bundle.ORDERS, "down")
        self._expect(n, ["trip:orders"], since, f"the rule {CMAK_RULE} to trip on orders")
        got = self._expect(
            n, ["acted:orders", "suppressed:orders"], since, "a decision on orders after the trip"
        )
        if got != "acted:orders":
            raise DemoFailed(f"expected remediator to act on orders; it decided: {_last(n)}")
        self._step(n, "call:restartCMAKService", since, "a signed restartCMAKService call")
        call = _last_call(n, "restartCMAKService")
        if not call.verified:
            raise DemoFailed(f"the sandbox rejected the daemon's signature: {call.reason}")
        fallback = call.http_status == 404 and call.error_code == "300"
        if fallback:
            self._step(n, "call:restartAllServices", since, "the fallback restartAllServices")
            call = _last_call(n, "restartAllServices")
            if not (call.verified and call.code == 0 and call.applied):
                raise DemoFailed(f"expected restartAllServices to be accepted; got {call}")
        elif call.code == 0 and call.applied:
            self.p.say(
                "(this machine's clock is before 2026-09-17, when NCP withdrew "
                "restartCMAKService: the sandbox still offers it, so no fallback is needed)"
            )
        else:
            raise DemoFailed(f"expected restartCMAKService to answer 404/300 or 200; got {call}")
        for status, timeout in (("changing", 5.0), ("running", RESTART_DELAY + 5)):
            name = f"cluster:{bundle.ORDERS}:{status}"
            self._step(n, name, since, f"the orders cluster to be {status}", timeout)
        got = self._expect(
            n,
            ["remediated:orders:recovered", NOT_RECOVERED],
            since,
            "the verification of orders to end",
            n.rules[CMAK_RULE].verify.timeout + 5,
        )
        if got != "remediated:orders:recovered":
            raise DemoFailed("expected orders to recover after the restart; it did not")
        return fallback

    def _second_incident(
        self, sb: Sandbox, n: Narrator, since: Mapping[str, int], after: float
    ) -> Decision:
        """Break orders' CMAK inside the cooldown; the decision that held the restart back."""
        rule = n.rules[CMAK_RULE]
        self.p.say(
            f">>> breaking orders' CMAK again, {after:.0f}s after the restart; the rule's "
            f"cooldown is {rule.cooldown:g}s"
        )
        sb.break_tool(bundle.ORDERS, "down")
        got = self._expect(
            n,
            ["suppressed:orders:cooldown", "acted:orders", "suppressed:orders"],
            since,
            "the cooldown to hold a second restart of orders back",
        )
        if got != "suppressed:orders:cooldown":
            raise DemoFailed(
                f"expected the cooldown to hold a restart back; it decided: {_last(n)}"
            )
        held = next(d for d in reversed(n.decisions) if d.target == "orders")
        self.p.say(
            "(had CMAK stayed down, remediator would act again once the cooldown ends, within its "
            f"budget of {rule.budget.max} per {rule.budget.per / 3600:g}h, and open its breaker "
            "if restarts kept failing)"
        )
        since = n.marks.counts()
        self.p.say(">>> repairing orders' CMAK by hand, as the on-call engineer would")
        sb.fix_tool(bundle.ORDERS)
        self._expect(n, ["probe:orders:ok"], since, "a healthy probe of orders after the repair", 5)
        return held

    def _metrics(self, url: str) -> None:
        try:
            text = report.scrape(url)
        except requests.RequestException as exc:
            raise DemoFailed(f"expected the daemon's {url} to answer: {exc}") from exc
        self.p.say(f"metrics, scraped from the daemon's {url} (a selection):")
        for line in report.metric_lines(text):
            self.p.write(f"  {line}")


def _at(n: Narrator, name: str, since: Mapping[str, int]) -> float:
    """When `name` happened after `since` (the scenario waited for it)."""
    t = n.marks.at(name, since)
    if t is None:
        raise DemoFailed(f"expected {name} to have happened")
    return t


def _last_call(n: Narrator, operation: str) -> RecordedCall:
    return next(c for c in reversed(n.calls) if c.operation == operation)


def _last(n: Narrator) -> str:
    d = n.decisions[-1] if n.decisions else None
    return "nothing" if d is None else f"{d.outcome} ({d.reason}): {d.detail}"
