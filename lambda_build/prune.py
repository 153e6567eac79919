"""Prune: move the runtime's SDK out, drop unused distributions, data and modules that cannot import."""

from __future__ import annotations

import ast
import contextlib
import os
import re
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

from lambda_build.errors import rm

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


# --- distributions -------------------------------------------------------------------------------


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def dist_infos(site: Path) -> dict[str, Path]:
    """Normalised distribution name (`_`) -> its .dist-info folder."""
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


def move_distribution(site: Path, info: Path, dest: Path | None, *, copy: bool = False) -> list[str]:
    """Remove (dest None), move or copy a distribution's top-level entries; returns their names."""
    moved = []
    for top in sorted(_record_paths(site, info)):
        if not top.exists():
            continue
        if top.name == "bin":  # shared by every distribution's console scripts; removed as a whole later
            continue
        moved.append(top.name)
        if dest is None:
            rm(top)
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


def remove_dead_modules(site: Path, dead: dict[str, str]) -> None:
    """Delete the files of `dead` modules (a dead package goes whole) and folders left empty."""
    mods = _module_map(site)
    for name in dead:
        path = mods[name]
        if path.name == "__init__.py":
            # A dead package goes whole (its submodules are dead too): leaving its data files behind
            # would turn the folder into an importable namespace package.
            shutil.rmtree(path.parent, ignore_errors=True)
        elif path.exists():
            path.unlink()
    for dirpath, _dirs, _files in sorted(os.walk(site), key=lambda t: -len(t[0])):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)


def prune(site: Path, sdk: Path) -> dict:
    """Steps 2-5 of the recipe on an installed `site`; returns what was moved, dropped and removed."""
    infos = dist_infos(site)
    moved = {n: move_distribution(site, infos[n], sdk) for n in RUNTIME_PROVIDED if n in infos}
    for name in RUNTIME_SDK_DEPENDENCIES:
        if name in infos:
            move_distribution(site, infos[name], sdk, copy=True)
    dropped = {n: move_distribution(site, infos[n], None) for n in DROP_DISTRIBUTIONS if n in infos}
    for rel in DROP_PATHS:
        rm(site / rel)
    dead = find_dead_modules(site)
    remove_dead_modules(site, dead)
    # RECORD is stale after pruning (only pip uninstall reads it); REQUESTED marks every locked one.
    for stale in [*site.glob("*.dist-info/RECORD"), *site.glob("*.dist-info/REQUESTED")]:
        stale.unlink()
    for cache in list(site.rglob("__pycache__")):
        shutil.rmtree(cache)
    return {
        "runtime_provided_moved": moved,
        "dropped_distributions": dropped,
        "not_installed_to_drop": [n for n in DROP_DISTRIBUTIONS if n not in infos],
        "dropped_paths": list(DROP_PATHS),
        "dead_modules": dead,
    }
