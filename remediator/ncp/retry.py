"""The retry policy of CDSS calls: what is retried, how long to wait, and when to give up.

What may be retried is decided by the error (`NcpError.retryable`): throttling and failures
before sending always; 5xx answers and broken exchanges only for reads. An action whose
outcome is unknown is never resent. Waits are jittered exponential, or the gateway's
`Retry-After`; attempts stop at a count or at a deadline measured on the injected clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tenacity import RetryCallState, Retrying, retry_if_exception
from tenacity.stop import stop_base
from tenacity.wait import wait_base, wait_exponential_jitter

from remediator.clock import Clock
from remediator.errors import NcpError, NcpServerError, NcpThrottled, NcpTransportError


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts, a total deadline, and the backoff between attempts."""

    max_attempts: int = 5
    deadline: float = 30.0
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.deadline <= 0:
            raise ValueError("deadline must be positive")


def retry_reason(exc: BaseException) -> str:
    """The `reason` label of remediator_ncp_retries_total for a retried failure."""
    if isinstance(exc, NcpThrottled):
        return "throttled"
    if isinstance(exc, NcpServerError):
        return "server_error"
    if isinstance(exc, NcpTransportError):
        return exc.kind
    return "other"


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, NcpError) and exc.retryable


class BackoffWait(wait_base):
    """Jittered exponential backoff, unless a throttled answer said `Retry-After`."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._exponential = wait_exponential_jitter(
            multiplier=policy.backoff_initial, max=policy.backoff_max, jitter=policy.jitter
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, NcpThrottled) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._exponential(retry_state))


class DeadlineStop(stop_base):
    """Stop at `max_attempts`, or when the next wait would end past the deadline.

    Measured on the injected clock's monotonic time, not tenacity's own (real) clock, so a
    `FakeClock` drives it in tests.
    """

    def __init__(self, clock: Clock, policy: RetryPolicy) -> None:
        self._clock = clock
        self._max_attempts = policy.max_attempts
        self._end = clock.monotonic() + policy.deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        if retry_state.attempt_number >= self._max_attempts:
            return True
        return self._clock.monotonic() + retry_state.upcoming_sleep > self._end


def retrying(
    policy: RetryPolicy,
    *,
    clock: Clock,
    sleep: Callable[[float], None],
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> Retrying:
    """A tenacity controller for one call (its deadline starts now); reraises the last error."""
    return Retrying(
        sleep=sleep,
        stop=DeadlineStop(clock, policy),
        wait=BackoffWait(policy),
        retry=retry_if_exception(_retryable),
        before_sleep=before_sleep,
        reraise=True,
    )
