"""Checks across targets, rules and files, on what was written (SPEC sections 5 and 9).

They look at the raw items, not the validated models, so that an item with some other mistake
is still checked and every problem is reported at once: unique names and cluster numbers, a
target's region on the site, rule names and target globs, a `check: cluster` trigger on targets
that have `cluster_health`, every action a rule may send within its `max_blast_radius`, and
maintenance windows' names and target globs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Protocol

from remediator.config.model import NAME_PATTERN, region_problem
from remediator.config.yamlload import KeyPath, YamlDocument
from remediator.core.rules import (
    ACTIONS,
    BLAST_RADII,
    BLAST_RADIUS,
    DEFAULT_MAX_BLAST_RADIUS,
    ActionName,
    action_effect,
    exceeds,
)
from remediator.ncp import sites

CMAK_WITHDRAWN = (
    "NCP withdrew restartCMAKService on 2026-09-17; add a fallback_action, e.g. "
    "restart_all_services with max_blast_radius: cluster (every broker and ZooKeeper restart "
    "at once)"
)


class Report(Protocol):
    """Where the checks put what they find."""

    def add(self, doc: YamlDocument, path: KeyPath, message: str) -> None:
        """A problem at `path` of `doc`."""

    def warn(self, doc: YamlDocument, path: KeyPath, message: str) -> None:
        """A warning at `path` of `doc`."""


@dataclass(frozen=True, slots=True)
class Located:
    """An item of a list (a target, a rule) as written, and where."""

    doc: YamlDocument
    path: KeyPath
    raw: dict[Any, Any]


def check_targets(report: Report, targets: Sequence[Located], site: str | None) -> None:
    """Unique names and cluster numbers; each target's region exists on the site."""
    # The first target of each name and cluster number (its line is looked up on a duplicate).
    firsts: dict[str, dict[str, Located]] = {"name": {}, "cluster_no": {}}
    for at in targets:
        for key, seen in firsts.items():
            value = at.raw.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str):
                continue
            first = seen.setdefault(value, at)
            if first is not at:  # by occurrence: a YAML alias repeats the same lines
                what = repr(value) if NAME_PATTERN.fullmatch(value) else ""
                line = first.doc.line_of((*first.path, key))
                report.add(
                    at.doc,
                    (*at.path, key),
                    f"duplicate {key} {what} (first on line {line})".replace("  ", " "),
                )
        region = at.raw.get("region")
        if isinstance(region, str) and site in sites.PREFIXES:
            problem = region_problem(site, region)
            if problem is not None:
                report.add(at.doc, (*at.path, "region"), problem)


def check_rules(report: Report, rules: Sequence[Located], targets: Sequence[Located]) -> None:
    """Unique rule names, globs that match targets, cluster evidence, and blast radius."""
    names = (at.raw.get("name") for at in targets)
    known = list(dict.fromkeys(name for name in names if isinstance(name, str)))
    with_status = {
        name
        for at in targets
        if isinstance(name := at.raw.get("name"), str) and at.raw.get("cluster_health") is not None
    }  # names only: a name written as a list or a mapping is another problem, already said
    without_status = [name for name in known if name not in with_status]
    firsts: dict[str, str] = {}
    for at in rules:
        name = at.raw.get("name")
        if isinstance(name, str) and NAME_PATTERN.fullmatch(name):
            if name in firsts:  # by occurrence: a YAML alias repeats the same lines
                report.add(
                    at.doc,
                    (*at.path, "name"),
                    f"duplicate rule name {name!r} (first at {firsts[name]})",
                )
            else:
                firsts[name] = f"{at.doc.file}:{at.doc.line_of((*at.path, 'name'))}"
        _check_globs(report, at, known)
        _check_cluster_evidence(report, at, without_status)
        _check_blast_radius(report, at)
        # No news to a rule whose stated max_blast_radius already rules that fallback out.
        narrow = at.raw.get("max_blast_radius") in BLAST_RADII[:-1]
        for path, action in _sent(at):
            if action == "restart_cmak" and at.raw.get("fallback_action") is None and not narrow:
                report.warn(at.doc, path, CMAK_WITHDRAWN)


def check_maintenance(
    report: Report, entries: Sequence[Located], targets: Sequence[Located]
) -> None:
    """Unique maintenance window names, and target globs that match targets."""
    names = (at.raw.get("name") for at in targets)
    known = list(dict.fromkeys(name for name in names if isinstance(name, str)))
    firsts: dict[str, int] = {}
    for at in entries:
        name = at.raw.get("name")
        if isinstance(name, str):
            line = at.doc.line_of((*at.path, "name"))
            first = firsts.setdefault(name, line)
            if first != line:
                report.add(
                    at.doc,
                    (*at.path, "name"),
                    f"duplicate maintenance window {name!r} (first on line {first})",
                )
        _check_globs(report, at, known)


def _patterns(at: Located) -> list[str]:
    patterns = at.raw.get("targets", ["*"])
    return [p for p in patterns if isinstance(p, str)] if isinstance(patterns, list) else []


_GLOB = re.compile(r"[a-z0-9_.*?\[\]!-]{1,100}")


def _check_globs(report: Report, at: Located, known: Sequence[str]) -> None:
    # Only names that are names: a message never quotes what may be a secret pasted there.
    shown = [name for name in known if NAME_PATTERN.fullmatch(name)]
    listed = ", ".join(shown[:10]) + (", ..." if len(shown) > 10 else "")
    patterns = at.raw.get("targets", ["*"])
    for k, pattern in enumerate(patterns if isinstance(patterns, list) else []):
        if isinstance(pattern, str) and not any(fnmatchcase(t, pattern) for t in known):
            path = (*at.path, "targets", k) if "targets" in at.raw else (*at.path, "targets")
            where = f"targets: {listed}" if known else "no targets are configured"
            what = repr(pattern) if _GLOB.fullmatch(pattern) else "the pattern"
            report.add(at.doc, path, f"{what} matches no configured target ({where})")


def _check_cluster_evidence(report: Report, at: Located, without_status: Sequence[str]) -> None:
    """A trigger on cluster status needs `cluster_health` on every target the rule covers."""
    trigger = at.raw.get("trigger")
    probe = trigger.get("probe") if isinstance(trigger, dict) else None
    if not isinstance(probe, dict) or probe.get("check") != "cluster":
        return
    patterns = _patterns(at)
    lacking = [t for t in without_status if any(fnmatchcase(t, p) for p in patterns)]
    if not lacking:
        return
    name = at.raw.get("name")
    rule = f"rule {name!r}" if isinstance(name, str) else "this rule"
    listed = ", ".join(repr(t) for t in lacking[:10]) + (", ..." if len(lacking) > 10 else "")
    whom = f"target {listed} has" if len(lacking) == 1 else f"targets {listed} have"
    report.add(
        at.doc,
        (*at.path, "trigger", "probe", "check"),
        f"{rule} needs cluster status, but {whom} no cluster_health: add "
        f"cluster_health: {{interval: 60s}} to {'it' if len(lacking) == 1 else 'them'}",
    )


def _check_blast_radius(report: Report, at: Located) -> None:
    """Every action the rule may send reaches no further than its `max_blast_radius`."""
    limit = at.raw.get("max_blast_radius", DEFAULT_MAX_BLAST_RADIUS)
    if limit not in BLAST_RADII:
        return  # the model says what is wrong with it
    for path, action in _sent(at):
        radius = BLAST_RADIUS[action]
        if exceeds(radius, limit):
            report.add(
                at.doc,
                path,
                f"{action} {action_effect(action)} (blast radius {radius}); "
                f"set max_blast_radius: {radius} to allow it",
            )


def _sent(at: Located) -> list[tuple[KeyPath, ActionName]]:
    """The known actions a rule names, where: `action` or each of `actions`, then the fallback."""
    written: list[tuple[KeyPath, Any]] = [((*at.path, "action"), at.raw.get("action"))]
    steps = at.raw.get("actions")
    if isinstance(steps, list):
        written += [((*at.path, "actions", k), step) for k, step in enumerate(steps)]
    written.append(((*at.path, "fallback_action"), at.raw.get("fallback_action")))
    return [(path, a) for path, value in written for a in ACTIONS if a == value]
