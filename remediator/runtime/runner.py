"""The one loop that answers the engine: feed an event, and for each `CheckFirst` or `Act` it
outputs, get the answer (a `PreflightResult`, an `ActionOutcome`) and feed that in turn.

Synchronous (no `submit`): answers are worked out and fed before `feed` returns, breadth
first — `explain`'s synthesized replays and the engine's tests. With `submit`: each answer is
worked out and fed by work handed to an executor — the daemon's driver, whose answers are a
fresh probe, a cluster status read and a signed call.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial
from typing import assert_never

from remediator.core.decisions import (
    Act,
    ApprovalRequested,
    ApprovalSettled,
    BreakerChanged,
    CheckFirst,
    Decision,
    Escalated,
    Output,
    Remediated,
)
from remediator.core.events import ActionOutcome, Event, PreflightResult

Step = Callable[[Event], list[Output]]
AnswerCheck = Callable[[CheckFirst], PreflightResult]
# None: nothing to tell the engine (a dry run sends nothing, so nothing comes back).
AnswerAct = Callable[[Act], ActionOutcome | None]
Submit = Callable[[Callable[[], None]], object]


class Runner:
    """Feeds events through `step` (the engine's `handle` at some time) and answers requests."""

    def __init__(
        self,
        step: Step,
        *,
        check_first: AnswerCheck,
        act: AnswerAct,
        submit: Submit | None = None,
    ) -> None:
        self._step = step
        self._check_first = check_first
        self._act = act
        self._submit = submit

    def feed(self, event: Event) -> list[Output]:
        """Feed `event`; synchronously, also every answer, and return all their outputs in order.

        With `submit`, return `event`'s own outputs; the answers follow on the executor.
        """
        if self._submit is None:
            produced: list[Output] = []
            pending: deque[Event] = deque([event])
            while pending:
                outputs = self._step(pending.popleft())
                produced += outputs
                for out in outputs:
                    if (answer := self.answer(out)) is not None:
                        pending.append(answer)
            return produced
        outputs = self._step(event)
        for out in outputs:
            if isinstance(out, CheckFirst | Act):
                self._submit(partial(self._answer_and_feed, out))
        return outputs

    def answer(self, out: Output) -> Event | None:
        """The answer to `out` when it asks for one (None for decisions and other news)."""
        match out:
            case CheckFirst():
                return self._check_first(out)
            case Act():
                return self._act(out)
            case (
                Decision()
                | Remediated()
                | Escalated()
                | BreakerChanged()
                | ApprovalRequested()
                | ApprovalSettled()
            ):
                return None
            case _:
                assert_never(out)

    def _answer_and_feed(self, request: CheckFirst | Act) -> None:
        if (answer := self.answer(request)) is not None:
            self.feed(answer)
