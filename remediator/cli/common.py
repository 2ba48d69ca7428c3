"""What every subcommand shares: exit codes, the `-c CONFIG` argument, loading with errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from remediator.config.loader import (
    DEFAULT_CONFIG,
    Config,
    ConfigError,
    load_config,
    resolve_secrets,
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]
# argparse's subparsers action (its type is private).
Subparsers = Any


def load(path: Path, *, secrets: bool = True) -> Config | None:
    """The configuration, or None after printing every problem to stderr."""
    try:
        config = load_config(path)
        if secrets:
            resolve_secrets(config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return None
    except OSError as exc:
        print(
            f"remediator: cannot read the configuration {path}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return None
    return config


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        metavar="CONFIG",
        help=f"the main configuration file (default {DEFAULT_CONFIG})",
    )
