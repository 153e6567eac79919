"""Probe: run the bundle with the runtime's Python the way Lambda imports it, and record what loads.

The dependency probe imports litellm from the bundle and makes one real Bedrock Converse call through
`litellm.completion` against devservers/bedrock_server.py (run in this process, the probe's child
reaches it over 127.0.0.1); the handler probe imports claude_proxy.handler from the assembled bundle.
Either failing fails the build. The bundle files they load are the "hot" modules that get bytecode.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from devservers.bedrock_server import BedrockServer, Reply, Usage
from lambda_build.errors import BundleError, run

PROBE_PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/probe"
PROBE_MODEL = "bedrock/global.anthropic.claude-sonnet-4-5-20250929-v1:0"

# The bundle's files among the loaded modules, relative to the bundle.
_LOADED_FROM_BUNDLE = r"""
def loaded_from(bundle):
    root = os.path.abspath(bundle) + os.sep
    return sorted({
        os.path.relpath(m.__file__, bundle) for m in list(sys.modules.values())
        if isinstance(getattr(m, "__file__", None), str) and m.__file__.endswith(".py")
        and os.path.abspath(m.__file__).startswith(root)
    })
"""

_DEPS_PROBE = (
    r"""
import json, os, sys
bundle, sdk, endpoint, model, arn, out_path = sys.argv[1:7]
sys.path[:0] = [bundle]
sys.path.append(sdk)
"""
    + _LOADED_FROM_BUNDLE
    + r"""
import litellm
response = litellm.completion(
    model=model,
    model_id=arn,
    messages=[{"role": "user", "content": "probe"}],
    max_tokens=8,
    aws_region_name="us-east-1",
    aws_bedrock_runtime_endpoint=endpoint,
    timeout=30,
)
assert response.choices[0].message.content == "probe", response
assert response.usage.completion_tokens == 1, response.usage
import aws_lambda_powertools, aws_lambda_powertools.logging, aws_lambda_powertools.metrics  # noqa
with open(out_path, "w", encoding="utf-8") as fh:
    json.dump({"hot_files": loaded_from(bundle), "modules": sorted(sys.modules)}, fh)
"""
)

_HANDLER_PROBE = (
    r"""
import json, os, sys
bundle, sdk, modules = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path[:0] = [bundle]
sys.path.append(sdk)
"""
    + _LOADED_FROM_BUNDLE
    + r"""
for module in modules.split(","):
    __import__(module)
print(json.dumps(loaded_from(bundle)))
"""
)


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
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"):
        env.pop(name, None)
    return env


def run_probe(python: str, site: Path, sdk: Path) -> dict[str, list[str]]:
    """Import litellm from the bundle and make one Converse call; returns hot files and module names."""
    with tempfile.TemporaryDirectory() as tmp, BedrockServer() as server:
        server.enqueue(Reply.ok(text="probe", usage=Usage(input_tokens=3, output_tokens=1)))
        out = Path(tmp, "out.json")
        run(
            [
                *(python, "-B", "-I", "-S", "-c", _DEPS_PROBE),
                *(str(site), str(sdk), server.url, PROBE_MODEL, PROBE_PROFILE_ARN, str(out)),
            ],
            what="bundle probe (import litellm + one Converse call from the bundle)",
            env=probe_env(),
            timeout=300,
        )
        calls = [(r.operation, r.model_id) for r in server.requests]
        if calls != [("converse", PROBE_PROFILE_ARN)]:
            raise BundleError(f"bundle probe: expected one Converse call to {PROBE_PROFILE_ARN}, got {calls}")
        return json.loads(out.read_text(encoding="utf-8"))


def probe_handler(python: str, bundle: Path, sdk: Path, *modules: str) -> list[str]:
    """Import `modules` from the assembled bundle as Lambda will; returns the bundle files they loaded."""
    out = run(
        [python, "-B", "-I", "-S", "-c", _HANDLER_PROBE, str(bundle), str(sdk), ",".join(modules)],
        what=f"importing {', '.join(modules)} from the bundle",
        env=probe_env(),
        timeout=300,
    )
    return json.loads(out.strip().splitlines()[-1])
