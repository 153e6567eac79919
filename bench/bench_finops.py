"""Benchmark: `claude-finops report` over many Cost Explorer pages, through real HTTP and botocore.

A local server on 127.0.0.1 answers Cost Explorer's JSON protocol (GetCostAndUsage pages linked by
NextPageToken, ListCostAllocationTags); boto3's `ce` client points at it, so request signing, HTTP
and response parsing are all real. The case: a daily report of one 30-day month for 300 projects
(301 groups per day with the untagged one), 3 days per page, i.e. 10 pages and 9,030 groups.
The baseline, in the same command, fetches the same pages with a bare loop (no config, no
aggregation, no rendering): the CLI's own cost is the difference. Reports medians of 5 runs.
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from finops.cli import main  # noqa: E402
from finops.deployment import AwsClients  # noqa: E402
from tools.large_config import large_config  # noqa: E402

PROJECTS = 300
DAYS = 30
DAYS_PER_PAGE = 3
RUNS = 5
MONTH_START = date(2026, 10, 1)


def _pages() -> list[dict[str, Any]]:
    results = []
    for d in range(DAYS):
        day = MONTH_START + timedelta(days=d)
        groups = [
            {
                "Keys": [f"project$project-{i:04d}"],
                "Metrics": {"UnblendedCost": {"Amount": f"{(i * 7 + d) % 97}.123456", "Unit": "USD"}},
            }
            for i in range(PROJECTS)
        ]
        groups.append({"Keys": ["project$"], "Metrics": {"UnblendedCost": {"Amount": "12.5", "Unit": "USD"}}})
        results.append(
            {
                "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
                "Total": {},
                "Groups": groups,
                "Estimated": False,
            }
        )
    pages = []
    for p in range(0, DAYS, DAYS_PER_PAGE):
        page: dict[str, Any] = {
            "ResultsByTime": results[p : p + DAYS_PER_PAGE],
            "GroupDefinitions": [{"Type": "TAG", "Key": "project"}],
        }
        if p + DAYS_PER_PAGE < DAYS:
            page["NextPageToken"] = f"page-{p // DAYS_PER_PAGE + 1}"
        pages.append(page)
    return pages


PAGES = [json.dumps(p).encode() for p in _pages()]
TAGS = json.dumps(
    {"CostAllocationTags": [{"TagKey": "project", "Type": "UserDefined", "Status": "Active"}]}
).encode()


class _CostExplorer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        target = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
        if target == "GetCostAndUsage":
            token = body.get("NextPageToken")
            payload = PAGES[int(token.split("-")[1]) if token else 0]
        elif target == "ListCostAllocationTags":
            payload = TAGS
        else:
            self.send_error(400)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


def _client(url: str) -> Any:
    return boto3.client(
        "ce", region_name="us-east-1", endpoint_url=url, aws_access_key_id="x", aws_secret_access_key="x"
    )


def _baseline(url: str) -> int:
    ce, kwargs, groups = _client(url), {}, 0
    while True:
        response = ce.get_cost_and_usage(
            TimePeriod={"Start": "2026-10-01", "End": "2026-10-31"},
            Granularity="DAILY",
            Metrics=["UnblendedCost"],
            GroupBy=[{"Type": "TAG", "Key": "project"}],
            **kwargs,
        )
        groups += sum(len(r["Groups"]) for r in response["ResultsByTime"])
        if not response.get("NextPageToken"):
            return groups
        kwargs = {"NextPageToken": response["NextPageToken"]}


def _cli(url: str, config: Path, fmt: str) -> int:
    out = io.StringIO()
    code = main(
        [
            "--config",
            str(config),
            "--quiet",
            "--format",
            fmt,
            "report",
            "--granularity",
            "daily",
            "--month",
            "2026-10",
        ],
        clients=AwsClients(factory=lambda service, region, _c: _client(url)),
        stdout=out,
        stderr=io.StringIO(),
        now=datetime(2026, 11, 20, tzinfo=UTC),
    )
    assert code == 0, code
    return out.getvalue().count("\n")


def _median(fn: Any) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run() -> None:
    """Print the medians."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CostExplorer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "projects.yaml"
        config.write_text(yaml.safe_dump(large_config(PROJECTS)))
        groups = _baseline(url)
        print(
            f"case: daily report, {DAYS} days x {PROJECTS + 1} groups = {groups:,} groups over {len(PAGES)} pages"
        )
        baseline = _median(lambda: _baseline(url))
        print(f"baseline (bare boto3 page loop): median {baseline * 1000:.0f} ms")
        for fmt in ("table", "csv", "json"):
            lines = _cli(url, config, fmt)
            median = _median(lambda fmt=fmt: _cli(url, config, fmt))
            print(
                f"claude-finops report --format {fmt}: median {median * 1000:.0f} ms "
                f"({median / baseline:.2f}x baseline, {lines:,} output lines)"
            )
    server.shutdown()


if __name__ == "__main__":
    run()
