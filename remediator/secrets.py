"""Secrets: where they come from (env, file, systemd credential, ncloud profile) and how they hide.

A `Secret` never shows its value in `repr`, `str`, logs or exceptions; only `.reveal()` gives it,
and only the signer and the HTTP auth code call that.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from remediator.errors import CredentialError

SourceKind = Literal["env", "file", "credential", "ncloud_profile", "value"]
NcpKeyRole = Literal["access_key", "secret_key"]

_PROFILE_KEYS: dict[NcpKeyRole, str] = {
    "access_key": "ncloud_access_key_id",
    "secret_key": "ncloud_secret_access_key",
}
_DEFAULT_ENV: dict[NcpKeyRole, str] = {
    "access_key": "NCLOUD_ACCESS_KEY",
    "secret_key": "NCLOUD_SECRET_KEY",
}


class Secret:
    """A secret string that will not print itself."""

    __slots__ = ("_source", "_value")

    def __init__(self, value: str, source: str = "value") -> None:
        self._value = value
        self._source = source

    def reveal(self) -> str:
        """The secret value; call only where it is used (signing, auth headers)."""
        return self._value

    @property
    def source(self) -> str:
        """Where the secret came from, safe to log (e.g. `env:NCLOUD_SECRET_KEY`)."""
        return self._source

    def __repr__(self) -> str:
        return f"Secret(<hidden>, source={self._source!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class SecretRef:
    """Where to read a secret: `{env: NAME}`, `{file: PATH}`, `{credential: NAME}`, ..."""

    kind: SourceKind
    name: str

    def describe(self) -> str:
        return f"{self.kind}:{self.name}"


def resolve(
    ref: SecretRef,
    *,
    environ: Mapping[str, str] | None = None,
    role: NcpKeyRole | None = None,
    ncloud_config: Path | None = None,
) -> Secret:
    """Read the secret `ref` points at; CredentialError names the source when it cannot."""
    env = os.environ if environ is None else environ
    where = ref.describe()
    if ref.kind == "value":
        return Secret(ref.name, "value")
    if ref.kind == "env":
        value = env.get(ref.name)
        if not value:
            raise CredentialError(f"environment variable {ref.name} is not set or empty")
        return Secret(value, where)
    if ref.kind == "file":
        return Secret(_read_file(Path(ref.name), f"file {ref.name}"), where)
    if ref.kind == "credential":
        directory = env.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise CredentialError(
                f"credential {ref.name!r}: $CREDENTIALS_DIRECTORY is not set "
                "(is the unit's LoadCredential= configured?)"
            )
        if "/" in ref.name or ref.name in {"", ".", ".."}:
            raise CredentialError(f"credential name {ref.name!r} is not a plain file name")
        return Secret(_read_file(Path(directory) / ref.name, f"credential {ref.name!r}"), where)
    if ref.kind == "ncloud_profile":
        if role is None:
            raise CredentialError("an ncloud_profile reference is only valid for NCP keys")
        return _from_profile(ref.name, role, env, ncloud_config)
    raise CredentialError(f"unknown secret source {ref.kind!r}")


def resolve_ncp_key(
    ref: SecretRef | None,
    role: NcpKeyRole,
    *,
    environ: Mapping[str, str] | None = None,
    ncloud_config: Path | None = None,
) -> Secret:
    """An NCP key: the explicit reference, else $NCLOUD_ACCESS_KEY or _SECRET_KEY, else DEFAULT."""
    env = os.environ if environ is None else environ
    if ref is not None:
        return resolve(ref, environ=env, role=role, ncloud_config=ncloud_config)
    name = _DEFAULT_ENV[role]
    if env.get(name):
        return Secret(env[name], f"env:{name}")
    try:
        return _from_profile("DEFAULT", role, env, ncloud_config)
    except CredentialError as exc:
        raise CredentialError(
            f"no NCP {role}: set ncp.{role} in the config, or ${name}, "
            f"or the DEFAULT profile of the ncloud CLI ({exc})"
        ) from None


def _ncloud_config_path(env: Mapping[str, str], override: Path | None) -> Path:
    if override is not None:
        return override
    return Path(env.get("HOME", str(Path.home()))) / ".ncloud" / "configure"


def _from_profile(
    profile: str, role: NcpKeyRole, env: Mapping[str, str], override: Path | None
) -> Secret:
    path = _ncloud_config_path(env, override)
    # [DEFAULT] is an ordinary profile in ncloud's file: no section may inherit its keys,
    # or a profile missing its secret key would be paired with DEFAULT's.
    parser = configparser.ConfigParser(interpolation=None, default_section="\0no-defaults")
    try:
        with path.open(encoding="utf-8") as fh:
            parser.read_file(fh)
    except OSError as exc:
        raise CredentialError(f"ncloud profile file {path}: {exc.strerror}") from None
    except configparser.Error:
        raise CredentialError(f"ncloud profile file {path} is not a valid INI file") from None
    key = _PROFILE_KEYS[role]
    if not parser.has_section(profile):
        raise CredentialError(f"ncloud profile [{profile}] not found in {path}")
    value = parser.get(profile, key, fallback="").strip()
    if not value:
        raise CredentialError(f"ncloud profile [{profile}] in {path} has no {key}")
    return Secret(value, f"ncloud_profile:{profile}")


def _read_file(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CredentialError(f"{what}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise CredentialError(f"{what}: not UTF-8 text") from None
    value = text.strip()
    if not value:
        raise CredentialError(f"{what}: empty")
    return value
