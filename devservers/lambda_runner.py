"""A local stand-in for the Lambda Python runtime: run bundle code in a fresh process (tests, bench).

Faithful stand-in for the Lambda Python runtime's import path: the runtime's own interpreter with
`-I -S` (no user site, no site-packages of this machine, no PYTHONPATH) and `-B` (Lambda's /var/task
is read-only: nothing may write .pyc into the bundle while it runs), the bundle first on sys.path
(Lambda's /var/task), boto3/botocore in a separate folder after it (Lambda's /var/runtime).

Modes of the child (`CHILD` script; one JSON result written to a file):
  handler  import claude_proxy.handler, then one lambda_handler call (cold start as Lambda has it)
  litellm  import litellm, then one litellm.completion (Bedrock Converse) call
  boto3    import boto3, create a bedrock-runtime client, one converse call
  warm     handler and boto3 client in one process, warmed up, then N interleaved timed calls
  exec     run `code`; its global VALUE (JSON-able) is returned as result["value"]
Every mode times from the first line of the script, so interpreter start-up (the same for all) is
excluded from the in-process figures; the parent also reports whole-process wall time.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from lambda_build.probe import probe_env

MODEL = "bedrock/global.anthropic.claude-sonnet-4-5-20250929-v1:0"
BOTO3_MODEL_ID = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"

CHILD = r"""
import time
T0 = time.perf_counter()
import json, os, sys
cfg = json.loads(sys.argv[1])
sys.path[:0] = cfg["front"]
sys.path.extend(cfg["back"])
mode = cfg["mode"]
result = {"mode": mode}
messages = [{"role": "user", "content": "Say hi"}]


class Context:
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    function_name = "claude-proxy-bench"

    def get_remaining_time_in_millis(self):
        return 30_000


def boto3_client():
    import boto3
    return boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=cfg["endpoint"])


def boto3_call(client):
    out = client.converse(modelId=cfg["boto3_model_id"], messages=[{"role": "user", "content": [{"text": "Say hi"}]}],
                          inferenceConfig={"maxTokens": 64})
    return out["output"]["message"]["content"][0]["text"]


if mode == "handler":
    from claude_proxy.handler import lambda_handler
    t1 = time.perf_counter()
    response = lambda_handler({"messages": messages}, Context())
    t2 = time.perf_counter()
    result.update(ok=response.get("ok"), response=response)
elif mode == "litellm":
    import litellm
    t1 = time.perf_counter()
    r = litellm.completion(model=cfg["model"], messages=messages, max_tokens=64,
                           aws_bedrock_runtime_endpoint=cfg["endpoint"], aws_region_name="us-east-1")
    t2 = time.perf_counter()
    result.update(ok=bool(r.choices[0].message.content))
elif mode == "boto3":
    import boto3
    t1 = time.perf_counter()
    text = boto3_call(boto3_client())
    t2 = time.perf_counter()
    result.update(ok=bool(text))
elif mode == "warm":
    from claude_proxy.handler import lambda_handler
    client = boto3_client()
    ctx = Context()
    for _ in range(cfg["warmup"]):
        assert lambda_handler({"messages": messages}, ctx)["ok"]
        boto3_call(client)
    handler_s, boto3_s = [], []
    for _ in range(cfg["calls"]):
        a = time.perf_counter(); ok = lambda_handler({"messages": messages}, ctx)["ok"]; b = time.perf_counter()
        assert ok
        boto3_call(client); c = time.perf_counter()
        handler_s.append(b - a); boto3_s.append(c - b)
    result.update(ok=True, handler_s=handler_s, boto3_s=boto3_s)
    t1 = t2 = time.perf_counter()
elif mode == "exec":
    scope = {}
    exec(cfg["code"], scope)
    t1 = t2 = time.perf_counter()
    result.update(ok=True, value=scope.get("VALUE"))
else:
    raise SystemExit("unknown mode " + mode)
if mode != "warm":
    result.update(import_s=t1 - T0, first_call_s=t2 - t1, total_s=t2 - T0)
if cfg.get("modules"):
    result["modules"] = {name: getattr(m, "__file__", None) for name, m in list(sys.modules.items())}
    result["path"] = sys.path
with open(cfg["out"], "w", encoding="utf-8") as fh:
    json.dump(result, fh)
sys.stdout.flush()
os._exit(0)  # skip interpreter teardown (seconds with litellm loaded); Lambda never tears down per call
"""


def lambda_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a Lambda-like child: fake credentials, no proxies or AWS config, offline price map."""
    env = probe_env()
    env.update(
        {
            "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            "POWERTOOLS_SERVICE_NAME": "claude_proxy",
            "POWERTOOLS_METRICS_NAMESPACE": "ClaudePlatform",
            "AWS_LAMBDA_FUNCTION_NAME": "claude-proxy-bench",
        }
    )
    env.update(extra or {})
    return env


def run_child(
    python: str,
    mode: str,
    *,
    front: list[Path],
    back: list[Path] | None = None,
    endpoint: str,
    env: dict[str, str] | None = None,
    modules: bool = False,
    code: str = "",
    calls: int = 200,
    warmup: int = 20,
    timeout: float = 300,
) -> dict[str, Any]:
    """Run CHILD in a fresh `python -I -S` process; returns its result plus `process_s` (wall time)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "result.json")
        cfg = {
            "mode": mode,
            "front": [str(p) for p in front],
            "back": [str(p) for p in back or []],
            "endpoint": endpoint,
            "model": MODEL,
            "boto3_model_id": BOTO3_MODEL_ID,
            "out": str(out),
            "modules": modules,
            "code": code,
            "calls": calls,
            "warmup": warmup,
        }
        started = time.perf_counter()
        proc = subprocess.run(
            [python, "-B", "-I", "-S", "-c", CHILD, json.dumps(cfg)],
            capture_output=True,
            text=True,
            env=env if env is not None else lambda_env(),
            timeout=timeout,
            check=False,
            cwd=tmp,
        )
        elapsed = time.perf_counter() - started
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(
                f"{mode} child failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}\n{proc.stdout[-2000:]}"
            )
        result = json.loads(out.read_text(encoding="utf-8"))
    result["process_s"] = elapsed
    result["stdout"] = proc.stdout
    return result
