"""The configuration: YAML files → one frozen `Config`, or a `ConfigError` naming every problem.

`load_config` reads the main file and the rules files it names, validates each section and each
target and rule on its own (so that one mistake does not hide the next), then checks across
them, and reports every problem as `FILE:LINE: key.path: message`. Secrets are not read here:
`resolve_secrets` reads them in a separate step, with the same kind of problems.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from remediator.config.crosscheck import Located, check_maintenance, check_rules, check_targets
from remediator.config.health import ClusterCheck, HealthCheck
from remediator.config.maintenance import Maintenance
from remediator.config.messages import describe
from remediator.config.model import (
    Alertmanager,
    Guardrails,
    Ncp,
    Section,
    Server,
    State,
    Target,
)
from remediator.config.notifymodel import NotifySink
from remediator.config.rulemodel import Rule
from remediator.config.secrets import Secrets, SecretUse, resolve_secrets
from remediator.config.yamlload import KeyPath, YamlDocument, format_path, load_yaml
from remediator.core import rules as core
from remediator.errors import ConfigError, Problem
from remediator.secrets import NcpKeyRole, SecretRef

__all__ = [
    "DEFAULT_CONFIG",
    "Config",
    "ConfigError",
    "SecretUse",
    "Secrets",
    "load_config",
    "resolve_secrets",
]

DEFAULT_CONFIG = Path("/etc/remediator/remediator.yaml")
_M = TypeVar("_M", bound=BaseModel)


class Config(Section):
    """The whole validated configuration."""

    path: Path
    files: tuple[str, ...]
    ncp: Ncp
    server: Server
    state: State
    guardrails: Guardrails
    targets: tuple[Target, ...]
    rules: tuple[Rule, ...]
    notify: tuple[NotifySink, ...] = ()
    alertmanager: Alertmanager | None = None
    maintenance: tuple[Maintenance, ...] = ()
    warnings: tuple[str, ...] = ()
    secret_uses: tuple[SecretUse, ...] = ()

    def target(self, name: str) -> Target | None:
        """The target called `name`, if configured."""
        return next((t for t in self.targets if t.name == name), None)

    def region_of(self, target: Target) -> str:
        """The CDSS region of `target`: its own override, else `ncp.region`."""
        return target.region or self.ncp.region

    def maintenance_of(self, target: str) -> tuple[Maintenance, ...]:
        """The `maintenance:` entries whose target globs match `target`."""
        return tuple(m for m in self.maintenance if any(fnmatchcase(target, p) for p in m.targets))

    def health_checks(self) -> tuple[HealthCheck, ...]:
        """The probe of every target, in configuration order."""
        return tuple(t.health_check() for t in self.targets)

    def cluster_checks(self) -> tuple[ClusterCheck, ...]:
        """The cluster-status look of every target with `cluster_health`, in configuration order."""
        return tuple(
            ClusterCheck(t.name, t.cluster_no, self.region_of(t), t.cluster_health.interval)
            for t in self.targets
            if t.cluster_health is not None
        )

    def policy(self) -> core.Policy:
        """What the engine decides with (durations in seconds)."""
        g = self.guardrails
        return core.Policy(
            targets=tuple(core.TargetRef(t.name, t.cluster_no) for t in self.targets),
            rules=tuple(_core_rule(r) for r in self.rules),
            guardrails=core.Guardrails(
                max_concurrent_actions=g.max_concurrent_actions,
                max_actions_per_hour=g.max_actions_per_hour,
                mass_failure_fraction=g.mass_failure.fraction,
                mass_failure_min_unhealthy=g.mass_failure.min_unhealthy,
            ),
        )


def _core_rule(rule: Rule) -> core.Rule:
    t = rule.trigger
    trigger: core.Trigger
    if t.probe is not None:
        trigger = core.ProbeTrigger(failures=t.probe.failures, of=t.probe.of, check=t.probe.check)
    else:
        assert t.alert is not None  # the model guarantees exactly one
        trigger = core.AlertTrigger(
            alertname=t.alert.alertname,
            labels=tuple(sorted(t.alert.labels.items())),
            corroborate=t.corroborate == "probe",
        )
    first, *then = rule.steps
    return core.Rule(
        name=rule.name,
        targets=rule.targets,
        trigger=trigger,
        action=first,
        then=tuple(then),
        fallback_action=rule.fallback_action,
        max_blast_radius=rule.max_blast_radius,
        cooldown=rule.cooldown,
        budget=core.Budget(max=rule.budget.max, per=rule.budget.per),
        verify=core.Verify(
            grace=rule.verify.grace, successes=rule.verify.successes, timeout=rule.verify.timeout
        ),
        mode=rule.mode,
        approval_timeout=rule.approval_timeout,
    )


class _MainFile(Section):
    """The top-level keys of the main file (each section is validated on its own)."""

    ncp: Any = None
    server: Any = None
    state: Any = None
    guardrails: Any = None
    targets: Any = None
    rules: Any = None
    notify: Any = None
    alertmanager: Any = None
    maintenance: Any = None


class _RulesFile(Section):
    """The top-level keys of a rules file."""

    rules: Any


class _Loader:
    """Collects problems across files while validating; one per `load_config` call."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self.docs: list[YamlDocument] = []

    def add(self, doc: YamlDocument, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(doc.file, doc.line_of(path), format_path(path), message))

    def warn(self, doc: YamlDocument, path: KeyPath, message: str) -> None:
        self.warnings.append(f"{doc.file}:{doc.line_of(path)}: {format_path(path)}: {message}")

    def read(self, file: str, text: str) -> YamlDocument:
        doc = load_yaml(text, file)
        self.docs.append(doc)
        self.problems.extend(doc.problems)
        return doc

    def validate(self, model: type[_M], data: Any, doc: YamlDocument, path: KeyPath) -> _M | None:
        try:
            return model.model_validate({} if data is None else data)
        except ValidationError as exc:
            for error in exc.errors():
                self._add_error(model, error, doc, path)
            return None

    def _add_error(
        self, model: type[BaseModel], error: ErrorDetails, doc: YamlDocument, path: KeyPath
    ) -> None:
        loc = [part for part in error["loc"] if part != "[key]"]
        key = (error.get("ctx") or {}).get("key")
        if isinstance(key, str):
            loc.append(key)
        elif isinstance(key, tuple):
            loc.extend(key)
        self.add(doc, (*path, *loc), describe(error, model, loc))

    def items(self, data: Any, doc: YamlDocument, path: KeyPath) -> list[Any]:
        if data is None:
            return []
        if not isinstance(data, list):
            self.add(doc, path, "must be a list")
            return []
        return data

    def sorted_problems(self) -> list[Problem]:
        order = {doc.file: n for n, doc in enumerate(self.docs)}
        return sorted(self.problems, key=lambda p: (order.get(p.file, len(order)), p.line))


def load_config(path: Path) -> Config:
    """Load and validate `path` and its rules files; ConfigError lists every problem.

    OSError when the main file itself cannot be read. File names in problems keep the form
    `path` was given in (rules files are joined to its directory, not made absolute).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError([Problem(str(path), 1, "(file)", "not UTF-8 text")]) from None
    loader = _Loader()
    doc = loader.read(str(path), text)
    del text  # parsed: validation need not hold it (0.6 MiB at 5,000 targets)
    root = doc.data
    if root is None and not doc.problems:
        loader.add(doc, (), "the file is empty")
    if root is None or not isinstance(root, dict):
        if root is not None:
            loader.add(
                doc, (), "must be a mapping of ncp, server, state, guardrails, targets, rules"
            )
        raise ConfigError(loader.sorted_problems())
    loader.validate(_MainFile, root, doc, ())
    ncp = loader.validate(Ncp, root.get("ncp"), doc, ("ncp",))
    server = loader.validate(Server, root.get("server"), doc, ("server",))
    state = loader.validate(State, root.get("state"), doc, ("state",))
    guardrails = loader.validate(Guardrails, root.get("guardrails"), doc, ("guardrails",))
    alertmanager = None
    if root.get("alertmanager") is not None:
        alertmanager = loader.validate(Alertmanager, root["alertmanager"], doc, ("alertmanager",))
    targets = [
        (loader.validate(Target, item, doc, at.path), at)
        for at, item in _located(
            loader.items(root.get("targets"), doc, ("targets",)), doc, "targets"
        )
    ]
    rules = _load_rules(loader, doc, root.get("rules"))
    sinks = _load_sinks(loader, doc, root.get("notify"))
    maintenance = [
        (loader.validate(Maintenance, item, doc, at.path), at)
        for at, item in _located(
            loader.items(root.get("maintenance"), doc, ("maintenance",)), doc, "maintenance"
        )
    ]

    raw_ncp = root.get("ncp")
    site = (
        ncp.site if ncp is not None else raw_ncp.get("site") if isinstance(raw_ncp, dict) else None
    )
    check_targets(loader, [at for _, at in targets], site if isinstance(site, str) else None)
    check_rules(loader, [at for _, at in rules], [at for _, at in targets])
    check_maintenance(loader, [at for _, at in maintenance], [at for _, at in targets])
    valid_targets = [(t, at) for t, at in targets if t is not None]
    valid_rules = [(r, at) for r, at in rules if r is not None]
    problems = loader.sorted_problems()
    if problems or ncp is None or server is None or state is None or guardrails is None:
        raise ConfigError(problems)
    if not valid_targets:
        loader.warn(doc, ("targets",), "no targets configured: nothing will be probed")
    elif not valid_rules:
        loader.warn(doc, ("rules",), "no rules configured: targets are probed, never restarted")
    return Config(
        path=path,
        files=tuple(d.file for d in loader.docs),
        ncp=ncp,
        server=server,
        state=state,
        guardrails=guardrails,
        targets=tuple(t for t, _ in valid_targets),
        rules=tuple(r for r, _ in valid_rules),
        notify=tuple(s for s, _ in sinks),
        alertmanager=alertmanager,
        maintenance=tuple(m for m, _ in maintenance if m is not None),
        warnings=tuple(loader.warnings),
        secret_uses=_secret_uses(doc, ncp, server, valid_targets, sinks),
    )


def _load_sinks(loader: _Loader, doc: YamlDocument, data: Any) -> list[tuple[NotifySink, KeyPath]]:
    """The `notify:` sinks, each validated on its own; their names are unique."""
    out: list[tuple[NotifySink, KeyPath]] = []
    firsts: dict[str, int] = {}
    for at, item in _located(loader.items(data, doc, ("notify",)), doc, "notify"):
        name = at.raw.get("name")
        if isinstance(name, str):
            line = doc.line_of((*at.path, "name"))
            first = firsts.setdefault(name, line)
            if first != line:
                loader.add(
                    doc, (*at.path, "name"), f"duplicate sink {name!r} (first on line {first})"
                )
        sink = loader.validate(NotifySink, item, doc, at.path)
        if sink is not None:
            out.append((sink, at.path))
    return out


def _load_rules(
    loader: _Loader, main: YamlDocument, data: Any
) -> list[tuple[Rule | None, Located]]:
    base = os.path.dirname(main.file)
    seen: set[str] = set()
    out: list[tuple[Rule | None, Located]] = []
    for i, pattern in enumerate(loader.items(data, main, ("rules",))):
        if not isinstance(pattern, str) or not pattern:
            loader.add(main, ("rules", i), "must be a file name or glob, e.g. rules/*.yaml")
            continue
        matches = sorted(glob.glob(os.path.join(base, pattern), recursive=True))
        if not matches:
            loader.add(main, ("rules", i), f"{pattern!r} matches no file")
        for file in matches:
            if file in seen:
                continue
            seen.add(file)
            try:
                text = Path(file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                loader.add(main, ("rules", i), f"cannot read {file}: {reason}")
                continue
            out.extend(_load_rules_file(loader, loader.read(file, text)))
    return out


def _load_rules_file(loader: _Loader, doc: YamlDocument) -> list[tuple[Rule | None, Located]]:
    if doc.problems and doc.data is None:
        return []
    if not isinstance(doc.data, dict):
        loader.add(doc, (), "must be a mapping with a 'rules:' list")
        return []
    if loader.validate(_RulesFile, doc.data, doc, ()) is None:
        return []
    items = loader.items(doc.data["rules"], doc, ("rules",))
    return [
        (loader.validate(Rule, item, doc, at.path), at)
        for at, item in _located(items, doc, "rules")
    ]


def _located(items: list[Any], doc: YamlDocument, key: str) -> list[tuple[Located, Any]]:
    return [
        (Located(doc, (key, i), item if isinstance(item, dict) else {}), item)
        for i, item in enumerate(items)
    ]


def _secret_uses(
    doc: YamlDocument,
    ncp: Ncp,
    server: Server,
    targets: Iterable[tuple[Target, Located]],
    sinks: Iterable[tuple[NotifySink, KeyPath]] = (),
) -> tuple[SecretUse, ...]:
    def use(
        path: KeyPath, at: YamlDocument, ref: SecretRef | None, role: NcpKeyRole | None = None
    ) -> SecretUse:
        return SecretUse(format_path(path), at.file, at.line_of(path), ref, role)

    uses = [
        use(("ncp", "access_key"), doc, ncp.access_key, "access_key"),
        use(("ncp", "secret_key"), doc, ncp.secret_key, "secret_key"),
    ]
    if server.webhook_token is not None:
        uses.append(use(("server", "webhook_token"), doc, server.webhook_token))
    if server.admin_token is not None:
        uses.append(use(("server", "admin_token"), doc, server.admin_token))
    for target, at in targets:
        if target.health.basic_auth is not None:
            path = (*at.path, "health", "basic_auth", "password")
            uses.append(use(path, at.doc, target.health.basic_auth.password))
    for sink, path in sinks:
        uses.append(use((*path, "url"), doc, sink.url))
    return tuple(uses)
