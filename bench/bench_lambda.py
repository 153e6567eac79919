"""Benchmark the project Lambda bundle against a local Bedrock server (not a test).

One run measures, with the Lambda runtime's own Python (python3.13 -I -S, bundle first on sys.path,
boto3 in a separate folder after it; see devservers/lambda_runner.py):
  cold start  fresh process, N runs each, interleaved; median of import + first call:
                handler      claude_proxy.handler.lambda_handler from the bundle (as deployed)
                litellm      plain `import litellm` + litellm.completion from a naive pip install
                boto3        plain boto3 bedrock-runtime converse (the baseline)
  warm        one process: handler vs boto3 converse, interleaved calls after warm-up: p50/p95
  size        unzipped bundle vs a naive `pip install -r lambda/requirements.txt --target` (sum of file sizes)
Prints a table and writes bench/results/lambda.json.

    .venv/bin/python bench/bench_lambda.py [--runs 5] [--calls 200]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from claude_platform.config import load_config, runtime_settings  # noqa: E402
from devservers.bedrock_server import BedrockServer  # noqa: E402
from devservers.lambda_runner import lambda_env, run_child  # noqa: E402
from lambda_build import (  # noqa: E402
    DEFAULT_CACHE_ROOT,
    REQUIREMENTS,
    Target,
    build_bundle,
    find_python,
    probe_env,
    sdk_dir,
    shipped_size,
    tree_size,
)

RESULTS = ROOT / "bench" / "results" / "lambda.json"
TARGET_COLD_S = 2.0
BENCH_MODEL = "claude-sonnet-4-5"
BENCH_PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/bench"


def project_settings() -> dict:
    """PROJECT_SETTINGS of a one-model project, built by the same code as synthesis (config + catalog)."""
    platform_config = load_config(
        {
            "region": "us-east-1",
            # enforcement off: no spend ledger (DynamoDB) on the measured path, as before the ledger
            "projects": [
                {"name": "bench", "models": [BENCH_MODEL], "monthly_budget_usd": 100, "enforcement": "off"}
            ],
        },
        source="bench",
    )
    project = platform_config.projects[0]
    return runtime_settings(project, {m.alias: BENCH_PROFILE_ARN for m in project.models})


def naive_install(python: str, cache_root: Path) -> Path:
    """`python3.13 -m pip install -r lambda/requirements.txt --target DIR` (pip's own .pyc, boto3 included)."""
    requirements = ROOT / REQUIREMENTS
    key = hashlib.sha256(requirements.read_bytes() + python.encode()).hexdigest()[:16]
    final = cache_root / f"naive-{key}"
    if (final / ".complete").exists():
        return final
    work = cache_root / f"naive-{key}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    print(f"naive install into {final} (once) ...", file=sys.stderr, flush=True)
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(requirements),
            "--target",
            str(work),
        ],
        check=True,
        env=probe_env(),
    )
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
    (final / ".complete").touch()
    return final


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def bench_priming(python: str, *, bundle: Path, sdk: Path, endpoint: str, env: dict, runs: int) -> dict:
    """SnapStart priming: first-call latency after init, primed (default) vs CLAUDE_PROXY_PRIME=0, vs boto3.

    Fresh processes, interleaved; `init` is the handler import (Lambda's init phase, what a SnapStart
    snapshot captures), `first call` the first lambda_handler call after it.
    """
    variants = {
        "primed": {
            "mode": "handler",
            "front": [bundle],
            "back": [sdk],
            "env": env | {"CLAUDE_PROXY_PRIME": "1"},
        },
        "unprimed": {
            "mode": "handler",
            "front": [bundle],
            "back": [sdk],
            "env": env | {"CLAUDE_PROXY_PRIME": "0"},
        },
        "boto3": {"mode": "boto3", "front": [sdk], "env": env},
    }
    samples: dict[str, list[dict]] = {name: [] for name in variants}
    for i in range(runs):
        for name, spec in variants.items():
            result = run_child(python, endpoint=endpoint, **spec)
            if not result.get("ok"):
                raise SystemExit(f"priming {name} run {i}: call failed: {result}")
            samples[name].append(result)
            print(
                f"  priming {name:<9} run {i + 1}: init {result['import_s']:.2f} s, "
                f"first call {result['first_call_s'] * 1e3:.1f} ms",
                file=sys.stderr,
                flush=True,
            )

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in samples[name])

    out = {
        name: {
            "median_init_s": round(med(name, "import_s"), 3),
            "median_first_call_ms": round(med(name, "first_call_s") * 1e3, 1),
            "runs_first_call_ms": [round(r["first_call_s"] * 1e3, 1) for r in samples[name]],
        }
        for name in variants
    }
    boto3_ms = out["boto3"]["median_first_call_ms"]
    for name in ("primed", "unprimed"):
        out[name]["first_call_vs_boto3_ms"] = round(out[name]["median_first_call_ms"] - boto3_ms, 1)
    out["first_call_saved_ms"] = round(
        out["unprimed"]["median_first_call_ms"] - out["primed"]["median_first_call_ms"], 1
    )
    print(f"\nSnapStart priming (fresh process, median of {runs}; init = handler import)")
    print(f"  {'variant':<10} {'init s':>7} {'1st call ms':>12} {'vs boto3 ms':>12}")
    for name in variants:
        row = out[name]
        delta = row.get("first_call_vs_boto3_ms")
        shown = f"{delta:>+12.1f}" if delta is not None else f"{'':>12}"
        print(f"  {name:<10} {row['median_init_s']:>7.2f} {row['median_first_call_ms']:>12.1f} {shown}")
    print(f"  priming saves {out['first_call_saved_ms']:.1f} ms on the first call")
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="cold-start runs per variant")
    parser.add_argument("--calls", type=int, default=200, help="warm calls per client")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--only-priming", action="store_true", help="run only the SnapStart priming benchmark"
    )
    args = parser.parse_args()

    target = Target.from_names("python3.13", "x86_64")
    python = find_python(target.python_version)
    started = time.monotonic()
    bundle = build_bundle(target)
    sdk = sdk_dir(target)
    naive = naive_install(python, DEFAULT_CACHE_ROOT)
    bundle_bytes, bundle_files = shipped_size(bundle.path)
    naive_bytes, naive_files = tree_size(naive)
    naive_files -= 1  # .complete

    with BedrockServer() as server:
        env = lambda_env(
            {
                "PROJECT_SETTINGS": json.dumps(project_settings()),
                "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.url,
            }
        )
        priming = bench_priming(
            python, bundle=bundle.path, sdk=sdk, endpoint=server.url, env=env, runs=args.runs
        )
        if args.only_priming:
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.with_name("lambda_priming.json").write_text(
                json.dumps(priming, indent=1), encoding="utf-8"
            )
            return 0
        variants = {
            "handler": {"mode": "handler", "front": [bundle.path], "back": [sdk]},
            "litellm": {"mode": "litellm", "front": [naive]},
            "boto3": {"mode": "boto3", "front": [sdk]},
        }
        cold: dict[str, list[dict]] = {name: [] for name in variants}
        for i in range(args.runs):
            for name, spec in variants.items():
                result = run_child(python, endpoint=server.url, env=env, **spec)
                if not result.get("ok"):
                    raise SystemExit(f"{name} run {i}: call failed: {result}")
                cold[name].append(result)
                print(
                    f"  cold {name:<10} run {i + 1}: {result['total_s']:.2f} s", file=sys.stderr, flush=True
                )
        warm = run_child(
            python, "warm", front=[bundle.path], back=[sdk], endpoint=server.url, env=env,
            calls=args.calls, warmup=args.warmup,
        )  # fmt: skip

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in cold[name])

    base = med("boto3", "total_s")
    cold_summary = {
        name: {
            "median_total_s": round(med(name, "total_s"), 3),
            "median_import_s": round(med(name, "import_s"), 3),
            "median_first_call_s": round(med(name, "first_call_s"), 3),
            "median_process_s": round(med(name, "process_s"), 3),
            "runs_total_s": [round(r["total_s"], 3) for r in cold[name]],
            "ratio_vs_boto3": round(med(name, "total_s") / base, 1),
        }
        for name in variants
    }
    h, b = warm["handler_s"], warm["boto3_s"]
    warm_summary = {
        "calls": len(h),
        "handler_p50_ms": round(pct(h, 50) * 1e3, 2),
        "handler_p95_ms": round(pct(h, 95) * 1e3, 2),
        "boto3_p50_ms": round(pct(b, 50) * 1e3, 2),
        "boto3_p95_ms": round(pct(b, 95) * 1e3, 2),
    }
    warm_summary["delta_p50_ms"] = round(warm_summary["handler_p50_ms"] - warm_summary["boto3_p50_ms"], 2)
    warm_summary["delta_p95_ms"] = round(warm_summary["handler_p95_ms"] - warm_summary["boto3_p95_ms"], 2)
    sizes = {
        "bundle_bytes": bundle_bytes,
        "bundle_files": bundle_files,
        "naive_bytes": naive_bytes,
        "naive_files": naive_files,
        "bundle_vs_naive": round(bundle_bytes / naive_bytes, 2),
    }
    report = {
        "python": python,
        "machine": {"cpus": len(__import__("os").sched_getaffinity(0)), "platform": platform.platform()},
        "bundle": str(bundle.path),
        "bundle_key": bundle.key,
        "cold_start": cold_summary,
        "cold_target_s": TARGET_COLD_S,
        "warm": warm_summary,
        "snapstart_priming": priming,
        "size": sizes,
        "bench_seconds": round(time.monotonic() - started, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1), encoding="utf-8")

    print(f"\ncold start (fresh process, median of {args.runs}; import + first call, in-process)")
    print(
        f"  {'variant':<11} {'total s':>8} {'import s':>9} {'1st call s':>10} {'process s':>9} {'x boto3':>8}"
    )
    for name, row in cold_summary.items():
        print(
            f"  {name:<11} {row['median_total_s']:>8.2f} {row['median_import_s']:>9.2f} "
            f"{row['median_first_call_s']:>10.2f} {row['median_process_s']:>9.2f} {row['ratio_vs_boto3']:>8.1f}"
        )
    print(f"  target for handler: <= {TARGET_COLD_S:.1f} s")
    print(f"\nwarm ({warm_summary['calls']} interleaved calls each)")
    print(
        f"  handler p50 {warm_summary['handler_p50_ms']:.2f} ms  p95 {warm_summary['handler_p95_ms']:.2f} ms"
    )
    print(f"  boto3   p50 {warm_summary['boto3_p50_ms']:.2f} ms  p95 {warm_summary['boto3_p95_ms']:.2f} ms")
    print(f"  delta   p50 {warm_summary['delta_p50_ms']:+.2f} ms  p95 {warm_summary['delta_p95_ms']:+.2f} ms")
    print("\nsize (unzipped, sum of file sizes)")
    print(f"  bundle {bundle_bytes / 1e6:7.1f} MB  {bundle_files:6d} files")
    print(
        f"  naive  {naive_bytes / 1e6:7.1f} MB  {naive_files:6d} files   bundle/naive {sizes['bundle_vs_naive']:.2f}"
    )
    print(f"\nwrote {RESULTS.relative_to(ROOT)} in {report['bench_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
