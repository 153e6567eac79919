"""What of the repository goes into the bundle, and where the build's inputs live."""

from __future__ import annotations

from pathlib import Path

from lambda_build.errors import BundleError

REPO_ROOT = Path(__file__).resolve().parents[1]
LAMBDA_DIR = REPO_ROOT / "lambda"
#: The function's top-level requirements (hand-edited) and their full, hashed lock (`make lock`).
REQUIREMENTS = "lambda/requirements.txt"
LOCK_FILE = "lambda/requirements.lock"
DEFAULT_CACHE_ROOT = REPO_ROOT / ".build" / "bundle-cache"

#: The Lambda handler's module; importing it from the assembled bundle is part of the build.
HANDLER_MODULE = "claude_proxy.handler"
#: Modules the handler imports lazily (projects with `tracing`): imported by the build too, so the
#: build fails if they cannot load from the bundle and what they load is compiled like the hot path.
LAZY_MODULES = (
    "claude_proxy.tracing",
    "claude_proxy.xray",
    # The gateway function (run.sh): the web app and what uvicorn loads to serve it over h11.
    "claude_proxy.web.runtime",
    "claude_proxy.web.anthropic_api",
    "claude_proxy.web.sse",
    "uvicorn.main",
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.lifespan.on",
    "uvicorn.loops.asyncio",
)

#: The function's own package, copied whole: lambda/claude_proxy -> claude_proxy/ in the bundle.
FUNCTION_PACKAGE = "lambda/claude_proxy"

#: Repository files the function imports besides its own package, copied to the same path in the
#: bundle. A module the function starts importing is one more line here (tests/bundle checks that
#: every claude_platform module claude_proxy imports is listed).
BUNDLED_REPO_FILES = (
    "claude_platform/__init__.py",
    "claude_platform/prices.py",
    "claude_platform/guardrail_prices.py",
    "claude_platform/limits.py",
    "claude_platform/ledger.py",
    "claude_platform/ledger_model.py",
    "claude_platform/ledger_alerts.py",
    "claude_platform/rate_window.py",
    "claude_platform/function_settings.py",
    "claude_platform/api_keys.py",
)

#: Files copied to the bundle's root, executable: the gateway function's handler (Lambda Web Adapter
#: runs it; docs/https-endpoint.md). Bundle path -> repository path.
BUNDLE_ROOT_SCRIPTS = {"run.sh": "lambda/run.sh"}

_SKIP_SOURCE_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def source_files(repo_root: Path = REPO_ROOT) -> list[tuple[str, Path]]:
    """(path inside the bundle, path on disk) of every copied source file, sorted."""
    files: list[tuple[str, Path]] = []
    base = repo_root / FUNCTION_PACKAGE
    if not base.is_dir():
        raise BundleError(f"missing source folder {base}")
    for path in base.rglob("*"):
        rel = path.relative_to(base)
        if path.is_dir() or _SKIP_SOURCE_PARTS.intersection(rel.parts) or path.suffix in (".pyc", ".pyo"):
            continue
        files.append(((Path(base.name) / rel).as_posix(), path))
    for name in BUNDLED_REPO_FILES:
        path = repo_root / name
        if not path.is_file():
            raise BundleError(
                f"missing source file {path} (listed in lambda_build.sources.BUNDLED_REPO_FILES)"
            )
        files.append((name, path))
    for rel, name in BUNDLE_ROOT_SCRIPTS.items():
        path = repo_root / name
        if not path.is_file():
            raise BundleError(f"missing script {path} (listed in lambda_build.sources.BUNDLE_ROOT_SCRIPTS)")
        files.append((rel, path))
    return sorted(files)
