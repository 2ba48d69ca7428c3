"""`python -m remediator`: the same as the `remediator` console script."""

import sys

from remediator.cli import main

if __name__ == "__main__":
    sys.exit(main())
