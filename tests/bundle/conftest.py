"""The real Lambda bundle tests (marker `bundle`): they build or reuse .build/bundle-cache."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "tests", ROOT / "tests" / "bundle", ROOT / "tests" / "lambda"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "bundle: builds the real Lambda bundle (pip + python3.13; ~1 min once, cached) and runs it like Lambda",
    )
