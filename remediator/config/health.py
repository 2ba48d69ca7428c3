"""What tells a target's health: its manager tool's answer, and its CDSS cluster status."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from remediator.secrets import SecretRef

HealthKind = Literal["cmak", "kafka_ui", "http"]

# SPEC section 3: the preset path of each manager tool, and what its healthy answer looks like.
PRESET_PATHS: dict[str, str] = {"cmak": "/api/health", "kafka_ui": "/actuator/health"}
CMAK_HEALTHY_BODY = re.compile(r"\A\s*healthy\s*\Z")
KAFKA_UI_UP = "UP"


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """HTTP basic auth for a probe; the password is a reference, resolved before probing."""

    username: str
    password: SecretRef


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """One target's probe: GET `url`, healthy if the status, body and JSON status all match."""

    target: str
    url: str
    timeout: float
    interval: float
    expect_status: int = 200
    expect_body: re.Pattern[str] | None = None  # searched for in the body
    expect_json_status: str | None = None
    basic_auth: BasicAuth | None = None


@dataclass(frozen=True, slots=True)
class ClusterCheck:
    """One target's cluster-status look: a signed getClusterStatus every `interval` seconds."""

    target: str
    cluster_no: str
    region: str
    interval: float


def join_url(base: str, path: str) -> str:
    """`base` (which may carry a path prefix and a trailing slash) with `path` appended."""
    return base.rstrip("/") + "/" + path.lstrip("/")


def preset(  # noqa: PLR0913 - a health check's settings, by keyword
    kind: HealthKind,
    target: str,
    url: str,
    *,
    timeout: float,
    interval: float,
    basic_auth: BasicAuth | None = None,
    expect_status: int = 200,
    expect_body: str | None = None,
    expect_json_status: str | None = None,
) -> HealthCheck:
    """The check for `kind`: cmak and kafka_ui append their preset path; http is as written."""
    if kind == "cmak":
        return HealthCheck(
            target,
            join_url(url, PRESET_PATHS["cmak"]),
            timeout,
            interval,
            expect_body=CMAK_HEALTHY_BODY,
            basic_auth=basic_auth,
        )
    if kind == "kafka_ui":
        return HealthCheck(
            target,
            join_url(url, PRESET_PATHS["kafka_ui"]),
            timeout,
            interval,
            expect_json_status=KAFKA_UI_UP,
            basic_auth=basic_auth,
        )
    return HealthCheck(
        target,
        url,
        timeout,
        interval,
        expect_status=expect_status,
        expect_body=None if expect_body is None else re.compile(expect_body),
        expect_json_status=expect_json_status,
        basic_auth=basic_auth,
    )
