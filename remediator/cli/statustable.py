"""`remediator status` as text: tables of targets and rules, and how far each action reaches."""

from __future__ import annotations

from typing import Any

from remediator.core.rules import blast_radius_of
from remediator.timetext import iso


def render_status(data: dict[str, Any]) -> str:
    """The status as readable tables, each action with how far it reaches (its blast radius)."""
    lines = [f"remediator status at {iso(data['at'])} — from the {data.get('source', '')}", ""]
    rows: list[tuple[str, ...]] = [("TARGET", "CLUSTER", "HEALTH", "PAUSED", "IN FLIGHT")]
    for t in data["targets"]:
        up = {True: "up", False: "DOWN", None: "?"}[t["up"]]
        paused = f"yes: {t['pause_reason']}" if t["paused"] else "-"
        rows.append((t["name"], t["cluster_no"], up, paused, _in_flight(t)))
    lines += [*_table(rows), ""]
    lines += _windows(data["targets"])
    rows = [("RULE", "TARGET", "MODE", "PHASE", "WORST", "COOLDOWN", "BUDGET", "BREAKER", "LAST")]
    remedies: dict[str, str] = {}
    for t in data["targets"]:
        for r in t["rules"]:
            cooldown = (
                f"{r['cooldown_remaining_seconds']:.0f}s"
                if r["cooldown_remaining_seconds"]
                else "-"
            )
            rows.append(
                (
                    r["rule"],
                    t["name"],
                    r["mode"],
                    r["phase"],
                    r["worst_blast_radius"],
                    cooldown,
                    f"{r['budget_used']}/{r['budget_max']}",
                    "OPEN" if r["breaker_open"] else "closed",
                    r["last_outcome"] or "-",
                )
            )
            remedies.setdefault(r["rule"], _remedies(r))
    lines += _table(rows)
    if remedies:
        lines += [
            "",
            "what each rule may send, in order (blast radius: tool < node < rolling < cluster):",
        ]
        lines += [f"  {rule}: {text}" for rule, text in remedies.items()]
    fleet = data["fleet"]
    lines += [
        "",
        f"fleet: {fleet['in_flight']}/{fleet['max_concurrent_actions']} in flight, "
        f"{fleet['actions_last_hour']}/{fleet['max_actions_per_hour']} actions in the last hour",
    ]
    for a in data.get("approvals") or []:
        lines += [
            "",
            f"approval {a['id']} waiting: {a['action']} on {a['target']} (blast radius "
            f"{a['blast_radius']}), rule {a['rule']}, until {a['expires_at']} — remediator "
            f"approve|deny {a['id']} --reason ...",
        ]
    actions = data.get("recent_actions") or []
    if actions:
        lines += ["", "recent actions:"]
        for a in actions[:10]:
            lines.append(
                f"  #{a['id']} {iso(a['intent_at'])} {_with_radius(a['action'])} on {a['target']} "
                f"({a['rule']}, {a['mode']}): {a['result'] or 'no outcome recorded'}"
                f", {a['remediation'] or 'not verified yet'}"
                + (f", requestId {a['request_id']}" if a.get("request_id") else "")
            )
    return "\n".join(lines)


def _windows(targets: list[dict[str, Any]]) -> list[str]:
    """Each target's current and next maintenance window, on its zone's clocks (none: no
    table)."""
    rows: list[tuple[str, ...]] = [("TARGET", "MAINTENANCE NOW", "NEXT WINDOW")]
    for t in targets:
        if not t.get("maintenance"):
            continue
        now, nxt = t["maintenance"]["current"], t["maintenance"]["next"]
        rows.append(
            (
                t["name"],
                f"{now['name']} until {now['local_end']}" if now else "-",
                f"{nxt['name']} {nxt['local_start']} to {nxt['local_end']}" if nxt else "-",
            )
        )
    return [*_table(rows), ""] if len(rows) > 1 else []


def _with_radius(action: str) -> str:
    """`action (blast radius)`, e.g. `rolling_restart (rolling)`."""
    radius = blast_radius_of(action)
    return action if radius is None else f"{action} ({radius})"


def _in_flight(target: dict[str, Any]) -> str:
    """The action in flight on `target`: its blast radius, its ladder step, its phase."""
    flight = target["in_flight"]
    if not flight:
        return "-"
    words = [flight.get("blast_radius") or "?"]
    rule = next((r for r in target["rules"] if r["rule"] == flight["rule"]), None)
    if rule is not None and len(rule["steps"]) > 1:
        words.append(f"step {flight['step'] + 1} of {len(rule['steps'])}")
    words.append(flight["phase"])
    return f"{flight['action']} ({'; '.join(words)}) by {flight['rule']}"


def _remedies(rule: dict[str, Any]) -> str:
    """A rule's steps, then its fallback, each with its blast radius; then its limit."""
    sent = [*rule["steps"], *([rule["fallback_action"]] if rule["fallback_action"] else [])]
    return (
        " → ".join(_with_radius(a) for a in sent)
        + f"; worst case {rule['worst_blast_radius']}, max_blast_radius {rule['max_blast_radius']}"
    )


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
