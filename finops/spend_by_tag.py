"""`spend-by-tag`: spend and tokens inside one project, grouped by a tag the callers sent.

Source: the project function's structured log lines (one per invocation, `caller_tags` holds the
request's `tags`), queried with CloudWatch Logs Insights over its log group. The ledger holds
monthly totals only, so it cannot split by tag. Served calls carry their exact cost; failed calls
whose outcome was unknown (timeouts) carry the worst-case charge the ledger made for them
(`estimated_charge_usd`), shown apart until `reconcile` settles them from the bill.

`--by-key` groups by the caller's API key name instead (`api_key_name`, written by the HTTPS
endpoint's function into its own log group, which is queried together with the invoke function's).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from finops.errors import CliError
from finops.output import Column

SERVED_MESSAGE = "claude request served"
FAILED_MESSAGE = "claude request failed"
TAG_NAME_RE = re.compile(r"^[A-Za-z0-9_.:/=+@-]{1,128}$")
NO_TAG = "(not sent)"
# The log field the HTTPS endpoint writes for the caller: its API key's name (claude_proxy.auth).
KEY_NAME_FIELD = "api_key_name"
NO_KEY = "(no key: lambda invoke)"
POLL_SECONDS = 1.0
MAX_WAIT_SECONDS = 900.0

COLUMNS = (
    Column("tag_value", "tag value"),
    Column("requests", "served"),
    Column("failed", "failed"),
    Column("cost_usd", "cost USD", places=6),
    Column("estimated_usd", "estimated USD", places=6),
    Column("input_tokens", "input tokens"),
    Column("output_tokens", "output tokens"),
    Column("cache_read_tokens", "cache read"),
    Column("cache_write_tokens", "cache write"),
)


def insights_query(tag: str | None, *, by_key: bool = False) -> str:
    """The Logs Insights query grouping served calls by `caller_tags.<tag>`, or with `by_key` by the
    caller's API key name (`api_key_name`; calls through `lambda invoke` have none)."""
    if by_key:
        field, missing = f"`{KEY_NAME_FIELD}`", NO_KEY
    else:
        if tag is None or not TAG_NAME_RE.match(tag):
            raise CliError(f"--tag {tag!r}: a tag name is 1-128 letters, digits and _.:/=+@-")
        field, missing = f"`caller_tags.{tag}`", NO_TAG
    return (
        f'filter message = "{SERVED_MESSAGE}" or message = "{FAILED_MESSAGE}"\n'
        f'| fields coalesce({field}, "{missing}") as tag_value\n'
        "| stats count(cost_usd) as requests, count(error_type) as failed, sum(cost_usd) as cost_usd,"
        " sum(estimated_charge_usd) as estimated_usd, sum(input_tokens) as input_tokens,"
        " sum(output_tokens) as output_tokens, sum(cache_read_input_tokens) as cache_read_tokens,"
        " sum(cache_write_input_tokens) as cache_write_tokens by tag_value\n"
        "| sort cost_usd desc\n"
        "| limit 10000"
    )


def _number(value: str | None) -> Decimal:
    return Decimal(value) if value not in (None, "") else Decimal(0)


def parse_results(results: list[list[dict[str, str]]]) -> list[dict[str, object]]:
    """Logs Insights result rows -> output rows (exact decimals, integer tokens)."""
    rows = []
    for result in results:
        fields = {f["field"]: f.get("value") for f in result}
        rows.append(
            {
                "tag_value": fields.get("tag_value") or NO_TAG,
                "requests": int(_number(fields.get("requests"))),
                "failed": int(_number(fields.get("failed"))),
                "cost_usd": _number(fields.get("cost_usd")),
                "estimated_usd": _number(fields.get("estimated_usd")),
                "input_tokens": int(_number(fields.get("input_tokens"))),
                "output_tokens": int(_number(fields.get("output_tokens"))),
                "cache_read_tokens": int(_number(fields.get("cache_read_tokens"))),
                "cache_write_tokens": int(_number(fields.get("cache_write_tokens"))),
            }
        )
    return rows


def total_row(rows: list[dict[str, Any]]) -> dict[str, object]:
    """Sum of every column."""
    total: dict[str, object] = {"tag_value": "TOTAL"}
    for column in COLUMNS[1:]:
        money = column.key in ("cost_usd", "estimated_usd")
        total[column.key] = sum((r[column.key] for r in rows), Decimal(0) if money else 0)
    return total


def run_query(
    logs: Any,
    *,
    log_group: str | Sequence[str],
    query: str,
    start: datetime,
    end: datetime,
    on_wait: Callable[[str, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_wait_s: float = MAX_WAIT_SECONDS,
) -> list[list[dict[str, str]]]:
    """Start a Logs Insights query (over one log group or several) and poll until it completes;
    CliError if it fails or times out."""
    groups = {"logGroupName": log_group} if isinstance(log_group, str) else {"logGroupNames": list(log_group)}
    if not isinstance(log_group, str):
        log_group = ", ".join(log_group)
    query_id = logs.start_query(
        **groups,
        startTime=int(start.timestamp()),
        endTime=int(end.timestamp()),
        queryString=query,
    )["queryId"]
    waited = 0.0
    while True:
        response = logs.get_query_results(queryId=query_id)
        status = response.get("status")
        if status == "Complete":
            return response.get("results", [])
        if status in ("Failed", "Cancelled", "Timeout"):
            raise CliError(f"Logs Insights query on {log_group} ended {status}")
        if waited >= max_wait_s:
            logs.stop_query(queryId=query_id)
            raise CliError(
                f"Logs Insights query on {log_group} still {status} after {max_wait_s:.0f} s; stopped"
            )
        if on_wait:
            stats = response.get("statistics", {})
            on_wait(str(status), float(stats.get("recordsScanned", 0)))
        sleep(POLL_SECONDS)
        waited += POLL_SECONDS
