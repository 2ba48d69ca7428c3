"""Secrets: every source, NCP's default chain, errors that name the source and hide the value."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest

from remediator.errors import CredentialError
from remediator.ncp.client import Credentials
from remediator.secrets import Secret, SecretRef, resolve, resolve_ncp_key

VALUE = "s3cr3t-Value-9f8e7d"  # the secret that must never be shown

PROFILES = f"""\
[DEFAULT]
ncloud_access_key_id = default-access
ncloud_secret_access_key = default-secret

[prod]
ncloud_access_key_id = prod-access
ncloud_secret_access_key = {VALUE}

[half]
ncloud_access_key_id = only-access
"""


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    path = tmp_path / "configure"
    path.write_text(PROFILES)
    return path


def test_env() -> None:
    secret = resolve(SecretRef("env", "MY_KEY"), environ={"MY_KEY": VALUE})
    assert secret.reveal() == VALUE
    assert secret.source == "env:MY_KEY"


@pytest.mark.parametrize("environ", [{}, {"MY_KEY": ""}])
def test_env_missing_or_empty_names_the_variable(environ: dict[str, str]) -> None:
    with pytest.raises(CredentialError, match="environment variable MY_KEY is not set or empty"):
        resolve(SecretRef("env", "MY_KEY"), environ=environ)


def test_file_is_read_and_stripped(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(f"  {VALUE}\n")
    secret = resolve(SecretRef("file", str(path)), environ={})
    assert secret.reveal() == VALUE
    assert secret.source == f"file:{path}"


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(CredentialError, match=rf"file {missing}: cannot read"):
        resolve(SecretRef("file", str(missing)), environ={})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(CredentialError, match=rf"file {empty}: empty"):
        resolve(SecretRef("file", str(empty)), environ={})


def test_systemd_credential_comes_from_credentials_directory(tmp_path: Path) -> None:
    (tmp_path / "ncp-secret-key").write_text(VALUE)
    environ = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    secret = resolve(SecretRef("credential", "ncp-secret-key"), environ=environ)
    assert secret.reveal() == VALUE
    assert secret.source == "credential:ncp-secret-key"


def test_credential_without_credentials_directory_explains_loadcredential() -> None:
    with pytest.raises(CredentialError, match=r"CREDENTIALS_DIRECTORY is not set.*LoadCredential"):
        resolve(SecretRef("credential", "ncp-secret-key"), environ={})


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "..", ""])
def test_credential_names_cannot_escape_the_directory(tmp_path: Path, name: str) -> None:
    with pytest.raises(CredentialError, match="not a plain file name"):
        resolve(SecretRef("credential", name), environ={"CREDENTIALS_DIRECTORY": str(tmp_path)})


def test_ncloud_profile_reads_the_section(profiles: Path) -> None:
    ref = SecretRef("ncloud_profile", "prod")
    secret = resolve(ref, environ={}, role="secret_key", ncloud_config=profiles)
    assert secret.reveal() == VALUE
    assert secret.source == "ncloud_profile:prod"
    access = resolve(ref, environ={}, role="access_key", ncloud_config=profiles)
    assert access.reveal() == "prod-access"


def test_ncloud_profile_defaults_to_home_dot_ncloud(tmp_path: Path) -> None:
    (tmp_path / ".ncloud").mkdir()
    (tmp_path / ".ncloud" / "configure").write_text(PROFILES)
    secret = resolve(
        SecretRef("ncloud_profile", "prod"), environ={"HOME": str(tmp_path)}, role="secret_key"
    )
    assert secret.reveal() == VALUE


def test_ncloud_profile_errors_name_the_profile_and_file(profiles: Path, tmp_path: Path) -> None:
    with pytest.raises(CredentialError, match=r"profile \[staging\] not found in .*configure"):
        resolve(
            SecretRef("ncloud_profile", "staging"),
            environ={},
            role="secret_key",
            ncloud_config=profiles,
        )
    with pytest.raises(CredentialError, match=r"\[half\] .* has no ncloud_secret_access_key"):
        resolve(
            SecretRef("ncloud_profile", "half"),
            environ={},
            role="secret_key",
            ncloud_config=profiles,
        )
    with pytest.raises(CredentialError, match="only valid for NCP keys"):
        resolve(SecretRef("ncloud_profile", "prod"), environ={}, ncloud_config=profiles)
    broken = tmp_path / "broken"
    broken.write_text("this is [not an INI\n")
    with pytest.raises(CredentialError, match="not a valid INI file"):
        resolve(
            SecretRef("ncloud_profile", "prod"),
            environ={},
            role="secret_key",
            ncloud_config=broken,
        )


def test_default_chain_prefers_the_terraform_environment_variables(profiles: Path) -> None:
    environ = {"NCLOUD_ACCESS_KEY": "env-access", "NCLOUD_SECRET_KEY": VALUE}
    access = resolve_ncp_key(None, "access_key", environ=environ, ncloud_config=profiles)
    secret = resolve_ncp_key(None, "secret_key", environ=environ, ncloud_config=profiles)
    assert (access.reveal(), access.source) == ("env-access", "env:NCLOUD_ACCESS_KEY")
    assert (secret.reveal(), secret.source) == (VALUE, "env:NCLOUD_SECRET_KEY")


def test_default_chain_falls_back_to_the_default_profile(profiles: Path) -> None:
    secret = resolve_ncp_key(None, "secret_key", environ={}, ncloud_config=profiles)
    assert (secret.reveal(), secret.source) == ("default-secret", "ncloud_profile:DEFAULT")


def test_an_explicit_reference_wins_over_the_defaults(profiles: Path) -> None:
    environ = {"NCLOUD_SECRET_KEY": "from-env", "OTHER": VALUE}
    secret = resolve_ncp_key(
        SecretRef("env", "OTHER"), "secret_key", environ=environ, ncloud_config=profiles
    )
    assert secret.reveal() == VALUE


def test_default_chain_failure_names_every_place_it_looked(tmp_path: Path) -> None:
    with pytest.raises(CredentialError) as info:
        resolve_ncp_key(None, "secret_key", environ={}, ncloud_config=tmp_path / "none")
    text = str(info.value)
    assert "ncp.secret_key" in text
    assert "$NCLOUD_SECRET_KEY" in text
    assert "DEFAULT profile" in text


def test_errors_never_contain_the_value(tmp_path: Path) -> None:
    bad = tmp_path / "latin1"
    bad.write_bytes(VALUE.encode() + b"\xff\xfe")
    messages = []
    for ref, environ in [
        (SecretRef("file", str(bad)), {}),
        (SecretRef("credential", "missing"), {"CREDENTIALS_DIRECTORY": str(tmp_path)}),
        (SecretRef("env", "UNSET"), {"OTHER": VALUE}),
    ]:
        with pytest.raises(CredentialError) as info:
            resolve(ref, environ=environ)
        messages.append(str(info.value))
    assert messages[0] == f"file {bad}: not UTF-8 text"
    assert all(VALUE not in m for m in messages)


def test_secret_repr_and_str_hide_the_value() -> None:
    secret = Secret(VALUE, "env:NCLOUD_SECRET_KEY")
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}"):
        assert VALUE not in text
        assert "env:NCLOUD_SECRET_KEY" in text
    creds = Credentials(Secret("AK"), secret)
    assert VALUE not in repr(creds)
    assert VALUE not in creds.describe()


def test_secret_cannot_be_pickled_or_copied_out() -> None:
    secret = Secret(VALUE)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)
    with pytest.raises(TypeError, match="cannot be pickled"):
        copy.deepcopy(secret)


def test_secrets_compare_by_value() -> None:
    assert Secret(VALUE, "a") == Secret(VALUE, "b")
    assert Secret(VALUE) != Secret("other")
    assert Secret(VALUE) != VALUE
    assert hash(Secret(VALUE, "a")) == hash(Secret(VALUE, "b"))
