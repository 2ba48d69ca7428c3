"""The main file's sections as frozen pydantic models (SPEC section 5), one per mapping.

Each model checks what it can see by itself; the rules files' models are in `rulemodel.py`, and
checks across sections and files (unique names, target globs, a target's region on the site,
blast radius) in `crosscheck.py`. A check that concerns one key of a model raises
`PydanticCustomError` with `ctx["key"]` naming it (a key, or a path like `("actions", 1)`), so
the problem is reported at that key's line.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Annotated, Any, Literal, NoReturn
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, Strict, model_validator
from pydantic_core import PydanticCustomError

from remediator.config.health import BasicAuth, HealthCheck, HealthKind, preset
from remediator.ncp import sites
from remediator.secrets import SecretRef
from remediator.timetext import format_duration, parse_duration

DEFAULT_LISTEN = "127.0.0.1:9820"
DEFAULT_STATE_PATH = "/var/lib/remediator/state.db"
DEFAULT_RETENTION = 90 * 86400.0  # SPEC section 11: the history is kept 90 days
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]*")
SECRET_KINDS = ("env", "file", "credential")
NCP_KEY_KINDS = (*SECRET_KINDS, "ncloud_profile")
# The labels that name a target in alerts and silences (SPEC sections 6 and 10).
IDENTIFYING_LABELS = ("remediator_target", "cluster_no", "service_group_instance_no")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def fail(key: str | tuple[str | int, ...] | None, message: str) -> NoReturn:
    """Raise a validation problem about `key` of the model being validated (or the model)."""
    raise PydanticCustomError("config", message, {"key": key} if key else None)


# The longest durations `run` is built for: beyond them a timer overflows, a socket refuses the
# timeout, or the ledger is read back further than anyone means.
MAX_DURATION = 30 * 86400.0  # cooldowns, budget windows
MAX_INTERVAL = 86400.0  # probe and status intervals, verification
MAX_TIMEOUT = 300.0  # one HTTP call: a probe, a signed CDSS call
MAX_COUNT = 100_000


def _duration(value: object, *, most: float = MAX_DURATION) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        example = f"{int(value)}s" if 1 <= value <= most and value == int(value) else "30s"
        fail(None, f"a bare number is not a duration: write '{example}'")
    if not isinstance(value, str):
        fail(None, "must be a duration like '30s', '15m' or '6h'")
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        fail(None, str(exc))
    if seconds < 1:
        fail(None, "must be at least 1s")
    if seconds > most:
        fail(None, f"must be at most {format_duration(most)}")
    return float(seconds)


def _name(value: object) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        fail(
            None,
            "must be lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return value


def _cluster_no(value: object) -> str:
    # YAML reads an unquoted 1484848 as an int; it is still the cluster number, so accept it.
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    fail(None, 'must be the cluster\'s serviceGroupInstanceNo, digits only (e.g. "1484848")')


def _secret_ref(value: object, *, kinds: tuple[str, ...]) -> SecretRef:
    # Never put `value` in a message: it may be the secret itself, pasted where it must not be.
    forms = ", ".join(f"{{{kind}: ...}}" for kind in kinds)
    if not isinstance(value, dict):
        fail(None, f"must be a secret reference ({forms}); secrets never live in the YAML")
    if len(value) != 1:
        fail(None, f"a secret reference has exactly one key, one of {forms}")
    ((kind, name),) = value.items()
    if kind not in kinds:
        fail(None, f"unknown secret source {str(kind)[:40]!r} (one of {', '.join(kinds)})")
    if not isinstance(name, str) or not name:
        fail(None, f"{kind}: must be a non-empty name")
    return SecretRef(kind, name)


def _url(value: object, *, what: str = "URL") -> str:
    if not isinstance(value, str):
        fail(None, f"must be an http:// or https:// {what}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        fail(None, f"must be an http:// or https:// {what}")
    if parts.username is not None or parts.password is not None:
        fail(None, "must not carry credentials; use basic_auth with a secret reference")
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        fail(None, "has an invalid port")
    return value


def _listen(value: object) -> str:
    if not isinstance(value, str):
        fail(None, "must be HOST:PORT, e.g. 127.0.0.1:9820 or [::1]:9820")
    host, sep, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        fail(None, "an IPv6 address needs brackets, e.g. [::1]:9820")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        fail(None, "must be HOST:PORT, e.g. 127.0.0.1:9820 or [::1]:9820")
    return value


def _regex(value: object) -> str:
    if not isinstance(value, str):
        fail(None, "must be a regular expression (a string)")
    try:
        re.compile(value)
    except re.error as exc:
        fail(None, f"is not a valid regular expression: {exc}")
    return value


def _label_name(value: object) -> str:
    if not isinstance(value, str) or not LABEL_NAME.fullmatch(value):
        fail(None, "must be a Prometheus label name: letters, digits and '_', not first a digit")
    if value in IDENTIFYING_LABELS:
        fail(
            None,
            f"{value} names every target already (remediator_target is its name, cluster_no "
            "and service_group_instance_no its cluster_no): leave it out of labels",
        )
    return value


def _label_value(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        fail(None, "must be a non-empty label value (a string)")
    return value


Duration = Annotated[float, PlainValidator(_duration)]
Interval = Annotated[float, PlainValidator(partial(_duration, most=MAX_INTERVAL))]
Timeout = Annotated[float, PlainValidator(partial(_duration, most=MAX_TIMEOUT))]
Name = Annotated[str, PlainValidator(_name)]
ClusterNo = Annotated[str, PlainValidator(_cluster_no)]
SecretRefField = Annotated[SecretRef, PlainValidator(partial(_secret_ref, kinds=SECRET_KINDS))]
NcpKeyRef = Annotated[SecretRef, PlainValidator(partial(_secret_ref, kinds=NCP_KEY_KINDS))]
Url = Annotated[str, PlainValidator(_url)]
Listen = Annotated[str, PlainValidator(_listen)]
Regex = Annotated[str, PlainValidator(_regex)]
Text = Annotated[str, Strict(), Field(min_length=1)]
Count = Annotated[int, Strict(), Field(ge=1, le=MAX_COUNT)]
LabelName = Annotated[str, PlainValidator(_label_name)]
LabelValue = Annotated[str, PlainValidator(_label_value)]


class Section(BaseModel):
    """Base of every configuration model: unknown keys are errors, and nothing changes later."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Ncp(Section):
    """`ncp:` where CDSS is and how to sign; keys left out come from the NCP defaults."""

    site: sites.Site = "public"
    region: Text = "KR"
    endpoint: Url | None = None
    access_key: NcpKeyRef | None = None
    secret_key: NcpKeyRef | None = None
    timeout: Timeout = 10.0

    @model_validator(mode="after")
    def _region_on_site(self) -> Ncp:
        problem = region_problem(self.site, self.region)
        if problem is not None:
            fail("region", problem)
        return self


def region_problem(site: str, region: str) -> str | None:
    """What is wrong with `region` on `site` (SPEC section 2), or None."""
    regions = sites.PREFIXES[site]
    if region in regions:
        return None
    return f"region {region!r} does not exist on site {site!r} (one of {', '.join(regions)})"


class Server(Section):
    """`server:` the one HTTP listener, and the webhook's bearer token."""

    listen: Listen = DEFAULT_LISTEN
    webhook_token: SecretRefField | None = None
    # Bearer token for operator mutations (pause, resume, restart) sent to a running daemon.
    admin_token: SecretRefField | None = None

    @property
    def host(self) -> str:
        """The address to bind, without IPv6 brackets."""
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        """The port to bind."""
        return int(self.listen.rpartition(":")[2])


class State(Section):
    """`state:` the ledger: a SQLite `path` (default) or a PostgreSQL `url`; the history is
    kept for `retention`."""

    path: Text | None = None
    url: Text | None = None
    retention: Duration = DEFAULT_RETENTION

    @model_validator(mode="before")
    @classmethod
    def _default_path(cls, data: Any) -> Any:
        if isinstance(data, dict) and "path" not in data and "url" not in data:
            return {**data, "path": DEFAULT_STATE_PATH}
        return data

    @model_validator(mode="after")
    def _one_store(self) -> State:
        if self.path is not None and self.url is not None:
            fail("url", "give either path (SQLite) or url (PostgreSQL), not both")
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme not in ("postgresql", "postgres"):
                fail("url", "must be a postgresql:// URL")
            given = {k.lower() for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
            if parts.password is not None or given & {"password", "sslpassword"}:
                # Never quote the URL: it holds the password.
                fail("url", "must not contain a password; use PGPASSWORD or ~/.pgpass")
            try:
                parts.port  # noqa: B018  (raises on a bad port)
            except ValueError:
                fail("url", "has an invalid port")
        return self


class Alertmanager(Section):
    """`alertmanager:` where to ask for silences (API v2), and what to do when it cannot be
    asked; `urls` for an HA pair (any one that answers will do)."""

    url: Url | None = None
    urls: Annotated[tuple[Url, ...], Field(min_length=1)] | None = None
    on_error: Literal["act", "hold"] = "act"
    timeout: Duration = 5.0

    @model_validator(mode="after")
    def _one_place(self) -> Alertmanager:
        if self.url is not None and self.urls is not None:
            fail("urls", "give either url (one Alertmanager) or urls (several), not both")
        if self.url is None and self.urls is None:
            fail("url", "is required (or urls: a list, for an HA pair)")
        for k, url in enumerate(self.endpoints):
            if self.endpoints.index(url) < k:
                fail(("urls", k), f"repeats urls[{self.endpoints.index(url)}]")
        return self

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Every Alertmanager to ask, in the order written."""
        return self.urls if self.urls is not None else (self.url,) if self.url else ()


class MassFailure(Section):
    """Act on no target when at least `min_unhealthy` and `fraction` of all are unhealthy."""

    fraction: Annotated[float, Strict(), Field(gt=0, le=1)] = 0.5
    min_unhealthy: Count = 3


class Guardrails(Section):
    """`guardrails:` fleet-wide limits."""

    max_concurrent_actions: Count = 1
    max_actions_per_hour: Count = 6
    mass_failure: MassFailure = MassFailure()


class Expect(Section):
    """`expect:` of a `kind: http` check."""

    status: Annotated[int, Strict(), Field(ge=100, le=599)] = 200
    body: Regex | None = None
    json_status: Text | None = None


class BasicAuthConfig(Section):
    """`basic_auth:` a user name and a password reference."""

    username: Text
    password: SecretRefField


class Health(Section):
    """`health:` how to probe a target's manager tool (SPEC section 3)."""

    kind: HealthKind
    url: Url
    interval: Interval = 15.0
    timeout: Timeout = 5.0
    basic_auth: BasicAuthConfig | None = None
    expect: Expect | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Health:
        if self.timeout > self.interval:
            fail("timeout", f"must not be longer than interval ({format_duration(self.interval)})")
        if self.expect is not None and self.kind != "http":
            fail("expect", f"only for kind: http (kind: {self.kind} has a fixed expectation)")
        if self.kind != "http" and (urlsplit(self.url).query or urlsplit(self.url).fragment):
            fail("url", f"the base URL of kind: {self.kind} takes no ?query or #fragment")
        return self

    def check(self, target: str) -> HealthCheck:
        """The probe this section describes, for `target`."""
        expect = self.expect or Expect()
        auth = self.basic_auth
        return preset(
            self.kind,
            target,
            self.url,
            timeout=self.timeout,
            interval=self.interval,
            basic_auth=None if auth is None else BasicAuth(auth.username, auth.password),
            expect_status=expect.status,
            expect_body=expect.body,
            expect_json_status=expect.json_status,
        )


class ClusterHealth(Section):
    """`cluster_health:` read the cluster's CDSS status (getClusterStatus) every `interval`."""

    interval: Interval = 60.0


class Target(Section):
    """One entry of `targets:`: a CDSS cluster, how to probe its manager tool, and its status."""

    name: Name
    cluster_no: ClusterNo
    region: Text | None = None
    health: Health
    cluster_health: ClusterHealth | None = None
    # More labels that name this target in Alertmanager silences (SPEC section 10).
    labels: dict[LabelName, LabelValue] = Field(default_factory=dict)

    def identity(self) -> dict[str, str]:
        """Every label that names this target, with its value (a silence matches on these)."""
        return {
            "remediator_target": self.name,
            "cluster_no": self.cluster_no,
            "service_group_instance_no": self.cluster_no,
            **self.labels,
        }

    def health_check(self) -> HealthCheck:
        """The probe of this target."""
        return self.health.check(self.name)
