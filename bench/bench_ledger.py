"""Benchmark the spend ledger (not a test): what the hard cap adds to a call, and how the path scales.

One run, one process, against local stand-ins (devservers/): Bedrock (LiteLLM really calls it) and
DynamoDB/SNS (moto over HTTP in its own process, requests applied one at a time like one DynamoDB
item's writes), and an instant canned DynamoDB answer that isolates our side of the path.

  latency     the real handler, warm, enforcement `off` (no ledger calls) vs `hard` (reserve before
              the call, settle after: two conditional UpdateItems), interleaved in blocks: p50/p95
              and the added milliseconds
  throughput  reserve+settle pairs per second through LedgerTable on one project's item, with
              1, 4 and 16 concurrent callers (threads): the client path plus the local endpoint.
              moto is a single Python process, so this bounds our code, not DynamoDB.
Prints a table and writes bench/results/ledger.json.

    .venv/bin/python bench/bench_ledger.py [--calls 200] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "lambda"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_REGION="us-east-1",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true",
    LITELLM_LOCAL_MODEL_COST_MAP="True",
    POWERTOOLS_METRICS_NAMESPACE="ClaudePlatform",
    POWERTOOLS_SERVICE_NAME="claude_proxy",
)

import boto3  # noqa: E402

from claude_platform.config import load_config, runtime_settings  # noqa: E402
from claude_platform.ledger import LedgerTable, SettledUsage  # noqa: E402
from devservers.aws_server import create_ledger_table  # noqa: E402
from devservers.bedrock_server import BedrockServer  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"


class CannedDynamoDB:
    """Answers every DynamoDB call at once with one month item (keep-alive, TCP_NODELAY).

    Isolates what the ledger path costs on our side (botocore signing and parsing, our code) from
    the endpoint's own time, which moto inflates: a real DynamoDB write is single-digit ms in-region.
    """

    BODY = json.dumps(
        {
            "Attributes": {
                "pk": {"S": "bench"},
                "sk": {"S": "month#2026-11"},
                "spent_micro": {"N": "1000"},
                "reserved_micro": {"N": "0"},
                "committed_micro": {"N": "1000"},
                "requests": {"N": "10"},
            }
        }
    ).encode()

    def __init__(self) -> None:
        import socket
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        body = self.BODY

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
                    f"x-amzn-RequestId: bench\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode()
                self.wfile.write(head + body)

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def settings_json(enforcement: str, table: str, topic: str) -> str:
    """PROJECT_SETTINGS for one project, built by the same code as the stack's."""
    platform = load_config(
        {
            "region": REGION,
            "projects": [
                {
                    "name": "bench",
                    "models": ["claude-haiku-4-5"],
                    "monthly_budget_usd": 1_000_000,
                    "enforcement": enforcement,
                }
            ],
        },
        source="bench",
    )
    project = platform.projects[0]
    arns = {
        m.alias: f"arn:aws:bedrock:{REGION}:{ACCOUNT}:application-inference-profile/bench{i}"
        for i, m in enumerate(project.models)
    }
    return json.dumps(runtime_settings(project, arns, ledger_table=table, alert_topic_arn=topic))


class _Context:
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def latency(calls: int, table: str, topic: str) -> dict[str, Any]:
    """Warm handler latency with and without the ledger, interleaved in blocks of 20."""
    from claude_proxy.handler import lambda_handler
    from claude_proxy.spend_wiring import ledger_for

    event = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 50}
    docs = {mode: settings_json(mode, table, topic) for mode in ("off", "hard")}
    samples: dict[str, list[float]] = {"off": [], "hard": []}
    for mode in ("off", "hard"):  # warm-up: imports, clients, connections
        os.environ["PROJECT_SETTINGS"] = docs[mode]
        for _ in range(10):
            assert lambda_handler(event, _Context())["ok"]
    blocks = max(1, calls // 20)
    for _ in range(blocks):
        for mode in ("off", "hard"):
            os.environ["PROJECT_SETTINGS"] = docs[mode]
            for _ in range(20):
                started = time.perf_counter()
                response = lambda_handler(event, _Context())
                samples[mode].append((time.perf_counter() - started) * 1000)
                assert response["ok"], response
    ledger_for.cache_clear()
    out = {}
    for mode, values in samples.items():
        out[mode] = {
            "p50_ms": round(pct(values, 50), 3),
            "p95_ms": round(pct(values, 95), 3),
            "n": len(values),
        }
    out["added_p50_ms"] = round(out["hard"]["p50_ms"] - out["off"]["p50_ms"], 3)
    out["added_p95_ms"] = round(out["hard"]["p95_ms"] - out["off"]["p95_ms"], 3)
    return out


def throughput(client: Any, table: str, threads: int, seconds: float) -> dict[str, Any]:
    """reserve+settle pairs per second on one project's month item."""
    ledger = LedgerTable(client, table)
    tables = [
        LedgerTable(boto3.session.Session().client("dynamodb", region_name=REGION), table)
        for _ in range(threads)
    ]
    counts = [0] * threads
    latencies: list[list[float]] = [[] for _ in range(threads)]
    ready = threading.Barrier(threads + 1)
    stop = [0.0]

    def worker(index: int) -> None:
        table_client = tables[index]
        ready.wait()
        while time.monotonic() < stop[0]:
            rid = uuid.uuid4().hex
            began = time.perf_counter()
            table_client.reserve(
                project="hot",
                period="2026-11",
                request_id=rid,
                amount_micro=300,
                cap_micro=10**15,
                model="m",
                now_epoch=1,
            )
            table_client.settle(
                project="hot",
                period="2026-11",
                request_id=rid,
                reserved_micro=300,
                actual_micro=120,
                usage=SettledUsage(10, 20),
                estimated=False,
                now_epoch=2,
            )
            latencies[index].append((time.perf_counter() - began) * 1000)
            counts[index] += 1

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    started = time.monotonic()
    stop[0] = started + seconds
    ready.wait()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    total = sum(counts)
    state = ledger.month("hot", "2026-11")
    merged = [v for values in latencies for v in values]
    return {
        "threads": threads,
        "pairs_per_s": round(total / elapsed, 1),
        "pair_p50_ms": round(pct(merged, 50), 3),
        "pair_p95_ms": round(pct(merged, 95), 3),
        "consistent": state.reserved_micro == 0 and state.open_reservations == (),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200, help="warm calls per mode")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per throughput level")
    args = parser.parse_args()
    aws = subprocess.Popen(
        [sys.executable, "-m", "devservers.aws_server"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        aws_url = aws.stdout.readline().strip() if aws.stdout else ""
        return _run(args, aws_url)
    finally:
        if aws.stdin:
            aws.stdin.close()
        aws.wait(timeout=10)


def _run(args: argparse.Namespace, aws_url: str) -> int:
    with BedrockServer() as bedrock:
        os.environ.update(AWS_ENDPOINT_URL_DYNAMODB=aws_url, AWS_ENDPOINT_URL_SNS=aws_url)
        os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = bedrock.url
        client = boto3.client("dynamodb", region_name=REGION)
        create_ledger_table(client, "bench-ledger")
        topic = boto3.client("sns", region_name=REGION).create_topic(Name="bench-alerts")["TopicArn"]
        result = {"latency_moto": latency(args.calls, "bench-ledger", topic)}
        result["throughput_moto"] = [throughput(client, "bench-ledger", n, args.seconds) for n in (1, 4, 16)]
        canned = CannedDynamoDB()
        try:
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = canned.url
            result["latency_canned"] = latency(args.calls, "bench-ledger", topic)
        finally:
            canned.close()
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ledger.json").write_text(json.dumps(result, indent=2))
    for key, what in (("latency_moto", "moto endpoint"), ("latency_canned", "instant canned endpoint")):
        lat = result[key]
        print(f"\nwarm handler latency, {what}, {lat['off']['n']} calls per mode, interleaved (ms)")
        print(f"  {'mode':<6} {'p50':>8} {'p95':>8}")
        for mode in ("off", "hard"):
            print(f"  {mode:<6} {lat[mode]['p50_ms']:>8.2f} {lat[mode]['p95_ms']:>8.2f}")
        print(f"  ledger adds {lat['added_p50_ms']:.2f} ms at p50, {lat['added_p95_ms']:.2f} ms at p95")
    print("\nreserve+settle on one hot project item (local moto endpoint)")
    print(f"  {'threads':>7} {'pairs/s':>9} {'p50 ms':>8} {'p95 ms':>8} consistent")
    for row in result["throughput_moto"]:
        print(
            f"  {row['threads']:>7} {row['pairs_per_s']:>9.1f} {row['pair_p50_ms']:>8.2f} {row['pair_p95_ms']:>8.2f} {row['consistent']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
