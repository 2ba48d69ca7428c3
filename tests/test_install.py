"""`make install` / `make uninstall` for real, into a throwaway root (DESTDIR).

One install for the module (it builds a venv); the tests that change the tree work on copies
of it, which also shows that the staged tree does not depend on where it was staged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e import require_binary

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "/opt/remediator"
UNIT = "etc/systemd/system/remediator.service"
CONF = "etc/remediator"
Listing = dict[str, tuple[str, int, str]]


@dataclass(frozen=True)
class Staged:
    """A tree `make install DESTDIR=...` produced, and what the first run printed."""

    root: Path
    output: str


def make(
    target: str, destdir: Path, *, ok: bool = True, **variables: str
) -> subprocess.CompletedProcess[str]:
    """`make TARGET DESTDIR=destdir VAR=VALUE...` in the checkout; it must succeed, or fail."""
    done = subprocess.run(
        [
            require_binary("make"),
            "--no-print-directory",
            "-C",
            str(ROOT),
            target,
            f"DESTDIR={destdir}",
            *(f"{k}={v}" for k, v in variables.items()),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done


def listing(root: Path) -> Listing:
    """Every path under `root`: its type, permission bits, and content hash or link target."""
    out: Listing = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            what = ("link", os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            what = ("dir", "")
        else:
            what = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
        out[str(path.relative_to(root))] = (what[0], stat.S_IMODE(info.st_mode), what[1])
    return out


def copy_of(staged: Staged, tmp_path: Path) -> Path:
    """A copy of the staged tree elsewhere (symlinks kept as they are)."""
    copy = tmp_path / "copy"
    shutil.copytree(staged.root, copy, symlinks=True)
    return copy


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staged]:
    root = tmp_path_factory.mktemp("destdir")
    before = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--ignored"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    done = make("install", root)
    after = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--ignored"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert after == before, "the install leaves nothing behind in the checkout"
    yield Staged(root, done.stdout)
    shutil.rmtree(root)


@pytest.mark.e2e  # builds a venv
def test_the_tree_holds_the_venv_the_link_the_skeleton_and_the_unit(staged: Staged) -> None:
    root = staged.root
    venv = root / PREFIX.lstrip("/")
    assert (venv / "bin" / "remediator").is_file()
    assert os.readlink(root / "usr/local/bin/remediator") == f"{PREFIX}/bin/remediator"
    conf = root / CONF
    assert (conf / "remediator.yaml").read_bytes() == (
        ROOT / "examples/remediator.yaml"
    ).read_bytes()
    shipped_rules = sorted(p.name for p in (ROOT / "rules").glob("*.yaml"))
    assert sorted(p.name for p in (conf / "rules").iterdir()) == shipped_rules
    for name in shipped_rules:
        assert (conf / "rules" / name).read_bytes() == (ROOT / "rules" / name).read_bytes()
    assert (root / UNIT).read_bytes() == (ROOT / "systemd/remediator.service").read_bytes()
    modes = listing(root)
    assert modes[f"{CONF}/credentials"] == ("dir", 0o700, "")
    assert list((conf / "credentials").iterdir()) == [], "no placeholder secrets"
    assert modes[f"{CONF}/remediator.yaml"][1] == modes[UNIT][1] == 0o644
    assert modes[CONF][1] == modes[f"{CONF}/rules"][1] == 0o755
    # What is left to do, in order, naming the secrets the unit will load.
    out = staged.output
    steps = ["1. targets:", "2. keys:", "3. check:", "4. enable:"]
    assert [out.index(s) for s in steps] == sorted(out.index(s) for s in steps)
    assert "(missing now: ncp-secret-key webhook-token cmak-orders-password)" in out
    assert "systemctl enable --now remediator" in out
    assert f"systemd: not reloaded (staged under DESTDIR={root})" in out


@pytest.mark.e2e  # builds a venv
def test_the_staged_venv_names_only_its_final_place_and_runs(staged: Staged) -> None:
    venv = staged.root / PREFIX.lstrip("/")
    assert (venv / "bin/remediator").read_text().startswith(f"#!{PREFIX}/bin/python\n")
    staged_path = str(staged.root).encode()
    mentions = [
        str(p.relative_to(venv))
        for p in venv.rglob("*")
        if p.is_file() and not p.is_symlink() and staged_path in p.read_bytes()
    ]
    assert mentions == []
    # No bytecode left to write at run time (ProtectSystem=strict): every module has its .pyc.
    package = next(venv.glob("lib/python3*/site-packages/remediator"))
    assert {p.stem for p in package.glob("*.py")} == {
        p.name.split(".")[0] for p in (package / "__pycache__").glob("*.pyc")
    }
    done = subprocess.run(
        [
            str(venv / "bin/python"),
            "-m",
            "remediator",
            "check",
            "--no-secrets",
            "-c",
            str(staged.root / CONF / "remediator.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK: 2 targets, ")


@pytest.mark.e2e  # systemd-analyze
def test_systemd_analyze_verify_accepts_the_installed_unit(staged: Staged, tmp_path: Path) -> None:
    analyze = require_binary("systemd-analyze")
    # verify checks that ExecStart= is executable: point it at where the binary is staged.
    installed = (staged.root / UNIT).read_text()
    assert installed.count(f"{PREFIX}/bin/remediator ") == 1
    unit = tmp_path / "remediator.service"
    unit.write_text(installed.replace(f"{PREFIX}/bin/", f"{staged.root}{PREFIX}/bin/"))
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)],
        cwd=tmp_path,
        env={**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "")


@pytest.mark.e2e  # builds a venv
def test_a_second_run_changes_nothing(staged: Staged) -> None:
    before = listing(staged.root)
    done = make("install", staged.root)
    assert listing(staged.root) == before
    for kept in ("remediator.yaml exists: kept", "rules/ exists: kept"):
        assert kept in done.stdout
    assert "installed" not in done.stdout and "created" not in done.stdout


@pytest.mark.e2e  # builds a venv
def test_a_rerun_keeps_every_edit_and_closes_the_credentials(
    staged: Staged, tmp_path: Path
) -> None:
    root = copy_of(staged, tmp_path)
    conf = root / CONF
    (conf / "remediator.yaml").write_text("# mine\n")
    (conf / "rules" / "manager-tool.yaml").unlink()  # removed on purpose: must not come back
    (conf / "env").write_text("NCLOUD_ACCESS_KEY=ncp_iam_TEST\n")
    (conf / "credentials").chmod(0o755)
    (conf / "credentials" / "ncp-secret-key").write_text("s\n")
    unit = root / UNIT
    unit.write_text(unit.read_text() + "# my LoadCredential= lines\n")
    edited = {p: p.read_bytes() for p in (conf / "remediator.yaml", conf / "env", unit)}

    done = make("install", root)

    assert {p: p.read_bytes() for p in edited} == edited
    assert not (conf / "rules" / "manager-tool.yaml").exists()
    assert stat.S_IMODE((conf / "credentials").stat().st_mode) == 0o700
    assert "credentials/ was open to others: now mode 0700" in done.stdout
    assert "remediator.service differs from systemd/remediator.service (edited?): kept" in (
        done.stdout
    )
    assert "(missing now: webhook-token cmak-orders-password)" in done.stdout
    # The copy's venv was reinstalled where it now lies, and still names only /opt/remediator.
    venv = root / PREFIX.lstrip("/")
    assert (venv / "bin/remediator").read_text().startswith(f"#!{PREFIX}/bin/python\n")


@pytest.mark.e2e  # builds a venv
def test_uninstall_removes_the_code_and_keeps_configuration(staged: Staged, tmp_path: Path) -> None:
    root = copy_of(staged, tmp_path)
    conf_before = {k: v for k, v in listing(root).items() if k.startswith(CONF)}

    done = make("uninstall", root)

    assert not (root / PREFIX.lstrip("/")).exists()
    assert not (root / "usr/local/bin/remediator").is_symlink()
    assert not (root / UNIT).exists()
    assert {k: v for k, v in listing(root).items() if k.startswith(CONF)} == conf_before
    assert "Kept: /etc/remediator (configuration, rules, credentials) and /var/lib/remediator" in (
        done.stdout
    )
    # Nothing left to remove: a second uninstall is quiet about the code.
    again = make("uninstall", root)
    assert "removed" not in again.stdout


@pytest.mark.e2e  # builds a venv
def test_another_prefix_is_used_everywhere(tmp_path: Path) -> None:
    prefix = "/srv/remediator-2"
    done = make("install", tmp_path, PREFIX=prefix, BINDIR="/usr/bin")
    unit = (tmp_path / UNIT).read_text()
    assert f"\nExecStart={prefix}/bin/remediator run -c /etc/remediator/remediator.yaml\n" in unit
    assert PREFIX not in unit
    assert os.readlink(tmp_path / "usr/bin/remediator") == f"{prefix}/bin/remediator"
    script = tmp_path / prefix.lstrip("/") / "bin/remediator"
    assert script.read_text().startswith(f"#!{prefix}/bin/python\n")
    assert f"venv: remediator 0.1.0 in {prefix}" in done.stdout


@pytest.mark.e2e  # runs make
@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"PREFIX": "opt/remediator"}, "PREFIX, BINDIR and UNITDIR are absolute paths"),
        ({"PREFIX": "/opt"}, "PREFIX=/opt: the venv needs a directory of its own"),
        ({"BINDIR": "/usr/local/bin|x"}, "only letters, digits and . _ / + - please"),
        ({"EXTRAS": "postgres]; x"}, "extras names separated by commas"),
    ],
)
def test_settings_are_checked_before_anything_is_written(
    tmp_path: Path, variables: dict[str, str], message: str
) -> None:
    done = make("install", tmp_path, ok=False, **variables)
    assert message in done.stderr
    assert list(tmp_path.iterdir()) == []
