"""The demo's configuration: templates shipped as package data, filled in and written out.

`demo.yaml` becomes `remediator.yaml` (the sandbox's addresses, the ledger's path and the
listener filled in) and `rules/demo.yaml` is copied as it is. The NCP keys are referred to as
environment variables, whose values the demo hands to the daemon in a mapping of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from string import Template

ORDERS = "1484848"  # the sandbox's CMAK cluster
PAYMENTS = "1484849"  # the sandbox's Kafka-UI cluster
ACCESS_KEY_ENV = "NCLOUD_ACCESS_KEY"
SECRET_KEY_ENV = "NCLOUD_SECRET_KEY"  # noqa: S105 - a variable name
LISTEN = "127.0.0.1:0"  # port 0: the daemon binds a free one


@dataclass(frozen=True)
class DemoFiles:
    """Where the demo keeps its configuration, ledger and log."""

    directory: Path
    config: Path
    rules: Path
    state: Path
    log: Path


def demo_files(directory: Path) -> DemoFiles:
    """The demo's file names inside `directory`."""
    return DemoFiles(
        directory=directory,
        config=directory / "remediator.yaml",
        rules=directory / "rules" / "demo.yaml",
        state=directory / "state.db",
        log=directory / "remediator.log",
    )


def write_config(
    directory: Path, *, sandbox_url: str, orders_url: str, payments_url: str
) -> DemoFiles:
    """Write the bundled configuration and rules into `directory`, pointing at the sandbox."""
    where = demo_files(directory)
    templates = files("remediator.demo")
    # JSON strings are YAML double-quoted scalars: any path or URL is written safely.
    values = {
        "sandbox_url": sandbox_url,
        "listen": LISTEN,
        "state_path": str(where.state),
        "orders_no": ORDERS,
        "orders_url": orders_url,
        "payments_no": PAYMENTS,
        "payments_url": payments_url,
    }
    template = Template(templates.joinpath("demo.yaml").read_text(encoding="utf-8"))
    text = template.substitute({k: json.dumps(v) for k, v in values.items()})
    where.config.write_text(text, encoding="utf-8")
    where.rules.parent.mkdir(exist_ok=True)
    rules = templates.joinpath("rules", "demo.yaml").read_text(encoding="utf-8")
    where.rules.write_text(rules, encoding="utf-8")
    return where
