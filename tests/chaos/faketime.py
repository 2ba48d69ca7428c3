"""Processes whose wall clock the test steps, as NTP or a VM resume does: Debian's `faketime`
(libfaketime) preloaded, reading its offset from a file the test rewrites; the monotonic clock
is left alone (FAKETIME_DONT_FAKE_MONOTONIC), as a real step leaves it."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import requests

from remediator.sandbox.tools import base_path
from tests.e2e import free_port, require_binary
from tests.waiting import wait_for


class Faketime:
    """An offset file and the environment that makes a process read its wall clock from it."""

    def __init__(self, path: Path) -> None:
        require_binary("faketime")  # skip or fail loudly without Debian's faketime package
        libs = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
        assert libs, "faketime is installed but libfaketimeMT.so.1 is not where Debian puts it"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.library = libs[0]
        self.set("+0")

    def set(self, offset: str) -> None:
        """Step every process using it: `+2h`, `-2h`, `+0` (libfaketime's relative offsets)."""
        tmp = self.path.with_suffix(".new")
        tmp.write_text(offset + "\n")
        tmp.replace(self.path)

    def environ(self) -> dict[str, str]:
        return {
            "LD_PRELOAD": self.library,
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_CACHE_DURATION": "1",  # read the file again each second
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }


class SandboxProcess:
    """`remediator sandbox` in a process of its own (so that its clock can be stepped too)."""

    def __init__(self, tmp: Path, access_key: str, secret_key: str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin = f"{self.url}/_sandbox"
        self.log = tmp / "sandbox.log"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    *("-m", "remediator", "sandbox", "--listen", f"127.0.0.1:{self.port}"),
                    *("--access-key", access_key, "--secret-key", secret_key),
                    *("--restart-delay", "1s", "--cmak-restart", "available"),
                ],
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._up, timeout=20, what="the sandbox process", detail=self.output)

    def _up(self) -> bool:
        try:
            return requests.get(self.admin + "/clusters", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tool_url(self, cluster_no: str) -> str:
        tool = "cmak" if cluster_no == "1484848" else "kafka_ui"
        return self.url + base_path(cluster_no, tool)

    def break_tool(self, cluster_no: str, mode: str = "down") -> None:
        reply = requests.post(
            f"{self.admin}/clusters/{cluster_no}/tool", json={"mode": mode}, timeout=5
        )
        reply.raise_for_status()

    def action_calls(self, cluster_no: str) -> list[str]:
        calls = requests.get(self.admin + "/calls", timeout=5).json()["calls"]
        return [
            c["operation"]
            for c in calls
            if c["cluster_no"] == cluster_no
            and c["operation"]
            and c["operation"].startswith(("restart", "rolling"))
        ]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
