"""The Lambda runtime and architecture a bundle is built for, and the interpreter that builds it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lambda_build.errors import BundleError


@dataclass(frozen=True)
class Target:
    """The Lambda runtime and architecture a bundle is built for."""

    python_version: str  # "3.13"
    arch: str  # "x86_64" | "arm64"

    @classmethod
    def from_names(cls, runtime_name: str, arch_name: str) -> Target:
        """From CDK names: runtime "python3.13", architecture "x86_64" / "arm64"."""
        match = re.fullmatch(r"python(3\.\d+)", runtime_name)
        if not match:
            raise BundleError(f"not a Python Lambda runtime: {runtime_name!r}")
        if arch_name not in ("x86_64", "arm64"):
            raise BundleError(f"unknown Lambda architecture: {arch_name!r}")
        return cls(python_version=match.group(1), arch=arch_name)

    @property
    def runtime_name(self) -> str:
        """ "python3.13"."""
        return f"python{self.python_version}"

    @property
    def label(self) -> str:
        """ "python3.13 x86_64", as written in the lock file."""
        return f"{self.runtime_name} {self.arch}"

    @property
    def pip_platforms(self) -> tuple[str, ...]:
        """Wheel platform tags, best first. Lambda python3.12+ runs on Amazon Linux 2023 (glibc 2.34)."""
        machine = "x86_64" if self.arch == "x86_64" else "aarch64"
        return (f"manylinux_2_28_{machine}", f"manylinux_2_17_{machine}", f"manylinux2014_{machine}")

    def pip_target_args(self) -> list[str]:
        """pip options selecting this target's binary wheels (any host, any Python)."""
        platforms = [arg for p in self.pip_platforms for arg in ("--platform", p)]
        return [
            *platforms,
            "--implementation",
            "cp",
            "--python-version",
            self.python_version,
            "--only-binary=:all:",
        ]


def _python_candidates(version: str) -> Iterator[str]:
    exe = f"python{version}"
    override = os.environ.get("BUNDLE_PYTHON")
    if override:
        yield override
    if sys.version_info[:2] == tuple(int(p) for p in version.split(".")):
        yield sys.executable
    found = shutil.which(exe)
    if found:
        yield found
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    for root in filter(None, roots):
        for candidate in sorted(Path(root, "versions").glob(f"{version}.*/bin/{exe}"), reverse=True):
            yield str(candidate)
    for candidate in sorted(
        Path.home().glob(f".local/share/uv/python/cpython-{version}.*/bin/{exe}"), reverse=True
    ):
        yield str(candidate)
    yield from (f"/usr/local/bin/{exe}", f"/usr/bin/{exe}")


def find_python(version: str) -> str:
    """A working interpreter of exactly `version` ("3.13"), or BundleError saying how to get one.

    A pyenv shim can exist on PATH and still refuse to run (version not selected): each candidate is
    run once to check.
    """
    tried: list[str] = []
    for candidate in dict.fromkeys(_python_candidates(version)):
        tried.append(candidate)
        try:
            out = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip() == version:
            return candidate
    raise BundleError(
        f"python{version} not found. The Lambda bundle's dependencies are resolved and installed by "
        f"its pip, and its bytecode compiled (and the bundle probed) by the Lambda runtime's own "
        f"Python {version}. Install it (e.g. `pyenv install {version}`) or point BUNDLE_PYTHON at a "
        f"python{version} executable. Tried: {', '.join(tried)}"
    )


def pip_command(python: str) -> list[str]:
    """`python -m pip`, checked once: BundleError if that interpreter has no pip."""
    probe = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        raise BundleError(
            f"{python} has no pip: run `{python} -m ensurepip` (pip resolves and installs the bundle "
            "with the runtime's Python, so environment markers are evaluated for that version)"
        )
    return [python, "-m", "pip"]


def pip_env() -> dict[str, str]:
    """The caller's environment (proxies and pip config kept) without variables that would redirect
    the runtime's Python to another interpreter's modules."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
