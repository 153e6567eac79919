"""Platform stack, finance side: spend dashboard; opt-in tag activation and CUR 2.0 export."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk.assertions import Match
from cfnlint.api import ManualArgs, lint_file
from infra_support import EXAMPLE_CONFIG, render, resources_of_type, synthesize

from claude_platform.config import ConfigError, load_config
from claude_platform.cur import CUR_COLUMNS, cur_tag_key, export_query

PLATFORM = "claude-platform"


@pytest.fixture(scope="module")
def finance(tmp_path_factory):
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    raw["activate_cost_tags_on_deploy"] = True
    raw["cur_export"] = {"enabled": True, "time_granularity": "HOURLY"}
    raw["projects"][0]["tags"]["team:area"] = "support"  # a key with ':' (CUR column name mapping)
    return synthesize(load_config(raw, source="finance"), tmp_path_factory.mktemp("finance"), nag=True)


def _dashboard_body(template: dict, logical_id: str | None = None) -> dict:
    dashboards = resources_of_type(template, "AWS::CloudWatch::Dashboard")
    resource = dashboards[logical_id] if logical_id else next(iter(dashboards.values()))
    return json.loads(render(resource["Properties"]["DashboardBody"]))


def _widgets_titled(body: dict, project: str) -> dict[str, dict]:
    return {
        w["properties"]["title"].split(": ", 1)[1]: w["properties"]
        for w in body["widgets"]
        if w["properties"].get("title", "").startswith(f"{project}: ")
    }


def test_dashboard_per_project_spend_tokens_traffic_and_cap(example):
    template = example.template(PLATFORM)
    dashboard = next(iter(resources_of_type(template, "AWS::CloudWatch::Dashboard").values()))
    assert dashboard["Properties"]["DashboardName"] == "claude-spend-us-east-1"
    body = _dashboard_body(template)
    widgets = _widgets_titled(body, "data-science")
    day = widgets["last 24 h"]
    assert (day["view"], day["start"], day["setPeriodToTimeRange"]) == ("singleValue", "-PT24H", True)
    # Spend is exact cost plus the worst-case charges for unknown outcomes (never less than charged).
    expressions = {m[0]["label"]: m[0]["expression"] for m in day["metrics"] if isinstance(m[0], dict)}
    assert expressions == {"spend USD": "FILL(cost, 0) + FILL(estimated, 0)"}
    hidden = {m[4]["id"]: m[:4] for m in day["metrics"] if isinstance(m[0], str) and "id" in m[4]}
    assert hidden == {
        "cost": ["ClaudePlatform", "CostUSD", "project", "data-science"],
        "estimated": ["ClaudePlatform", "EstimatedCostUSD", "project", "data-science"],
    }
    assert all(m[4]["stat"] == "Sum" for m in day["metrics"] if isinstance(m[0], str))
    month = widgets["last 30 days"]
    assert month["start"] == "-P30D"
    month_expressions = {
        m[0]["label"]: m[0]["expression"] for m in month["metrics"] if isinstance(m[0], dict)
    }
    assert (
        month_expressions["cap used % (cap 1800 USD)"]
        == "100 * (FILL(mcost, 0) + FILL(mestimated, 0)) / 1800"  # spend_cap_usd, not the 2000 budget
    )
    tokens = {m[1] for m in widgets["tokens per hour"]["metrics"]}
    assert tokens == {"InputTokens", "OutputTokens", "CacheReadInputTokens", "CacheWriteInputTokens"}
    traffic = widgets["requests, errors, throttles, refusals per 5 min"]["metrics"]
    names = [(m[1], dict(zip(m[2:-1:2], m[3:-1:2], strict=True))) for m in traffic]
    project = {"project": "data-science"}
    assert ("BudgetRefusals", project) in names
    assert ("LedgerErrors", project) in names
    assert ("Errors", {**project, "error_type": "throttled"}) in names
    # Each region's dashboard shows the projects deployed there (metrics are regional).
    eu_template = example.template("claude-platform-eu-west-1")
    (eu_dashboard,) = resources_of_type(eu_template, "AWS::CloudWatch::Dashboard").values()
    assert eu_dashboard["Properties"]["DashboardName"] == "claude-spend-eu-west-1"
    eu_body = _dashboard_body(eu_template)
    for project in example.platform.projects:
        home, eu = len(_widgets_titled(body, project.name)), len(_widgets_titled(eu_body, project.name))
        assert (home, eu) == ((0, 4) if project.region == "eu-west-1" else (4, 0)), project.name


def test_dashboards_split_every_100_projects(tmp_path):
    from tools.large_config import large_config

    platform = load_config(large_config(250), source="large")
    synth = synthesize(platform, tmp_path / "out", nag=False)
    dashboards = resources_of_type(synth.template(PLATFORM), "AWS::CloudWatch::Dashboard")
    names = sorted(d["Properties"]["DashboardName"] for d in dashboards.values())
    assert names == ["claude-spend-us-east-1", "claude-spend-us-east-1-2", "claude-spend-us-east-1-3"]
    for logical_id in dashboards:
        assert len(_dashboard_body(synth.template(PLATFORM), logical_id)["widgets"]) <= 500


def test_account_wide_opt_ins_only_in_the_home_region(finance):
    eu = {r["Type"] for r in finance.template("claude-platform-eu-west-1")["Resources"].values()}
    assert "AWS::CloudWatch::Dashboard" in eu
    assert not eu & {"AWS::BCMDataExports::Export", "Custom::CostAllocationTagActivation", "AWS::Glue::Table"}


def test_opt_ins_are_off_by_default(example):
    types = {r["Type"] for r in example.template(PLATFORM)["Resources"].values()}
    assert not types & {
        "AWS::BCMDataExports::Export",
        "Custom::CostAllocationTagActivation",
        "AWS::Lambda::Function",
    }


def test_tag_activation_lambda_custom_resource_and_daily_retry(finance):
    template = finance.assertions(PLATFORM)
    keys = ["project", "cost-center", "managed-by", "owner", "team:area"]
    template.has_resource_properties("Custom::CostAllocationTagActivation", {"TagKeys": keys})
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": "claude-activate-cost-tags",
            "Runtime": "python3.13",
            "Handler": "cost_tags.lambda_handler",
            "Environment": {"Variables": {"TAG_KEYS": ",".join(keys)}},
        },
    )
    template.has_resource_properties(
        "AWS::Events::Rule", {"ScheduleExpression": "rate(1 day)", "State": "ENABLED"}
    )
    role = next(
        r
        for r in resources_of_type(finance.template(PLATFORM), "AWS::IAM::Role").values()
        if "cost-allocation" in r["Properties"]["Description"]
    )
    (policy,) = role["Properties"]["Policies"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert set(statements) == {"WriteOwnLogs", "ManageCostAllocationTags"}
    assert sorted(statements["ManageCostAllocationTags"]["Action"]) == [
        "ce:ListCostAllocationTags",
        "ce:UpdateCostAllocationTagsStatus",
    ]
    assert statements["ManageCostAllocationTags"]["Resource"] == "*"
    assert sorted(statements["WriteOwnLogs"]["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert "ManagedPolicyArns" not in role["Properties"]


def test_tag_activation_asset_is_the_one_shared_module(finance):
    (asset,) = [p for p in finance.outdir.glob("asset.*") if p.is_dir() and (p / "cost_tags.py").exists()]
    assert sorted(p.name for p in asset.iterdir()) == ["cost_tags.py"]
    from claude_platform import cost_tags

    assert (asset / "cost_tags.py").read_text() == Path(cost_tags.__file__).read_text()


def test_cur_export_query_table_and_destination(finance):
    template = finance.assertions(PLATFORM)
    template.has_resource_properties(
        "AWS::BCMDataExports::Export",
        {
            "Export": {
                "Name": "claude-cur2",
                "DataQuery": {
                    "QueryStatement": export_query(),
                    "TableConfigurations": {
                        "COST_AND_USAGE_REPORT": Match.object_like(
                            {"TIME_GRANULARITY": "HOURLY", "INCLUDE_RESOURCES": "TRUE"}
                        )
                    },
                },
                "DestinationConfigurations": {
                    "S3Destination": Match.object_like(
                        {
                            "S3Prefix": "cur2",
                            "S3Region": "us-east-1",
                            "S3OutputConfigurations": {
                                "OutputType": "CUSTOM",
                                "Format": "PARQUET",
                                "Compression": "PARQUET",
                                "Overwrite": "OVERWRITE_REPORT",
                            },
                        }
                    )
                },
                "RefreshCadence": {"Frequency": "SYNCHRONOUS"},
            }
        },
    )
    assert export_query().startswith("SELECT bill_billing_period_start_date,")
    assert "resource_tags" in export_query() and "line_item_resource_id" in export_query()


def test_glue_table_declares_exactly_the_exported_columns(finance):
    (table,) = resources_of_type(finance.template(PLATFORM), "AWS::Glue::Table").values()
    table_input = table["Properties"]["TableInput"]
    columns = [(c["Name"], c["Type"]) for c in table_input["StorageDescriptor"]["Columns"]]
    assert columns == list(CUR_COLUMNS)
    selected = re.match(r"SELECT (.*) FROM COST_AND_USAGE_REPORT$", export_query()).group(1).split(", ")
    assert selected == [name for name, _ in columns]
    assert table_input["PartitionKeys"] == [{"Name": "billing_period", "Type": "string"}]
    parameters = table_input["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert render(parameters["storage.location.template"]).endswith(
        "/cur2/claude-cur2/data/BILLING_PERIOD=${billing_period}/"
    )
    assert "ParquetHiveSerDe" in table_input["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]


def test_athena_workgroup_encrypts_results_and_saved_queries_exist(finance):
    template = finance.assertions(PLATFORM)
    template.has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "Name": "claude-billing",
            "WorkGroupConfiguration": Match.object_like(
                {
                    "EnforceWorkGroupConfiguration": True,
                    "ResultConfiguration": {
                        "OutputLocation": Match.any_value(),
                        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
                    },
                }
            ),
        },
    )
    queries = resources_of_type(finance.template(PLATFORM), "AWS::Athena::NamedQuery")
    by_name = {q["Properties"]["Name"]: q["Properties"] for q in queries.values()}
    assert set(by_name) == {"daily-spend-by-project", "daily-spend-by-model", "daily-spend-by-profile"}
    for query in by_name.values():
        assert query["Database"] == "claude_billing"
        assert f"element_at(resource_tags, '{cur_tag_key('project')}')" in query["QueryString"]


def test_bucket_is_encrypted_tls_only_access_logged_and_writable_only_by_exports(finance):
    template = finance.template(PLATFORM)
    buckets = resources_of_type(template, "AWS::S3::Bucket")
    data = next(b for b in buckets.values() if "LoggingConfiguration" in b["Properties"])
    assert data["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert data["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert data["DeletionPolicy"] == "Retain"
    policies = [
        render(p["Properties"]["PolicyDocument"])
        for p in resources_of_type(template, "AWS::S3::BucketPolicy").values()
    ]
    statements = [s for p in policies for s in p["Statement"]]
    writes = [s for s in statements if s.get("Sid") == "DataExportsWriteReports"]
    assert len(writes) == 1
    write = writes[0]
    assert sorted(write["Principal"]["Service"]) == [
        "bcm-data-exports.amazonaws.com",
        "billingreports.amazonaws.com",
    ]
    assert write["Action"] == "s3:PutObject" and write["Resource"].endswith("/cur2/*")
    assert write["Condition"]["StringEquals"] == {"aws:SourceAccount": "${AWS::AccountId}"}
    assert (
        sum(
            1
            for s in statements
            if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        )
        == 2
    )
    assert all("AccessControl" not in b["Properties"] for b in buckets.values())  # no legacy ACLs


def test_finance_template_passes_cfn_lint_and_nag_with_justified_acknowledgments(finance):
    path = finance.outdir / f"{PLATFORM}.template.json"
    assert list(lint_file(path, config=ManualArgs(regions=["us-east-1"], ignore_checks=["W3005"]))) == []
    report = json.loads((finance.outdir / "validation-report.json").read_text())
    (nag,) = report["pluginReports"]
    assert nag["conclusion"] == "success" and nag["violations"] == []
    platform_acks = {
        (v["acknowledgedAt"], v["acknowledgedId"])
        for v in nag["suppressedViolations"]
        if v["acknowledgedAt"].startswith(PLATFORM)
    }
    assert platform_acks == {
        (f"{PLATFORM}/CostTagActivation/Role", "AwsSolutions::AwsSolutions-IAM5[Resource::*]"),
        (f"{PLATFORM}/CostTagActivation/Function", "AwsSolutions::AwsSolutions-L1"),
    }
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    for construct in finance.app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == key and construct.node.path.startswith(PLATFORM):
                assert all(len(reason) >= 80 for reason in entry.data.values())


def test_cur_export_needs_the_billing_region():
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    raw["region"] = "us-west-2"
    raw["cur_export"] = {"enabled": True}
    with pytest.raises(ConfigError) as error:
        load_config(raw)
    assert any("cur_export.enabled" in p and "us-east-1" in p for p in error.value.problems)
    raw["cur_export"] = {"enabled": False, "time_granularity": "WEEKLY"}
    with pytest.raises(ConfigError) as error:
        load_config(raw)
    assert any(p.startswith("cur_export.time_granularity") for p in error.value.problems)


def test_dashboard_metrics_are_what_the_function_emits(example, capsys):
    """Contract with lambda/claude_proxy/observability.py: every metric and dimension set the
    dashboard reads is emitted by the function (EMF) under that name."""
    from claude_proxy.core import InvokeResult
    from claude_proxy.errors import ErrorType, ProxyError
    from claude_proxy.observability import emit_metrics

    from claude_platform.prices import TokenUsage

    capsys.readouterr()
    emit_metrics(
        InvokeResult(
            project="p", model="m", attempts=1, latency_ms=1.0, cost_usd=0.1, usage=TokenUsage(input_tokens=1)
        )
    )
    emit_metrics(
        InvokeResult(
            project="p",
            model="m",
            attempts=1,
            latency_ms=1.0,
            error=ProxyError(ErrorType.THROTTLED, "slow down"),
            estimated_charge_usd=0.2,
        ),
        ledger_errors=1,
    )
    emitted: set[tuple[str, frozenset[str]]] = set()
    for line in capsys.readouterr().out.splitlines():
        if '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                for dimensions in directive["Dimensions"]:
                    emitted.add((metric["Name"], frozenset(dimensions)))
    body = _dashboard_body(example.template(PLATFORM))
    read: set[tuple[str, frozenset[str]]] = set()
    for widget in body["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            if isinstance(metric[0], str):
                read.add((metric[1], frozenset(metric[2:-1:2])))
    assert read and read <= emitted, read - emitted
