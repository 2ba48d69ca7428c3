"""Helpers for tests that need an external binary or a subprocess daemon."""

from __future__ import annotations

import os
import shutil
import socket

import pytest


def require_binary(name: str) -> str:
    """The path of `name`; skip loudly when absent, or fail when REMEDIATOR_REQUIRE_E2E=1."""
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
