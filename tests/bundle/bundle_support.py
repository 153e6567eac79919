"""Shared by the bundle tests: the function's build target and a copy of the build's inputs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lambda_build import LOCK_FILE, REPO_ROOT, REQUIREMENTS, Target
from lambda_build.sources import source_files
from stacks.constructs.claude_proxy_function import PROXY_ARCHITECTURE, PROXY_RUNTIME

#: What the project function runs on, hence what the bundle and the lock are built for.
TARGET = Target.from_names(PROXY_RUNTIME.name, PROXY_ARCHITECTURE.name)


def copy_inputs(dest: Path) -> Path:
    """A second checkout of the build's repo inputs (requirements, lock, bundled sources), other mtimes."""
    for rel in (REQUIREMENTS, LOCK_FILE):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / rel, dest / rel)
    for _rel, path in source_files(REPO_ROOT):
        on_disk = dest / path.relative_to(REPO_ROOT)
        on_disk.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, on_disk)
        os.utime(on_disk, (1_000_000, 1_000_000))
    return dest
