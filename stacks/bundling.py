"""Code asset of the project Lambda, bundled locally (no Docker) by the `lambda_build` package.

`proxy_function_code(runtime=..., architecture=...)` returns a `Code.from_asset(<repo>/lambda, ...)`
whose bundling runs `LocalProxyBundler` on the host: the locked distributions of
lambda/requirements.lock installed hash-checked for the Lambda platform, pruning, bytecode compiled
by the runtime's own Python, and the project sources (lambda/claude_proxy and
lambda_build.sources.BUNDLED_REPO_FILES). The built bundle is cached under .build/bundle-cache.

The asset hash is CUSTOM: a hash of the contents of the lock file, the runtime, the architecture,
the copied sources and the bundling recipe (lambda_build/). The default (hash of the lambda/ folder)
would miss changes to claude_platform or to the recipe. Computing it reads only those files, so
synthesis with bundling skipped (context {"aws:cdk:bundling-stacks": []}) needs no python3.13.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda

from lambda_build import (
    LAMBDA_DIR,
    REPO_ROOT,
    BundleError,
    Target,
    build_bundle,
    bundle_key,
    export_bundle,
)

__all__ = ["LocalProxyBundler", "proxy_function_code"]

# What Docker bundling would run if local bundling ever declined (it does not: it builds or raises).
# The same recipe in the runtime's build image: the repo root is mounted at /repo (see volumes below).
_DOCKER_FALLBACK_COMMAND = [
    "bash",
    "-c",
    'cd /repo && python -m lambda_build --runtime "$RUNTIME" --arch "$ARCH" build '
    "--cache-root /tmp/bundle-cache --output /asset-output",
]


def _target(runtime: aws_lambda.Runtime, architecture: aws_lambda.Architecture) -> Target:
    return Target.from_names(runtime.name, architecture.name)


@jsii.implements(cdk.ILocalBundling)
class LocalProxyBundler:
    """Builds the bundle on the host (see the lambda_build package); never falls back to Docker."""

    def __init__(self, *, target: Target, repo_root: Path = REPO_ROOT) -> None:
        self._target = target
        self._repo_root = repo_root

    def try_bundle(self, output_dir: str, *, image: Any = None, **kwargs: Any) -> bool:
        """Build (or reuse from cache) and copy the bundle into output_dir; True = bundled."""
        try:
            info = build_bundle(self._target, repo_root=self._repo_root)
            export_bundle(info, Path(output_dir))
        except BundleError as exc:
            # jsii wraps exceptions raised in callbacks; print the message so it is never lost.
            print(f"error: Lambda bundle: {exc}", file=sys.stderr, flush=True)
            raise
        return True


def proxy_function_code(
    *, runtime: aws_lambda.Runtime, architecture: aws_lambda.Architecture
) -> aws_lambda.Code:
    """The project Lambda's code asset, bundled locally for `runtime` and `architecture`."""
    target = _target(runtime, architecture)
    return aws_lambda.Code.from_asset(
        str(LAMBDA_DIR),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=bundle_key(target, REPO_ROOT),
        bundling=cdk.BundlingOptions(
            image=runtime.bundling_image,
            local=LocalProxyBundler(target=target),
            command=_DOCKER_FALLBACK_COMMAND,
            environment={"RUNTIME": target.runtime_name, "ARCH": target.arch},
            volumes=[cdk.DockerVolume(host_path=str(REPO_ROOT), container_path="/repo")],
        ),
    )
