"""What bench/probes.py and bench/webhook.py share: errors, progress, statistics, child processes.

Not a script. The benchmarks run as `python bench/<name>.py`, so their folder is `sys.path[0]`
and they import this module as `common`.
"""

from __future__ import annotations

import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any

from remediator.clock import SystemClock

HERE = Path(__file__).resolve().parent
CLOCK = SystemClock()
TICKS = os.sysconf("SC_CLK_TCK")
GOAL_LATENESS_P99 = 0.250  # probe runs, scheduled -> finished: both benchmarks' goal
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


class BenchError(Exception):
    """The benchmark could not run (a process did not start, or died)."""


class Interrupted(Exception):
    """SIGTERM or SIGHUP: stop like Ctrl-C."""


def say(message: str) -> None:
    """Progress, on stderr (stdout carries the results)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- statistics --------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank `p`th percentile, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def median(values: list[float]) -> float:
    """The median (the lower middle for an even count)."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


# -- processes ---------------------------------------------------------------------------------


class Processes:
    """The children of the benchmark; every one is stopped on the way out, whatever happened."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[bytes]] = []

    def start(
        self, argv: list[str], log: Path, env: dict[str, str], *, pipe_stdout: bool = False
    ) -> subprocess.Popen[bytes]:
        """Start `argv` in its own session (a Ctrl-C reaches only us; we stop it in order)."""
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipe_stdout else out,
                stderr=out,
                env=env,
                start_new_session=True,
            )
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                say(f"pid {proc.pid} ignored SIGTERM for {timeout:.0f}s: killing it")
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        if proc in self.running:
            self.running.remove(proc)
        return proc.returncode

    def close(self) -> None:
        """Stop every child still running, newest first."""
        for proc in reversed(list(self.running)):
            self.stop(proc, timeout=5.0)


def child_env(**extra: str) -> dict[str, str]:
    """Our environment without proxies or systemd's notify variables, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in PROXY_VARIABLES and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")
    }
    return env | extra


def free_port() -> int:
    """A loopback port that nothing listens on right now."""
    import socket  # noqa: PLC0415  (only here)

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_port(proc: subprocess.Popen[bytes], name: str, timeout: float) -> int:
    """The port a child prints on its first line of stdout."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else b""
    if not line.strip().isdigit():
        raise BenchError(f"{name} did not start (printed {line!r})")
    return int(line)


def log_tail(log: Path, lines: int = 15) -> str:
    """The end of a child's log, for an error message."""
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def ensure_alive(proc: subprocess.Popen[bytes], name: str, log: Path) -> None:
    """Raise if `proc` has exited."""
    if proc.poll() is not None:
        raise BenchError(f"{name} exited with code {proc.returncode}:\n{log_tail(log)}")


def hangs(n: int, fraction: float) -> bool:
    """Whether bench/target.py's target `n` hangs when a `fraction` of them do: spread evenly
    (with 0.1, targets 9, 19, 29, ...)."""
    return math.floor((n + 1) * fraction) > math.floor(n * fraction)


def start_target(
    procs: Processes, tmp: Path, timeout: float, hang_fraction: float = 0.0
) -> tuple[subprocess.Popen[bytes], Path, int]:
    """Start bench/target.py (log in `tmp`), a `hang_fraction` of its targets hanging; its
    process, log and port."""
    log = tmp / "target.log"
    argv = [sys.executable, str(HERE / "target.py"), "--hang-fraction", str(hang_fraction)]
    proc = procs.start(argv, log, child_env(), pipe_stdout=True)
    return proc, log, read_port(proc, "the target server", timeout)


def target_entry(
    name: str, cluster_no: str, target_port: int, n: int, interval: str, timeout: str
) -> list[str]:
    """A daemon config's `targets:` item, as lines: probed over HTTP on bench/target.py's
    `/t/<n>` every `interval` (a YAML duration, as `timeout`)."""
    return [
        f"  - name: {name}",
        f'    cluster_no: "{cluster_no}"',
        f"    health: {{kind: http, url: 'http://127.0.0.1:{target_port}/t/{n}', "
        f"interval: {interval}, timeout: {timeout}}}",
    ]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` so far (all its threads)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        data = f.read()
    # The command name may hold spaces or parentheses; fields are counted after the last ')'.
    fields = data[data.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


# -- running a benchmark -----------------------------------------------------------------------


def raise_on(signums: Iterable[signal.Signals], error: type[BaseException]) -> None:
    """Make each of `signums` raise `error(<signal name>)`, so that the benchmark unwinds
    through its clean-up and stops its children."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise error(signal.Signals(signum).name)

    for signum in signums:
        signal.signal(signum, handler)


def results(lines: list[str], document: dict[str, Any], passed: bool) -> int:
    """Print the table and the JSON line on stdout; the exit code."""
    print("\n".join(lines))
    print(json.dumps(document, separators=(",", ":")), flush=True)
    return 0 if passed else 1


def run_guarded(
    body: Callable[[], int],
    procs: Processes,
    tmp: Path,
    *,
    keep: bool,
    close: Callable[[], None],
) -> int:
    """Run `body` for its exit code: 2 on BenchError, 130 when interrupted; whatever happens,
    stop the children, then `close()`, then remove `tmp` (unless `keep`)."""
    try:
        return body()
    except BenchError as exc:
        say(f"the benchmark could not run: {exc}")
        return 2
    except (KeyboardInterrupt, Interrupted):
        say("interrupted: stopping the processes and removing the temporary files")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        procs.close()
        close()
        if keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
