"""`spend-by-tag`: Logs Insights over the project function's log group (Stubber: moto has no stats)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from botocore.stub import ANY
from finops_testkit import Clients, run_cli

from finops.spend_by_tag import insights_query


def _result(
    value: str | None,
    requests: str,
    cost: str,
    tokens: tuple[str, str, str, str],
    failed: str = "0",
    estimated: str = "",
) -> list[dict]:
    fields = {
        "requests": requests,
        "failed": failed,
        "estimated_usd": estimated,
        "cost_usd": cost,
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
        "cache_read_tokens": tokens[2],
        "cache_write_tokens": tokens[3],
    }
    if value is not None:
        fields["tag_value"] = value
    return [{"field": k, "value": v} for k, v in fields.items()]


def test_groups_served_calls_by_the_caller_tag_with_totals(clients: Clients):
    logs = clients.stub("logs")
    logs.add_response(
        "start_query",
        {"queryId": "q-1"},
        {
            "logGroupName": "/aws/lambda/claude-support-bot-proxy",
            "startTime": int(datetime(2026, 11, 1, tzinfo=UTC).timestamp()),
            "endTime": int(datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp()),
            "queryString": ANY,
        },
    )
    logs.add_response(
        "get_query_results",
        {"status": "Running", "results": [], "statistics": {"recordsScanned": 1000.0}},
        {"queryId": "q-1"},
    )
    logs.add_response(
        "get_query_results",
        {
            "status": "Complete",
            "results": [
                _result("summaries", "120", "1.234567", ("1000", "200", "50", "0")),
                _result("(not sent)", "3", "0.0001", ("30", "3", "0", "0")),
                _result("triage", "7", "0.5", ("70", "7", "0", "10"), failed="2", estimated="0.25"),
            ],
        },
        {"queryId": "q-1"},
    )
    result = run_cli(
        ["--format", "json", "spend-by-tag", "--project", "support-bot", "--tag", "feature"], clients
    )
    assert result.code == 0, result.err
    rows = {r["tag_value"]: r for r in json.loads(result.out)["rows"]}
    assert rows["summaries"]["cost_usd"] == 1.234567 and rows["summaries"]["input_tokens"] == 1000
    assert rows["(not sent)"]["requests"] == 3
    total = rows["TOTAL"]
    assert (total["requests"], total["output_tokens"], total["cache_write_tokens"]) == (130, 210, 10)
    assert total["cost_usd"] == 1.734667
    assert (total["failed"], total["estimated_usd"]) == (2, 0.25)
    assert rows["summaries"]["estimated_usd"] == 0


def test_query_selects_served_lines_and_escapes_the_tag_name():
    query = insights_query("cost-center")
    assert 'filter message = "claude request served" or message = "claude request failed"' in query
    assert "count(cost_usd) as requests" in query and "sum(estimated_charge_usd) as estimated_usd" in query
    assert "`caller_tags.cost-center`" in query
    assert "sum(cost_usd) as cost_usd" in query and "by tag_value" in query


def test_bad_tag_name_and_unknown_project_are_one_line_errors():
    bad = run_cli(["spend-by-tag", "--project", "support-bot", "--tag", "a`b"])
    assert bad.code == 1 and "--tag 'a`b'" in bad.err
    unknown = run_cli(["spend-by-tag", "--project", "nope", "--tag", "feature"])
    assert unknown.code == 1 and "--project nope: not in the config" in unknown.err


def test_failed_query_and_missing_log_group(clients: Clients):
    logs = clients.stub("logs")
    logs.add_response("start_query", {"queryId": "q-2"})
    logs.add_response("get_query_results", {"status": "Failed", "results": []})
    failed = run_cli(["spend-by-tag", "--project", "support-bot", "--tag", "user"], clients)
    assert failed.code == 1 and "ended Failed" in failed.err
    logs.add_client_error(
        "start_query",
        "ResourceNotFoundException",
        "Log group '/aws/lambda/claude-support-bot-proxy' does not exist",
    )
    missing = run_cli(["spend-by-tag", "--project", "support-bot", "--tag", "user"], clients)
    assert missing.code == 1 and "does not exist" in missing.err and "deployed" in missing.err


def test_the_query_reads_the_fields_the_function_really_logs(capsys):
    """Contract with lambda/claude_proxy/observability.py: the function's own log lines carry every
    field the query filters, groups and sums by, under those names."""
    from claude_proxy.core import InvokeResult
    from claude_proxy.errors import ErrorType, ProxyError
    from claude_proxy.observability import log_outcome
    from claude_proxy.request import ClaudeRequest

    from claude_platform.prices import TokenUsage
    from finops.spend_by_tag import FAILED_MESSAGE, SERVED_MESSAGE

    request = ClaudeRequest(messages=[{"role": "user", "content": "hi"}], tags={"feature": "summaries"})
    served = InvokeResult(
        project="p",
        model="claude-haiku-4-5",
        attempts=1,
        latency_ms=5.0,
        cost_usd=0.25,
        usage=TokenUsage(
            input_tokens=10, output_tokens=2, cache_read_input_tokens=3, cache_write_input_tokens=4
        ),
    )
    timed_out = InvokeResult(
        project="p",
        model="claude-haiku-4-5",
        attempts=1,
        latency_ms=9.0,
        error=ProxyError(ErrorType.TIMEOUT, "timed out"),
        estimated_charge_usd=0.5,
    )
    capsys.readouterr()
    log_outcome(served, request=request, request_id="r1", log_prompts=False)
    log_outcome(timed_out, request=request, request_id="r2", log_prompts=False)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    by_message = {line["message"]: line for line in lines}
    ok, failed = by_message[SERVED_MESSAGE], by_message[FAILED_MESSAGE]
    query = insights_query("feature")
    assert ok["caller_tags"]["feature"] == failed["caller_tags"]["feature"] == "summaries"
    for field in (
        "cost_usd",
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_write_input_tokens",
    ):
        assert field in ok and f"({field})" in query
    assert ok["cost_usd"] == 0.25 and "error_type" not in ok
    assert (
        failed["error_type"] == "timeout" and "cost_usd" not in failed
    )  # count(cost_usd) counts served only
    assert failed["estimated_charge_usd"] == 0.5 and "sum(estimated_charge_usd)" in query


def test_by_key_queries_both_functions_log_groups_and_groups_by_the_key_name(clients: Clients):
    logs = clients.stub("logs")
    logs.add_response(
        "start_query",
        {"queryId": "q-k"},
        {
            "logGroupNames": [
                "/aws/lambda/claude-data-science-proxy",
                "/aws/lambda/claude-data-science-gateway",
            ],
            "startTime": ANY,
            "endTime": ANY,
            "queryString": ANY,
        },
    )
    logs.add_response(
        "get_query_results",
        {
            "status": "Complete",
            "results": [
                _result("alice", "10", "2.5", ("100", "20", "0", "0")),
                _result("(no key: lambda invoke)", "1", "0.5", ("10", "2", "0", "0")),
            ],
        },
        {"queryId": "q-k"},
    )
    result = run_cli(["--format", "json", "spend-by-tag", "--project", "data-science", "--by-key"], clients)
    assert result.code == 0, result.err
    document = json.loads(result.out)
    rows = {r["tag_value"]: r for r in document["rows"]}
    assert rows["alice"]["cost_usd"] == 2.5 and rows["TOTAL"]["cost_usd"] == 3.0
    assert "spend by API key" in document["title"]
    query = insights_query(None, by_key=True)
    assert 'coalesce(`api_key_name`, "(no key: lambda invoke)") as tag_value' in query


def test_by_key_without_the_gateway_queries_the_invoke_function_only(clients: Clients):
    logs = clients.stub("logs")
    logs.add_response(
        "start_query",
        {"queryId": "q-1"},
        {
            "logGroupName": "/aws/lambda/claude-support-bot-proxy",
            "startTime": ANY,
            "endTime": ANY,
            "queryString": ANY,
        },
    )
    logs.add_response("get_query_results", {"status": "Complete", "results": []}, {"queryId": "q-1"})
    assert run_cli(["spend-by-tag", "--project", "support-bot", "--by-key"], clients).code == 0


def test_tag_and_by_key_are_exclusive_and_one_is_required():
    import pytest

    for argv in (["--tag", "feature", "--by-key"], []):
        with pytest.raises(SystemExit) as info:
            run_cli(["spend-by-tag", "--project", "support-bot", *argv])
        assert info.value.code == 2
