"""Benchmark per-call tracing in the real Lambda bundle against local stand-ins (not a test).

Variants, each a project function with different PROJECT_SETTINGS (one process each, as one Lambda
container serves one project):
  off        no tracing (the baseline)
  langfuse   tracing.langfuse: LiteLLM's Langfuse-OTel callback -> local Langfuse OTLP ingestion
  otlp       tracing.otlp: LiteLLM's OpenTelemetry callback -> local OTLP/HTTP collector
Secrets come from a local Secrets Manager stand-in (GetSecretValue over HTTP, as in Lambda).

  cold   fresh `python3.13 -B -I -S` process per run (devservers/lambda_runner.py), variants interleaved:
         import + first call (the tracing pipeline, secret read and first flush included)
  warm   one long-lived process per variant, all alive at once; calls alternate between them (one
         handler call in each variant in turn, then a plain boto3 `converse` in each as the
         same-process baseline), so load on the machine hits every variant alike; timed in-process
  import what a traced project adds at init (`claude_proxy.tracing`: OTel SDK, exporter, LiteLLM's
         callbacks), timed alone after the handler's own import, wall and CPU time (CPU time is
         less sensitive to a busy machine)
Every traced call must reach its stand-in (checked). Prints a table, writes bench/results/tracing.json.

    .venv/bin/python bench/bench_tracing.py [--runs 3] [--calls 200] [--warmup 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from claude_platform import catalog  # noqa: E402
from claude_platform.catalog import Geography  # noqa: E402
from devservers.bedrock_server import BedrockServer  # noqa: E402
from devservers.lambda_runner import lambda_env, run_child  # noqa: E402
from devservers.otlp_server import OtlpServer  # noqa: E402
from devservers.secrets_server import SecretsServer  # noqa: E402
from lambda_build import Target, build_bundle, find_python, sdk_dir  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "tracing.json"
PUBLIC_KEY = "pk-lf-bench"
SECRET_KEY = "sk-lf-bench"
LANGFUSE_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench/langfuse-AbC123"
OTLP_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench/otlp-AbC123"
OTLP_KEY = "otlp-bench-key"


def settings(tracing: dict[str, Any] | None) -> str:
    """PROJECT_SETTINGS of a one-model project (what claude_platform.config.runtime_settings writes)."""
    model = catalog.resolve_model("claude-sonnet-4-5")
    doc: dict[str, Any] = {
        "project": "bench",
        "default_model": model.alias,
        "max_tokens_default": 1024,
        "max_tokens_limit": 8192,
        "log_prompts": False,
        "spend": {"enforcement": "off", "cap_usd": 1000.0},  # no ledger: measures tracing alone
        "models": [
            {
                "alias": model.alias,
                "base_id": model.base_id,
                "geography": "us",
                "profile_arn": "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/bench1234567",
                "prices": catalog.model_prices(model, Geography.US).to_dict(),
            }
        ],
    }
    if tracing is not None:
        doc["tracing"] = tracing
    return json.dumps(doc)


WARM_CHILD = r"""
import json, os, sys, time
cfg = json.loads(sys.argv[1])
sys.path[:0] = cfg["front"]
sys.path.extend(cfg["back"])
results = os.fdopen(os.dup(1), "w")
sys.stdout = open(os.devnull, "w")  # the handler's log and EMF lines (Lambda ships them to CloudWatch)
from claude_proxy.handler import lambda_handler
import boto3
client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=cfg["endpoint"])


class Context:
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    function_name = "claude-proxy-bench"

    def get_remaining_time_in_millis(self):
        return 30_000


event, context = {"messages": [{"role": "user", "content": "Say hi"}]}, Context()
converse = {"modelId": cfg["boto3_model_id"], "messages": [{"role": "user", "content": [{"text": "Say hi"}]}],
            "inferenceConfig": {"maxTokens": 64}}
results.write("READY\n"); results.flush()
for line in sys.stdin:
    command = line.strip()
    if command == "quit":
        break
    started = time.perf_counter()
    ok = lambda_handler(event, context)["ok"] if command == "handler" else bool(client.converse(**converse))
    results.write(json.dumps({"ok": ok, "s": time.perf_counter() - started}) + "\n"); results.flush()
results.close()
os._exit(0)
"""


class WarmChild:
    """A long-lived Lambda-like process (python -B -I -S, bundle first) answering timed calls."""

    def __init__(
        self, python: str, *, front: list[Path], back: list[Path], endpoint: str, env: dict[str, str]
    ):
        from devservers.lambda_runner import BOTO3_MODEL_ID

        cfg = {"front": [str(p) for p in front], "back": [str(p) for p in back], "endpoint": endpoint,
               "boto3_model_id": BOTO3_MODEL_ID}  # fmt: skip
        self._cwd = tempfile.TemporaryDirectory()
        self._stderr = open(Path(self._cwd.name, "stderr.txt"), "w+", encoding="utf-8")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [python, "-B", "-I", "-S", "-c", WARM_CHILD, json.dumps(cfg)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env, text=True,
            cwd=self._cwd.name,
        )  # fmt: skip
        self._read("READY")

    def _read(self, expect: str | None = None) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line or (expect is not None and line != expect):
            self._stderr.seek(0)
            raise SystemExit(f"warm child failed: {line!r}\n{self._stderr.read()[-3000:]}")
        return line

    def call(self, command: str) -> float:
        """Seconds one `handler` or `boto3` call took, timed in the child."""
        stdin: IO[str] | None = self.proc.stdin
        assert stdin is not None
        stdin.write(command + "\n")
        stdin.flush()
        result = json.loads(self._read())
        if not result["ok"]:
            raise SystemExit(f"{command} call failed")
        return float(result["s"])

    def close(self) -> None:
        """Stop the child."""
        if self.proc.stdin is not None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self._stderr.close()
        self._cwd.cleanup()


IMPORT_PROBE = """
import time
import claude_proxy.handler
w, c = time.perf_counter(), time.process_time()
import claude_proxy.tracing
VALUE = {"wall_s": time.perf_counter() - w, "cpu_s": time.process_time() - c}
"""


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="cold-start runs per variant")
    parser.add_argument("--calls", type=int, default=200, help="warm calls per variant")
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    target = Target.from_names("python3.13", "x86_64")
    python = find_python(target.python_version)
    started = time.monotonic()
    bundle = build_bundle(target)
    sdk = sdk_dir(target)

    secrets = {LANGFUSE_SECRET: SECRET_KEY, OTLP_SECRET: json.dumps({"x-api-key": OTLP_KEY})}
    with (
        BedrockServer() as bedrock,
        OtlpServer.langfuse(PUBLIC_KEY, SECRET_KEY) as langfuse,
        OtlpServer(path="/v1/traces", required_headers={"x-api-key": OTLP_KEY}) as collector,
        SecretsServer(secrets) as secrets_server,
    ):
        tracings: dict[str, dict[str, Any] | None] = {
            "off": None,
            "langfuse": {
                "langfuse": {
                    "host": langfuse.url,
                    "public_key": PUBLIC_KEY,
                    "secret_key_secret_arn": LANGFUSE_SECRET,
                }
            },
            "otlp": {"otlp": {"endpoint": collector.url + "/v1/traces", "headers_secret_arn": OTLP_SECRET}},
        }
        stand_ins = {"langfuse": langfuse, "otlp": collector}
        envs = {
            name: lambda_env(
                {
                    "PROJECT_SETTINGS": settings(tracing),
                    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
                    "AWS_ENDPOINT_URL_SECRETS_MANAGER": secrets_server.url,
                }
            )
            for name, tracing in tracings.items()
        }
        spec = {"front": [bundle.path], "back": [sdk], "endpoint": bedrock.url}

        cold: dict[str, list[dict[str, Any]]] = {name: [] for name in envs}
        for i in range(args.runs):
            for name, env in envs.items():
                result = run_child(python, "handler", env=env, **spec)
                if not result.get("ok"):
                    raise SystemExit(f"cold {name} run {i}: call failed: {result}")
                cold[name].append(result)
                print(f"  cold {name:<9} run {i + 1}: {result['total_s']:.2f} s", file=sys.stderr, flush=True)

        imports = [
            run_child(python, "exec", code=IMPORT_PROBE, env=envs["off"], **spec)["value"]
            for _ in range(args.runs)
        ]

        children = {
            name: WarmChild(python, front=[bundle.path], back=[sdk], endpoint=bedrock.url, env=env)
            for name, env in envs.items()
        }
        before = {name: len({s.trace_id for s in server.spans}) for name, server in stand_ins.items()}
        warm: dict[str, dict[str, list[float]]] = {name: {"handler": [], "boto3": []} for name in envs}
        try:
            for i in range(args.warmup + args.calls):
                order = list(children.items())
                order = order[i % len(order) :] + order[: i % len(order)]  # rotate who goes first
                for command in ("handler", "boto3"):
                    for name, child in order:
                        seconds = child.call(command)
                        if i >= args.warmup:
                            warm[name][command].append(seconds)
        finally:
            for child in children.values():
                child.close()
        for name, server in stand_ins.items():
            traces = len({s.trace_id for s in server.spans}) - before[name]
            if traces != args.warmup + args.calls:
                raise SystemExit(f"warm {name}: {traces} traces arrived, expected {args.warmup + args.calls}")
        secret_reads = dict(secrets_server.reads)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in cold[name])

    cold_summary = {
        name: {
            "median_total_s": round(med(name, "total_s"), 3),
            "median_import_s": round(med(name, "import_s"), 3),
            "median_first_call_s": round(med(name, "first_call_s"), 3),
            "runs_total_s": [round(r["total_s"], 3) for r in cold[name]],
            "delta_vs_off_s": round(med(name, "total_s") - med("off", "total_s"), 3),
        }
        for name in envs
    }
    import_summary = {
        "median_wall_s": round(statistics.median(v["wall_s"] for v in imports), 3),
        "median_cpu_s": round(statistics.median(v["cpu_s"] for v in imports), 3),
        "runs": imports,
    }
    warm_summary: dict[str, Any] = {}
    for name, samples in warm.items():
        h, b = samples["handler"], samples["boto3"]
        warm_summary[name] = {
            "calls": len(h),
            "p50_ms": round(pct(h, 50) * 1e3, 2),
            "p95_ms": round(pct(h, 95) * 1e3, 2),
            "boto3_p50_ms": round(pct(b, 50) * 1e3, 2),
            "boto3_p95_ms": round(pct(b, 95) * 1e3, 2),
        }
    off = warm_summary["off"]
    for row in warm_summary.values():
        row["delta_p50_vs_off_ms"] = round(row["p50_ms"] - off["p50_ms"], 2)
        row["delta_p95_vs_off_ms"] = round(row["p95_ms"] - off["p95_ms"], 2)
        row["ratio_p50_vs_off"] = round(row["p50_ms"] / off["p50_ms"], 2)
    report = {
        "command": " ".join(["bench/bench_tracing.py", *sys.argv[1:]]),
        "load_average": os.getloadavg(),
        "python": python,
        "machine": {"cpus": len(os.sched_getaffinity(0)), "platform": platform.platform()},
        "bundle_key": bundle.key,
        "bundle_bytes": bundle.size_bytes,
        "cold_start": cold_summary,
        "tracing_import": import_summary,
        "warm": warm_summary,
        "secret_reads": secret_reads,
        "bench_seconds": round(time.monotonic() - started, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1), encoding="utf-8")

    print(f"\ncold start (fresh process, median of {args.runs}; import + first call)")
    print(f"  {'variant':<9} {'total s':>8} {'import s':>9} {'1st call s':>10} {'vs off s':>9}")
    for name, row in cold_summary.items():
        print(
            f"  {name:<9} {row['median_total_s']:>8.2f} {row['median_import_s']:>9.2f} "
            f"{row['median_first_call_s']:>10.2f} {row['delta_vs_off_s']:>+9.2f}"
        )
    print(
        f"  tracing import alone (median of {args.runs}): {import_summary['median_wall_s']:.2f} s wall, "
        f"{import_summary['median_cpu_s']:.2f} s CPU"
    )
    print(
        f"\nwarm ({args.calls} calls per variant, variants alternating; boto3 converse in each as baseline)"
    )
    print(
        f"  {'variant':<9} {'p50 ms':>7} {'p95 ms':>7} {'p50 vs off':>11} {'p95 vs off':>11} {'boto3 p50':>10}"
    )
    for name, row in warm_summary.items():
        print(
            f"  {name:<9} {row['p50_ms']:>7.2f} {row['p95_ms']:>7.2f} {row['delta_p50_vs_off_ms']:>+11.2f} "
            f"{row['delta_p95_vs_off_ms']:>+11.2f} {row['boto3_p50_ms']:>10.2f}"
        )
    print(f"\nsecret reads (one per process expected): {secret_reads}")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"bundle {bundle.size_bytes / 1e6:.1f} MB unzipped")
    print(f"wrote {RESULTS.relative_to(ROOT)} in {report['bench_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
