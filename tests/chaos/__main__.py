"""`python -m tests.chaos [--quick] [PART ...]`: run the fault campaign and print its table
(`make chaos`). Parts: kills, fuzz, configs, flood, clock, ledger, start, gateway."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from tests.chaos.campaign import PARTS, run, table


def main(argv: list[str]) -> int:
    """Run the campaign; exit 1 when a figure missed its goal."""
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("parts", nargs="*", choices=[[], *PARTS], default=[], metavar="PART")
    parser.add_argument("--quick", action="store_true", help="each part reduced, as make test")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="remediator-chaos-"))
    try:
        rows = run(work, args.parts or list(PARTS), args.quick)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(table(rows))
    return 0 if all(r.held for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
