"""`remediator discover`: the account's clusters as a ready-to-paste `targets:` list.

It needs only the configuration's `ncp` section and the two NCP keys: at onboarding, the other
secrets (webhook token, tool passwords) may not exist yet, so they are not read.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from remediator.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    Subparsers,
    add_config_argument,
    load,
)
from remediator.clock import Clock
from remediator.config.secrets import SecretUse

PAGE_SIZE = 100


def add_parser(sub: Subparsers) -> None:
    """The `discover` subcommand."""
    p = sub.add_parser(
        "discover",
        help="list the account's clusters as ready-to-paste targets",
        description="List every cluster the configured NCP key may see (getClusterInfoList, "
        "paged) and print a `targets:` list to paste into the configuration: one item per "
        "cluster with a valid, unique name, its cluster_no and region, cluster_health, and a "
        "health block to complete. Clusters that are not running are marked; those the "
        "configuration already has are only mentioned in comments. Reads only the ncp "
        "section's keys. Exit 1 when the listing fails (bad keys, permission, clock, network).",
    )
    add_config_argument(p)
    p.add_argument(
        "--write",
        type=Path,
        metavar="FILE",
        help="write the list to FILE instead of stdout (an existing FILE only with --force)",
    )
    p.add_argument("--force", action="store_true", help="with --write: replace an existing FILE")
    p.add_argument(
        "--region",
        action="append",
        metavar="REGION",
        help="list the clusters of this region (repeatable; default: ncp.region)",
    )
    p.set_defaults(handler=discover)


@dataclass(frozen=True)
class _NcpKeys:
    """The configuration's NCP key references alone, for `resolve_secrets`."""

    secret_uses: tuple[SecretUse, ...]


def discover(
    args: argparse.Namespace,
    *,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """List, render, print or write; `clock` and `environ` are the real ones unless given."""
    from remediator.clock import SystemClock
    from remediator.config.discovered import Found, entries, render
    from remediator.config.loader import ConfigError, resolve_secrets
    from remediator.config.model import region_problem
    from remediator.errors import NcpError
    from remediator.ncp.client import CdssClient, Credentials

    write: Path | None = args.write
    if args.force and write is None:
        return _usage("--force only goes with --write FILE")
    if write is not None and not args.force and (write.exists() or write.is_symlink()):
        return _usage(f"{write} exists; give --force to replace it")
    config = load(args.config, secrets=False)
    if config is None:
        return EXIT_USAGE
    regions: Sequence[str] = list(dict.fromkeys(args.region or [config.ncp.region]))
    for region in regions:
        problem = region_problem(config.ncp.site, region)
        if problem is not None:
            return _usage(f"--region {region}: {problem}")
    keys = [u for u in config.secret_uses if u.role is not None]
    try:
        secrets = resolve_secrets(_NcpKeys(tuple(keys)), environ=environ)
    except ConfigError as exc:
        for located in exc.problems:
            print(located, file=sys.stderr)
        return EXIT_USAGE
    timeout = config.ncp.timeout
    with (
        _quiet_client_log(),
        CdssClient(
            credentials=Credentials(secrets.access_key, secrets.secret_key),
            clock=clock or SystemClock(),
            site=config.ncp.site,
            region=config.ncp.region,
            endpoint=config.ncp.endpoint,
            read_timeout=timeout,
            deadline=max(30.0, 3 * timeout),
            max_attempts=3,
            pool_size=1,
        ) as client,
    ):
        try:
            found = [
                Found(region, cluster)
                for region in regions
                for cluster in client.list_clusters(region=region, page_size=PAGE_SIZE)
            ]
        except NcpError as exc:
            print(f"remediator discover: {' '.join(str(exc).split())}", file=sys.stderr)
            return EXIT_FAILURE
    listed = entries(found, {t.cluster_no: t.name for t in config.targets})
    text = render(listed, config=str(args.config), site=config.ncp.site, regions=regions)
    if write is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        with write.open("w" if args.force else "x", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        print(f"remediator discover: cannot write {write}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    new = sum(1 for e in listed if e.configured_as is None)
    print(f"remediator discover: wrote {len(listed)} clusters ({new} to add) to {write}")
    return EXIT_OK


@contextmanager
def _quiet_client_log() -> Iterator[None]:
    """Keep the client's per-attempt warnings off the terminal while it lists: the one error
    line says it all. Whatever handlers logging has (none: Python's last-resort handler would
    print them), the client's logger says nothing below ERROR meanwhile, and is restored."""
    log = logging.getLogger("remediator.ncp")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _usage(message: str) -> int:
    print(f"remediator discover: {message}", file=sys.stderr)
    return EXIT_USAGE
