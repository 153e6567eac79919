"""Build the project Lambda's code bundle without Docker (standard library only).

Recipe (each step is checked by tests/bundle/test_bundle.py):
 1. `pip install -r lambda/requirements.txt --target` for the Lambda platform (manylinux wheels,
    `--only-binary=:all: --no-compile`), run by the host's pip with `--python-version <runtime>`.
 2. Move boto3/botocore/s3transfer out of the bundle (the Lambda runtime provides them) into a
    sibling `runtime-sdk/` folder, which the build probe, the tests and the bench put after the bundle
    on sys.path the way Lambda's /var/runtime comes after /var/task.
 3. Drop distributions the Bedrock path never imports (DROP_DISTRIBUTIONS, by their RECORD files) and
    files no code path of an SDK user reads (DROP_PATHS: LiteLLM's proxy admin UI and Swagger assets).
 4. Drop "dead" modules: modules whose unguarded top-level imports name a package that exists neither
    in the bundle, nor in the Lambda runtime, nor in the standard library (mostly litellm/proxy server
    code that needs fastapi). Importing them raises ImportError anyway, so removing them changes no
    behaviour; this is decided by parsing, not by a hand-kept list (see `find_dead_modules`).
 5. Remove *.dist-info/RECORD (stale after pruning; only pip uninstall reads it).
 6. Probe: run the runtime's own Python with `-I -S` on the bundle, `import litellm` and make one
    real Bedrock Converse call through `litellm.completion` against an in-process fake endpoint. The
    build fails if that fails. The modules it loaded are the "hot" modules.
 7. Compile .pyc for the hot modules with the runtime's Python, `--invalidation-mode unchecked-hash`:
    the .pyc is used without stat-ing or hashing the source (Lambda's /var/task is read-only, and zip
    extraction need not preserve the mtimes a timestamp .pyc is checked against, so a timestamp .pyc
    could be judged stale and recompiled in memory on every cold start), and the output does not
    depend on file mtimes. Sources are kept (tracebacks, anyio's lazy imports read them, and LiteLLM
    scans its own tree for `__init__.py`). Modules off the hot path keep only their .py: importing
    one still works, it is just compiled in memory.
 8. Copy lambda/claude_proxy and claude_platform/{__init__,prices,limits,ledger}.py on top and compile them; import
    claude_proxy.handler from the assembled bundle (the build fails if it cannot) and compile whatever
    else that import loads. Probes run with -B, so they never write .pyc themselves.

Steps 1-7 are cached under .build/bundle-cache/deps-<key>, the finished bundle under
bundle-<key>; keys hash every input (requirements, runtime, architecture, copied sources, this file).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
LAMBDA_DIR = REPO_ROOT / "lambda"
REQUIREMENTS = LAMBDA_DIR / "requirements.txt"
DEFAULT_CACHE_ROOT = REPO_ROOT / ".build" / "bundle-cache"

#: Shipped by the Lambda Python runtime in /var/runtime; never bundled.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
#: Also in /var/runtime (botocore's own dependencies), but other bundled packages need them too: they
#: stay in the bundle and are copied to runtime-sdk/ so that folder alone works like /var/runtime.
RUNTIME_SDK_DEPENDENCIES = ("jmespath", "python_dateutil", "six", "urllib3")

#: Distributions LiteLLM depends on that `import litellm` + a Bedrock Converse call never import
#: (checked by the build probe and by tests/bundle/test_bundle.py, which assert they stay absent from
#: sys.modules). Names as in the wheel's dist-info directory (normalised, lower case, `_`).
DROP_DISTRIBUTIONS = (
    "tokenizers",  # Hugging Face tokenizers (Rust, 11 MB): only for HF-model token counting
    "huggingface_hub",  # only for HF tokenizers / HF provider
    "hf_xet",  # huggingface_hub's download backend (11 MB)
    "fsspec",  # huggingface_hub dependency
    "tqdm",  # huggingface_hub dependency
    "filelock",  # huggingface_hub / tokenizers cache locking
    "jsonschema",  # litellm validates JSON schema responses only when asked (enable_json_schema_validation)
    "jsonschema_specifications",
    "referencing",
    "rpds_py",
    "regex",  # not imported by tiktoken 0.14 nor by litellm's Bedrock path
)

#: Data no SDK code path reads (relative to the bundle root).
DROP_PATHS = (
    "bin",  # console scripts of the installed distributions
    "litellm/proxy/_experimental/out",  # LiteLLM proxy admin UI build (~22 MB)
    "litellm/proxy/swagger",  # Swagger UI assets, served only by litellm/proxy/proxy_server.py (dead, needs fastapi)
    # read only by litellm/proxy/_lazy_openapi_snapshot.py, which only dead proxy-server modules import
    "litellm/proxy/_lazy_openapi_snapshot.json",
    # read only to build a `tokenizers` tokenizer for DeepSeek models; without `tokenizers` (dropped)
    # litellm.token_counter falls back to tiktoken either way (checked in tests/bundle)
    "litellm/litellm_core_utils/tokenizers/deepseek_tokenizer.json",
)

#: The Lambda handler's module; importing it from the assembled bundle is part of the build.
HANDLER_MODULE = "claude_proxy.handler"

#: Sources copied into the bundle, relative to the repo root.
SOURCE_TREES = ("lambda/claude_proxy",)
SOURCE_FILES = (
    "claude_platform/__init__.py",
    "claude_platform/prices.py",
    "claude_platform/limits.py",
    "claude_platform/ledger.py",
)

_LAMBDA_PREFIX = "/var/task"  # path embedded in the .pyc (Python rewrites it at import anyway)
_SKIP_SOURCE_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


class BundleError(RuntimeError):
    """The bundle could not be built (message says why and what to do)."""


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
    def pip_platforms(self) -> tuple[str, ...]:
        """Wheel platform tags, best first. Lambda python3.12+ runs on Amazon Linux 2023 (glibc 2.34)."""
        machine = "x86_64" if self.arch == "x86_64" else "aarch64"
        return (f"manylinux_2_28_{machine}", f"manylinux_2_17_{machine}", f"manylinux2014_{machine}")


@dataclass(frozen=True)
class BundleInfo:
    """A built bundle."""

    path: Path
    key: str
    size_bytes: int
    file_count: int
    cached: bool
    build_seconds: float


# --- hashing -------------------------------------------------------------------------------------


def _source_files(repo_root: Path) -> list[tuple[str, Path]]:
    """(path inside the bundle, path on disk) of every copied source file, sorted."""
    files: list[tuple[str, Path]] = []
    for tree in SOURCE_TREES:
        base = repo_root / tree
        if not base.is_dir():
            raise BundleError(f"missing source folder {base}")
        for path in base.rglob("*"):
            rel = path.relative_to(base)
            if path.is_dir() or _SKIP_SOURCE_PARTS.intersection(rel.parts) or path.suffix in (".pyc", ".pyo"):
                continue
            files.append(((Path(base.name) / rel).as_posix(), path))
    for name in SOURCE_FILES:
        path = repo_root / name
        if not path.is_file():
            raise BundleError(f"missing source file {path}")
        files.append((name, path))
    return sorted(files)


def _sha256_update_file(digest: hashlib._Hash, label: str, path: Path) -> None:
    digest.update(label.encode() + b"\0")
    digest.update(path.read_bytes())
    digest.update(b"\0")


def deps_key(target: Target, repo_root: Path = REPO_ROOT) -> str:
    """Hash of everything the dependency layer depends on."""
    digest = hashlib.sha256()
    digest.update(f"{target.runtime_name}\0{target.arch}\0".encode())
    _sha256_update_file(digest, "requirements", repo_root / "lambda" / "requirements.txt")
    _sha256_update_file(digest, "recipe", Path(__file__))
    return digest.hexdigest()[:32]


def bundle_key(target: Target, repo_root: Path = REPO_ROOT) -> str:
    """Hash of every input of the finished bundle; used as the CDK asset hash."""
    digest = hashlib.sha256()
    digest.update(deps_key(target, repo_root).encode() + b"\0")
    for rel, path in _source_files(repo_root):
        _sha256_update_file(digest, rel, path)
    return digest.hexdigest()[:32]


# --- interpreters --------------------------------------------------------------------------------


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
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == version:
            return candidate
    raise BundleError(
        f"python{version} not found. The Lambda bundle's bytecode must be compiled (and the bundle "
        f"probed) by the Lambda runtime's own Python {version}. Install it (e.g. `pyenv install "
        f"{version}`) or point BUNDLE_PYTHON at a python{version} executable. Tried: {', '.join(tried)}"
    )


# --- filesystem helpers --------------------------------------------------------------------------


def tree_size(root: Path) -> tuple[int, int]:
    """(sum of file sizes in bytes, file count) under root: what Lambda's unzipped limit counts."""
    size = count = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            size += os.lstat(os.path.join(dirpath, name)).st_size
            count += 1
    return size, count


def _rm(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _copy_tree(src: Path, dst: Path) -> None:
    """Hard-link (fast, no extra space) or copy when linking is impossible."""

    def link_or_copy(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, dst, copy_function=link_or_copy, dirs_exist_ok=True, symlinks=False)


def _run(cmd: list[str], *, what: str, env: dict[str, str] | None = None, timeout: float = 1800) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-40:])
        raise BundleError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd[:6])} ...\n{tail}")
    return proc.stdout


# --- distributions -------------------------------------------------------------------------------


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _dist_infos(site: Path) -> dict[str, Path]:
    """Normalised distribution name -> its .dist-info folder."""
    out: dict[str, Path] = {}
    for info in site.glob("*.dist-info"):
        out[_normalise(info.name[: -len(".dist-info")].rsplit("-", 1)[0])] = info
    return out


def _record_paths(site: Path, info: Path) -> set[Path]:
    """Top-level entries (packages, modules, the dist-info) a distribution installed."""
    tops: set[Path] = {info}
    record = info / "RECORD"
    for line in record.read_text(encoding="utf-8").splitlines():
        rel = line.split(",", 1)[0]
        if not rel or rel.startswith(".."):
            continue
        tops.add(site / Path(rel).parts[0])
    return tops


def _move_distribution(site: Path, info: Path, dest: Path | None, *, copy: bool = False) -> list[str]:
    """Remove (dest None), move or copy a distribution's top-level entries; returns their names."""
    moved = []
    for top in sorted(_record_paths(site, info)):
        if not top.exists():
            continue
        if top.name == "bin":  # shared by every distribution's console scripts; removed as a whole later
            continue
        moved.append(top.name)
        if dest is None:
            _rm(top)
            continue
        dest.mkdir(parents=True, exist_ok=True)
        if not copy:
            shutil.move(str(top), str(dest / top.name))
        elif top.is_dir():
            shutil.copytree(top, dest / top.name)
        else:
            shutil.copy2(top, dest / top.name)
    return moved


# --- dead modules --------------------------------------------------------------------------------


def _module_map(site: Path) -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for path in site.rglob("*.py"):
        rel = path.relative_to(site)
        if any(part.endswith(".dist-info") for part in rel.parts):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts and all(p.isidentifier() for p in parts):
            mods[".".join(parts)] = path
    return mods


def _unguarded_imports(module: str, path: Path) -> list[tuple[str, list[str]]] | None:
    """Imports executed unconditionally at module level: (module, imported names). None if unparsable.

    Imports inside `if`, `try`, functions or classes are ignored (optional/guarded/lazy), which makes
    the dead-module verdict conservative.
    """
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError):
        return None
    is_pkg = path.name == "__init__.py"
    found: list[tuple[str, list[str]]] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((name, [alias.name for alias in node.names]))
    return found


def find_dead_modules(site: Path, also_present: Iterable[str] = RUNTIME_PROVIDED) -> dict[str, str]:
    """Modules that cannot be imported in the bundle: module name -> reason.

    A module is dead when one of its unconditional top-level imports names a top-level package that
    is not in the bundle, not in `also_present` (the Lambda runtime's SDK) and not in the standard
    library, or names a dead module, or when its parent package is dead. Such an import raises
    ImportError at import time whether or not the file is shipped.
    """
    present = set(also_present) | set(sys.stdlib_module_names) | {"__future__"}
    for entry in site.iterdir():
        if entry.name.endswith(".dist-info"):
            continue
        present.add(entry.name[:-3] if entry.suffix == ".py" else entry.name.split(".")[0])
    mods = _module_map(site)
    imports = {name: _unguarded_imports(name, path) for name, path in mods.items()}
    dead: dict[str, str] = {}
    for name, found in imports.items():
        for target, _names in found or ():
            top = target.split(".")[0]
            if top and top not in present:
                dead[name] = f"imports {top} (not installed)"
                break
    changed = True
    while changed:
        changed = False
        for name in mods:
            if name in dead:
                continue
            parts = name.split(".")
            parent = next(
                (".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in dead), None
            )
            if parent:
                dead[name] = f"package {parent} is dead"
                changed = True
                continue
            for target, names in imports[name] or ():
                hit = next((c for c in [target, *(f"{target}.{n}" for n in names)] if c in dead), None)
                if hit:
                    dead[name] = f"imports dead module {hit}"
                    changed = True
                    break
    return dict(sorted(dead.items()))


def _remove_dead_modules(site: Path, dead: dict[str, str]) -> None:
    mods = _module_map(site)
    for name in dead:
        path = mods[name]
        if path.name == "__init__.py":
            # A dead package goes whole (its submodules are dead too): leaving its data files behind
            # would turn the folder into an importable namespace package.
            shutil.rmtree(path.parent, ignore_errors=True)
        elif path.exists():
            path.unlink()
    # drop folders left without any file
    for dirpath, _dirs, _files in sorted(os.walk(site), key=lambda t: -len(t[0])):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)


# --- probe ---------------------------------------------------------------------------------------

_PROBE = r"""
import json, os, socket, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

bundle, sdk, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path[:0] = [bundle]
sys.path.append(sdk)

class Converse(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.dumps({
            "output": {"message": {"role": "assistant", "content": [{"text": "probe"}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4},
            "metrics": {"latencyMs": 1},
        }).encode()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Converse)
threading.Thread(target=server.serve_forever, daemon=True).start()

import litellm
response = litellm.completion(
    model="bedrock/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    model_id="arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/probe",
    messages=[{"role": "user", "content": "probe"}],
    max_tokens=8,
    aws_region_name="us-east-1",
    aws_bedrock_runtime_endpoint="http://127.0.0.1:%d" % server.server_address[1],
    timeout=30,
)
assert response.choices[0].message.content == "probe", response
assert response.usage.completion_tokens == 1, response.usage
import aws_lambda_powertools, aws_lambda_powertools.logging, aws_lambda_powertools.metrics  # noqa

files = sorted({
    os.path.relpath(m.__file__, bundle)
    for m in list(sys.modules.values())
    if isinstance(getattr(m, "__file__", None), str)
    and m.__file__.endswith(".py")
    and os.path.abspath(m.__file__).startswith(os.path.abspath(bundle) + os.sep)
})
with open(out_path, "w", encoding="utf-8") as fh:
    json.dump({"hot_files": files, "modules": sorted(sys.modules)}, fh)
"""


def probe_env() -> dict[str, str]:
    """Environment for running bundle code locally like Lambda: no proxies, fake credentials, offline map."""
    env = {
        k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and not k.startswith("AWS_")
    }
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "AKIDPROBE",
            "AWS_SECRET_ACCESS_KEY": "probe-secret",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    env.pop("PYTHONPATH", None)
    return env


def run_probe(python: str, site: Path, sdk: Path) -> dict[str, list[str]]:
    """Import litellm from the bundle and make one Converse call; returns hot files and module names."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp, "probe.py")
        script.write_text(_PROBE, encoding="utf-8")
        out = Path(tmp, "out.json")
        _run(
            [python, "-B", "-I", "-S", str(script), str(site), str(sdk), str(out)],
            what="bundle probe (import litellm + one Converse call from the bundle)",
            env=probe_env(),
            timeout=300,
        )
        return json.loads(out.read_text(encoding="utf-8"))


# --- compile -------------------------------------------------------------------------------------


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
        _run(
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
                _LAMBDA_PREFIX,
                "-i",
                listing,
            ],
            what="compileall",
            env=probe_env(),
        )
    finally:
        os.unlink(listing)


# --- build ---------------------------------------------------------------------------------------


def _pip_base() -> list[str]:
    """The host's pip (any Python version: --python-version/--platform select the wheels)."""
    probe = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, check=False)
    if probe.returncode != 0:
        raise BundleError(f"pip is not available for {sys.executable}")
    return [sys.executable, "-m", "pip"]


def _log(msg: str) -> None:
    print(f"[lambda-bundle] {msg}", file=sys.stderr, flush=True)


def build_deps(target: Target, *, cache_root: Path, python: str, repo_root: Path = REPO_ROOT) -> Path:
    """The cached dependency layer: <cache>/deps-<key>/{site,runtime-sdk,manifest.json}."""
    key = deps_key(target, repo_root)
    final = cache_root / f"deps-{key}"
    if (final / "manifest.json").is_file():
        return final
    cache_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"deps-{key}.", dir=cache_root))
    try:
        site, sdk = work / "site", work / "runtime-sdk"
        started = time.monotonic()
        platforms = [arg for p in target.pip_platforms for arg in ("--platform", p)]
        _log(f"pip install for {target.runtime_name}/{target.arch} (first build only, cached after)")
        _run(
            [
                *_pip_base(),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--target",
                str(site),
                "--requirement",
                str(repo_root / "lambda" / "requirements.txt"),
                *platforms,
                "--implementation",
                "cp",
                "--python-version",
                target.python_version,
                "--only-binary=:all:",
                "--no-compile",
            ],
            what="pip install",
        )
        infos = _dist_infos(site)
        moved = {n: _move_distribution(site, infos[n], sdk) for n in RUNTIME_PROVIDED if n in infos}
        for name in RUNTIME_SDK_DEPENDENCIES:
            if name in infos:
                _move_distribution(site, infos[name], sdk, copy=True)
        missing = [n for n in DROP_DISTRIBUTIONS if n not in infos]
        if missing:
            _log(f"note: not installed, nothing to drop: {', '.join(missing)}")
        dropped = {n: _move_distribution(site, infos[n], None) for n in DROP_DISTRIBUTIONS if n in infos}
        for rel in DROP_PATHS:
            _rm(site / rel)
        dead = find_dead_modules(site)
        _remove_dead_modules(site, dead)
        for record in site.glob("*.dist-info/RECORD"):
            record.unlink()
        for cache in list(site.rglob("__pycache__")):
            shutil.rmtree(cache)
        probe = run_probe(python, site, sdk)
        leaked = sorted(
            m for m in probe["modules"] if m.split(".")[0] in {t for v in dropped.values() for t in v}
        )
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
            "runtime_provided_moved": moved,
            "dropped_distributions": dropped,
            "dropped_paths": list(DROP_PATHS),
            "dead_modules": dead,
            "compiled_files": len(hot),
            "size_bytes": size,
            "file_count": count,
            "build_seconds": round(time.monotonic() - started, 1),
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        with contextlib.suppress(OSError):
            work.rename(final)  # another build may have won the race: fine, same content
        _log(f"dependency layer ready: {size / 1e6:.1f} MB, {count} files, {manifest['build_seconds']} s")
        return final
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


_HANDLER_PROBE = r"""
import json, os, sys
bundle, sdk, module = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path[:0] = [bundle]
sys.path.append(sdk)
__import__(module)
root = os.path.abspath(bundle) + os.sep
print(json.dumps(sorted({
    os.path.relpath(m.__file__, bundle) for m in list(sys.modules.values())
    if isinstance(getattr(m, "__file__", None), str) and m.__file__.endswith(".py")
    and os.path.abspath(m.__file__).startswith(root)
})))
"""


def _assemble(deps: Path, dest: Path, python: str, repo_root: Path, target: Target) -> None:
    _copy_tree(deps / "site", dest)
    copied = []
    for rel, path in _source_files(repo_root):
        target_path = dest / rel
        target_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target_path)
        if rel.endswith(".py"):
            copied.append(rel)
    compile_files(python, dest, copied)
    # Import the handler from the bundle as Lambda will (fails the build if it cannot), and compile
    # whatever it loads beyond the dependency probe (e.g. the Powertools modules it uses).
    out = _run(
        [
            python,
            "-B",
            "-I",
            "-S",
            "-c",
            _HANDLER_PROBE,
            str(dest),
            str(deps / "runtime-sdk"),
            HANDLER_MODULE,
        ],
        what=f"importing {HANDLER_MODULE} from the bundle",
        env=probe_env(),
        timeout=300,
    )
    loaded = json.loads(out.strip().splitlines()[-1])
    missing = [rel for rel in loaded if not (dest / pyc_path(rel, target)).is_file()]
    compile_files(python, dest, missing)


def pyc_path(rel_source: str, target: Target) -> str:
    """Where the runtime's Python looks for the .pyc of a source file (PEP 3147 layout)."""
    source = Path(rel_source)
    tag = "cpython-" + target.python_version.replace(".", "")
    return (source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc").as_posix()


def _prune_cache(cache_root: Path, prefix: str, keep: int) -> None:
    entries = sorted(cache_root.glob(f"{prefix}-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        if old.is_dir() and "." not in old.name:
            shutil.rmtree(old, ignore_errors=True)


def build_bundle(
    target: Target,
    *,
    cache_root: Path = DEFAULT_CACHE_ROOT,
    repo_root: Path = REPO_ROOT,
    python: str | None = None,
) -> BundleInfo:
    """Build (or reuse) the bundle for `target`; returns its cached folder. Never modify that folder."""
    started = time.monotonic()
    key = bundle_key(target, repo_root)
    final = cache_root / f"bundle-{key}"
    if (final / ".complete").is_file():
        size, count = shipped_size(final)
        return BundleInfo(final, key, size, count, True, 0.0)
    python = python or find_python(target.python_version)
    deps = build_deps(target, cache_root=cache_root, python=python, repo_root=repo_root)
    work = Path(tempfile.mkdtemp(prefix=f"bundle-{key}.", dir=cache_root))
    try:
        _assemble(deps, work / "b", python, repo_root, target)
        (work / "b" / ".complete").touch()
        with contextlib.suppress(OSError):
            (work / "b").rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _prune_cache(cache_root, "bundle", keep=6)
    _prune_cache(cache_root, "deps", keep=3)
    size, count = shipped_size(final)
    return BundleInfo(final, key, size, count, False, round(time.monotonic() - started, 1))


def export_bundle(info: BundleInfo, output_dir: Path) -> None:
    """Copy a built bundle into output_dir (CDK's asset staging folder), without the cache marker."""
    output_dir.mkdir(parents=True, exist_ok=True)
    _copy_tree(info.path, output_dir)
    _rm(output_dir / ".complete")


def sdk_dir(target: Target, cache_root: Path = DEFAULT_CACHE_ROOT, repo_root: Path = REPO_ROOT) -> Path:
    """The runtime-sdk folder (boto3, botocore, s3transfer) of the current dependency layer."""
    return cache_root / f"deps-{deps_key(target, repo_root)}" / "runtime-sdk"


def shipped_size(path: Path) -> tuple[int, int]:
    """(bytes, files) as shipped: the cache marker excluded."""
    size, count = tree_size(path)
    marker = path / ".complete"
    if marker.exists():
        count -= 1
    return size, count


def main(argv: list[str] | None = None) -> int:
    """CLI: build the bundle into a folder (or just the cache) and print size and file count."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runtime", default="python3.13")
    parser.add_argument("--arch", default="x86_64", choices=("x86_64", "arm64"))
    parser.add_argument("--output", type=Path, help="copy the bundle here (must not exist or be empty)")
    parser.add_argument("--cache-root", type=Path, default=DEFAULT_CACHE_ROOT)
    parser.add_argument("--json", action="store_true", help="print a JSON line instead of text")
    args = parser.parse_args(argv)
    try:
        target = Target.from_names(args.runtime, args.arch)
        info = build_bundle(target, cache_root=args.cache_root)
        path = info.path
        if args.output:
            export_bundle(info, args.output)
            path = args.output
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    size, count = shipped_size(path)
    if args.json:
        print(
            json.dumps(
                {
                    "path": str(path),
                    "key": info.key,
                    "size_bytes": size,
                    "files": count,
                    "cached": info.cached,
                    "build_seconds": info.build_seconds,
                }
            )
        )
    else:
        print(
            f"bundle {path}\n  key {info.key} ({'cached' if info.cached else f'built in {info.build_seconds} s'})"
        )
        print(f"  unzipped {size / 1e6:.1f} MB ({size / 2**20:.1f} MiB), {count} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
