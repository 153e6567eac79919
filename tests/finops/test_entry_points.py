"""The CLI as users start it: `python -m finops` and the `claude-finops` console script."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib

from finops_testkit import ROOT


def test_python_m_finops_help_lists_every_command():
    result = subprocess.run(
        [sys.executable, "-m", "finops", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for command in (
        "report",
        "spend-by-tag",
        "reconcile",
        "activate-tags",
        "status",
        "check",
        "estimate",
        "litellm-config",
        "cur-query",
    ):
        assert command in result.stdout


def test_console_script_points_at_main_and_packages_include_the_shared_core():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    target = project["project"]["scripts"]["claude-finops"]
    module, _, function = target.partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    assert set(project["tool"]["setuptools"]["packages"]) == {"finops", "claude_platform"}


def test_unknown_command_exits_2_with_usage():
    result = subprocess.run(
        [sys.executable, "-m", "finops", "bogus"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2 and "invalid choice: 'bogus'" in result.stderr


def test_no_credentials_is_one_line_naming_the_command(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = subprocess.run(
        [sys.executable, "-m", "finops", "report"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "claude-finops report: no AWS credentials found; set AWS_PROFILE or run `aws sso login`"
    )


def test_make_setup_installs_the_cli_whichever_target_runs_first():
    # README: `make synth` or `make test` installs `claude-finops`; both stamps must run the install.
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    for stamp in ("$(VENV)/.app-installed:", "$(VENV)/.dev-installed:"):
        recipe = makefile[makefile.index(stamp) :].split("\n\n", 1)[0]
        assert "pip install --quiet --no-deps -e ." in recipe, stamp
