"""`remediator demo`: the sandbox, the real daemon and two faults, narrated on the terminal.

The scenario: start the sandbox; write and validate the bundled configuration; start the daemon;
play the story (`story`): a broker goes red and only its node is restarted and verified; the
manager tool fails with every broker green and no broker is restarted; the cooldown holds the
next try back. Then the daemon's metrics, the sandbox's own record and a summary. Every wait
has a timeout: when something expected does not happen, the demo says what, keeps its
directory and exits 1.
"""

from __future__ import annotations

import argparse
import io
import logging
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TextIO

import requests
from prometheus_client import CollectorRegistry

from remediator import logs
from remediator.clock import Clock, SystemClock
from remediator.config.loader import ConfigError, load_config
from remediator.core.rules import action_summary
from remediator.demo import bundle, facts, report
from remediator.demo.clusters import ClusterWatcher
from remediator.demo.narrator import Narrator
from remediator.demo.printer import Printer, paragraph
from remediator.demo.story import DemoFailed, Story
from remediator.runtime.daemon import Daemon
from remediator.sandbox import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_SECRET_KEY,
    EXAMPLE_CLUSTERS,
    Sandbox,
)

EXIT_OK, EXIT_FAILURE = 0, 1
RESTART_DELAY = 2.0  # how long the sandbox keeps a cluster-wide restart `changing`
NODE_RESTART_DELAY = 2.0  # how long one broker's Kafka restart takes (orange)
DEADLINE = 90.0  # the whole demo, whatever happens
DRAIN = 10.0  # how long the narration may take to catch up at the end
_LOGGERS = ("remediator", "apscheduler", "waitress")


def main(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit code."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        # The story has arrows; a terminal that cannot show them gets escapes, not a crash.
        sys.stdout.reconfigure(errors="backslashreplace")
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
            self.p.write(paragraph(f"demo FAILED: {exc}"))
        except KeyboardInterrupt:
            self.p.muted = False
            self.p.write("\ninterrupted; the daemon and the sandbox are stopped")
            interrupted = True
        finally:
            self.p.muted = False
            if self.keep or (code != EXIT_OK and not interrupted):  # a failure: see the log
                self.p.write(
                    paragraph(
                        f"kept {directory}: remediator.yaml, rules/demo.yaml, the ledger "
                        "state.db and the daemon's JSON log remediator.log"
                    )
                )
            else:
                shutil.rmtree(directory, ignore_errors=True)
                self.p.write(
                    paragraph(
                        f"removed {directory}; `remediator demo --keep` keeps its configuration, "
                        "ledger and the daemon's JSON log. `remediator sandbox` runs this "
                        "simulator for rehearsing your own rules."
                    )
                )
        return code

    def _play(self, where: bundle.DemoFiles, stack: ExitStack) -> None:
        """Start everything (stopped by `stack`), tell the story, show the metrics, sum up."""
        p = self.p
        p.write(
            "remediator demo: a rehearsal on this machine. A simulated CDSS (the sandbox) with "
            "two Kafka\nclusters, the real remediator daemon watching them, a broker that fails "
            "and then a manager\ntool that fails. Nothing is sent to NAVER Cloud. It takes about "
            "20 seconds; times are\nseconds since the start.\n"
        )
        specs = [s for s in EXAMPLE_CLUSTERS if s.cluster_no in (bundle.ORDERS, bundle.PAYMENTS)]
        sb = Sandbox(
            DEFAULT_ACCESS_KEY,
            DEFAULT_SECRET_KEY,
            restart_delay=RESTART_DELAY,
            node_restart_delay=NODE_RESTART_DELAY,
            cmak_restart="withdrawn",  # as on CDSS since 2026-09-17, whatever this clock says
            clusters=specs,
        )
        sb.start()
        stack.callback(sb.stop)
        p.say(
            f"sandbox: a simulated CDSS API Gateway at {sb.url}; a broker's restart takes "
            f"{NODE_RESTART_DELAY:g}s",
            [_cluster_words(sb, s.cluster_no) for s in specs],
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
        policy = config.policy()
        p.say(f"config: wrote {files.config} and {files.rules}")
        p.say(
            f"config OK: {len(config.targets)} targets, {len(config.rules)} rules; what each rule "
            "may do at worst (as `remediator check` says it):",
            [
                f"{r.name}: " + " → ".join(action_summary(a) for a in r.remedies)
                for r in policy.rules
            ],
        )
        for warning in config.warnings:
            p.say(f"config warning: {warning}", [])

        watcher = ClusterWatcher(sb, [bundle.ORDERS, bundle.PAYMENTS])
        narrator = Narrator(p, policy, watcher)
        for s in specs:
            narrator.tool_of(s.name, "CMAK" if s.tool == "cmak" else "Kafka-UI")
        narrator.start()
        stack.callback(narrator.stop)
        sb.subscribe(narrator.on_call)
        environ = {
            bundle.ACCESS_KEY_ENV: DEFAULT_ACCESS_KEY,
            bundle.SECRET_KEY_ENV: DEFAULT_SECRET_KEY,
        }
        daemon = Daemon(config, environ=environ, registry=CollectorRegistry())
        daemon.driver.event_listeners.append(narrator.on_event)
        daemon.driver.listeners.append(narrator.on_output)
        daemon.start()
        stack.callback(daemon.stop)
        stack.callback(setattr, p, "muted", True)  # what is heard while stopping is no story
        metrics_url = f"http://127.0.0.1:{daemon.http.port}/metrics"
        narrator.say(
            "daemon: the real remediator daemon (what `remediator run` starts) is up: each second "
            "it probes each target's manager tool and reads its cluster's status "
            f"(cluster_health); metrics at {metrics_url}; its JSON log goes to {files.log}"
        )
        story = Story(
            sb,
            narrator,
            watcher,
            self.clock,
            deadline=self._deadline,
            node_restart=NODE_RESTART_DELAY,
        )
        told = story.play()
        self._metrics(narrator, metrics_url)
        narrator.say(
            "the sandbox's own record of restart calls, per cluster:",
            [line for no in (bundle.ORDERS, bundle.PAYMENTS) for line in facts.of(sb, no).lines()],
        )
        narrator.write()
        narrator.write(paragraph(report.summary(told)))
        narrator.write()
        if not narrator.drain(DRAIN):
            raise DemoFailed(f"expected the narration to catch up within {DRAIN:g}s")

    def _metrics(self, narrator: Narrator, url: str) -> None:
        try:
            text = report.scrape(url)
        except requests.RequestException as exc:
            raise DemoFailed(f"expected the daemon's {url} to answer: {exc}") from exc
        narrator.say(f"metrics, scraped from the daemon's {url} (a selection):")
        for line in report.metric_lines(text):
            narrator.write(f"  {line}")


def _cluster_words(sb: Sandbox, cluster_no: str) -> str:
    """A cluster of the sandbox in a few words: its tool, and its brokers' node numbers."""
    s = sb.cluster(cluster_no)
    tool = "CMAK" if s.tool == "cmak" else "Kafka-UI"
    brokers = ", ".join(
        f"{n.host_name} ({n.compute_instance_no})" for n in s.nodes if n.role == "BROKER"
    )
    return (
        f"cluster {s.cluster_no} {s.name}: {tool} at {sb.tool_url(cluster_no)}; brokers {brokers}"
    )
