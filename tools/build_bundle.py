"""Build the project Lambda bundle (no Docker) and print its unzipped size and file count.

    .venv/bin/python tools/build_bundle.py [--output DIR] [--runtime python3.13] [--arch x86_64] [--json]

The bundle is cached under .build/bundle-cache (see tools/lambda_bundle.py for the recipe); --output
copies it into DIR, as CDK's local bundling does into the asset staging folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.lambda_bundle import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
