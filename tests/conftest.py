"""Shared fixtures: clocks, a running sandbox, and a signer independent from remediator.ncp."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Generator, Iterator

import pytest

from remediator.clock import FakeClock
from remediator.sandbox import Sandbox
from tests.e2e import CURRENT_TEST

# `postgres`: a real server for the session; `loop` and `prober`: a running probe loop
pytest_plugins = ["tests.pg", "tests.probing"]

SANDBOX_ACCESS_KEY = "TEST-ACCESS-KEY"
SANDBOX_SECRET_KEY = "test-secret-key"  # a test key, not a secret
FAST_RESTART_DELAY = 0.5

Signer = Callable[[str, str, int, str, str], dict[str, str]]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Name the running test to `tests.e2e.require_binary`, which checks its e2e marker."""
    token = CURRENT_TEST.set(item)
    try:
        return (yield)
    finally:
        CURRENT_TEST.reset(token)


def sign_request(
    method: str, target: str, ts_ms: int, access_key: str, secret_key: str
) -> dict[str, str]:
    """The headers of a signature-v2 request, computed here without remediator.ncp."""
    message = f"{method} {target}\n{ts_ms}\n{access_key}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return {
        "x-ncp-apigw-timestamp": str(ts_ms),
        "x-ncp-iam-access-key": access_key,
        "x-ncp-apigw-signature-v2": base64.b64encode(digest).decode(),
        "Content-Type": "application/json",
    }


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that moves only when told to (starts 2027-01-15, after CMAK's withdrawal)."""
    return FakeClock()


@pytest.fixture
def sign() -> Signer:
    """`sign(method, target, ts_ms, access_key, secret_key) -> headers`."""
    return sign_request


@pytest.fixture
def sandbox_keys() -> tuple[str, str]:
    """(access key, secret key) the `sandbox` and `fake_sandbox` fixtures accept."""
    return SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A sandbox on a free loopback port with the real clock and 0.5 s restarts.

    Like the real service today, its restartCMAKService is withdrawn (auto, after
    2026-09-17); `sb.set_cmak_restart(no, "available")` brings it back for one cluster.
    """
    sb = Sandbox(
        access_key=SANDBOX_ACCESS_KEY,
        secret_key=SANDBOX_SECRET_KEY,
        restart_delay=FAST_RESTART_DELAY,
    ).start()
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def fake_sandbox(fake_clock: FakeClock) -> Iterator[Sandbox]:
    """A sandbox driven by `fake_clock` (restarts take 0.5 s of fake time; sign with it too)."""
    sb = Sandbox(
        access_key=SANDBOX_ACCESS_KEY,
        secret_key=SANDBOX_SECRET_KEY,
        clock=fake_clock,
        restart_delay=FAST_RESTART_DELAY,
    ).start()
    try:
        yield sb
    finally:
        sb.stop()
