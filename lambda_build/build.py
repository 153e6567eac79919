"""Build: the steps in order, each layer cached under .build/bundle-cache by its content key."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lambda_build.cache import (
    COMPLETE_MARKER,
    bundle_key,
    deps_key,
    prune_cache,
    shipped_size,
    tree_digest,
    tree_size,
)
from lambda_build.compile import compile_files, pyc_path
from lambda_build.errors import BundleError, copy_tree, log, rm
from lambda_build.install import install_locked
from lambda_build.probe import probe_handler, run_probe
from lambda_build.prune import prune
from lambda_build.resolve import check_lock
from lambda_build.sources import (
    BUNDLE_ROOT_SCRIPTS,
    DEFAULT_CACHE_ROOT,
    HANDLER_MODULE,
    LAZY_MODULES,
    LOCK_FILE,
    REPO_ROOT,
    source_files,
)
from lambda_build.target import Target, find_python


@dataclass(frozen=True)
class BundleInfo:
    """A built bundle."""

    path: Path
    key: str
    size_bytes: int
    file_count: int
    cached: bool
    build_seconds: float


def build_deps(target: Target, *, cache_root: Path, python: str, repo_root: Path = REPO_ROOT) -> Path:
    """The cached dependency layer: <cache>/deps-<key>/{site,runtime-sdk,manifest.json}."""
    lock = check_lock(target, repo_root)
    key = deps_key(target, repo_root)
    final = cache_root / f"deps-{key}"
    if (final / "manifest.json").is_file():
        return final
    cache_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"deps-{key}.", dir=cache_root))
    try:
        site, sdk = work / "site", work / "runtime-sdk"
        started = time.monotonic()
        install_locked(target, repo_root / LOCK_FILE, lock, site, python=python)
        pruned = prune(site, sdk)
        if pruned["not_installed_to_drop"]:
            log(f"note: not installed, nothing to drop: {', '.join(pruned['not_installed_to_drop'])}")
        probe = run_probe(python, site, sdk)
        dropped_tops = {top for tops in pruned["dropped_distributions"].values() for top in tops}
        leaked = sorted(m for m in probe["modules"] if m.split(".")[0] in dropped_tops)
        if leaked:
            raise BundleError(f"the probe imported dropped packages: {leaked}")
        hot = set(probe["hot_files"])
        compile_files(python, site, hot)
        sdk_files = [p.relative_to(sdk).as_posix() for p in sdk.rglob("*.py")]
        compile_files(python, sdk, sdk_files)  # for local runs only; never shipped
        size, count = tree_size(site)
        manifest = {
            "key": key,
            "runtime": target.runtime_name,
            "arch": target.arch,
            "python": python,
            "locked_distributions": len(lock.dists),
            **pruned,
            "compiled_files": len(hot),
            "size_bytes": size,
            "file_count": count,
            "build_seconds": round(time.monotonic() - started, 1),
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        with contextlib.suppress(OSError):
            work.rename(final)  # another build may have won the race: fine, same content
        log(f"dependency layer ready: {size / 1e6:.1f} MB, {count} files, {manifest['build_seconds']} s")
        return final
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def _assemble(deps: Path, dest: Path, python: str, repo_root: Path, target: Target) -> None:
    """Dependency layer + the repo's sources, compiled; the handler imported from the result."""
    copy_tree(deps / "site", dest)
    copied = []
    for rel, path in source_files(repo_root):
        target_path = dest / rel
        target_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target_path)
        if rel in BUNDLE_ROOT_SCRIPTS:
            target_path.chmod(0o755)
        if rel.endswith(".py"):
            copied.append(rel)
    compile_files(python, dest, copied)
    # Import the handler from the bundle as Lambda will (fails the build if it cannot), and compile
    # whatever it loads beyond the dependency probe (e.g. the Powertools modules it uses); the same
    # for the modules it imports lazily for traced projects.
    loaded = probe_handler(python, dest, deps / "runtime-sdk", HANDLER_MODULE, *LAZY_MODULES)
    missing = [rel for rel in loaded if not (dest / pyc_path(rel, target)).is_file()]
    compile_files(python, dest, missing)


def build_bundle(
    target: Target,
    *,
    cache_root: Path = DEFAULT_CACHE_ROOT,
    repo_root: Path = REPO_ROOT,
    python: str | None = None,
) -> BundleInfo:
    """Build (or reuse) the bundle for `target`; returns its cached folder. Never modify that folder."""
    started = time.monotonic()
    check_lock(target, repo_root)  # a stale lock fails even when an old bundle is cached
    key = bundle_key(target, repo_root)
    final = cache_root / f"bundle-{key}"
    if (final / COMPLETE_MARKER).is_file():
        size, count = shipped_size(final)
        return BundleInfo(final, key, size, count, True, 0.0)
    python = python or find_python(target.python_version)
    deps = build_deps(target, cache_root=cache_root, python=python, repo_root=repo_root)
    work = Path(tempfile.mkdtemp(prefix=f"bundle-{key}.", dir=cache_root))
    try:
        _assemble(deps, work / "b", python, repo_root, target)
        (work / "b" / COMPLETE_MARKER).touch()
        with contextlib.suppress(OSError):
            (work / "b").rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    prune_cache(cache_root, "bundle", keep=6)
    prune_cache(cache_root, "deps", keep=3)
    size, count = shipped_size(final)
    return BundleInfo(final, key, size, count, False, round(time.monotonic() - started, 1))


def export_bundle(info: BundleInfo, output_dir: Path) -> None:
    """Copy a built bundle into output_dir (CDK's asset staging folder), without the cache marker."""
    output_dir.mkdir(parents=True, exist_ok=True)
    copy_tree(info.path, output_dir)
    rm(output_dir / COMPLETE_MARKER)


def sdk_dir(target: Target, cache_root: Path = DEFAULT_CACHE_ROOT, repo_root: Path = REPO_ROOT) -> Path:
    """The runtime-sdk folder (boto3, botocore, s3transfer) of the current dependency layer."""
    return cache_root / f"deps-{deps_key(target, repo_root)}" / "runtime-sdk"


def bundle_digest(info: BundleInfo) -> str:
    """Content digest of a built bundle as shipped (see cache.tree_digest)."""
    return tree_digest(info.path)
