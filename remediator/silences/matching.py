"""Whether an Alertmanager silence holds a target, by the rule of SPEC section 10 — pure.

A silence holds a target when at least one of its matchers names one of the target's
identifying labels (`remediator_target`, `cluster_no`, `service_group_instance_no`, the keys of
its `labels:`) and every such matcher matches the target's value; matchers on other labels
(`alertname`, `severity`) are ignored. Matchers work as Alertmanager's: `=` and `!=` compare,
`=~` and `!~` are regular expressions anchored at both ends (`^(?:...)$`), `!=` and `!~` negate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "Matcher",
    "Silence",
    "SilencesError",
    "Verdict",
    "holding",
    "parse_silences",
]


class SilencesError(ValueError):
    """Alertmanager's answer is not a list of silences, or a matcher cannot be evaluated."""


@dataclass(frozen=True)
class Matcher:
    """One matcher of a silence: `name` `=`/`!=`/`=~`/`!~` `value`."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    @property
    def op(self) -> str:
        """The matcher's operator as amtool writes it."""
        if self.is_equal:
            return "=~" if self.is_regex else "="
        return "!~" if self.is_regex else "!="

    def matches(self, value: str) -> bool:
        """Whether `value` satisfies this matcher; SilencesError for a regex Python cannot read."""
        if self.is_regex:
            hit = _regex(self.value).fullmatch(value) is not None
        else:
            hit = value == self.value
        return hit == self.is_equal

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value!r}"


@dataclass(frozen=True)
class Silence:
    """An active silence: its id, who made it and why, and its matchers."""

    id: str
    created_by: str
    comment: str
    matchers: tuple[Matcher, ...]
    ends_at: str = ""

    def describe(self) -> str:
        """The silence in words for a log line: id, author, comment, matchers, end."""
        matchers = ", ".join(str(m) for m in self.matchers)
        until = f", until {self.ends_at}" if self.ends_at else ""
        return (
            f"silence {self.id} by {self.created_by or 'unknown'} "
            f"({self.comment or 'no comment'}; {{{matchers}}}{until})"
        )


@dataclass(frozen=True)
class Verdict:
    """What the silences say of one target: `held` by a silence, or `unreadable` (a matcher on
    its labels that could not be evaluated, and no other silence holding it), or neither."""

    held: Silence | None = None
    unreadable: str = ""


def holding(silences: Sequence[Silence], identity: Mapping[str, str]) -> Verdict:
    """The first silence that holds the target named by `identity` (label → value)."""
    unreadable: list[str] = []
    for silence in silences:
        relevant = [m for m in silence.matchers if m.name in identity]
        if not relevant:
            continue
        try:
            if all(m.matches(identity[m.name]) for m in relevant):
                return Verdict(held=silence)
        except SilencesError as exc:
            unreadable.append(f"silence {silence.id}: {exc}")
    return Verdict(unreadable="; ".join(unreadable))


def parse_silences(data: Any) -> list[Silence]:
    """The active silences of a `GET /api/v2/silences` answer (pending and expired left out)."""
    if not isinstance(data, list):
        raise SilencesError("the answer is not a JSON list of silences")
    out: list[Silence] = []
    for item in data:
        if not isinstance(item, dict):
            raise SilencesError("a silence is not a JSON object")
        status = item.get("status")
        state = status.get("state") if isinstance(status, dict) else None
        if state != "active":
            continue
        raw = item.get("matchers")
        if not isinstance(raw, list):
            raise SilencesError(f"silence {item.get('id')!r} has no list of matchers")
        out.append(
            Silence(
                id=_text(item.get("id")),
                created_by=_text(item.get("createdBy")),
                comment=_text(item.get("comment")),
                matchers=tuple(_matcher(m) for m in raw),
                ends_at=_text(item.get("endsAt")),
            )
        )
    return out


def _matcher(raw: Any) -> Matcher:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise SilencesError(f"a matcher is not an object with a name: {str(raw)[:100]}")
    value = raw.get("value", "")
    if not isinstance(value, str):
        raise SilencesError(f"matcher {raw['name']} has no string value")
    # isEqual is absent from silences made before Alertmanager 0.22: they were all positive.
    return Matcher(
        name=raw["name"],
        value=value,
        is_regex=raw.get("isRegex") is True,
        is_equal=raw.get("isEqual", True) is not False,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    """Alertmanager anchors every regex matcher: `^(?:pattern)$` (fullmatch here)."""
    try:
        return re.compile(f"(?:{pattern})")
    except re.error as exc:
        raise SilencesError(f"regex {pattern!r} cannot be evaluated here: {exc}") from None
