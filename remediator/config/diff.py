"""What a reload changed, in one line for the log."""

from __future__ import annotations

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
            f"{key} {_show(getattr(before, key))} -> {_show(getattr(rule, key))}"
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


def _show(value: object) -> str:
    if isinstance(value, float):
        return format_duration(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value) if not hasattr(value, "model_dump") else str(value.model_dump())
