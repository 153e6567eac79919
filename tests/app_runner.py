"""Run app.py the way the CDK CLI does (context and output folder through the environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_app(config: Path | str, outdir: Path, *, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python app.py` on `config` with bundling skipped and no default account."""
    env = dict(os.environ)
    env.update(
        CDK_CONTEXT_JSON=json.dumps({"config": str(config), "aws:cdk:bundling-stacks": []}),
        CDK_OUTDIR=str(outdir),
    )
    env.pop("CDK_DEFAULT_ACCOUNT", None)
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
