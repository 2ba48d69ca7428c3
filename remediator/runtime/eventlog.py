"""Engine events as JSON lines: what the daemon records and `remediator explain` replays.

One JSON object per line: `{"now": <when the engine saw it>, "type": ..., <the event's fields>}`
with `type` one of `probe`, `alert`, `preflight`, `outcome`, `tick`, `pause`, `resume`,
`manual` (an operator's restart; a `preflight`'s `probe` is a nested object, an `alert`'s
`labels` an object of strings).
`event_to_json` writes every field with epoch-second times, so that what it writes reads back
as exactly the same event. Hand-written files may also write times (`now`, `at`, `until`) as
RFC 3339 (`"2026-11-27T04:55:40Z"`), leave out `at` (it is `now`) or `now` (it is `at`), and
leave out what has an obvious default: a probe's `reason` and `duration`; an alert's `status`
(firing), `labels`, `starts_at` (its `at`), `starts_at_ts` (parsed from `starts_at`, as the
webhook does) and `fingerprint` (from its name, target and labels); a pause's `reason`; a
manual restart's `reason` and its flags `force`, `reset_breaker` and `dry_run` (false).
An `approval` line is a human's answer to a pending approval: `id`, `approve` (true or false),
`by` and `reason` (both default "").
`{"type": "cluster", "target": T, "busy": true, "now": ...}` (optional `detail`) is a replay
extension that `remediator.cli.explain` documents. Blank lines and lines starting with `#` are
skipped; unknown keys are errors, and `read_events` names the file and line of each.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, TypeGuard, assert_never, get_args

from remediator.core.events import (
    ActionOutcome,
    AlertEvent,
    ApprovalAnswer,
    Event,
    HoldReason,
    ManualRestart,
    Pause,
    PreflightResult,
    ProbeResult,
    Resume,
    Tick,
)
from remediator.core.rules import ACTIONS
from remediator.timetext import parse_time, rfc3339

__all__ = [
    "ClusterStatus",
    "Entry",
    "EventsError",
    "entry_from_json",
    "event_from_json",
    "event_to_json",
    "kind_of",
    "read_events",
]

Kind = Literal[
    "probe", "alert", "preflight", "outcome", "tick", "pause", "resume", "manual", "approval"
]
KINDS: tuple[Kind, ...] = get_args(Kind)  # one per `Event` type: see `kind_of`
_TYPES = (*KINDS, "cluster")
_MISSING: Any = object()
_ABSENT: Any = object()


class EventsError(ValueError):
    """A line of an events file that is not an event; `str()` is `FILE:LINE: message`."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.message, self.file, self.line = message, file, line
        super().__init__(message)

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p is not None)
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True)
class ClusterStatus:
    """Replay-only extension: from `at` on, synthesized preflights see `target`'s cluster so."""

    target: str
    busy: bool
    at: float
    detail: str = ""


Entry = Event | ClusterStatus


# -- writing --------------------------------------------------------------------------------


def kind_of(event: Event) -> Kind:
    """The `type` an event is written as (a new event type is a type error here)."""
    match event:
        case ProbeResult():
            return "probe"
        case AlertEvent():
            return "alert"
        case PreflightResult():
            return "preflight"
        case ActionOutcome():
            return "outcome"
        case Tick():
            return "tick"
        case Pause():
            return "pause"
        case Resume():
            return "resume"
        case ManualRestart():
            return "manual"
        case ApprovalAnswer():
            return "approval"
        case _:
            assert_never(event)


def event_to_json(event: Event, now: float) -> str:
    """One line (no newline) that `event_from_json` reads back as exactly `(event, now)`."""
    body: dict[str, Any] = {"now": now, "type": kind_of(event)}
    body.update((f.name, getattr(event, f.name)) for f in fields(event))
    match event:
        case AlertEvent():
            body["labels"] = dict(event.labels)
        case PreflightResult(probe=ProbeResult() as probe):
            body["probe"] = {f.name: getattr(probe, f.name) for f in fields(probe)}
        case _:
            pass  # every other field is a JSON value already
    return json.dumps(body)


# -- reading --------------------------------------------------------------------------------


class _Obj:
    """A JSON object being read: typed getters that name the key, and a check for strays."""

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self.data, self.prefix = data, prefix
        self.used: dict[str, None] = {}  # in the order looked up, for a stable message

    def get(self, key: str, check: Any, what: str, default: Any = _MISSING) -> Any:
        self.used[key] = None
        if key not in self.data:
            if default is _MISSING:
                raise EventsError(f'{self.prefix}"{key}" is missing')
            return default
        value = self.data[key]
        if not check(value):
            raise EventsError(f'{self.prefix}"{key}" must be {what}, not {json.dumps(value)}')
        return value

    def text(self, key: str, default: Any = _MISSING) -> Any:
        return self.get(key, lambda v: isinstance(v, str), "a string", default)

    def flag(self, key: str, default: Any = _MISSING) -> Any:
        return self.get(key, lambda v: isinstance(v, bool), "true or false", default)

    def number(self, key: str, default: Any = _MISSING) -> Any:
        value = self.get(key, _is_number, "a number", default)
        return float(value) if _is_number(value) else value

    def time(self, key: str, default: Any = _MISSING) -> Any:
        what = 'epoch seconds or an RFC 3339 time like "2026-11-27T04:55:40Z"'
        value = self.get(key, lambda v: _is_number(v) or isinstance(v, str), what, default)
        if isinstance(value, str):
            parsed = parse_time(value)
            if parsed is None:
                raise EventsError(f'{self.prefix}"{key}" must be {what}, not {json.dumps(value)}')
            return parsed
        return float(value) if _is_number(value) else value

    def done(self) -> None:
        stray = [k for k in self.data if k not in self.used]
        if stray:
            known = ", ".join(k for k in self.used if k != "type")
            raise EventsError(f"{self.prefix}unknown key(s) {', '.join(stray)} (known: {known})")


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _one_of(obj: _Obj, key: str, choices: Sequence[str], default: Any = _MISSING) -> Any:
    what = " or ".join(json.dumps(c) for c in choices)
    return obj.get(key, lambda v: v in choices, what, default)


def _probe(obj: _Obj, at: float, target: str | None = None) -> ProbeResult:
    name = obj.text("target") if target is None else obj.text("target", target)
    ok = obj.flag("ok")
    return ProbeResult(
        target=name,
        ok=ok,
        reason=obj.text("reason", "ok" if ok else "probe failed"),
        at=at,
        duration=obj.number("duration", 0.0),
        check=_one_of(obj, "check", ("tool", "cluster"), "tool"),
        inconclusive=obj.flag("inconclusive", False),
    )


def _alert(obj: _Obj, at: float) -> AlertEvent:
    target, alertname = obj.text("target"), obj.text("alertname")
    labels = obj.get(
        "labels",
        lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
        "an object of strings",
        {},
    )
    starts_at = obj.text("starts_at", rfc3339(at))
    given = obj.get("starts_at_ts", lambda v: v is None or _is_number(v), "a number", _ABSENT)
    if given is _ABSENT:
        given = parse_time(starts_at)
    hand = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return AlertEvent(
        target=target,
        alertname=alertname,
        status=_one_of(obj, "status", ("firing", "resolved"), "firing"),
        fingerprint=obj.text("fingerprint", f"{alertname}/{target}/{hand}"),
        starts_at=starts_at,
        at=at,
        labels=dict(labels),
        starts_at_ts=None if given is None else float(given),
    )


def _preflight(obj: _Obj, at: float) -> PreflightResult:
    target = obj.text("target")
    raw = obj.get("probe", lambda v: v is None or isinstance(v, dict), "an object or null", None)
    probe = None
    if raw is not None:
        inner = _Obj(raw, 'in "probe": ')
        probe = _probe(inner, inner.time("at", at), target)
        inner.done()
    busy = busy_or_none(obj, "cluster_busy")
    return PreflightResult(
        rule=obj.text("rule"),
        target=target,
        token=obj.get("token", lambda v: isinstance(v, int) and not isinstance(v, bool), "an int"),
        at=at,
        probe=probe,
        cluster_busy=busy,
        cluster_detail=obj.text("cluster_detail", ""),
        nodes=_nodes(obj),
        nodes_detail=obj.text("nodes_detail", ""),
        precheck_ok=obj.get(
            "precheck_ok", lambda v: v is None or isinstance(v, bool), "a bool", None
        ),
        precheck_message=obj.text("precheck_message", ""),
        held=obj.get(
            "held",
            lambda v: v is None or v in get_args(HoldReason),
            "null, silenced or maintenance",
            None,
        ),
        held_detail=obj.text("held_detail", ""),
    )


def busy_or_none(obj: _Obj, key: str) -> bool | None:
    """A flag that may be null (not looked at)."""
    value: bool | None = obj.get(key, lambda v: v is None or isinstance(v, bool), "a bool", None)
    return value


def _nodes(obj: _Obj) -> tuple[int, ...] | None:
    nodes = obj.get(
        "nodes",
        lambda v: (
            v is None
            or (
                isinstance(v, list)
                and all(isinstance(n, int) and not isinstance(n, bool) for n in v)
            )
        ),
        "a list of computeInstanceNos or null",
        None,
    )
    return None if nodes is None else tuple(nodes)


def _manual(obj: _Obj, at: float) -> ManualRestart:
    return ManualRestart(
        target=obj.text("target"),
        action=_one_of(obj, "action", ACTIONS),
        reason=obj.text("reason", ""),
        at=at,
        force=obj.flag("force", False),
        reset_breaker=obj.flag("reset_breaker", False),
        dry_run=obj.flag("dry_run", False),
        allow_fallback=obj.flag("allow_fallback", False),
    )


def _entry(kind: Kind | Literal["cluster"], obj: _Obj, at: float) -> Entry:
    maybe_str = (lambda v: v is None or isinstance(v, str), "a string or null")
    match kind:
        case "probe":
            return _probe(obj, at)
        case "alert":
            return _alert(obj, at)
        case "preflight":
            return _preflight(obj, at)
        case "outcome":
            results = ("success", "failure", "unknown", "not_available", "not_sent")
            return ActionOutcome(
                obj.text("rule"),
                obj.text("target"),
                obj.text("action"),
                _one_of(obj, "result", results),
                at,
                obj.text("detail", ""),
            )
        case "tick":
            return Tick(at)
        case "pause":
            target = obj.get("target", *maybe_str)
            return Pause(target, obj.time("until"), obj.text("reason", ""), at)
        case "resume":
            return Resume(obj.get("target", *maybe_str), at, obj.flag("reset_breaker", False))
        case "manual":
            return _manual(obj, at)
        case "approval":
            return ApprovalAnswer(
                obj.text("id"), obj.flag("approve"), obj.text("by", ""), obj.text("reason", ""), at
            )
        case "cluster":
            return ClusterStatus(obj.text("target"), obj.flag("busy"), at, obj.text("detail", ""))
        case _:
            assert_never(kind)


def entry_from_json(line: str) -> tuple[Entry, float]:
    """Read one line as `(event, now)`, the `cluster` extension included; else EventsError."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EventsError(f"not JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(data, dict):
        raise EventsError('must be a JSON object with a "type" and a "now"')
    obj = _Obj(data)
    kind = _one_of(obj, "type", _TYPES)
    now = obj.time("now", None)
    at = obj.time("at", now)
    if at is None:
        raise EventsError('"now" is missing (epoch seconds or RFC 3339; or give "at")')
    now = at if now is None else now
    if not math.isfinite(now):
        raise EventsError('"now" must be a finite time')
    entry = _entry(kind, obj, at)
    obj.done()
    return entry, now


def event_from_json(line: str) -> tuple[Event, float]:
    """Read one line written by `event_to_json` (or by hand) as `(event, now)`."""
    entry, now = entry_from_json(line)
    if isinstance(entry, ClusterStatus):
        raise EventsError('"cluster" lines are a replay extension, not an engine event')
    return entry, now


def read_events(path: str | Path) -> list[tuple[int, Entry, float]]:
    """Every event of a JSON-lines file as `(line number, event, now)`; EventsError names it."""
    out: list[tuple[int, Entry, float]] = []
    for number, raw in enumerate(Path(path).read_bytes().split(b"\n"), start=1):
        try:
            text = raw.decode("utf-8").strip()
            if text and not text.startswith("#"):
                out.append((number, *entry_from_json(text)))
        except UnicodeDecodeError:
            raise EventsError("not UTF-8 text", file=str(path), line=number) from None
        except EventsError as exc:
            raise EventsError(exc.message, file=str(path), line=number) from None
    return out
