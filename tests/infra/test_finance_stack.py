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


def _queries(body: dict) -> dict[str, str]:
    """Widget title -> its Metrics Insights query (widgets with exactly one)."""
    found = {}
    for widget in body["widgets"]:
        expressions = [
            m[0]["expression"]
            for m in widget["properties"].get("metrics", [])
            if isinstance(m[0], dict) and m[0]["expression"].startswith("SELECT ")
        ]
        if expressions:
            assert len(expressions) == 1, widget  # one query per widget (one per GetMetricData)
            found[widget["properties"]["title"]] = expressions[0]
    return found


def test_dashboard_ranks_every_project_by_spend_errors_and_latency(example):
    template = example.template(PLATFORM)
    dashboard = next(iter(resources_of_type(template, "AWS::CloudWatch::Dashboard").values()))
    assert dashboard["Properties"]["DashboardName"] == "claude-spend-us-east-1"
    queries = _queries(_dashboard_body(template))
    ns = 'SCHEMA("ClaudePlatform", project)'
    assert queries["Region spend USD, last 24 h"] == f"SELECT SUM(SpendUSD) FROM {ns}"
    top = " ORDER BY SUM() DESC LIMIT 20"
    assert (
        queries["Top projects by spend USD (top 20)"]
        == f"SELECT SUM(SpendUSD) FROM {ns} GROUP BY project{top}"
    )
    assert queries["Top API keys by spend USD (top 20)"] == (
        'SELECT SUM(SpendUSD) FROM SCHEMA("ClaudePlatform", api_key, project) GROUP BY project, api_key' + top
    )
    assert queries["Top projects by throttles (top 20)"] == (
        'SELECT SUM(Errors) FROM SCHEMA("ClaudePlatform", error_type, project) '
        f"WHERE error_type = 'throttled' GROUP BY project{top}"
    )
    assert queries["Top projects by budget refusals (top 20)"].startswith("SELECT SUM(BudgetRefusals)")
    assert queries["Slowest projects: average latency ms (top 20)"] == (
        f"SELECT AVG(LatencyMs) FROM {ns} GROUP BY project ORDER BY AVG() DESC LIMIT 20"
    )
    # Alert delivery: failed notifications per topic and unconfirmed subscriptions per project.
    assert queries["Alert e-mails that failed, per SNS topic (top 20)"] == (
        'SELECT SUM(NumberOfNotificationsFailed) FROM SCHEMA("AWS/SNS", TopicName) GROUP BY TopicName' + top
    )
    assert queries["Unconfirmed alert subscriptions, per project (top 20)"] == (
        f"SELECT MAX(PendingSubscriptions) FROM {ns} GROUP BY project ORDER BY MAX() DESC LIMIT 20"
    )


def test_dashboard_shows_one_project_through_a_variable_not_one_row_per_project(example):
    body = _dashboard_body(example.template(PLATFORM))
    (variable,) = body["variables"]
    assert (variable["type"], variable["property"], variable["inputType"]) == (
        "property",
        "project",
        "select",
    )
    assert variable["search"] == '{ClaudePlatform,project} MetricName="Requests"'
    assert variable["populateFrom"] == "project"
    home = {p.name for p in example.platform.projects if p.region == "us-east-1"}
    named = {
        m[m.index("project") + 1]
        for w in body["widgets"]
        for m in w["properties"].get("metrics", [])
        if isinstance(m[0], str) and "project" in m
    }
    assert len(named) == 1 and named <= home  # one placeholder the variable replaces
    # Alarms of the operations topic are on the dashboard too.
    (alarms,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert len(alarms["properties"]["alarms"]) == 2
    # Each region's dashboard covers the projects deployed there (metrics are regional).
    eu_template = example.template("claude-platform-eu-west-1")
    (eu_dashboard,) = resources_of_type(eu_template, "AWS::CloudWatch::Dashboard").values()
    assert eu_dashboard["Properties"]["DashboardName"] == "claude-spend-eu-west-1"
    eu_body = _dashboard_body(eu_template)
    eu_named = {
        m[m.index("project") + 1]
        for w in eu_body["widgets"]
        for m in w["properties"].get("metrics", [])
        if isinstance(m[0], str) and "project" in m
    }
    eu_projects = {p.name for p in example.platform.projects if p.region == "eu-west-1"}
    assert len(eu_named) == 1 and eu_named <= eu_projects


def test_dashboard_size_does_not_depend_on_the_number_of_projects(tmp_path):
    from tools.large_config import large_config

    sizes = {}
    for count in (3, 250):
        platform = load_config(large_config(count), source="large")
        synth = synthesize(platform, tmp_path / str(count), nag=False)
        (dashboard,) = resources_of_type(synth.template(PLATFORM), "AWS::CloudWatch::Dashboard").values()
        body = json.dumps(dashboard["Properties"]["DashboardBody"])
        sizes[count] = len(body.replace(platform.projects[0].name, ""))
    assert sizes[3] == sizes[250]


def test_account_wide_opt_ins_only_in_the_home_region(finance):
    eu = {r["Type"] for r in finance.template("claude-platform-eu-west-1")["Resources"].values()}
    assert "AWS::CloudWatch::Dashboard" in eu
    assert not eu & {"AWS::BCMDataExports::Export", "Custom::CostAllocationTagActivation", "AWS::Glue::Table"}


def test_opt_ins_are_off_by_default(example):
    resources = example.template(PLATFORM)["Resources"].values()
    types = {r["Type"] for r in resources}
    assert not types & {"AWS::BCMDataExports::Export", "Custom::CostAllocationTagActivation"}
    functions = [r["Properties"]["FunctionName"] for r in resources if r["Type"] == "AWS::Lambda::Function"]
    assert functions == ["claude-subscription-check"]  # the only function by default


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
        if v["acknowledgedAt"].startswith(f"{PLATFORM}/")
    }
    assert platform_acks == {
        (f"{PLATFORM}/CostTagActivation/Role", "AwsSolutions::AwsSolutions-IAM5[Resource::*]"),
        (f"{PLATFORM}/CostTagActivation/Function", "AwsSolutions::AwsSolutions-L1"),
        (f"{PLATFORM}/Operations/SubscriptionCheck/Role", "AwsSolutions::AwsSolutions-IAM5[Resource::*]"),
        (f"{PLATFORM}/Operations/SubscriptionCheck/Function", "AwsSolutions::AwsSolutions-L1"),
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
        ),
        caller="ci",
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
    from claude_platform.pending_subscriptions import METRIC_NAME as PENDING

    emitted.add((PENDING, frozenset({"project"})))  # the platform's subscription check, not the function
    body = _dashboard_body(example.template(PLATFORM))
    read: set[tuple[str, frozenset[str]]] = set()
    for widget in body["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            if isinstance(metric[0], str):
                read.add((metric[1], frozenset(metric[2:-1:2])))
    for query in _queries(body).values():
        match = re.match(r'SELECT \w+\((\w+)\) FROM SCHEMA\("([^"]+)", ([^)]*)\)', query)
        name, namespace, keys = match.groups()
        if namespace == "ClaudePlatform":
            read.add((name, frozenset(k.strip() for k in keys.split(","))))
    assert read and read <= emitted, read - emitted
