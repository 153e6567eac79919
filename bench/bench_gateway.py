"""Benchmark the HTTPS endpoint's web app against the local Bedrock server (not a test).

One run measures, interleaved call by call:
  stream      time to first token (first text delta) and total time, p50/p95: POST /v1/messages
              `stream: true` through the app (uvicorn in its own process, as run.sh starts it) vs
              boto3 `converse_stream` straight to the same server; once with frames sent at once,
              once paced (--pace-ms between frames, like a model generating)
  non-stream  POST /v1/messages through the app vs the invoke path (claude_proxy.handler.lambda_handler
              called in-process, what Lambda runs for `lambda invoke`) vs boto3 `converse`
  cold start  the bundle's Python (python3.13), fresh process each run: the invoke handler (import +
              first call) vs the gateway (uvicorn start, app and LiteLLM import, first streamed answer)
  size        what the web app adds to the bundle (uvicorn, starlette, claude_proxy.web, streaming)
Prints a table and writes bench/results/gateway.json.

    .venv/bin/python bench/bench_gateway.py [--calls 60] [--runs 3] [--pace-ms 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "lambda"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx  # noqa: E402

from claude_platform.config import load_config, runtime_settings  # noqa: E402
from devservers.bedrock_server import BedrockServer, Reply, Usage  # noqa: E402
from devservers.lambda_runner import lambda_env, run_child  # noqa: E402
from lambda_build import Target, build_bundle, find_python, sdk_dir, shipped_size  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "gateway.json"
MODEL = "claude-sonnet-4-5"
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/bench"
KEY = "bench-key-not-a-secret"
ANSWER = "The quick brown fox jumps over the lazy dog. " * 8  # 360 chars: 23 text deltas
WEB_PARTS = ("uvicorn", "starlette", "claude_proxy/web", "claude_proxy/streaming", "claude_proxy/llm_stream")


def project_settings() -> dict:
    """A one-model project (enforcement off: no ledger on the measured path), built as synthesis builds it."""
    config = load_config(
        {
            "region": "us-east-1",
            "projects": [
                {"name": "bench", "models": [MODEL], "monthly_budget_usd": 100, "enforcement": "off"}
            ],
        },
        source="bench",
    )
    project = config.projects[0]
    return runtime_settings(project, {m.alias: PROFILE_ARN for m in project.models})


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(pct(values, 50) * 1e3, 2), "p95_ms": round(pct(values, 95) * 1e3, 2)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(
    python: str, pythonpath: list[Path], env: dict[str, str], *flags: str
) -> tuple[subprocess.Popen, str, float]:
    """uvicorn serving bench/gateway_app:app as run.sh serves the real app; (process, url, seconds to ready)."""
    port = free_port()
    child_env = {**env, "PYTHONPATH": os.pathsep.join(str(p) for p in pythonpath), "BENCH_GATEWAY_KEY": KEY}
    started = time.monotonic()
    cmd = [python, *flags, "-m", "uvicorn", "gateway_app:app", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--lifespan", "on", "--no-access-log", "--log-level", "warning"]
    child = subprocess.Popen(cmd, env=child_env, cwd=ROOT / "bench")
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return child, url, time.monotonic() - started
        except httpx.TransportError:
            pass
        if child.poll() is not None or time.monotonic() - started > 120:
            raise SystemExit("the app did not start")
        time.sleep(0.005)


def stream_via_app(client: httpx.Client, url: str) -> tuple[float, float]:
    """(time to first text delta, total) for one streamed answer through the app."""
    body = {
        "model": MODEL,
        "max_tokens": 300,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    started = time.perf_counter()
    first = None
    with client.stream("POST", f"{url}/v1/messages", json=body, headers={"x-api-key": KEY}) as response:
        if response.status_code != 200:
            raise SystemExit(f"app answered {response.status_code}: {response.read()!r}")
        for line in response.iter_lines():
            if first is None and line.startswith("event: content_block_delta"):
                first = time.perf_counter() - started
    return first or float("nan"), time.perf_counter() - started


def stream_direct(bedrock: Any) -> tuple[float, float]:
    """(time to first text delta, total) for the same answer from boto3 converse_stream."""
    started = time.perf_counter()
    first = None
    response = bedrock.converse_stream(
        modelId=PROFILE_ARN,
        messages=[{"role": "user", "content": [{"text": "hi"}]}],
        inferenceConfig={"maxTokens": 300},
    )
    for event in response["stream"]:
        if first is None and "contentBlockDelta" in event:
            first = time.perf_counter() - started
    return first or float("nan"), time.perf_counter() - started


def bench_streams(server: BedrockServer, url: str, bedrock: Any, calls: int, pace_s: float) -> dict:
    """Interleaved streamed calls, app vs direct, with the server pacing frames by `pace_s`."""
    app_ttft, app_total, direct_ttft, direct_total = [], [], [], []
    reply = Reply(text=ANSWER, usage=Usage(20, 60), frame_delay_s=pace_s)
    with httpx.Client(timeout=60) as client:
        for i in range(calls + 5):
            server.enqueue(reply)
            a = stream_via_app(client, url)
            server.enqueue(reply)
            d = stream_direct(bedrock)
            if i >= 5:  # warm-up
                app_ttft.append(a[0])
                app_total.append(a[1])
                direct_ttft.append(d[0])
                direct_total.append(d[1])
    out = {
        "calls": calls,
        "pace_ms": round(pace_s * 1e3, 2),
        "app_ttft": summary_ms(app_ttft),
        "direct_ttft": summary_ms(direct_ttft),
        "app_total": summary_ms(app_total),
        "direct_total": summary_ms(direct_total),
    }
    out["ttft_delta_p50_ms"] = round(out["app_ttft"]["p50_ms"] - out["direct_ttft"]["p50_ms"], 2)
    out["total_delta_p50_ms"] = round(out["app_total"]["p50_ms"] - out["direct_total"]["p50_ms"], 2)
    return out


def bench_non_stream(server: BedrockServer, url: str, bedrock: Any, calls: int) -> dict:
    """Interleaved non-streaming calls: app over HTTP, the invoke handler in-process, boto3 converse."""
    from claude_proxy.handler import lambda_handler

    class Context:
        aws_request_id = "bench"

        def get_remaining_time_in_millis(self) -> int:
            return 60_000

    event = {"model": MODEL, "max_tokens": 300, "messages": [{"role": "user", "content": "hi"}]}
    times: dict[str, list[float]] = {"app_http": [], "invoke_handler": [], "boto3": []}
    server.reset(text=ANSWER, usage=Usage(20, 60))
    with httpx.Client(timeout=60) as client:
        for i in range(calls + 5):
            started = time.perf_counter()
            response = client.post(f"{url}/v1/messages", json=event, headers={"x-api-key": KEY})
            app = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"app answered {response.status_code}: {response.text}")
            started = time.perf_counter()
            result = lambda_handler(event, Context())
            handler = time.perf_counter() - started
            if not result.get("ok"):
                raise SystemExit(f"handler failed: {result}")
            started = time.perf_counter()
            bedrock.converse(
                modelId=PROFILE_ARN,
                messages=[{"role": "user", "content": [{"text": "hi"}]}],
                inferenceConfig={"maxTokens": 300},
            )
            direct = time.perf_counter() - started
            if i >= 5:
                times["app_http"].append(app)
                times["invoke_handler"].append(handler)
                times["boto3"].append(direct)
    out: dict[str, Any] = {"calls": calls} | {name: summary_ms(values) for name, values in times.items()}
    out["app_vs_invoke_delta_p50_ms"] = round(out["app_http"]["p50_ms"] - out["invoke_handler"]["p50_ms"], 2)
    return out


def bench_cold(
    python: str, bundle: Path, sdk: Path, env: dict[str, str], server: BedrockServer, runs: int
) -> dict:
    """Fresh processes from the bundle: invoke handler (import + first call) vs gateway (start + first stream)."""
    handler_s, gateway_ready_s, gateway_first_s = [], [], []
    for i in range(runs):
        result = run_child(python, "handler", front=[bundle], back=[sdk], endpoint=server.url, env=env)
        if not result.get("ok"):
            raise SystemExit(f"handler cold run {i} failed: {result}")
        handler_s.append(result["process_s"])
        started = time.monotonic()
        # -S: no site-packages .pth of this machine's interpreter runs (nor writes into the bundle)
        child, url, ready = start_app(python, [bundle, ROOT / "bench", sdk], env, "-S")
        try:
            with httpx.Client(timeout=60) as client:
                stream_via_app(client, url)
            gateway_first_s.append(time.monotonic() - started)
            gateway_ready_s.append(ready)
        finally:
            child.terminate()
            child.wait(timeout=10)
        print(
            f"  cold run {i + 1}: handler {handler_s[-1]:.2f} s, gateway {gateway_first_s[-1]:.2f} s",
            file=sys.stderr,
        )
    handler = statistics.median(handler_s)
    gateway = statistics.median(gateway_first_s)
    return {
        "runs": runs,
        "invoke_handler_median_s": round(handler, 3),
        "gateway_ready_median_s": round(statistics.median(gateway_ready_s), 3),
        "gateway_first_answer_median_s": round(gateway, 3),
        "gateway_vs_handler": round(gateway / handler, 2),
        "runs_handler_s": [round(v, 3) for v in handler_s],
        "runs_gateway_s": [round(v, 3) for v in gateway_first_s],
    }


def web_bytes(bundle: Path) -> dict[str, int]:
    """Bytes the web app adds to the bundle, by part (sources, bytecode and dist-info)."""
    out: dict[str, int] = {}
    for path in bundle.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(bundle).as_posix()
        for part in WEB_PARTS:
            dist_info = "/" not in part and rel.startswith(f"{part}-") and ".dist-info/" in rel
            if rel.startswith((f"{part}/", f"{part}.")) or dist_info:
                out[part] = out.get(part, 0) + path.stat().st_size
        if rel == "run.sh":
            out["run.sh"] = path.stat().st_size
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=60, help="warm calls per variant")
    parser.add_argument("--runs", type=int, default=3, help="cold-start runs per variant")
    parser.add_argument("--pace-ms", type=float, default=5.0, help="server pause between stream frames")
    args = parser.parse_args()

    import boto3
    from botocore.config import Config

    target = Target.from_names("python3.13", "x86_64")
    bundle = build_bundle(target)
    sdk = sdk_dir(target)
    bundle_bytes, _ = shipped_size(bundle.path)
    parts = web_bytes(bundle.path)
    with BedrockServer() as server:
        env = lambda_env(
            {
                "PROJECT_SETTINGS": json.dumps(project_settings()),
                "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.url,
            }
        )
        os.environ.update({k: v for k, v in env.items() if k.startswith(("AWS_", "PROJECT_", "POWERTOOLS_"))})
        bedrock = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=server.url,
            config=Config(retries={"max_attempts": 1}),
        )
        child, url, _ = start_app(sys.executable, [ROOT / "lambda", ROOT, ROOT / "bench"], env)
        try:
            streams = {
                "instant": bench_streams(server, url, bedrock, args.calls, 0.0),
                "paced": bench_streams(server, url, bedrock, args.calls, args.pace_ms / 1e3),
            }
            non_stream = bench_non_stream(server, url, bedrock, args.calls)
        finally:
            child.terminate()
            child.wait(timeout=10)
        cold = bench_cold(find_python(target.python_version), bundle.path, sdk, env, server, args.runs)
    report = {
        "python_warm": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "stream": streams,
        "non_stream": non_stream,
        "cold_start": cold,
        "size": {
            "bundle_bytes": bundle_bytes,
            "web_app_bytes": sum(parts.values()),
            "web_app_share": round(sum(parts.values()) / bundle_bytes, 4),
            "by_part": parts,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1), encoding="utf-8")
    for name, s in streams.items():
        print(
            f"stream {name:<8} TTFT p50/p95 app {s['app_ttft']['p50_ms']}/{s['app_ttft']['p95_ms']} ms, "
            f"direct {s['direct_ttft']['p50_ms']}/{s['direct_ttft']['p95_ms']} ms; total p50/p95 app "
            f"{s['app_total']['p50_ms']}/{s['app_total']['p95_ms']} ms, direct "
            f"{s['direct_total']['p50_ms']}/{s['direct_total']['p95_ms']} ms"
        )
    ns = non_stream
    print(
        f"non-stream p50/p95: app HTTP {ns['app_http']['p50_ms']}/{ns['app_http']['p95_ms']} ms, invoke handler "
        f"{ns['invoke_handler']['p50_ms']}/{ns['invoke_handler']['p95_ms']} ms, boto3 "
        f"{ns['boto3']['p50_ms']}/{ns['boto3']['p95_ms']} ms"
    )
    print(
        f"cold start (median of {cold['runs']}): invoke handler {cold['invoke_handler_median_s']} s, gateway "
        f"{cold['gateway_first_answer_median_s']} s to first streamed answer "
        f"(ready {cold['gateway_ready_median_s']} s), ratio {cold['gateway_vs_handler']}"
    )
    size = report["size"]
    print(
        f"size: bundle {bundle_bytes / 1e6:.1f} MB, web app adds {size['web_app_bytes'] / 1e6:.2f} MB "
        f"({size['web_app_share'] * 100:.1f}%)"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
