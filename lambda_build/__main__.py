"""CLI: `python -m lambda_build build|lock` (see the package docstring for the recipe)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lambda_build.build import build_bundle, bundle_digest, export_bundle
from lambda_build.cache import shipped_size
from lambda_build.errors import BundleError
from lambda_build.resolve import check_lock, write_lock
from lambda_build.sources import DEFAULT_CACHE_ROOT
from lambda_build.target import Target, find_python


def _build(args: argparse.Namespace, target: Target) -> int:
    info = build_bundle(target, cache_root=args.cache_root)
    path = info.path
    if args.output:
        export_bundle(info, args.output)
        path = args.output
    size, count = shipped_size(path)
    digest = bundle_digest(info) if args.digest else None
    if args.json:
        doc = {
            "path": str(path),
            "key": info.key,
            "size_bytes": size,
            "files": count,
            "cached": info.cached,
            "build_seconds": info.build_seconds,
        }
        if digest:
            doc["tree_sha256"] = digest
        print(json.dumps(doc))
        return 0
    state = "cached" if info.cached else f"built in {info.build_seconds} s"
    print(f"bundle {path}\n  key {info.key} ({state})")
    print(f"  unzipped {size / 1e6:.1f} MB ({size / 2**20:.1f} MiB), {count} files")
    if digest:
        print(f"  tree sha256 {digest}")
    return 0


def _lock(args: argparse.Namespace, target: Target) -> int:
    if args.check:
        lock = check_lock(target)
        print(f"lambda/requirements.lock is up to date: {len(lock.dists)} distributions for {lock.target}")
        return 0
    write_lock(target, python=find_python(target.python_version), upgrade=args.upgrade)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the subcommand; exit 2 with one error line on BundleError."""
    parser = argparse.ArgumentParser(prog="python -m lambda_build", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runtime", default="python3.13")
    parser.add_argument("--arch", default="x86_64", choices=("x86_64", "arm64"))
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the bundle (or reuse the cache), print size and file count")
    build.add_argument("--output", type=Path, help="copy the bundle here (must not exist or be empty)")
    build.add_argument("--cache-root", type=Path, default=DEFAULT_CACHE_ROOT)
    build.add_argument("--digest", action="store_true", help="also print the bundle's content sha256")
    build.add_argument("--json", action="store_true", help="print a JSON line instead of text")
    lock = sub.add_parser("lock", help="(re)write lambda/requirements.lock from lambda/requirements.txt")
    lock.add_argument("--upgrade", action="store_true", help="re-resolve every pin, not only new ones")
    lock.add_argument("--check", action="store_true", help="only check that the lock is up to date")
    args = parser.parse_args(argv)
    try:
        target = Target.from_names(args.runtime, args.arch)
        return _build(args, target) if args.command == "build" else _lock(args, target)
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
