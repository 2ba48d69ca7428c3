"""Part of the engine: Alertmanager alerts, their episodes, and what settles them.

Functions over the `Engine`'s state, split out of engine.py to keep one concern a module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from remediator.core.decisions import Decision, Output
from remediator.core.events import AlertEvent
from remediator.core.rules import AlertTrigger, Rule
from remediator.core.state import EpisodeState

if TYPE_CHECKING:
    from remediator.core.engine import Engine

# How long an episode is remembered after its last receipt: a re-send within it is a
# duplicate, after it a new incident. The ledger keeps episodes as long (across restarts).
EPISODE_MEMORY = 7 * 86400.0
# How often the engine forgets episodes past EPISODE_MEMORY (and the daemon the ledger's).
EPISODE_SWEEP = 3600.0


def on_alert(engine: Engine, a: AlertEvent, now: float, out: list[Output]) -> None:
    """Record a resolution, or trip the alert rules an episode matches (once per episode)."""
    if a.target not in engine.targets:
        return
    ep = engine.episodes.get(a.episode)
    if ep is not None:
        ep.last_seen = max(ep.last_seen, now)
    if a.status == "resolved":
        if ep is None:
            engine.episodes[a.episode] = EpisodeState(
                target=a.target, final=True, resolved=True, last_seen=now
            )
        else:
            ep.resolved = True
        return
    rules = [
        r
        for r in engine.policy.rules_for(a.target)
        if isinstance(r.trigger, AlertTrigger) and r.trigger.matches(a.alertname, a.labels)
    ]
    if not rules:
        return
    episode = f"alert episode {a.fingerprint}@{a.starts_at}"
    if ep is None:
        ep = engine.episodes[a.episode] = EpisodeState(target=a.target, last_seen=now)
        acted = engine.last_action_at.get(a.target)
        if a.starts_at_ts is not None and acted is not None and acted >= a.starts_at_ts:
            # The target was acted on after this alert began: that action answered it.
            ep.final = ep.duplicate_reported = True
            for rule in rules:
                out.append(
                    _duplicate(
                        engine,
                        rule,
                        a,
                        now,
                        f"{episode} began before the action at {acted:.0f} on {a.target}, "
                        "which answers it",
                    )
                )
            return
    for rule in rules:
        st = engine.rule_states[(rule.name, a.target)]
        if ep.final or ep.resolved:
            if not ep.duplicate_reported:
                ep.duplicate_reported = True
                out.append(_duplicate(engine, rule, a, now, f"{episode} already handled"))
            continue
        if st.pending_token is not None:
            # Another episode is being looked at for this rule and target right now:
            # whatever that decides answers this one too.
            ep.final = ep.duplicate_reported = True
            out.append(
                _duplicate(
                    engine,
                    rule,
                    a,
                    now,
                    f"{episode} arrived while the look before acting on {a.target} was under way",
                )
            )
            continue
        st.tripped = True
        st.pending_episode = a.episode
        if st.first_failure_at is None:
            st.first_failure_at = a.at
        engine._evaluate(rule, a.target, st, "alert", now, out)


def _duplicate(engine: Engine, rule: Rule, a: AlertEvent, now: float, detail: str) -> Decision:
    return engine._decision(
        rule, a.target, "suppressed", "duplicate", now, "alert", detail, episode=a.episode
    )


def forget_old_episodes(engine: Engine, now: float) -> None:
    """Forget episodes not seen for EPISODE_MEMORY (checked every EPISODE_SWEEP), so that a
    daemon that runs for months does not keep every episode it ever heard."""
    if now < engine.episodes_swept_at + EPISODE_SWEEP:
        return
    engine.episodes_swept_at = now
    cutoff = now - EPISODE_MEMORY
    pending = {st.pending_episode for st in engine.rule_states.values()}
    for key in [k for k, ep in engine.episodes.items() if ep.last_seen < cutoff]:
        if key not in pending:
            del engine.episodes[key]
