"""The systemd unit as shipped: `systemd-analyze verify` is clean, `security --offline=true`
rates it 2.0 or lower, it loads every credential the example configuration names, and the
daemon runs under the unit's MemoryDenyWriteExecute=.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from remediator.config.loader import load_config
from remediator.sandbox import Sandbox
from tests.e2e import free_port, require_binary
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "remediator.service"
EXAMPLE = ROOT / "examples" / "remediator.yaml"
INSTALLED_BINARY = "/opt/remediator/bin/remediator"
MAX_EXPOSURE = 2.0

# Linux 6.3+ prctl: refuse mappings that are writable and executable, or become executable
# later; what MemoryDenyWriteExecute= enforces (with seccomp up to systemd 256, this since).
PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1


def unit_lines() -> list[str]:
    return UNIT.read_text().splitlines()


def settings(name: str) -> list[str]:
    """The values of every active `name=` line of the unit."""
    return [line.split("=", 1)[1] for line in unit_lines() if line.startswith(f"{name}=")]


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # LC_ALL=C: systemd-analyze's table glyphs and messages stay predictable.
    env = {**os.environ, "LC_ALL": "C.UTF-8", "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": ""}
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def verifiable_unit(tmp_path: Path) -> Path:
    """The unit with ExecStart= pointing at a binary that exists here.

    `systemd-analyze verify` fails when ExecStart's binary is missing, and the unit names the
    installed path /opt/remediator/bin/remediator. The copy points at this venv's console
    script instead (or, without one, at a stub); nothing else changes.
    """
    binary = Path(sys.executable).parent / "remediator"
    if not binary.exists():
        binary = tmp_path / "remediator"
        binary.write_text("#!/bin/sh\nexit 0\n")
        binary.chmod(0o755)
    text = UNIT.read_text()
    assert text.count(INSTALLED_BINARY) == 1, "ExecStart= is the only use of the binary"
    copy = tmp_path / "remediator.service"
    copy.write_text(text.replace(INSTALLED_BINARY, str(binary)))
    return copy


@pytest.mark.e2e  # systemd-analyze
def test_systemd_analyze_verify_is_clean(verifiable_unit: Path) -> None:
    analyze = require_binary("systemd-analyze")
    done = run([analyze, "verify", "--man=no", str(verifiable_unit)], verifiable_unit.parent)
    # Strict: verify reports unknown keys and unparsable values on stderr with exit 0.
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    assert done.stdout == "", done.stdout


@pytest.mark.e2e  # systemd-analyze
def test_systemd_analyze_verify_finds_only_the_missing_installed_binary(tmp_path: Path) -> None:
    """The unit as shipped: where remediator is not installed, that is the one complaint."""
    analyze = require_binary("systemd-analyze")
    if Path(INSTALLED_BINARY).exists():
        pytest.skip(f"{INSTALLED_BINARY} is installed here; the clean verify covers it")
    copy = tmp_path / "remediator.service"
    copy.write_text(UNIT.read_text())
    done = run([analyze, "verify", "--man=no", str(copy)], tmp_path)
    complaints = set(done.stderr.splitlines())
    assert complaints == {
        f"remediator.service: Command {INSTALLED_BINARY} is not executable: "
        "No such file or directory"
    }, done.stderr


@pytest.mark.e2e  # systemd-analyze
def test_systemd_analyze_security_exposure_is_low(verifiable_unit: Path) -> None:
    analyze = require_binary("systemd-analyze")
    done = run(
        [
            analyze,
            "security",
            "--offline=true",
            f"--threshold={int(MAX_EXPOSURE * 10)}",
            str(verifiable_unit),
        ],
        verifiable_unit.parent,
    )
    found = re.search(
        r"Overall exposure level for remediator\.service: (\d+\.\d+)", done.stdout + done.stderr
    )
    assert found, done.stdout + done.stderr
    exposure = float(found.group(1))
    failing = [line for line in done.stdout.splitlines() if line.startswith("✗")]
    assert exposure <= MAX_EXPOSURE, f"exposure {exposure}:\n" + "\n".join(failing)
    assert done.returncode == 0, done.stderr
    # What is left open is only what the daemon needs: the network (the CDSS gateway, the
    # probed tools, its listener), AF_UNIX (sd_notify), the host's root, and char-rtc
    # (ProtectClock= allows reading the RTC).
    open_ids = {line.split()[1] for line in failing}
    assert open_ids <= {
        "RootDirectory=/RootImage=",
        "RestrictAddressFamilies=~AF_UNIX",
        "RestrictAddressFamilies=~AF_(INET|INET6)",
        "PrivateNetwork=",
        "IPAddressDeny=",
        "DeviceAllow=",
    }, "\n".join(failing)


def test_the_unit_loads_every_credential_the_example_config_names() -> None:
    config = load_config(EXAMPLE)
    referenced = {
        use.ref.name
        for use in config.secret_uses
        if use.ref is not None and use.ref.kind == "credential"
    }
    loaded = {}
    for value in settings("LoadCredential"):
        name, path = value.split(":", 1)
        loaded[name] = path
    assert referenced, "the example uses systemd credentials"
    assert set(loaded) == referenced, "one LoadCredential= per {credential: NAME}, no more"
    for name, path in loaded.items():
        assert path == f"/etc/remediator/credentials/{name}"
    # The optional operator token is documented, off until server.admin_token is configured.
    assert "#LoadCredential=admin-token:/etc/remediator/credentials/admin-token" in unit_lines()
    # The access key (an ID, not a secret) comes from the environment file.
    env_refs = {u.ref.name for u in config.secret_uses if u.ref is not None and u.ref.kind == "env"}
    assert env_refs == {"NCLOUD_ACCESS_KEY"}
    assert settings("EnvironmentFile") == ["-/etc/remediator/env"]


def test_the_unit_runs_the_daemon_as_the_readme_installs_it() -> None:
    assert settings("ExecStart") == [f"{INSTALLED_BINARY} run -c /etc/remediator/remediator.yaml"]
    assert settings("ExecReload") == ["/bin/kill -HUP $MAINPID"]
    assert settings("Type") == ["notify"]
    assert settings("NotifyAccess") == ["main"]
    assert settings("StateDirectory") == ["remediator"]
    assert settings("ConfigurationDirectory") == ["remediator"]
    config = load_config(EXAMPLE)
    assert str(config.state.path).startswith("/var/lib/remediator/"), "in the StateDirectory"
    # The daemon pets the watchdog every second; WatchdogSec must leave it many chances.
    (watchdog,) = settings("WatchdogSec")
    assert watchdog.endswith("s") and int(watchdog[:-1]) >= 10
    readme = (ROOT / "README.md").read_text()
    for needle in ("systemd/remediator.service", "/opt/remediator", "/etc/remediator/credentials"):
        assert needle in readme


def _mdwe_supported() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    flags: int = libc.prctl(PR_SET_MDWE + 1, 0, 0, 0, 0)  # PR_GET_MDWE: EINVAL before 6.3
    return flags >= 0


def ready_or_exited(notify: socket.socket, proc: subprocess.Popen[bytes]) -> str | None:
    """Whether `proc` is "ready" (sent READY=1) or "exited"; None while neither.

    One `recv` (up to the socket's timeout) per call: a condition for `wait_for`.
    """
    if proc.poll() is not None:
        return "exited"
    try:
        return "ready" if "READY=1" in notify.recv(4096).decode().splitlines() else None
    except TimeoutError:
        return None


# Run in the child before exec: MDWE is inherited across fork and kept across execve.
_MDWE_EXEC = f"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_MDWE) failed: errno %d" % ctypes.get_errno())
os.execv(sys.argv[1], sys.argv[1:])
"""


@pytest.mark.e2e  # runs `python -m remediator run`
def test_the_daemon_runs_under_memory_deny_write_execute(tmp_path: Path) -> None:
    """CPython has no JIT, and nothing the daemon loads needs writable executable memory."""
    wrap = [sys.executable, "-c", _MDWE_EXEC]
    if not sys.platform.startswith("linux") or not _mdwe_supported():
        pytest.skip("the kernel has no PR_SET_MDWE (Linux 6.3+): cannot check W^X here")
    port = free_port()
    with Sandbox(access_key="MDWE-AK", secret_key="mdwe-sk") as sb:
        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "r.yaml").write_text(
            "rules:\n  - {name: r, targets: ['*'], trigger: {probe: {failures: 3, of: 3}},"
            " action: restart_cmak, cooldown: 1h}\n"
        )
        config = tmp_path / "remediator.yaml"
        config.write_text(
            f"""
ncp: {{endpoint: "{sb.url}", access_key: {{env: AK}}, secret_key: {{env: SK}}}}
server: {{listen: "127.0.0.1:{port}"}}
state: {{path: "{tmp_path / "state.db"}"}}
targets:
  - name: orders
    cluster_no: "1484848"
    health: {{kind: cmak, url: "{sb.tool_url("1484848")}", interval: 1s, timeout: 1s}}
rules: [rules/*.yaml]
"""
        )
        notify_path = str(tmp_path / "notify.sock")
        log = (tmp_path / "daemon.log").open("wb")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
            notify.bind(notify_path)
            notify.settimeout(0.5)
            proc = subprocess.Popen(
                [*wrap, sys.executable, "-m", "remediator", "run", "-c", str(config)],
                env={**os.environ, "AK": "MDWE-AK", "SK": "mdwe-sk", "NOTIFY_SOCKET": notify_path},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                state = wait_for(
                    lambda: ready_or_exited(notify, proc),
                    timeout=30,
                    interval=0,
                    what="READY=1 from the daemon",
                    detail=(tmp_path / "daemon.log").read_text,
                )
                assert state == "ready", (tmp_path / "daemon.log").read_text()
                session = requests.Session()
                session.trust_env = False
                metrics = session.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
                assert "remediator_build_info{" in metrics
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(20) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
                log.close()
        output = (tmp_path / "daemon.log").read_text(errors="replace")
        assert "prctl" not in output, output
        assert '"message": "stopped"' in output, output
