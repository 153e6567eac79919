"""Benchmark a project guardrail (not a test): the latency it adds on our side, and its share of a call's cost.

latency  the real handler and real LiteLLM in this process against the local Bedrock server, the same
         request with and without a guardrail in PROJECT_SETTINGS, calls interleaved (one of each in
         turn) so machine load hits both alike; the local server's guardrail answers at once, so the
         difference is our side only: guardrailConfig on the request, reading the trace, pricing the
         units (Bedrock's own guardrail latency is not measured: it cannot be, offline); also the
         calling thread's CPU time, which a loaded machine disturbs less than wall time
cost     a typical request on the example config's support-bot project (its declared guardrail,
         claude-sonnet-4-5 at the us geography): model tokens vs guardrail text units at the built-in
         rates, prompt and answer sizes given below; what `claude-finops estimate --guardrail-project`
         prints for the same numbers

    .venv/bin/python bench/bench_guardrail.py [--calls 300] [--warmup 30]
Prints a table and writes bench/results/guardrail.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "lambda"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import yaml  # noqa: E402

from claude_platform import catalog  # noqa: E402
from claude_platform.catalog import Geography  # noqa: E402
from claude_platform.config import load_config  # noqa: E402
from claude_platform.guardrail_prices import text_units  # noqa: E402
from claude_platform.prices import TokenUsage, cost_usd  # noqa: E402
from devservers.bedrock_server import BedrockServer, Usage  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "guardrail.json"
ARN = "arn:aws:bedrock:us-east-1:123456789012:guardrail/bench0guard"
# A typical support-bot call: ~2,000 tokens of prompt (~8,000 characters of English at ~4 per token)
# and a 500-token answer (~2,000 characters).
PROMPT_TOKENS, ANSWER_TOKENS = 2000, 500
PROMPT_CHARS, ANSWER_CHARS = 8000, 2000


def settings(guardrail: bool) -> str:
    model = catalog.resolve_model("claude-sonnet-4-5")
    doc: dict[str, Any] = {
        "project": "bench",
        "default_model": model.alias,
        "max_tokens_default": 1024,
        "max_tokens_limit": 8192,
        "log_prompts": False,
        "spend": {"enforcement": "off", "cap_usd": 1000.0},  # no ledger: the guardrail alone
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
    if guardrail:
        doc["guardrail"] = {
            "guardrail_arn": ARN,
            "guardrail_version": "1",
            "policies": ["content", "pii"],
        }
    return json.dumps(doc)


class Context:
    aws_request_id = "bench"
    function_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def latency(calls: int, warmup: int) -> dict[str, Any]:
    from claude_proxy.handler import lambda_handler

    variants = {"off": settings(False), "guardrail": settings(True)}
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    event = {"messages": [{"role": "user", "content": "x" * PROMPT_CHARS}], "max_tokens": 600}
    with BedrockServer(text="y" * ANSWER_CHARS, usage=Usage(PROMPT_TOKENS, ANSWER_TOKENS)) as server:
        os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = server.url
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        os.environ.setdefault("AWS_REGION", "us-east-1")
        for i in range(warmup + calls):
            for name, value in variants.items():
                os.environ["PROJECT_SETTINGS"] = value
                with contextlib.redirect_stdout(io.StringIO()):
                    started, started_cpu = time.perf_counter(), time.thread_time()
                    response = lambda_handler(event, Context())
                    elapsed = (time.perf_counter() - started) * 1000
                    elapsed_cpu = (time.thread_time() - started_cpu) * 1000
                assert response["ok"], response
                assert ("guardrail" in response) == (name == "guardrail")
                if i >= warmup:
                    times[name].append(elapsed)
                    cpu[name].append(elapsed_cpu)
        guarded = [r for r in server.requests if isinstance(r.body, dict) and "guardrailConfig" in r.body]
        assert len(guarded) == warmup + calls  # every guardrail call carried it
    out: dict[str, Any] = {}
    for name, values in times.items():
        values.sort()
        out[name] = {
            "median_ms": round(statistics.median(values), 3),
            "p90_ms": round(values[int(len(values) * 0.9)], 3),
            "mean_ms": round(statistics.fmean(values), 3),
            "cpu_median_ms": round(statistics.median(cpu[name]), 3),
        }
    out["added_median_ms"] = round(out["guardrail"]["median_ms"] - out["off"]["median_ms"], 3)
    out["added_cpu_median_ms"] = round(out["guardrail"]["cpu_median_ms"] - out["off"]["cpu_median_ms"], 3)
    return out


def cost_share() -> dict[str, Any]:
    platform_config = load_config(
        yaml.safe_load((ROOT / "projects.yaml").read_text()), source="projects.yaml"
    )
    (project,) = [p for p in platform_config.projects if p.name == "support-bot"]
    guardrail = project.config.guardrail
    assert guardrail is not None, "projects.yaml's support-bot has no guardrail"
    rates = platform_config.config.guardrail_pricing.rates()
    model = project.models[0]
    model_usd = cost_usd(model.prices, TokenUsage(input_tokens=PROMPT_TOKENS, output_tokens=ANSWER_TOKENS))
    units = text_units(PROMPT_CHARS) + text_units(ANSWER_CHARS)
    guard_usd = sum(rates[p] for p in guardrail.paid_policies) * units / 1000
    return {
        "model": model.alias,
        "policies": list(guardrail.paid_policies),
        "prompt_tokens": PROMPT_TOKENS,
        "answer_tokens": ANSWER_TOKENS,
        "text_units": units,
        "model_usd": round(model_usd, 6),
        "guardrail_usd": round(guard_usd, 6),
        "guardrail_share": round(guard_usd / (model_usd + guard_usd), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args(argv)
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "latency": latency(args.calls, args.warmup),
        "cost": cost_share(),
    }
    lat, cost = result["latency"], result["cost"]
    print(f"{'variant':<10} {'median ms':>10} {'p90 ms':>8} {'mean ms':>8} {'CPU median ms':>14}")
    for name in ("off", "guardrail"):
        row = lat[name]
        print(
            f"{name:<10} {row['median_ms']:>10.3f} {row['p90_ms']:>8.3f} {row['mean_ms']:>8.3f} "
            f"{row['cpu_median_ms']:>14.3f}"
        )
    print(
        f"added by the guardrail, medians: wall {lat['added_median_ms']:.3f} ms, CPU of the calling "
        f"thread (our side only; the server runs in its own thread) {lat['added_cpu_median_ms']:.3f} ms"
    )
    print(
        f"typical support-bot call ({cost['prompt_tokens']} + {cost['answer_tokens']} tokens, "
        f"{cost['text_units']} text units, policies {', '.join(cost['policies'])}): model "
        f"{cost['model_usd']:.6f} USD, guardrail {cost['guardrail_usd']:.6f} USD, "
        f"guardrail share {cost['guardrail_share']:.1%}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
