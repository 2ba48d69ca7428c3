"""Steps of the wall clock on real processes (issue 14, item 3): the daemon and the sandbox under
libfaketime, their wall clock stepped ±2 h while their monotonic clock goes on. A step must not
end a cooldown, fake a verification timeout, or stop probes or the watchdog."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.clocksteps import back_while_running, during_cooldown, during_verification

pytestmark = pytest.mark.e2e  # faketime, daemon and sandbox processes


@pytest.mark.parametrize("offset", ["+2h", "-2h"])
def test_a_step_during_the_cooldown_gives_no_second_restart(tmp_path: Path, offset: str) -> None:
    seen = during_cooldown(tmp_path, offset)
    assert (seen.notes, seen.actions) == ([], 1), seen


def test_a_step_ahead_during_verification_is_no_false_not_recovered(tmp_path: Path) -> None:
    seen = during_verification(tmp_path, "+2h")
    assert (seen.notes, seen.actions, seen.outcomes) == ([], 1, ["recovered"]), seen


def test_a_step_back_stops_neither_probes_nor_the_watchdog(tmp_path: Path) -> None:
    seen = back_while_running(tmp_path, "-2h")
    assert seen.notes == [], seen
    assert seen.pets_after >= 2 and seen.probes_after >= 4 and seen.healthy_after, seen
