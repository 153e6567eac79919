"""Benchmark: synthesis wall time for 1, 50 and 300 projects (fresh process each run, as `cdk synth`),
and the size of the platform stack's template, which must not grow with the projects (CloudFormation
takes at most 1 MB). `--sizes 1,300,1000` measures the 1,000-project case.

Each run is `python app.py` with the context and output folder the CDK CLI would pass. The baseline,
measured in the same command, is a fresh process that synthesizes an empty CDK app: the fixed cost of
starting jsii/Node that every synthesis pays. Reports medians, the per-project slope and ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.large_config import large_config  # noqa: E402

TARGET_300_SECONDS = 45.0
MAX_TEMPLATE_BYTES = 1_000_000  # CloudFormation template body from S3 ("1 MB", as cfn-lint E1002 checks it)
PLATFORM_TEMPLATE = "claude-platform.template.json"
# Same App settings as app.py (CDK's built-in template validation off: ~3.3 s fixed cost here).
BASELINE_CODE = (
    "import aws_cdk as cdk; app = cdk.App(builtin_cloud_formation_validation=False); "
    "cdk.Stack(app, 'Empty'); app.synth()"
)


def _env(outdir: str, context: dict) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CDK_OUTDIR=outdir,
        CDK_CONTEXT_JSON=json.dumps(context),
        JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def _time(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stderr[-3000:]}")
    return elapsed


def main() -> int:
    """Run the benchmark and print a table; JSON goes to bench/results/synth.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1,50,300")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[str, object] = {"runs": args.runs}
    with tempfile.TemporaryDirectory() as tmp:
        configs = {}
        for size in sizes:
            configs[size] = Path(tmp) / f"projects-{size}.yaml"
            raw = large_config(size)
            raw["inference_profile_quota"] = max(1000, 3 * size)  # adjustable; the bench measures synthesis
            configs[size].write_text(yaml.safe_dump(raw))
        baseline_cmd = [sys.executable, "-c", BASELINE_CODE]
        _time(baseline_cmd, _env(f"{tmp}/warmup", {}))  # discarded: fills the disk cache
        baseline: list[float] = []
        timings: dict[int, list[float]] = {size: [] for size in sizes}
        template_bytes: dict[int, int] = {}
        for r in range(args.runs):  # interleaved, so machine noise hits every variant alike
            baseline.append(_time(baseline_cmd, _env(f"{tmp}/base-{r}", {})))
            for size in sizes:
                context = {"config": str(configs[size])}
                outdir = f"{tmp}/out-{size}-{r}"
                timings[size].append(_time([sys.executable, "app.py"], _env(outdir, context)))
                template_bytes[size] = (Path(outdir) / PLATFORM_TEMPLATE).stat().st_size
        results["baseline_empty_app_s"] = statistics.median(baseline)
        medians = {size: statistics.median(runs) for size, runs in timings.items()}
        results["median_s"] = {str(k): v for k, v in medians.items()}
        results["platform_template_bytes"] = {str(k): v for k, v in template_bytes.items()}
    base = results["baseline_empty_app_s"]
    print(f"synthesis, median of {args.runs} fresh-process runs (baseline: empty CDK app {base:.2f} s)")
    print(f"{'projects':>8} {'median s':>9} {'x baseline':>10} {'s/project':>10} {'platform template B':>20}")
    for size, median in medians.items():
        print(
            f"{size:>8} {median:>9.2f} {median / base:>10.1f} {(median - base) / size:>10.3f} "
            f"{template_bytes[size]:>20,}"
        )
    over = {size: b for size, b in template_bytes.items() if b > MAX_TEMPLATE_BYTES}
    print(
        f"platform template <= {MAX_TEMPLATE_BYTES:,} B (CloudFormation): {'MISSED ' + str(over) if over else 'met'}"
    )
    if len(medians) >= 2:
        lo, hi = min(medians), max(medians)
        slope = (medians[hi] - medians[lo]) / (hi - lo)
        results["slope_s_per_project"] = slope
        print(f"slope {lo}->{hi} projects: {slope * 1000:.1f} ms per project")
    if 300 in medians:
        verdict = "met" if medians[300] <= TARGET_300_SECONDS else "MISSED"
        print(f"target: 300 projects <= {TARGET_300_SECONDS:.0f} s: {verdict} ({medians[300]:.1f} s)")
    out = ROOT / "bench" / "results" / "synth.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
