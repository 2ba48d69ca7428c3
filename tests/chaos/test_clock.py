"""Steps of the wall clock on real processes (issue 14, item 3): the daemon and the sandbox under
libfaketime, their wall clock stepped ±2 h from a file while their monotonic clock goes on.
A step must not end a cooldown, fake a verification timeout, or stop probes or the watchdog."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediator.clock import SystemClock
from tests.chaos.faketime import Faketime, SandboxProcess
from tests.chaos.proc import AK, ORDERS, SK, Daemon
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e  # faketime, daemon and sandbox processes

CLOCK = SystemClock()


@pytest.fixture
def faketime(tmp_path: Path) -> Faketime:
    return Faketime(tmp_path / "faketime")


@pytest.fixture
def sb(tmp_path: Path, faketime: Faketime) -> Iterator[SandboxProcess]:
    box = SandboxProcess(tmp_path, AK, SK, faketime.environ())
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def daemon(tmp_path: Path, sb: SandboxProcess) -> Iterator[Daemon]:
    d = Daemon(tmp_path / "d", sb, cooldown="1h", grace="1s", verify="30s")
    yield d
    d.kill()


def remediated(d: Daemon) -> list[object]:
    return [r[2] for r in d.rows()]


@pytest.mark.parametrize("offset", ["+2h", "-2h"])
def test_a_step_during_the_cooldown_gives_no_second_restart(
    daemon: Daemon, sb: SandboxProcess, faketime: Faketime, offset: str
) -> None:
    daemon.start(env=faketime.environ())
    sb.break_tool(ORDERS)
    wait_for(
        lambda: remediated(daemon) == ["recovered"],
        timeout=40,
        what="the first remediation",
        detail=daemon.output,
    )
    faketime.set(offset)
    wait_for(
        lambda: "the wall clock stepped" in daemon.output(),
        timeout=10,
        what="the step seen",
        detail=daemon.output,
    )
    sb.break_tool(ORDERS)
    wait_for(
        lambda: '"reason": "cooldown"' in daemon.output(),
        timeout=20,
        what="the cooldown holding the second trip",
        detail=daemon.output,
    )
    CLOCK.sleep(20)  # the issue saw the second restart ~20 s after a +2 h step
    assert sb.action_calls(ORDERS) == ["restartCMAKService"]


def test_a_step_ahead_during_verification_is_no_false_not_recovered(
    daemon: Daemon, sb: SandboxProcess, faketime: Faketime
) -> None:
    daemon.start(env=faketime.environ())
    sb.break_tool(ORDERS)
    wait_for(
        lambda: sb.action_calls(ORDERS) != [], timeout=30, what="the restart", detail=daemon.output
    )
    faketime.set("+2h")
    wait_for(
        lambda: remediated(daemon) != [None],
        timeout=40,
        what="the verification's end",
        detail=daemon.output,
    )
    assert remediated(daemon) == ["recovered"], daemon.output()[-3000:]


def test_a_step_back_stops_neither_probes_nor_the_watchdog(
    daemon: Daemon, faketime: Faketime, tmp_path: Path
) -> None:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(path)
        notify.settimeout(10)
        daemon.start(env={**faketime.environ(), "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        wait_for(daemon.ready, timeout=20, what="the daemon ready", detail=daemon.output)
        faketime.set("-2h")
        CLOCK.sleep(2)  # libfaketime reads its file once a second
        before = daemon.metric('remediator_probes_total{result="success",target="orders"}')
        while True:  # drain what was sent before the step
            notify.settimeout(0.05)
            try:
                notify.recv(4096)
            except TimeoutError:
                break
        notify.settimeout(10)
        pets = sum(b"WATCHDOG=1" in notify.recv(4096) for _ in range(3))
    assert pets >= 1, "the watchdog is petted after the step"
    CLOCK.sleep(3)
    after = daemon.metric('remediator_probes_total{result="success",target="orders"}')
    assert before is not None and after is not None and after >= before + 2, (before, after)
    answer = daemon.get("/-/healthy")
    assert answer is not None and answer.status_code == 200
