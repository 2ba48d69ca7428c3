"""Helpers for tests that need an external binary or a subprocess daemon.

Such tests are marked `e2e`, so that `pytest -m "not e2e"` is the fast loop; what needs an
external binary or PostgreSQL fails a test that is not marked, so the loop stays fast.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from contextvars import ContextVar

import pytest

# The test being run (set by conftest.py around each test), for `require_binary` to check.
CURRENT_TEST: ContextVar[pytest.Item | None] = ContextVar("current_test", default=None)


def require_e2e(item: pytest.Item, what: str) -> None:
    """Fail `item` unless it is marked e2e: a test that needs `what` is not for the fast loop."""
    if item.get_closest_marker("e2e") is None:
        pytest.fail(
            f"{item.nodeid} needs {what}: mark it @pytest.mark.e2e "
            f'(`pytest -m "not e2e"` is the fast loop)'
        )


def require_binary(name: str) -> str:
    """The path of `name`; skip loudly when absent, or fail when REMEDIATOR_REQUIRE_E2E=1."""
    item = CURRENT_TEST.get()
    if item is not None:
        require_e2e(item, name)
    path = shutil.which(name)
    if path is None:
        message = (
            f"{name} is not installed: this end-to-end test cannot run "
            f"(apt-get install the Debian package that ships it; .ci/run does)"
        )
        if os.environ.get("REMEDIATOR_REQUIRE_E2E") == "1":
            pytest.fail(message + " and REMEDIATOR_REQUIRE_E2E=1")
        pytest.skip(message)
    return path


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if `proc` has not exited after `grace` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
