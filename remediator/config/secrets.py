"""The secrets a configuration refers to, and reading them all with located problems."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from remediator.errors import ConfigError, CredentialError, Problem
from remediator.secrets import NcpKeyRole, Secret, SecretRef, resolve, resolve_ncp_key


@dataclass(frozen=True)
class SecretUse:
    """Where the configuration refers to a secret (`ref` None: the NCP defaults apply)."""

    key: str
    file: str
    line: int
    ref: SecretRef | None
    role: NcpKeyRole | None = None


@dataclass(frozen=True)
class Secrets:
    """Every secret the configuration refers to, read."""

    access_key: Secret
    secret_key: Secret
    webhook_token: Secret | None
    admin_token: Secret | None
    by_ref: Mapping[SecretRef, Secret]


class ConfigWithSecrets(Protocol):
    """A loaded configuration, as far as its secrets go (not `loader.Config`: no cycle)."""

    @property
    def secret_uses(self) -> Sequence[SecretUse]: ...


def resolve_secrets(
    config: ConfigWithSecrets,
    *,
    environ: Mapping[str, str] | None = None,
    ncloud_config: Path | None = None,
) -> Secrets:
    """Read every secret `config` refers to; ConfigError names each one that cannot be read."""
    problems: list[Problem] = []
    found: dict[str, Secret] = {}
    by_ref: dict[SecretRef, Secret] = {}
    for use in config.secret_uses:
        try:
            if use.role is not None:
                secret = resolve_ncp_key(
                    use.ref, use.role, environ=environ, ncloud_config=ncloud_config
                )
            else:
                assert use.ref is not None  # only the NCP keys have defaults
                secret = resolve(use.ref, environ=environ)
        except CredentialError as exc:
            problems.append(Problem(use.file, use.line, use.key, str(exc)))
            continue
        found[use.key] = secret
        if use.ref is not None:
            by_ref[use.ref] = secret
    if problems:
        raise ConfigError(problems)
    return Secrets(
        access_key=found["ncp.access_key"],
        secret_key=found["ncp.secret_key"],
        webhook_token=found.get("server.webhook_token"),
        admin_token=found.get("server.admin_token"),
        by_ref=by_ref,
    )
