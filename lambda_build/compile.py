"""Compile: .pyc by the runtime's own Python, unchecked-hash, independent of mtimes and build paths."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from lambda_build.errors import run
from lambda_build.probe import probe_env
from lambda_build.target import Target

LAMBDA_PREFIX = "/var/task"  # path embedded in the .pyc (Python rewrites it at import anyway)


def compile_files(python: str, root: Path, rel_files: Iterable[str]) -> None:
    """Compile to __pycache__ with the runtime's Python: unchecked-hash, deterministic, /var/task paths.

    `-X no_debug_ranges` leaves out the column tables (about 8% of a .pyc); tracebacks keep file and
    line, and lose only the ^^^ markers under the failing expression.
    """
    files = sorted(set(rel_files))
    if not files:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as fh:
        fh.write("\n".join(str(root / f) for f in files) + "\n")
        listing = fh.name
    try:
        run(
            [
                python,
                "-I",
                "-X",
                "no_debug_ranges",
                "-m",
                "compileall",
                "-q",
                "--invalidation-mode",
                "unchecked-hash",
                "-s",
                str(root),
                "-p",
                LAMBDA_PREFIX,
                "-i",
                listing,
            ],
            what="compileall",
            env=probe_env(),
        )
    finally:
        os.unlink(listing)


def pyc_path(rel_source: str, target: Target) -> str:
    """Where the runtime's Python looks for the .pyc of a source file (PEP 3147 layout)."""
    source = Path(rel_source)
    tag = "cpython-" + target.python_version.replace(".", "")
    return (source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc").as_posix()
