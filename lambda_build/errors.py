"""The build's one error type and its subprocess/filesystem helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


class BundleError(RuntimeError):
    """The bundle could not be built (message says why and what to do)."""


def log(msg: str) -> None:
    """One progress line on stderr."""
    print(f"[lambda-build] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], *, what: str, env: dict[str, str] | None = None, timeout: float = 1800) -> str:
    """Run `cmd`; its stdout, or BundleError naming `what` with the output's tail."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BundleError(f"{what} timed out after {timeout:.0f} s: {' '.join(cmd[:6])} ...") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-40:])
        raise BundleError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd[:6])} ...\n{tail}")
    return proc.stdout


def rm(path: Path) -> None:
    """Remove a file, link or folder if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def copy_tree(src: Path, dst: Path) -> None:
    """Hard-link (fast, no extra space) or copy when linking is impossible."""

    def link_or_copy(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, dst, copy_function=link_or_copy, dirs_exist_ok=True, symlinks=False)
