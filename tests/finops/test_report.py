"""`report`: Cost Explorer pagination, the untagged group, budgets, forecasts, formats, errors."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

from finops_testkit import Clients, run_cli

MONTH = {"Start": "2026-11-01", "End": "2026-11-21"}


def _group(key: str, amount: str) -> dict:
    return {"Keys": [key], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}


def _page(groups: list[dict], token: str | None, period: dict = MONTH, estimated: bool = True) -> dict:
    page = {
        "GroupDefinitions": [{"Type": "TAG", "Key": "project"}],
        "ResultsByTime": [{"TimePeriod": period, "Total": {}, "Groups": groups, "Estimated": estimated}],
        "DimensionValueAttributes": [],
    }
    if token:
        page["NextPageToken"] = token
    return page


def _tags_active(stub, status: str = "Active") -> None:
    stub.add_response(
        "list_cost_allocation_tags",
        {"CostAllocationTags": [{"TagKey": "project", "Type": "UserDefined", "Status": status}]},
        {"TagKeys": ["project"], "Type": "UserDefined"},
    )


def _expected_request(token: str | None = None, granularity: str = "MONTHLY", period: dict = MONTH) -> dict:
    request = {
        "TimePeriod": period,
        "Granularity": granularity,
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "TAG", "Key": "project"}],
    }
    if token:
        request["NextPageToken"] = token
    return request


def _three_pages(stub) -> None:
    # The same period split over three pages, as Cost Explorer does with many groups.
    stub.add_response(
        "get_cost_and_usage", _page([_group("project$support-bot", "120.50")], "t1"), _expected_request()
    )
    stub.add_response(
        "get_cost_and_usage",
        _page([_group("project$data-science", "1500.25"), _group("project$", "42.10")], "t2"),
        _expected_request("t1"),
    )
    stub.add_response(
        "get_cost_and_usage",
        _page([_group("project$legacy-summarizer", "10"), _group("project$intern-demo", "3.333333")], None),
        _expected_request("t2"),
    )


def _forecasts(stub, values: dict[str, str | None]) -> None:
    for project, amount in values.items():
        expected = {
            "TimePeriod": {"Start": "2026-11-20", "End": "2026-12-01"},
            "Metric": "UNBLENDED_COST",
            "Granularity": "MONTHLY",
            "Filter": {"Tags": {"Key": "project", "Values": [project], "MatchOptions": ["EQUALS"]}},
        }
        if amount is None:
            stub.add_client_error(
                "get_cost_forecast",
                service_error_code="DataUnavailableException",
                service_message="Insufficient amount of historical data to generate forecast.",
                expected_params=expected,
            )
        else:
            stub.add_response(
                "get_cost_forecast",
                {"Total": {"Amount": amount, "Unit": "USD"}, "ForecastResultsByTime": []},
                expected,
            )


def _by_project(rows: list[dict]) -> dict[str, dict]:
    return {r["project"]: r for r in rows}


def test_report_follows_every_page_keeps_untagged_and_totals(clients: Clients):
    ce = clients.stub("ce")
    _tags_active(ce)
    _three_pages(ce)
    _forecasts(ce, {"support-bot": "80.00", "data-science": None, "legacy-summarizer": "5"})
    result = run_cli(["--format", "json", "report"], clients)
    assert result.code == 0, result.err
    rows = _by_project(json.loads(result.out)["rows"])
    assert rows["support-bot"]["cost_usd"] == 120.5
    assert rows["support-bot"]["budget_usd"] == 500
    assert rows["support-bot"]["budget_used_pct"] == 24.1
    assert rows["support-bot"]["forecast_usd"] == 200.5  # spend so far + forecast of the rest
    assert rows["data-science"]["budget_used_pct"] == 75.0
    assert rows["data-science"]["forecast_usd"] is None
    assert "no forecast" in rows["data-science"]["note"]
    assert rows["legacy-summarizer"]["forecast_usd"] == 15
    assert rows["(untagged)"]["cost_usd"] == 42.1
    assert rows["intern-demo"]["note"] == "tag value not in the config"
    # Exact sum of every group, untagged and unknown values included.
    assert Decimal(str(rows["TOTAL"]["cost_usd"])) == Decimal("1676.183333")
    assert rows["TOTAL"]["estimated"] is True
    notes = json.loads(result.out)["notes"]
    assert any("3 Cost Explorer page(s)" in n and "no service filter" in n for n in notes)


def test_report_csv_and_table_formats_carry_the_same_numbers(clients: Clients):
    ce = clients.stub("ce")
    for _ in range(2):
        _tags_active(ce)
        _three_pages(ce)
    csv_run = run_cli(["--format", "csv", "report", "--no-forecast"], clients)
    table_run = run_cli(["report", "--no-forecast"], clients)
    assert csv_run.code == table_run.code == 0
    rows = list(csv.DictReader(io.StringIO(csv_run.out)))
    assert rows[0].keys() >= {"period", "project", "cost_usd", "budget_usd", "budget_used_pct"}
    total = next(r for r in rows if r["project"] == "TOTAL")
    assert total["cost_usd"] == "1676.183333"
    lines = table_run.out.splitlines()
    assert lines[0].startswith("Claude spend per project")
    header = lines[1]
    assert "cost USD" in header and "used %" in header
    support = next(line for line in lines if " support-bot " in f" {line} ")
    assert "120.50" in support and "500.00" in support and "24.1" in support
    assert any(line.split()[1:3] == ["TOTAL", "1,676.18"] for line in lines if "TOTAL" in line)


def test_daily_report_has_one_block_per_day_and_no_budget_columns(clients: Clients):
    ce = clients.stub("ce")
    _tags_active(ce)
    period = {"Start": "2026-10-30", "End": "2026-11-01"}
    day1 = {
        "TimePeriod": {"Start": "2026-10-30", "End": "2026-10-31"},
        "Total": {},
        "Estimated": False,
        "Groups": [_group("project$support-bot", "1.5")],
    }
    day2 = {
        "TimePeriod": {"Start": "2026-10-31", "End": "2026-11-01"},
        "Total": {},
        "Estimated": False,
        "Groups": [_group("project$support-bot", "2"), _group("project$", "0.25")],
    }
    ce.add_response(
        "get_cost_and_usage",
        {"ResultsByTime": [day1, day2], "GroupDefinitions": [], "DimensionValueAttributes": []},
        _expected_request(granularity="DAILY", period=period),
    )
    result = run_cli(
        [
            "--format",
            "json",
            "report",
            "--granularity",
            "daily",
            "--start",
            "2026-10-30",
            "--end",
            "2026-10-31",
        ],
        clients,
    )
    assert result.code == 0, result.err
    rows = json.loads(result.out)["rows"]
    totals = {r["period"]: r["cost_usd"] for r in rows if r["project"] == "TOTAL"}
    assert totals == {"2026-10-30": 1.5, "2026-10-31": 2.25}
    assert all(r["budget_usd"] is None for r in rows)


def test_inactive_tag_is_said_plainly(clients: Clients):
    ce = clients.stub("ce")
    _tags_active(ce, status="Inactive")
    ce.add_response("get_cost_and_usage", _page([_group("project$", "99")], None), _expected_request())
    result = run_cli(["--format", "json", "report", "--no-forecast"], clients)
    assert result.code == 0
    notes = json.loads(result.out)["notes"]
    assert any("not active as a cost-allocation tag" in n and "activate-tags" in n for n in notes)


def test_aws_errors_are_one_line_and_exit_1(clients: Clients):
    ce = clients.stub("ce")
    _tags_active(ce)
    ce.add_client_error(
        "get_cost_and_usage",
        "AccessDeniedException",
        "User is not authorized to perform: ce:GetCostAndUsage",
    )
    denied = run_cli(["report"], clients)
    _tags_active(ce)
    ce.add_client_error("get_cost_and_usage", "LimitExceededException", "Rate exceeded")
    throttled = run_cli(["report"], clients)
    _tags_active(ce)
    ce.add_client_error(
        "get_cost_and_usage",
        "DataUnavailableException",
        "Data is not available.",
    )
    no_data = run_cli(["report"], clients)
    for run, words in ((denied, "access denied"), (throttled, "throttled"), (no_data, "no data yet")):
        assert run.code == 1
        assert run.out == ""
        assert len(run.err.strip().splitlines()) == 1, run.err
        assert words in run.err and "Traceback" not in run.err


def test_bad_period_and_config_errors_name_the_problem(tmp_path):
    bad_month = run_cli(["report", "--month", "2026-13"])
    assert bad_month.code == 1 and "--month '2026-13'" in bad_month.err
    future = run_cli(["report", "--month", "2027-01"])
    assert future.code == 1 and "has not begun" in future.err
    config = tmp_path / "p.yaml"
    config.write_text("region: us-east-1\nprojects: [{name: x, models: [gpt-4], monthly_budget_usd: 1}]\n")
    bad_config = run_cli(["report"], config=config)
    assert bad_config.code == 1 and "projects[0] (x).models[0]" in bad_config.err


def test_progress_goes_to_stderr_per_page(clients: Clients):
    import io as _io

    from finops.cli import main

    ce = clients.stub("ce")
    _tags_active(ce)
    _three_pages(ce)
    out, err = _io.StringIO(), _io.StringIO()
    from finops_testkit import EXAMPLE, NOW

    code = main(
        ["--config", str(EXAMPLE), "report", "--no-forecast"],
        clients=clients.aws(),
        stdout=out,
        stderr=err,
        now=NOW,
    )
    assert code == 0
    assert [line for line in err.getvalue().splitlines() if "page" in line] == [
        "Cost Explorer: page 1",
        "Cost Explorer: page 2",
        "Cost Explorer: page 3",
    ]


def test_no_forecast_request_for_a_project_without_spend_this_month(clients: Clients):
    ce = clients.stub("ce")
    _tags_active(ce)
    ce.add_response(
        "get_cost_and_usage",
        _page([_group("project$support-bot", "10"), _group("project$data-science", "0")], None),
        _expected_request(),
    )
    _forecasts(ce, {"support-bot": "5"})  # only this one: any other forecast call would fail the stub
    result = run_cli(["--format", "json", "report"], clients)
    rows = _by_project(json.loads(result.out)["rows"])
    assert rows["support-bot"]["forecast_usd"] == 15
    for quiet in ("data-science", "legacy-summarizer"):
        assert rows[quiet]["forecast_usd"] is None and "no spend yet" in rows[quiet]["note"]


def test_group_keys_with_a_colon_in_the_tag_key():
    from finops.costexplorer import tag_value_of

    assert tag_value_of("billing:project$support-bot", "billing:project") == "support-bot"
    assert tag_value_of("billing:project$", "billing:project") is None
    assert tag_value_of("project$a-b", "project") == "a-b"
