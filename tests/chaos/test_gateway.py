"""The gateway fault matrix (issue 14's campaign): no action whose outcome is unknown is sent
again, and no call is carried out twice. The whole matrix runs here; `make chaos` too."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.gateway import Kind, incident, kinds

KINDS = kinds()


def test_the_matrix_covers_every_gateway_error_on_the_action_and_the_read() -> None:
    assert len(KINDS) == 32


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_a_gateway_fault_never_leads_to_a_resend(tmp_path: Path, kind: Kind) -> None:
    seen = incident(tmp_path, kind)
    assert seen.resends_after_unknown == 0, seen
    assert seen.applied <= 1, seen
    assert seen.calls >= 1 or seen.result is None, seen
