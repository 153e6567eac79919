"""Two builds of the same inputs give the same bundle, byte for byte; `make lock` refreshes the lock
(marker `bundle`: they need python3.13 and PyPI).

The second build runs from an empty cache, on a copy of the inputs at another path with other mtimes,
and must produce the same asset hash and the same content digest (paths, modes, bytes of every file,
.pyc included) as the bundle `cdk synth` uses.
"""

from __future__ import annotations

import pytest
from bundle_support import TARGET, copy_inputs

from lambda_build import (
    REQUIREMENTS,
    BundleError,
    build_bundle,
    bundle_digest,
    check_lock,
    find_python,
    read_lock,
)
from lambda_build.resolve import write_lock


@pytest.mark.bundle
def test_rebuild_from_a_clean_cache_is_identical(tmp_path):
    try:
        python = find_python(TARGET.python_version)
    except BundleError as exc:
        pytest.skip(str(exc))
    first = build_bundle(TARGET, python=python)
    second = build_bundle(
        TARGET, python=python, cache_root=tmp_path / "cache", repo_root=copy_inputs(tmp_path / "repo")
    )
    assert not second.cached
    assert second.path != first.path
    assert second.key == first.key
    assert (second.size_bytes, second.file_count) == (first.size_bytes, first.file_count)
    assert bundle_digest(second) == bundle_digest(first)


@pytest.mark.bundle
def test_make_lock_refreshes_a_stale_lock_and_keeps_current_pins(tmp_path):
    """What `make lock` runs, after another engineer added a package to lambda/requirements.txt."""
    try:
        python = find_python(TARGET.python_version)
    except BundleError as exc:
        pytest.skip(str(exc))
    repo = copy_inputs(tmp_path)
    before = read_lock(repo).versions()
    requirements = repo / REQUIREMENTS
    requirements.write_text(requirements.read_text(encoding="utf-8") + "rsa==4.9.1\n", encoding="utf-8")
    with pytest.raises(BundleError, match="make lock"):
        check_lock(TARGET, repo)

    write_lock(TARGET, python=python, repo_root=repo)

    after = check_lock(TARGET, repo).versions()
    assert after["rsa"] == "4.9.1"
    assert "pyasn1" in after and "pyasn1" not in before  # its dependency, locked too
    assert {name: after[name] for name in before} == before  # nothing else moved
