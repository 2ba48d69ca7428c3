"""The SIGKILL campaign (issue 14), reduced: a few daemons killed at random points of a
remediation. The full run (200 kills) is `make chaos`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.kills import campaign

pytestmark = pytest.mark.e2e  # daemon processes


def test_kills_at_random_points_never_duplicate_lose_or_corrupt(tmp_path: Path) -> None:
    result = campaign(tmp_path, kills=6, seed=3, workers=2)
    assert result.notes == []
    assert (result.duplicates, result.lost_intents, result.corrupt) == (0, 0, 0)
    assert (result.unsettled, result.unexplained) == (0, 0)
    assert (result.sigterm_slow, result.sigterm_failed) == (0, 0)
    assert result.kills == 6 and result.calls >= 5
