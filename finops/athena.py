"""`cur-query`: run one of the saved queries over the CUR 2.0 export with Athena."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from finops.errors import CliError

POLL_SECONDS = 1.0
MAX_WAIT_SECONDS = 900.0


def run_athena(
    athena: Any,
    *,
    sql: str,
    database: str,
    workgroup: str,
    on_wait: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_wait_s: float = MAX_WAIT_SECONDS,
) -> list[dict[str, str]]:
    """Run `sql` in the workgroup (its result location and encryption apply); rows as dicts."""
    execution_id = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": database}, WorkGroup=workgroup
    )["QueryExecutionId"]
    waited = 0.0
    while True:
        status = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]
        state = status["State"]
        if state == "SUCCEEDED":
            break
        if state in ("FAILED", "CANCELLED"):
            raise CliError(f"Athena query {execution_id} {state}: {status.get('StateChangeReason', '')}")
        if waited >= max_wait_s:
            athena.stop_query_execution(QueryExecutionId=execution_id)
            raise CliError(f"Athena query {execution_id} still {state} after {max_wait_s:.0f} s; stopped")
        if on_wait:
            on_wait(state)
        sleep(POLL_SECONDS)
        waited += POLL_SECONDS
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id):
        for record in page["ResultSet"]["Rows"]:
            values = [d.get("VarCharValue", "") for d in record["Data"]]
            if header is None:
                header = values
                continue
            rows.append(dict(zip(header, values, strict=False)))
    return rows
