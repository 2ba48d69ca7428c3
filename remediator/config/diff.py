"""What a reload changed, in one line for the log."""

from __future__ import annotations

from pydantic import BaseModel

from remediator.config.loader import Config
from remediator.timetext import format_duration


def describe_changes(old: Config, new: Config) -> str:
    """E.g. `targets +billing -legacy; rules ~cmak-unhealthy (cooldown 15m -> 5m); ncp same`."""
    parts: list[str] = []
    old_t = {t.name: t for t in old.targets}
    new_t = {t.name: t for t in new.targets}
    changes = [f"+{n}" for n in new_t if n not in old_t] + [
        f"-{n}" for n in old_t if n not in new_t
    ]
    changes += [f"~{n}" for n in new_t if n in old_t and new_t[n] != old_t[n]]
    if changes:
        parts.append("targets " + " ".join(changes))
    old_r = {r.name: r for r in old.rules}
    new_r = {r.name: r for r in new.rules}
    changes = [f"+{n}" for n in new_r if n not in old_r] + [
        f"-{n}" for n in old_r if n not in new_r
    ]
    for name, rule in new_r.items():
        before = old_r.get(name)
        if before is None or before == rule:
            continue
        fields = [
            f"{key} {_show(getattr(before, key), key)} -> {_show(getattr(rule, key), key)}"
            for key in type(rule).model_fields
            if getattr(before, key) != getattr(rule, key)
        ]
        changes.append(f"~{name} ({', '.join(fields)})")
    if changes:
        parts.append("rules " + " ".join(changes))
    for section in ("ncp", "guardrails", "server", "state", "alertmanager", "maintenance"):
        if getattr(old, section) != getattr(new, section):
            parts.append(f"{section} changed")
    return "; ".join(parts) if parts else "no changes"


def _show(value: object, key: str = "") -> str:
    """A configuration value as it is written in YAML: `{max: 3, per: 1h}`, `[a, b]`, `15m`."""
    if isinstance(value, BaseModel):
        fields = [k for k in type(value).model_fields if getattr(value, k) is not None]
        inner = ", ".join(f"{k}: {_show(getattr(value, k), k)}" for k in fields)
        return "{" + inner + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v, str(k))}" for k, v in value.items()) + "}"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, float) and key != "fraction":  # every other float is a duration
        return format_duration(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
