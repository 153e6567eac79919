"""Cache: content keys of the build's inputs (the CDK asset hash), sizes, tree digests, old entries.

Keys hash file contents only (never paths on this machine or mtimes), so two checkouts of the same
commit get the same asset hash; the tree digest does the same for a finished bundle.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

from lambda_build.sources import LOCK_FILE, REPO_ROOT, source_files
from lambda_build.target import Target

PACKAGE_DIR = Path(__file__).resolve().parent
#: Besides this package: the Bedrock stand-in the probe calls (it decides which modules get bytecode).
RECIPE_EXTRA_FILES = ("devservers/bedrock_server.py", "devservers/_http.py")
#: Written into a finished cache entry last; never shipped.
COMPLETE_MARKER = ".complete"


def _update(digest: hashlib._Hash, label: str, data: bytes) -> None:
    digest.update(label.encode() + b"\0" + hashlib.sha256(data).digest())


#: Modules that do not shape the dependency layer: the re-exports and docstring, the CLI, and the
#: list of copied sources (hashed into the bundle key: adding a bundled file reinstalls nothing).
_NOT_DEPS_RECIPE = ("__init__.py", "__main__.py", "sources.py")


def recipe_files() -> list[tuple[str, Path]]:
    """(label, path) of the dependency layer's recipe: this package's modules and RECIPE_EXTRA_FILES."""
    files = [
        (f"lambda_build/{p.name}", p) for p in PACKAGE_DIR.glob("*.py") if p.name not in _NOT_DEPS_RECIPE
    ]
    files += [(rel, REPO_ROOT / rel) for rel in RECIPE_EXTRA_FILES]
    return sorted(files)


def deps_key(target: Target, repo_root: Path = REPO_ROOT) -> str:
    """Hash of everything the dependency layer depends on: target, lock file, recipe."""
    digest = hashlib.sha256(f"{target.runtime_name}\0{target.arch}\0".encode())
    lock = repo_root / LOCK_FILE
    _update(digest, "lock", lock.read_bytes() if lock.is_file() else b"(missing)")
    for label, path in recipe_files():
        _update(digest, label, path.read_bytes())
    return digest.hexdigest()[:32]


def bundle_key(target: Target, repo_root: Path = REPO_ROOT) -> str:
    """Hash of every input of the finished bundle; used as the CDK asset hash."""
    digest = hashlib.sha256(deps_key(target, repo_root).encode() + b"\0")
    _update(digest, "lambda_build/sources.py", (PACKAGE_DIR / "sources.py").read_bytes())
    for rel, path in source_files(repo_root):
        _update(digest, rel, path.read_bytes())
    return digest.hexdigest()[:32]


def tree_size(root: Path) -> tuple[int, int]:
    """(sum of file sizes in bytes, file count) under root: what Lambda's unzipped limit counts."""
    size = count = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            size += os.lstat(os.path.join(dirpath, name)).st_size
            count += 1
    return size, count


def shipped_size(path: Path) -> tuple[int, int]:
    """(bytes, files) as shipped: the cache marker excluded."""
    size, count = tree_size(path)
    if (path / COMPLETE_MARKER).exists():
        count -= 1
    return size, count


def tree_digest(root: Path) -> str:
    """sha256 over every shipped file's path, executable bit and content (not mtimes or owners)."""
    digest = hashlib.sha256()
    entries = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            if rel != COMPLETE_MARKER:
                entries.append((rel, path))
    for rel, path in sorted(entries):
        mode = os.lstat(path).st_mode
        kind = b"l" if stat.S_ISLNK(mode) else (b"x" if mode & stat.S_IXUSR else b"f")
        data = os.readlink(path).encode() if kind == b"l" else path.read_bytes()
        digest.update(rel.encode() + b"\0" + kind + hashlib.sha256(data).digest())
    return digest.hexdigest()


def prune_cache(cache_root: Path, prefix: str, keep: int) -> None:
    """Delete all but the `keep` most recent finished `<prefix>-<key>` entries."""
    entries = sorted(cache_root.glob(f"{prefix}-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        if old.is_dir() and "." not in old.name:
            shutil.rmtree(old, ignore_errors=True)
