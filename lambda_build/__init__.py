"""Build the project Lambda's code bundle without Docker (standard library only; part of synthesis).

Recipe, one module per step (each checked by tests/bundle/):
 1. resolve  lambda/requirements.txt (three top-level pins) is locked in lambda/requirements.lock:
             every distribution, exact version, sha256 of the target's wheel (`make lock`). The build
             refuses a lock made from other requirements or for another target, saying how to refresh.
 2. install  `pip install --require-hashes -r lambda/requirements.lock --target` with the Lambda
             platform's wheels (manylinux, `--only-binary=:all: --no-compile`), by the runtime Python's pip.
 3. prune    Move boto3/botocore/s3transfer out (the Lambda runtime provides them) into a sibling
             `runtime-sdk/` folder, which the probes, the tests and the bench put after the bundle on
             sys.path the way Lambda's /var/runtime comes after /var/task. Drop distributions the
             Bedrock path never imports (DROP_DISTRIBUTIONS), data no code path reads (DROP_PATHS),
             "dead" modules whose unguarded top-level imports cannot succeed (decided by parsing,
             `find_dead_modules`), and *.dist-info/RECORD and REQUESTED (stale after pruning).
 4. probe    Run the runtime's own Python with `-I -S` on the bundle: `import litellm` and one real
             Bedrock Converse call through `litellm.completion` against devservers/bedrock_server.py.
             The build fails if that fails. The modules it loaded are the "hot" modules.
 5. compile  .pyc for the hot modules by the runtime's Python, `--invalidation-mode unchecked-hash`:
             used without stat-ing or hashing the source (Lambda's /var/task is read-only, and zip
             extraction need not preserve the mtimes a timestamp .pyc is checked against), and
             independent of mtimes. Sources are kept (tracebacks, anyio's lazy imports read them, and
             LiteLLM scans its own tree for `__init__.py`); modules off the hot path keep only their .py.
 6. assemble lambda/claude_proxy and BUNDLED_REPO_FILES (sources.py) are copied on top and compiled;
             claude_proxy.handler is imported from the result (the build fails if it cannot) and
             whatever else that loads is compiled. Probes run with -B: they never write .pyc.
 7. cache    Steps 2-5 are cached under .build/bundle-cache/deps-<key>, the finished bundle under
             bundle-<key>; keys hash the contents of every input (lock, target, copied sources, this
             package, the probe's server), never paths or mtimes; the bundle key is the CDK asset hash.

CLI: `python -m lambda_build build [--output DIR] [--json]`, `python -m lambda_build lock [--upgrade]`.
"""

from lambda_build.build import BundleInfo, build_bundle, bundle_digest, export_bundle, sdk_dir
from lambda_build.cache import bundle_key, deps_key, shipped_size, tree_digest, tree_size
from lambda_build.errors import BundleError
from lambda_build.probe import probe_env
from lambda_build.prune import DROP_DISTRIBUTIONS, DROP_PATHS, RUNTIME_PROVIDED, find_dead_modules
from lambda_build.resolve import check_lock, read_lock
from lambda_build.sources import (
    BUNDLED_REPO_FILES,
    DEFAULT_CACHE_ROOT,
    LAMBDA_DIR,
    LOCK_FILE,
    REPO_ROOT,
    REQUIREMENTS,
)
from lambda_build.target import Target, find_python

__all__ = [
    "BUNDLED_REPO_FILES",
    "DEFAULT_CACHE_ROOT",
    "DROP_DISTRIBUTIONS",
    "DROP_PATHS",
    "LAMBDA_DIR",
    "LOCK_FILE",
    "REPO_ROOT",
    "REQUIREMENTS",
    "RUNTIME_PROVIDED",
    "BundleError",
    "BundleInfo",
    "Target",
    "build_bundle",
    "bundle_digest",
    "bundle_key",
    "check_lock",
    "deps_key",
    "export_bundle",
    "find_dead_modules",
    "find_python",
    "probe_env",
    "read_lock",
    "sdk_dir",
    "shipped_size",
    "tree_digest",
    "tree_size",
]
