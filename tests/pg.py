"""A real PostgreSQL for the tests: its own cluster (initdb) in a temporary directory, on a free
loopback port, stopped and removed at the end of the session.

Debian's `postgresql` package ships the server under /usr/lib/postgresql/VERSION/bin, off the
PATH; .ci/run installs it. The server refuses to run as root, so under root (CI) the cluster
belongs to the `postgres` user the package creates, and its commands run through `runuser`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.e2e import free_port, require_binary, require_e2e


def _bindir() -> Path:
    """The newest installed server's bin directory; skip or fail (REMEDIATOR_REQUIRE_E2E)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if found:
        return Path(found[-1]).parent
    return Path(require_binary("initdb")).parent  # elsewhere: on the PATH, or skipped


class Postgres:
    """One running cluster; `database()` makes a fresh, empty database in it."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.root = Path(tempfile.mkdtemp(prefix="remediator-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._count = 0
        if os.geteuid() == 0:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
        )
        self.start()

    def start(self) -> None:
        """Start the server (again, after `halt`)."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=on",
            "start",
        )

    def halt(self) -> None:
        """Stop the server, keeping its data (as a database that goes down for a while)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", self.user, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr[-2000:]}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new empty database; its URL."""
        self._count += 1
        name = f"ledger_{self._count}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "server.log").read_text(errors="replace")
        return ""

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """A PostgreSQL server for the session (started on first use)."""
    server = Postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres(request: pytest.FixtureRequest) -> Postgres:
    """The session's PostgreSQL server, for a test marked e2e (it fails any other, unstarted)."""
    require_e2e(request.node, "PostgreSQL")
    server: Postgres = request.getfixturevalue("postgres_server")
    return server
