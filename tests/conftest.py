"""Shared test setup: import paths (repo root, lambda/) and a quiet, offline environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "lambda"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# jsii's Node end-of-life banner on every start; LiteLLM must never fetch its price map.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
