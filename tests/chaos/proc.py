"""A `remediator run` subprocess on a generated configuration, for the campaign's faults that
only a real process shows (signals, a full disk, the wall clock, SIGKILL)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import psycopg
import requests

from tests.e2e import free_port

AK, SK = "CHAOS-AK", "chaos-sk"  # sandbox test keys, not secrets
TOKEN = "chaos-token"  # a test token, not a secret
ORDERS, PAYMENTS = "1484848", "1484849"

RULES = """
rules:
  - name: cmak-unhealthy
    targets: ["*"]
    trigger: {{probe: {{failures: 3, of: 3}}}}
    action: restart_cmak
    cooldown: {cooldown}
    budget: {{max: 3, per: 6h}}
    verify: {{grace: {grace}, successes: 2, timeout: {verify}}}
"""


class Gateway(Protocol):
    """A sandbox, in this process or its own."""

    @property
    def url(self) -> str: ...

    def tool_url(self, cluster_no: str) -> str: ...


class Daemon:
    """One daemon process; its log is `daemon.log` in its directory."""

    def __init__(
        self,
        tmp: Path,
        sb: Gateway,
        *,
        db: Path | None = None,
        url: str | None = None,
        cooldown: str = "1h",
        grace: str = "1s",
        verify: str = "20s",
        interval: str = "1s",
        ncp_timeout: str = "3s",
    ) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.db = db or tmp / "state.db"
        self.url_of_ledger = url
        (tmp / "token").write_text(TOKEN)
        (tmp / "rules").mkdir(exist_ok=True)
        (tmp / "rules" / "r.yaml").write_text(
            RULES.format(cooldown=cooldown, grace=grace, verify=verify)
        )
        state = f'url: "{url}"' if url else f'path: "{self.db}"'
        (tmp / "remediator.yaml").write_text(
            f"""
ncp: {{endpoint: "{sb.url}", access_key: {{env: AK}}, secret_key: {{env: SK}},
      timeout: {ncp_timeout}}}
server: {{listen: "127.0.0.1:{self.port}", webhook_token: {{file: "{tmp / "token"}"}}}}
state: {{{state}}}
targets:
  - name: orders
    cluster_no: "{ORDERS}"
    health: {{kind: cmak, url: "{sb.tool_url(ORDERS)}", interval: {interval}, timeout: 1s}}
  - name: payments
    cluster_no: "{PAYMENTS}"
    health: {{kind: kafka_ui, url: "{sb.tool_url(PAYMENTS)}", interval: {interval}, timeout: 1s}}
rules: [rules/*.yaml]
"""
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(
        self, *args: str, env: Mapping[str, str] | None = None, prefix: tuple[str, ...] = ()
    ) -> subprocess.Popen[bytes]:
        full = {**os.environ, "AK": AK, "SK": SK, **(env or {})}
        with (self.tmp / "daemon.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    *prefix,
                    sys.executable,
                    *("-m", "remediator", "run", "-c", str(self.tmp / "remediator.yaml")),
                    *args,
                ],
                env=full,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self.proc

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> requests.Response | None:
        try:
            return requests.get(self.url(path), timeout=2)
        except requests.RequestException:
            return None

    def ready(self) -> bool:
        answer = self.get("/-/ready")
        return answer is not None and answer.status_code == 200

    def answers(self) -> bool:
        return self.get("/-/healthy") is not None

    def metric(self, name: str) -> float | None:
        answer = self.get("/metrics")
        if answer is None:
            return None
        found = re.search(rf"^{re.escape(name)} (\S+)$", answer.text, re.MULTILINE)
        return float(found.group(1)) if found else None

    def rows(self, columns: str = "action, result, remediation") -> list[tuple[object, ...]]:
        if self.url_of_ledger:
            try:
                with psycopg.connect(self.url_of_ledger, connect_timeout=2) as conn:
                    cur = conn.execute(f"SELECT {columns} FROM actions ORDER BY id")
                    return list(cur)
            except psycopg.Error:  # down, or the schema is being created
                return []
        if not self.db.exists():
            return []
        db = sqlite3.connect(self.db, timeout=5)
        try:
            return list(db.execute(f"SELECT {columns} FROM actions ORDER BY id"))
        except sqlite3.OperationalError:  # the schema is being created
            return []
        finally:
            db.close()

    def output(self) -> str:
        path = self.tmp / "daemon.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(10)
