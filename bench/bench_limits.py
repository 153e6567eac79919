"""Benchmark per-key caps and rate limits (not a test): added latency per call and write units per call.

One run, one process, against local stand-ins (devservers/): Bedrock (LiteLLM really calls it),
DynamoDB (moto over HTTP in its own process) and an instant canned DynamoDB answer that isolates our
side of the path (bench_ledger.CannedDynamoDB).

  write units  WCU per call (reserve + settle) from the sizes of the items moto really holds, the way
               DynamoDB bills transactions (2 x 1 KB steps per item), for: the project cap alone; with
               the caller key's month counter (and cap); plus requests-per-minute windows of the key
               and the project; plus tokens-per-minute (the settle gives the unused tokens back)
  latency      the core's invoke (the path the HTTPS app and the invoke handler share) warm, with the
               real LiteLLM client and the project's ledger: `cap` (project cap, no key) vs `limits`
               (a key with a cap, rpm and tpm; project rpm and tpm; all far above what the run
               uses), interleaved in blocks: p50/p95 and the added milliseconds
Prints tables and writes bench/results/limits.json.

    .venv/bin/python bench/bench_limits.py [--calls 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "lambda", ROOT / "bench"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import boto3  # noqa: E402
from bench_ledger import REGION, CannedDynamoDB, item_size, pct, settings_json, write_units  # noqa: E402

from claude_platform.ledger import (  # noqa: E402
    CounterCharge,
    LedgerTable,
    RateLimit,
    SettledUsage,
    key_month_sk,
    month_sk,
)
from claude_platform.rate_window import PROJECT_SCOPE, key_scope, window_parts  # noqa: E402
from devservers.aws_server import aws_server_process, create_ledger_table  # noqa: E402
from devservers.bedrock_server import BedrockServer  # noqa: E402

PERIOD = "2026-11"
NOW = 1_795_000_020


def _item(client: Any, table: str, project: str, sk: str) -> dict[str, Any]:
    response = client.get_item(
        TableName=table, Key={"pk": {"S": project}, "sk": {"S": sk}}, ConsistentRead=True
    )
    return response.get("Item") or {}


def write_units_per_call(client: Any, table: str) -> list[dict[str, Any]]:
    """WCU per call for each configuration, from the items after 50 calls (their fullest)."""
    create_ledger_table(client, table)
    ledger = LedgerTable(client, table)
    key_charge = CounterCharge(key_month_sk(PERIOD, "alice"), 10**12)
    modes = {
        "project cap only": ([], [], False),
        "+ key month counter and cap": ([key_charge], [], False),
        "+ requests/min (key and project)": (
            [key_charge],
            [RateLimit(PROJECT_SCOPE, 10**6), RateLimit(key_scope("alice"), 10**6)],
            False,
        ),
        "+ tokens/min (key and project)": (
            [key_charge],
            [RateLimit(PROJECT_SCOPE, 10**6, 10**9), RateLimit(key_scope("alice"), 10**6, 10**9)],
            True,
        ),
    }
    rows = []
    try:
        for n, (mode, (also, rates, tokens)) in enumerate(modes.items()):
            project = f"bench-{n}"
            hold = None
            for i in range(50):  # spread over the slots of a minute: rate items at their largest
                hold = ledger.reserve(
                    project=project,
                    period=PERIOD,
                    request_id=uuid.uuid4().hex,
                    amount_micro=38_250,
                    cap_micro=500_000_000,
                    model="claude-sonnet-4-5",
                    now_epoch=NOW + i,
                    also=also,
                    rates=rates,
                    tokens=5_000,
                )
                hold_bytes = item_size(_item(client, table, project, hold.sk))
                ledger.settle(
                    hold,
                    actual_micro=20_000,
                    usage=SettledUsage(900, 300),
                    estimated=False,
                    now_epoch=NOW + i,
                )
            assert hold is not None
            counters = [month_sk(PERIOD), *(c.sk for c in also)]
            counter_bytes = [item_size(_item(client, table, project, sk)) for sk in counters]
            rate_bytes = [
                item_size(_item(client, table, project, part.sk))
                for use in hold.rates
                for part in window_parts(use.scope, use.slot)
            ]
            tx = [write_units(b, transactional=True) for b in (hold_bytes, *counter_bytes)]
            rate_tx = [write_units(b, transactional=True) for b in rate_bytes]
            reserve = sum(tx) + sum(rate_tx)
            settle = sum(tx) + (sum(rate_tx) if tokens else 0)
            rows.append(
                {
                    "mode": mode,
                    "items_reserve": len(tx) + len(rate_tx),
                    "items_settle": len(tx) + (len(rate_tx) if tokens else 0),
                    "largest_rate_item_bytes": max(rate_bytes, default=0),
                    "month_item_bytes": counter_bytes[0],
                    "wcu_per_call": reserve + settle,
                }
            )
    finally:
        client.delete_table(TableName=table)
    return rows


def _settings(table: str, topic: str, limits: bool) -> Any:
    from claude_proxy.settings import load_settings

    doc = json.loads(settings_json("hard", table, topic))
    if limits:
        doc["spend"] |= {"requests_per_minute": 1_000_000, "tokens_per_minute": 10**10}
    return load_settings({**os.environ, "PROJECT_SETTINGS": json.dumps(doc)})


def latency(calls: int, table: str, topic: str) -> dict[str, Any]:
    """Warm core invoke latency: project cap only vs key cap + key and project rate limits."""
    from claude_proxy import handler
    from claude_proxy.auth import Caller
    from claude_proxy.core import invoke
    from claude_proxy.request import parse_request
    from claude_proxy.spend_wiring import ledger_for

    from claude_platform.api_keys import KeyLimits

    caller = Caller("bench-key", "0", KeyLimits(10**12, 1_000_000, 10**10))
    modes = {
        "cap": (_settings(table, topic, False), None),
        "limits": (_settings(table, topic, True), caller),
    }
    request = parse_request({"messages": [{"role": "user", "content": "hello"}], "max_tokens": 50})
    samples: dict[str, list[float]] = {mode: [] for mode in modes}

    failed: dict[str, int] = dict.fromkeys(modes, 0)

    def one(mode: str) -> float | None:
        settings, who = modes[mode]
        started = time.perf_counter()
        result = invoke(
            request,
            settings=settings,
            llm=handler._LLM,
            clock=handler._CLOCK,
            remaining_ms=lambda: 60_000,
            rng=handler._RNG,
            request_id=uuid.uuid4().hex,
            ledger=ledger_for(settings),
            caller=who,
        )
        if not result.ok:  # a ledger timeout on a loaded machine: counted, not timed
            failed[mode] += 1
            return None
        return (time.perf_counter() - started) * 1000

    for mode in modes:  # warm-up
        for _ in range(10):
            one(mode)
    for _ in range(max(1, calls // 20)):
        for mode in modes:
            samples[mode] += [t for t in (one(mode) for _ in range(20)) if t is not None]
    ledger_for.cache_clear()
    out: dict[str, Any] = {
        mode: {
            "p50_ms": round(pct(v, 50), 3),
            "p95_ms": round(pct(v, 95), 3),
            "n": len(v),
            "failed": failed[mode],
        }
        for mode, v in samples.items()
    }
    out["added_p50_ms"] = round(out["limits"]["p50_ms"] - out["cap"]["p50_ms"], 3)
    out["added_p95_ms"] = round(out["limits"]["p95_ms"] - out["cap"]["p95_ms"], 3)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200, help="warm calls per mode")
    args = parser.parse_args()
    with aws_server_process(cwd=str(ROOT)) as aws_url:
        return _run(args, aws_url)


def _run(args: argparse.Namespace, aws_url: str) -> int:
    with BedrockServer() as bedrock:
        os.environ.update(AWS_ENDPOINT_URL_DYNAMODB=aws_url, AWS_ENDPOINT_URL_SNS=aws_url)
        os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = bedrock.url
        client = boto3.client("dynamodb", region_name=REGION)
        topic = boto3.client("sns", region_name=REGION).create_topic(Name="bench-alerts")["TopicArn"]
        result: dict[str, Any] = {"write_units": write_units_per_call(client, "bench-limit-sizes")}
        create_ledger_table(client, "bench-limits")
        result["latency_moto"] = latency(args.calls, "bench-limits", topic)
        canned = CannedDynamoDB()
        try:
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = canned.url
            result["latency_canned"] = latency(args.calls, "bench-limits", topic)
        finally:
            canned.close()
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "limits.json").write_text(json.dumps(result, indent=2))
    print("\nwrite capacity units per call (reserve + settle), from item sizes")
    print(f"  {'mode':<34} {'items':>11} {'rate item B':>11} {'WCU/call':>8}")
    for row in result["write_units"]:
        items = f"{row['items_reserve']} + {row['items_settle']}"
        print(
            f"  {row['mode']:<34} {items:>11} {row['largest_rate_item_bytes']:>11} {row['wcu_per_call']:>8}"
        )
    for key, what in (("latency_moto", "moto endpoint"), ("latency_canned", "instant canned endpoint")):
        lat = result[key]
        print(f"\nwarm core invoke latency, {what}, {lat['cap']['n']} calls per mode, interleaved (ms)")
        for mode in ("cap", "limits"):
            row = lat[mode]
            print(
                f"  {mode:<7} p50 {row['p50_ms']:>8.2f}  p95 {row['p95_ms']:>8.2f}  (ledger failures: {row['failed']})"
            )
        print(
            f"  key cap + rate limits add {lat['added_p50_ms']:.2f} ms at p50, {lat['added_p95_ms']:.2f} ms at p95"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
