"""Two builds of the same inputs give the same bundle, byte for byte (marker `bundle`).

The second build runs from an empty cache, on a copy of the inputs at another path with other mtimes,
and must produce the same asset hash and the same content digest (paths, modes, bytes of every file,
.pyc included) as the bundle `cdk synth` uses.
"""

from __future__ import annotations

import pytest
from bundle_support import TARGET, copy_inputs

from lambda_build import BundleError, build_bundle, bundle_digest, find_python


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
