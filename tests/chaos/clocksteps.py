"""Steps of the wall clock on real processes: the daemon and the sandbox under libfaketime, their
wall clock stepped ±2 h from a file while their monotonic clock goes on (faketime.py)."""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, field
from pathlib import Path

from remediator.clock import SystemClock
from tests.chaos.faketime import Faketime, SandboxProcess
from tests.chaos.proc import AK, ORDERS, SK, Daemon
from tests.waiting import wait_for

CLOCK = SystemClock()


@dataclass
class Step:
    """What one step of the wall clock came to."""

    what: str
    actions: int = 0  # restartCMAKService calls (1 expected)
    outcomes: list[object] = field(default_factory=list)
    pets_after: int = 0
    probes_after: float = 0.0
    healthy_after: bool = False
    notes: list[str] = field(default_factory=list)


def _world(tmp: Path) -> tuple[Faketime, SandboxProcess, Daemon]:
    faketime = Faketime(tmp / "faketime")
    sb = SandboxProcess(tmp, AK, SK, faketime.environ())
    return faketime, sb, Daemon(tmp / "d", sb, cooldown="1h", grace="1s", verify="30s")


def during_cooldown(tmp: Path, offset: str, after: float = 20.0) -> Step:
    """A remediation, then a step of `offset`, then CMAK down again inside the hour."""
    faketime, sb, d = _world(tmp)
    seen = Step(f"{offset} during the cooldown")
    try:
        d.start(env=faketime.environ())
        sb.break_tool(ORDERS)
        wait_for(
            lambda: [r[2] for r in d.rows()] == ["recovered"],
            timeout=40,
            what="the first remediation",
            detail=d.output,
        )
        faketime.set(offset)
        wait_for(lambda: "the wall clock stepped" in d.output(), timeout=10, what="the step")
        sb.break_tool(ORDERS)
        wait_for(
            lambda: '"reason": "cooldown"' in d.output(),
            timeout=20,
            what="the cooldown holding the second trip",
            detail=d.output,
        )
        CLOCK.sleep(after)  # the issue saw the second restart ~20 s after a +2 h step
        seen.actions = len(sb.action_calls(ORDERS))
        seen.outcomes = [r[2] for r in d.rows()]
    except AssertionError as exc:
        seen.notes.append(str(exc)[:2000])
    finally:
        d.kill()
        sb.stop()
    return seen


def during_verification(tmp: Path, offset: str = "+2h") -> Step:
    """CMAK down, its restart sent, then a step of `offset` while it is verified."""
    faketime, sb, d = _world(tmp)
    seen = Step(f"{offset} during verification")
    try:
        d.start(env=faketime.environ())
        sb.break_tool(ORDERS)
        wait_for(lambda: sb.action_calls(ORDERS) != [], timeout=30, what="the restart")
        faketime.set(offset)
        wait_for(
            lambda: [r[2] for r in d.rows()] != [None],
            timeout=40,
            what="the verification's end",
            detail=d.output,
        )
        seen.actions = len(sb.action_calls(ORDERS))
        seen.outcomes = [r[2] for r in d.rows()]
    except AssertionError as exc:
        seen.notes.append(str(exc)[:2000])
    finally:
        d.kill()
        sb.stop()
    return seen


def back_while_running(tmp: Path, offset: str = "-2h") -> Step:
    """A step of `offset` on a running daemon: do probes and watchdog pets go on?"""
    faketime, sb, d = _world(tmp)
    seen = Step(f"{offset} while running")
    path = str(tmp / "notify.sock")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
            notify.bind(path)
            env = {**faketime.environ(), "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}
            d.start(env=env)
            wait_for(d.ready, timeout=20, what="the daemon ready", detail=d.output)
            faketime.set(offset)
            # libfaketime reads its file once a second: measure from when the daemon saw it.
            wait_for(lambda: "the wall clock stepped" in d.output(), timeout=10, what="the step")
            probes = 'remediator_probes_total{result="success",target="orders"}'
            before = d.metric(probes) or 0.0
            notify.settimeout(0.05)
            while True:  # what was sent before the step
                try:
                    notify.recv(4096)
                except TimeoutError:
                    break
            notify.settimeout(2.5)
            end = CLOCK.monotonic() + 6
            while CLOCK.monotonic() < end:
                with contextlib.suppress(TimeoutError):
                    seen.pets_after += b"WATCHDOG=1" in notify.recv(4096)
            seen.probes_after = (d.metric(probes) or 0.0) - before
            answer = d.get("/-/healthy")
            seen.healthy_after = answer is not None and answer.status_code == 200
    except AssertionError as exc:
        seen.notes.append(str(exc)[:2000])
    finally:
        d.kill()
        sb.stop()
    return seen
