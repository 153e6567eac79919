"""Install: the locked distributions into a folder, for the Lambda platform, hash-checked."""

from __future__ import annotations

import re
from pathlib import Path

from lambda_build.errors import BundleError, log, run
from lambda_build.resolve import REFRESH_HINT, Lock, canonical_name
from lambda_build.sources import LOCK_FILE
from lambda_build.target import Target, pip_command, pip_env


def installed_versions(site: Path) -> dict[str, str]:
    """Canonical distribution name -> version, from the *.dist-info folders in `site`."""
    out: dict[str, str] = {}
    for info in site.glob("*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].rpartition("-")
        out[canonical_name(name)] = version
    return out


def install_locked(target: Target, lock_file: Path, lock: Lock, site: Path, *, python: str) -> None:
    """`pip install --require-hashes -r <lock> --target site` with the target's wheels.

    Dependencies are not skipped (no --no-deps): pip then also fails if the lock misses one.
    """
    log(f"pip install {LOCK_FILE} ({len(lock.dists)} distributions, hash-checked) for {target.label}")
    try:
        run(
            [
                *pip_command(python),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--require-hashes",
                "--no-compile",
                "--target",
                str(site),
                "--requirement",
                str(lock_file),
                *target.pip_target_args(),
            ],
            what=f"pip install --require-hashes -r {LOCK_FILE}",
            env=pip_env(),
        )
    except BundleError as exc:
        if re.search(r"hash", str(exc), re.IGNORECASE):
            raise BundleError(
                f"{exc}\nIf the lock is wrong rather than the download: {REFRESH_HINT}"
            ) from None
        raise
    installed = installed_versions(site)
    expected = lock.versions()
    if installed != expected:
        extra = sorted(set(installed.items()) - set(expected.items()))
        missing = sorted(set(expected.items()) - set(installed.items()))
        raise BundleError(
            f"pip installed {extra or 'nothing extra'}, missed {missing or 'nothing'} of {LOCK_FILE}"
        )
