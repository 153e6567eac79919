"""Benchmark the spend ledger (not a test): what the hard cap adds to a call, and how the path scales.

One run, one process, against local stand-ins (devservers/): Bedrock (LiteLLM really calls it) and
DynamoDB/SNS (moto over HTTP in its own process, requests applied one at a time like one DynamoDB
item's writes), and an instant canned DynamoDB answer that isolates our side of the path.

  write units write capacity units per call (reserve + settle) computed from the items' sizes the
              way DynamoDB bills them (1 KB steps, rounded up, of the larger of the item before and
              after; twice that in a transaction), with 1, 100 and 1,000 calls in flight: the
              previous layout (holds inside the month item, computed) and this one (holds as their
              own items, sized from the items moto really holds)
  latency     the real handler, warm, enforcement `off` (no ledger calls) vs `hard` (reserve
              transaction before the call; settle transaction and a GetItem of the month after),
              interleaved in blocks: p50/p95 and the added milliseconds
  throughput  reserve+settle pairs per second through LedgerTable on one project, with 1, 16 and
              64 concurrent callers (threads): the client path plus the local endpoint. moto is a
              single Python process, so this bounds our code and moto, not DynamoDB.
Prints tables and writes bench/results/ledger.json.

    .venv/bin/python bench/bench_ledger.py [--calls 200] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
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
from claude_platform.ledger import LedgerTable, SettledUsage, month_key  # noqa: E402
from devservers.aws_server import aws_server_process, create_ledger_table  # noqa: E402
from devservers.bedrock_server import BedrockServer  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"


class CannedDynamoDB:
    """Answers every DynamoDB call at once with one month item (keep-alive, TCP_NODELAY).

    Isolates what the ledger path costs on our side (botocore signing and parsing, our code) from
    the endpoint's own time, which moto inflates: a real DynamoDB write is single-digit ms in-region.
    """

    ITEM = {
        "pk": {"S": "bench"},
        "sk": {"S": "month#2026-11"},
        "spent_micro": {"N": "1000"},
        "reserved_micro": {"N": "0"},
        "committed_micro": {"N": "1000"},
        "requests": {"N": "10"},
    }
    # One body for every operation: UpdateItem reads Attributes, GetItem Item, Query Items.
    BODY = json.dumps({"Attributes": ITEM, "Item": ITEM, "Items": []}).encode()

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


# --- write units from item sizes ---------------------------------------------------------------


def _number_size(text: str) -> int:
    """DynamoDB's size of a number: about 1 byte per 2 significant digits, plus 1."""
    digits = text.lstrip("-").replace(".", "").lstrip("0") or "0"
    return (len(digits.rstrip("0") or "0") + 1) // 2 + 1


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one low-level attribute value, by DynamoDB's published sizing rules."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return _number_size(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "NS":
        return sum(_number_size(v) for v in inner)
    if kind == "SS":
        return sum(len(v.encode()) for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in inner)
    raise ValueError(f"unsized attribute type {kind}")


def item_size(item: dict[str, Any]) -> int:
    """Bytes of an item: attribute names plus values."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(*sizes: int, transactional: bool = False) -> int:
    """WCU of one write whose item is `sizes` bytes before/after (the larger counts), 1 KB steps."""
    units = max(1, -(-max(sizes) // 1024))
    return units * 2 if transactional else units


def _old_month_item(in_flight: int) -> dict[str, Any]:
    """The previous layout's month item with `in_flight` holds as `res#<request id>` attributes."""
    item = {
        "pk": {"S": "support-bot"},
        "sk": {"S": "month#2026-11"},
        "spent_micro": {"N": "123456789"},
        "reserved_micro": {"N": "4567890"},
        "committed_micro": {"N": "128024679"},
        "estimated_micro": {"N": "120000"},
        "input_tokens": {"N": "98765432"},
        "output_tokens": {"N": "12345678"},
        "cache_read_tokens": {"N": "1234567"},
        "cache_write_tokens": {"N": "123456"},
        "requests": {"N": "45678"},
        "estimated_requests": {"N": "12"},
        "refusals": {"N": "3"},
        "cap_micro": {"N": "500000000"},
        "updated_epoch": {"N": "1795000000"},
        "alerted": {"NS": ["50", "80"]},
        "alert#50": {"S": "0f8fad5b-d9cb-469f-a165-70867728950e"},
        "alert#80": {"S": "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
    }
    for i in range(in_flight):
        item[f"res#{uuid.UUID(int=i)}"] = {
            "M": {"a": {"N": "38250"}, "t": {"N": "1795000000"}, "m": {"S": "claude-sonnet-4-5"}}
        }
    return item


def write_units_per_call(client: Any, table: str) -> list[dict[str, Any]]:
    """WCU per call (reserve + settle) at 1, 100 and 1,000 calls in flight, old and new layout.

    Uses a table of its own, deleted afterwards: moto copies a whole table for every transaction,
    so 1,100 open holds would slow every later measurement.
    """
    create_ledger_table(client, table)
    try:
        return _write_units(client, table)
    finally:
        client.delete_table(TableName=table)


def _write_units(client: Any, table: str) -> list[dict[str, Any]]:
    ledger = LedgerTable(client, table)
    rows = []
    for in_flight in (1, 100, 1_000):
        old_month = item_size(_old_month_item(in_flight))
        old_before = item_size(_old_month_item(in_flight - 1))
        # Old: reserve and settle each one UpdateItem of the month item (the larger size counts).
        old = write_units(old_before, old_month) + write_units(old_month, old_before)
        project = f"bench-{in_flight}"
        holds = [
            ledger.reserve(
                project=project,
                period="2026-11",
                request_id=str(uuid.uuid4()),
                amount_micro=38_250,
                cap_micro=500_000_000,
                model="claude-sonnet-4-5",
                now_epoch=1_795_000_000 + i,
                nonce=uuid.uuid4().hex[:16],
            )
            for i in range(in_flight)
        ]
        ledger.claim_alert(
            project=project,
            period="2026-11",
            threshold=50,
            claimant=holds[0].hold_id,
            now_epoch=1_795_000_000,
            lease_s=660,
        )
        ledger.confirm_alert(project=project, period="2026-11", threshold=50, claimant=holds[0].hold_id)
        month = client.get_item(TableName=table, Key=month_key(project, "2026-11"), ConsistentRead=True)[
            "Item"
        ]
        hold_item = client.get_item(
            TableName=table, Key={"pk": {"S": project}, "sk": {"S": holds[-1].sk}}, ConsistentRead=True
        )["Item"]
        month_bytes, hold_bytes = item_size(month), item_size(hold_item)
        # New: reserve = Put hold + Update month, settle = Delete hold + Update month, transactional.
        new = 2 * (write_units(hold_bytes, transactional=True) + write_units(month_bytes, transactional=True))
        rows.append(
            {
                "in_flight": in_flight,
                "old_month_item_bytes": old_month,
                "old_wcu_per_call": old,
                "new_month_item_bytes": month_bytes,
                "new_hold_item_bytes": hold_bytes,
                "new_wcu_per_call": new,
                "new_month_item_wcu_per_call": 2 * write_units(month_bytes, transactional=True),
            }
        )
    return rows


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
    """reserve+settle pairs per second on one project (its month item and its holds)."""
    ledger = LedgerTable(client, table)
    project = f"hot-{threads}"
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
            hold = table_client.reserve(
                project=project,
                period="2026-11",
                request_id=rid,
                amount_micro=300,
                cap_micro=10**15,
                model="m",
                now_epoch=1,
                nonce=uuid.uuid4().hex[:16],
            )
            table_client.settle(
                hold, actual_micro=120, usage=SettledUsage(10, 20), estimated=False, now_epoch=2
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
    state = ledger.month(project, "2026-11", with_holds=True)
    merged = [v for values in latencies for v in values]
    return {
        "threads": threads,
        "pairs_per_s": round(total / elapsed, 1),
        "pair_p50_ms": round(pct(merged, 50), 3),
        "pair_p95_ms": round(pct(merged, 95), 3),
        "consistent": state.reserved_micro == 0
        and state.open_reservations == ()
        and state.spent_micro == 120 * total,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200, help="warm calls per mode")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per throughput level")
    args = parser.parse_args()
    with aws_server_process(cwd=str(ROOT)) as aws_url:
        return _run(args, aws_url)


def _run(args: argparse.Namespace, aws_url: str) -> int:
    with BedrockServer() as bedrock:
        os.environ.update(AWS_ENDPOINT_URL_DYNAMODB=aws_url, AWS_ENDPOINT_URL_SNS=aws_url)
        os.environ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = bedrock.url
        client = boto3.client("dynamodb", region_name=REGION)
        create_ledger_table(client, "bench-ledger")
        topic = boto3.client("sns", region_name=REGION).create_topic(Name="bench-alerts")["TopicArn"]
        result: dict[str, Any] = {"write_units": write_units_per_call(client, "bench-sizes")}
        result["latency_moto"] = latency(args.calls, "bench-ledger", topic)
        result["throughput_moto"] = []
        for n in (1, 16, 64):  # a fresh table per level: moto's transactions copy the whole table
            create_ledger_table(client, f"bench-throughput-{n}")
            result["throughput_moto"].append(throughput(client, f"bench-throughput-{n}", n, args.seconds))
        canned = CannedDynamoDB()
        try:
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = canned.url
            result["latency_canned"] = latency(args.calls, "bench-ledger", topic)
        finally:
            canned.close()
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ledger.json").write_text(json.dumps(result, indent=2))
    print("\nwrite capacity units per call (reserve + settle), from item sizes")
    print(
        f"  {'in flight':>9} {'old month B':>11} {'old WCU':>7} {'new month B':>11} {'hold B':>6} {'new WCU':>7}"
    )
    for row in result["write_units"]:
        print(
            f"  {row['in_flight']:>9} {row['old_month_item_bytes']:>11} {row['old_wcu_per_call']:>7} "
            f"{row['new_month_item_bytes']:>11} {row['new_hold_item_bytes']:>6} {row['new_wcu_per_call']:>7}"
        )
    for key, what in (("latency_moto", "moto endpoint"), ("latency_canned", "instant canned endpoint")):
        lat = result[key]
        print(f"\nwarm handler latency, {what}, {lat['off']['n']} calls per mode, interleaved (ms)")
        print(f"  {'mode':<6} {'p50':>8} {'p95':>8}")
        for mode in ("off", "hard"):
            print(f"  {mode:<6} {lat[mode]['p50_ms']:>8.2f} {lat[mode]['p95_ms']:>8.2f}")
        print(f"  ledger adds {lat['added_p50_ms']:.2f} ms at p50, {lat['added_p95_ms']:.2f} ms at p95")
    print("\nreserve+settle on one hot project (local moto endpoint)")
    print(f"  {'threads':>7} {'pairs/s':>9} {'p50 ms':>8} {'p95 ms':>8} consistent")
    for row in result["throughput_moto"]:
        print(
            f"  {row['threads']:>7} {row['pairs_per_s']:>9.1f} {row['pair_p50_ms']:>8.2f} {row['pair_p95_ms']:>8.2f} {row['consistent']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
