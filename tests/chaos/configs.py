"""Mutated configurations: a seeded mutator over a working main file and rules file, each
result run through `remediator check`, and every one that check accepts started as a daemon
(built, scheduled, listening, stopped), so that nothing is accepted that `run` cannot run.

The listener's address and the ledger's place belong to the host, not to the file's validity
(a free port, a writable directory): they are set to a free loopback port and the run's own
directory before the daemon starts.
"""

from __future__ import annotations

import contextlib
import io
import logging
import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from remediator.cli import main
from remediator.clock import SystemClock
from remediator.config.loader import load_config, resolve_secrets
from remediator.config.model import Server, State
from remediator.runtime.daemon import Daemon
from remediator.runtime.executors import DeferredExecutor

AK, SK = "CONFIG-AK", "config-sk"  # test keys, not secrets
ENVIRON = {"CHAOS_AK": AK, "CHAOS_SK": SK}

MAIN = """\
ncp:
  site: public
  region: KR
  endpoint: "{endpoint}"
  access_key: {{env: CHAOS_AK}}
  secret_key: {{env: CHAOS_SK}}
  timeout: 10s
server:
  listen: 127.0.0.1:9820
state:
  path: state.db
guardrails:
  max_concurrent_actions: 1
  max_actions_per_hour: 6
  mass_failure: {{fraction: 0.5, min_unhealthy: 3}}
targets:
  - name: orders
    cluster_no: "1484848"
    region: KR
    health:
      kind: cmak
      url: "{tool}"
      interval: 15s
      timeout: 5s
    cluster_health: {{interval: 60s}}
  - name: payments
    cluster_no: "1484849"
    health:
      kind: http
      url: "{tool}/api/health"
      interval: 30s
      timeout: 2s
      expect: {{status: 200, body: "healthy"}}
rules: [rules/*.yaml]
"""
RULES = """\
rules:
  - name: cmak-unhealthy
    targets: ["*"]
    trigger:
      probe: {failures: 3, of: 3}
    actions: [restart_cmak, rolling_restart]
    fallback_action: restart_kafka_node
    cooldown: 15m
    budget: {max: 3, per: 6h}
    verify: {grace: 2m, successes: 2, timeout: 10m}
    mode: enforce
  - name: cmak-down-alert
    targets: ["orders"]
    trigger:
      alert: {alertname: CMAKDown, labels: {severity: critical}}
      corroborate: probe
    action: restart_cmak
    cooldown: 15m
"""

_VALUES: tuple[object, ...] = (
    "999999999999d",
    "99999999d",
    "0s",
    "-5s",
    "1s",
    "366d",
    "30d",
    "1d",
    "24h1s",
    "5m1s",
    "1h30m",
    "forever",
    "",
    "1e9",
    0,
    -1,
    1,
    10**30,
    2**63,
    1.5,
    float("nan"),
    float("inf"),
    True,
    None,
    [],
    {},
    "\x00",
    "é" * 200,
    "x" * 5000,
    "http://[::1",
    "http://127.0.0.1:99999",
    "postgresql://u@h/db?password=hunter2",
    "postgresql://u:hunter2@h/db",
    "postgresql://u@h:99999/db",
    "KRS",
    "gov",
    "restart_all_services",
    "cluster",
    "shadow",
    "(",
    "1484848",
    "*",
)


def _paths(value: object, here: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
    yield here
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*here, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*here, i))


def _mutate_tree(r: random.Random, text: str) -> str:
    doc = yaml.safe_load(text)
    for _ in range(r.choice((1, 1, 2, 3))):
        paths = list(_paths(doc))[1:]
        if not paths:
            break
        path = r.choice(paths)
        *head, last = path
        parent = doc
        for part in head:
            parent = parent[part]
        roll = r.random()
        if roll < 0.15 and isinstance(parent, dict):
            del parent[last]
        elif roll < 0.22 and isinstance(parent, dict):
            parent[r.choice(("extra", "timeout", "interval", "of", "max_blast_radius"))] = "1s"
        elif roll < 0.3 and isinstance(parent, list):
            parent.append(r.choice(parent) if parent else None)
        else:
            parent[last] = r.choice(_VALUES)
    return yaml.safe_dump(doc, allow_unicode=r.random() < 0.5, sort_keys=False)


def _mutate_text(r: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(r.choice((1, 2, 4))):
        at = r.randrange(len(chars))
        roll = r.random()
        if roll < 0.3:
            chars.insert(at, r.choice(("\x00", "\t", ":", "-", "{", "'", '"', "&a", "*a", "\x85")))
        elif roll < 0.5:
            del chars[at : at + r.randrange(1, 8)]
        elif roll < 0.7:
            chars[at] = r.choice("0123456789smhd xyz:")
        elif roll < 0.85:
            line_start = text.rfind("\n", 0, at) + 1
            chars[line_start:line_start] = [" "] * r.choice((1, 2, 4))
        else:
            del chars[at:]
    return "".join(chars)


def mutations(count: int, seed: int, *, endpoint: str, tool: str) -> Iterator[tuple[str, str]]:
    """`count` (main file, rules file) pairs, the same for the same seed."""
    r = random.Random(seed)
    main_text, rules_text = MAIN.format(endpoint=endpoint, tool=tool), RULES
    for _ in range(count):
        which = r.random()
        mutate = _mutate_tree if r.random() < 0.7 else _mutate_text
        if which < 0.5:
            yield mutate(r, main_text), rules_text
        elif which < 0.9:
            yield main_text, mutate(r, rules_text)
        else:
            yield mutate(r, main_text), mutate(r, rules_text)


@dataclass
class ConfigResult:
    """What came of the configurations."""

    configs: int = 0
    accepted: int = 0
    refused: int = 0
    runs: int = 0
    problems: list[str] = field(default_factory=list)  # each one a defect found


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): \S.*")


def check_one(directory: Path, main_text: str, rules_text: str, environ: Mapping[str, str]) -> str:
    """Write the files to `directory` and run `remediator check` in this process: "accepted",
    "refused", or a defect (a traceback, a refusal without FILE:LINE, another exit code)."""
    (directory / "rules").mkdir(parents=True, exist_ok=True)
    config = directory / "remediator.yaml"
    config.write_text(main_text, encoding="utf-8", errors="surrogatepass")
    (directory / "rules" / "r.yaml").write_text(
        rules_text, encoding="utf-8", errors="surrogatepass"
    )
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["check", "-c", str(config)])
        except BaseException as exc:  # a crash is what this looks for
            return f"check raised {exc!r}"
    if "Traceback" in err.getvalue():
        return f"check printed a traceback: {err.getvalue()[-300:]}"
    if code == 0:
        return "accepted"
    if code != 2:
        return f"check exited {code}: {err.getvalue()[-300:]}"
    lines = [line for line in err.getvalue().splitlines() if not line.startswith("warning: ")]
    bad = [line for line in lines if not LINE.match(line)]
    if not lines or bad:
        return f"a refusal without FILE:LINE: {(bad or ['(nothing said)'])[0][:200]}"
    # A value pasted in the wrong key may be quoted back (e.g. a duration); what a key meant
    # for credentials holds never is.
    if any("hunter2" in line and "state.url" in line for line in lines):
        return "a refusal printed the password of state.url"
    return "refused"


def run_one(directory: Path, environ: Mapping[str, str], port: int) -> str | None:
    """Start a daemon on the accepted configuration; None, or what went wrong."""
    config = load_config(directory / "remediator.yaml")
    resolve_secrets(config, environ=environ)
    config = config.model_copy(
        update={
            "server": Server(listen=f"127.0.0.1:{port}"),
            "state": State(path=str(directory / "state.db")),
        }
    )
    errors = _Errors()
    logging.getLogger("remediator").addHandler(errors)
    logging.getLogger("apscheduler").addHandler(errors)
    try:
        daemon = Daemon(
            config,
            clock=SystemClock(),
            registry=CollectorRegistry(),
            environ=environ,
            executor=DeferredExecutor(),
        )
        try:
            daemon.start()
            daemon.tick()
            for check in daemon.config.health_checks():  # each probe, with its timeout
                daemon.driver.probe(check)
            daemon.driver.check_action_path()  # a signed call, with ncp.timeout
        finally:
            daemon.stop()
    except BaseException as exc:
        return f"run raised {exc!r}"
    finally:
        logging.getLogger("remediator").removeHandler(errors)
        logging.getLogger("apscheduler").removeHandler(errors)
    crashes = [r for r in errors.records if r.exc_info]
    if crashes:
        return f"run logged {crashes[0].getMessage()[:200]}"
    return None


def campaign(
    tmp: Path, count: int, seed: int, *, endpoint: str, tool: str, port: int
) -> ConfigResult:
    """Check `count` mutated configurations; run the accepted ones."""
    result = ConfigResult()
    for n, (main_text, rules_text) in enumerate(
        mutations(count, seed, endpoint=endpoint, tool=tool)
    ):
        directory = tmp / f"c{n}"
        verdict = check_one(directory, main_text, rules_text, ENVIRON)
        result.configs += 1
        if verdict == "refused":
            result.refused += 1
        elif verdict == "accepted":
            result.accepted += 1
            failure = run_one(directory, ENVIRON, port)
            result.runs += 1
            if failure is not None:
                result.problems.append(f"{directory}: {failure}")
        else:
            result.problems.append(f"{directory}: {verdict}")
    return result
