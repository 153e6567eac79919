#!/usr/bin/env python3
"""CDK entry point: validate the projects file, build one stack per project, print a summary.

The only place that reads files, environment and context. `cdk synth -c config=PATH` selects the
projects file (default projects.yaml). A bad file is reported on stderr, one line per problem,
and the process exits 1 before any stack is built or anything is written.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# jsii prints a Node end-of-life banner on every start, burying the summary and any config
# problems; the build hosts run Node 20. Upgrading Node is the real fix.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

import aws_cdk as cdk
import yaml

from claude_platform.config import ConfigError, Platform, load_config
from stacks.app_builder import build_app, synthesis_summary

DEFAULT_CONFIG = "projects.yaml"


def _fail(lines: list[str]) -> None:
    print("\n".join(lines), file=sys.stderr)
    raise SystemExit(1)


def read_platform(path: Path) -> Platform:
    """Parse and validate the projects file; exits with the problems on any error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        _fail([f"{path}: cannot read the projects file ({e.strerror or e}); select one with -c config=PATH"])
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as e:
        _fail([f"{path}: not valid YAML", f"  {e}".replace("\n", "\n  ")])
    try:
        return load_config(raw, source=str(path))
    except ConfigError as e:
        _fail(
            [
                f"{path}: {len(e.problems)} problem(s), nothing was synthesized:",
                *(f"  - {p}" for p in e.problems),
            ]
        )
    raise AssertionError("unreachable")


def main() -> int:
    """Synthesize the app for the selected projects file."""
    # Template schema checks run in the test suite (cfn-lint over every template); CDK's
    # built-in pass would add ~0.12 s per project stack to every synth (36 s at 300 projects).
    app = cdk.App(builtin_cloud_formation_validation=False)
    config_path = Path(app.node.try_get_context("config") or DEFAULT_CONFIG)
    platform = read_platform(config_path)
    stacks = build_app(platform, app=app, default_account=os.environ.get("CDK_DEFAULT_ACCOUNT"))
    try:
        app.synth()
    except RuntimeError as e:
        if "ValidationFailed" not in str(e):
            raise
        _fail(
            [f"{config_path}: synthesis stopped by cdk-nag findings (listed above); fix or acknowledge them"]
        )
    # stderr: `cdk synth` prints templates on stdout, and shows the app's stderr.
    print(synthesis_summary(platform, stacks, source=str(config_path)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
