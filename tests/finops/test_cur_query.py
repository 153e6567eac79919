"""`cur-query`: a saved query runs in the platform's Athena workgroup (Stubber: real shapes, paging)."""

from __future__ import annotations

import json

from finops_testkit import Clients, run_cli

from claude_platform.cur import cur_tag_key, saved_queries


def _rows(*values: tuple[str, ...]) -> list[dict]:
    return [{"Data": [{"VarCharValue": v} for v in row]} for row in values]


def test_daily_spend_by_project_runs_the_saved_sql_and_reads_every_page(clients: Clients):
    athena = clients.stub("athena")
    sql = next(
        q.sql
        for q in saved_queries(database="claude_billing", table="cur2", tag_key="project")
        if q.name == "daily-spend-by-project"
    )
    athena.add_response(
        "start_query_execution",
        {"QueryExecutionId": "e-1"},
        {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": "claude_billing"},
            "WorkGroup": "claude-billing",
        },
    )
    athena.add_response(
        "get_query_execution",
        {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}},
        {"QueryExecutionId": "e-1"},
    )
    athena.add_response(
        "get_query_results",
        {
            "ResultSet": {
                "Rows": _rows(("usage_day", "project", "cost_usd"), ("2026-11-01", "support-bot", "1.5"))
            },
            "NextToken": "n",
        },
        {"QueryExecutionId": "e-1"},
    )
    athena.add_response(
        "get_query_results",
        {"ResultSet": {"Rows": _rows(("2026-11-02", "support-bot", "2.25"))}},
        {"QueryExecutionId": "e-1", "NextToken": "n"},
    )
    result = run_cli(["--format", "json", "cur-query", "--query", "daily-spend-by-project"], clients)
    assert result.code == 0, result.err
    assert json.loads(result.out)["rows"] == [
        {"usage_day": "2026-11-01", "project": "support-bot", "cost_usd": "1.5"},
        {"usage_day": "2026-11-02", "project": "support-bot", "cost_usd": "2.25"},
    ]


def test_failed_query_is_one_line(clients: Clients):
    athena = clients.stub("athena")
    athena.add_response("start_query_execution", {"QueryExecutionId": "e-2"})
    athena.add_response(
        "get_query_execution",
        {"QueryExecution": {"Status": {"State": "FAILED", "StateChangeReason": "TABLE_NOT_FOUND: cur2"}}},
    )
    result = run_cli(["cur-query", "--query", "daily-spend-by-model"], clients)
    assert result.code == 1 and "TABLE_NOT_FOUND" in result.err


def test_saved_queries_read_the_tag_from_resource_tags_and_filter_recent_periods():
    queries = {q.name: q for q in saved_queries(database="d", table="t", tag_key="cost:center")}
    assert cur_tag_key("cost:center") == "user_cost_center"
    for query in queries.values():
        assert "element_at(resource_tags, 'user_cost_center')" in query.sql
        assert "billing_period >=" in query.sql and '"d"."t"' in query.sql
    assert "line_item_usage_type" in queries["daily-spend-by-model"].sql
    assert "line_item_resource_id" in queries["daily-spend-by-profile"].sql
