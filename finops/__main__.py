"""`python -m finops`: the same as the `claude-finops` console script."""

from __future__ import annotations

import sys

from finops.cli import main

if __name__ == "__main__":
    sys.exit(main())
