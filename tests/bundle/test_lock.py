"""The lock file and the asset hash: fast checks, no build, no network.

lambda/requirements.lock must match lambda/requirements.txt and the function's runtime; the asset
hash must depend on the contents of the build's inputs only (same inputs -> same hash, anywhere).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from bundle_support import TARGET, copy_inputs

from lambda_build import (
    BUNDLED_REPO_FILES,
    LOCK_FILE,
    REPO_ROOT,
    REQUIREMENTS,
    BundleError,
    Target,
    build_bundle,
    bundle_key,
    check_lock,
    read_lock,
)
from lambda_build.resolve import canonical_name, parse_lock, render_lock, requirement_lines
from lambda_build.sources import FUNCTION_PACKAGE, source_files


def test_lock_is_up_to_date_for_the_functions_runtime():
    # On failure the message names what changed and the one command that refreshes the lock.
    lock = check_lock(TARGET)
    assert lock.target == "python3.13 x86_64"


def test_lock_pins_every_distribution_once_with_a_hash():
    lock = read_lock()
    names = [d.name for d in lock.dists]
    assert len(names) == len(set(names)) > 40
    assert all(len(d.sha256) == 64 for d in lock.dists)
    versions = lock.versions()
    for line in requirement_lines((REPO_ROOT / REQUIREMENTS).read_text(encoding="utf-8")):
        name, _, version = line.partition("==")
        assert versions.get(canonical_name(name)) == version, line
    # the runtime's SDK is locked too: the bundle's other packages are resolved against its version
    assert {"boto3", "botocore", "litellm", "pydantic-core"} <= set(versions)


def test_lock_file_round_trips():
    text = (REPO_ROOT / LOCK_FILE).read_text(encoding="utf-8")
    lock = parse_lock(text)
    assert parse_lock(render_lock(lock)) == lock


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t + "aws-xray-sdk==2.14.0\n", r"added: aws-xray-sdk==2\.14\.0; removed: none"),
        (
            lambda t: t.replace("pydantic==2.14.4", "pydantic==2.14.5"),
            r"added: pydantic==2\.14\.5; removed: pydantic==2\.14\.4",
        ),
        (lambda t: t.replace("litellm==1.110.2\n", ""), r"added: none; removed: litellm==1\.110\.2"),
    ],
)
def test_stale_lock_says_what_changed_and_how_to_refresh(tmp_path, edit, message):
    repo = copy_inputs(tmp_path)
    path = repo / REQUIREMENTS
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(BundleError, match=message) as info:
        check_lock(TARGET, repo)
    assert "out of date" in str(info.value)
    assert "`make lock`" in str(info.value)
    # the build refuses it before installing anything, even with a python that does not exist
    with pytest.raises(BundleError, match="`make lock`"):
        build_bundle(TARGET, cache_root=tmp_path / "cache", repo_root=repo, python="/nonexistent/python3.13")
    assert not (tmp_path / "cache").exists()


def test_comments_spacing_and_name_spelling_do_not_make_the_lock_stale(tmp_path):
    repo = copy_inputs(tmp_path)
    path = repo / REQUIREMENTS
    text = path.read_text(encoding="utf-8").replace(
        "aws-lambda-powertools==3.37.0", "AWS_Lambda.Powertools == 3.37.0"
    )
    path.write_text("# edited\n\n" + text + "   # trailing comment line\n", encoding="utf-8")
    check_lock(TARGET, repo)


def test_missing_lock_or_other_target_is_a_clear_error(tmp_path):
    repo = copy_inputs(tmp_path)
    with pytest.raises(
        BundleError, match=r"locked for python3\.13 x86_64.*--runtime python3\.12 --arch arm64"
    ):
        check_lock(Target.from_names("python3.12", "arm64"), repo)
    (repo / LOCK_FILE).unlink()
    with pytest.raises(BundleError, match=r"requirements\.lock is missing: run `make lock`"):
        check_lock(TARGET, repo)


def test_asset_hash_depends_only_on_input_contents(tmp_path):
    key = bundle_key(TARGET, REPO_ROOT)
    first, second = copy_inputs(tmp_path / "a"), copy_inputs(tmp_path / "b")
    assert bundle_key(TARGET, first) == bundle_key(TARGET, second) == key
    assert bundle_key(Target.from_names("python3.13", "arm64"), first) != key

    # a file the bundle does not contain changes nothing
    (second / "claude_platform" / "config.py").write_text("# not bundled\n", encoding="utf-8")
    assert bundle_key(TARGET, second) == key
    # a different lock, or a different bundled source, is another asset
    lock = second / LOCK_FILE
    lock.write_text(lock.read_text(encoding="utf-8").replace("six==1.17.0", "six==1.16.0"), encoding="utf-8")
    assert bundle_key(TARGET, second) != key
    handler = first / FUNCTION_PACKAGE / "handler.py"
    handler.write_text(handler.read_text(encoding="utf-8") + "\n# edit\n", encoding="utf-8")
    assert bundle_key(TARGET, first) != key


def _claude_platform_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        found |= {n for n in names if n.startswith("claude_platform.")}
    return found


def test_bundled_repo_files_cover_what_the_function_imports():
    """Every claude_platform module the bundled code imports (transitively) is in BUNDLED_REPO_FILES."""
    bundled = {rel for rel, _ in source_files(REPO_ROOT)}
    seen: set[str] = set()
    todo = [path for _rel, path in source_files(REPO_ROOT) if path.suffix == ".py"]
    while todo:
        for module in _claude_platform_imports(todo.pop()):
            rel = module.replace(".", "/") + ".py"
            if (REPO_ROOT / rel).is_file() and rel not in seen:
                seen.add(rel)
                todo.append(REPO_ROOT / rel)
    assert seen, "claude_proxy imports nothing from claude_platform?"
    missing = sorted(seen - bundled)
    assert not missing, f"add to lambda_build.sources.BUNDLED_REPO_FILES: {missing}"
    assert set(BUNDLED_REPO_FILES) <= bundled
