"""Alertmanager alerts as the engine sees them: their episodes, and what settles them."""

from __future__ import annotations

from remediator.core.decisions import Output
from remediator.core.events import AlertEvent
from remediator.core.rules import AlertTrigger
from remediator.core.state import EngineState, EpisodeState
from remediator.core.trip import Trip, decide, evaluate
from remediator.timetext import format_duration, iso

# How long an episode is remembered after its last receipt: a re-send within it is a
# duplicate, after it a new incident. The ledger keeps episodes as long (across restarts).
EPISODE_MEMORY = 7 * 86400.0
# How often the engine forgets episodes past EPISODE_MEMORY (and the daemon the ledger's).
EPISODE_SWEEP = 3600.0


def on_alert(state: EngineState, a: AlertEvent, now: float) -> list[Output]:
    """Record a resolution, or trip the alert rules an episode matches (once per episode)."""
    if a.target not in state.targets:
        return []
    ep = state.episodes.get(a.episode)
    if ep is not None:
        ep.last_seen = max(ep.last_seen, now)
    if a.status == "resolved":
        _resolve(state, a, ep, now)
        return []
    trips = [
        Trip(r, a.target, "alert", a.episode)
        for r in state.policy.rules_for(a.target)
        if isinstance(r.trigger, AlertTrigger) and r.trigger.matches(a.alertname, a.labels)
    ]
    if not trips:
        return []
    episode = f"alert episode {a.fingerprint}@{a.starts_at}"
    if ep is None:
        ep = state.episodes[a.episode] = EpisodeState(target=a.target, last_seen=now)
        acted = state.last_action_at.get(a.target)
        if a.starts_at_ts is not None and acted is not None and acted >= a.starts_at_ts:
            # The target was acted on after this alert began: that action answered it.
            ep.final = ep.duplicate_reported = True
            why = (
                f"{episode} began before the action on {a.target} at {iso(acted)} "
                f"({format_duration(now - acted)} ago), which answers it"
            )
            return [decide(trip, "suppressed", "duplicate", why, now) for trip in trips]
    out: list[Output] = []
    for trip in trips:
        st = state.rule_states[trip.key]
        if ep.final or ep.resolved:
            if not ep.duplicate_reported:
                ep.duplicate_reported = True
                why = f"{episode} already handled"
                out.append(decide(trip, "suppressed", "duplicate", why, now))
            continue
        if st.pending_token is not None:
            # Another episode is being looked at for this rule and target right now:
            # whatever that decides answers this one too.
            ep.final = ep.duplicate_reported = True
            why = f"{episode} arrived while the look before acting on {a.target} was under way"
            out.append(decide(trip, "suppressed", "duplicate", why, now))
            continue
        st.tripped = True
        st.pending_episode = a.episode
        if st.first_failure_at is None:
            st.first_failure_at = a.at
        out.extend(evaluate(state, trip, now))
    return out


def _resolve(state: EngineState, a: AlertEvent, ep: EpisodeState | None, now: float) -> None:
    """An episode resolved: a look already asked for ends `recovered`; a late firing re-send is
    a duplicate."""
    if ep is None:
        state.episodes[a.episode] = EpisodeState(
            target=a.target, final=True, resolved=True, last_seen=now
        )
    else:
        ep.resolved = True


def forget_old_episodes(state: EngineState, now: float) -> None:
    """Forget episodes not seen for EPISODE_MEMORY (checked every EPISODE_SWEEP), so that a
    daemon that runs for months does not keep every episode it ever heard."""
    if now < state.episodes_swept_at + EPISODE_SWEEP:
        return
    state.episodes_swept_at = now
    cutoff = now - EPISODE_MEMORY
    pending = {st.pending_episode for st in state.rule_states.values()}
    for key in [k for k, ep in state.episodes.items() if ep.last_seen < cutoff]:
        if key not in pending:
            del state.episodes[key]
