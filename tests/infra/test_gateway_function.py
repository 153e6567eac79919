"""The HTTPS endpoint (`gateway.enabled`): a second function with the Lambda Web Adapter layer behind
a streaming function URL, the invoke function's grants plus its own keys, an alarm on refused keys.

The layer's binary cannot be fetched offline: what is asserted is the template (layer ARN, the
adapter's environment, handler), not that the adapter runs (docs/aws-facts.md)."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest
from aws_cdk.assertions import Match, Template
from infra_support import Synthesized, proxy_functions, render, resources_of_type, synthesize

from claude_platform.config import load_config, settings_size_bytes
from claude_platform.config_sections import PROJECT_SETTINGS_MAX_BYTES
from stacks.constructs.claude_proxy_function import ENVIRONMENT_MAX_BYTES
from stacks.constructs.gateway_function import LWA_LAYER_VERSION, lwa_layer_arn

# The infra tests' variant config, read from this folder's conftest by path: `from conftest import`
# would find another test folder's conftest when several folders run in one session.
_spec = importlib.util.spec_from_file_location("_infra_conftest", Path(__file__).with_name("conftest.py"))
assert _spec is not None and _spec.loader is not None
_infra_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_infra_conftest)
VARIANT_CONFIG = _infra_conftest.VARIANT_CONFIG

DATA_SCIENCE = "claude-project-data-science"
GATEWAY_ENV = {
    "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
    "AWS_LWA_INVOKE_MODE": "response_stream",
    "AWS_LWA_PORT": "8080",
    "AWS_LWA_READINESS_CHECK_PATH": "/healthz",
    "POWERTOOLS_METRICS_NAMESPACE": "ClaudePlatform",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
}
LAYER = f"arn:aws:lambda:us-east-1:753240598075:layer:LambdaAdapterLayerX86:{LWA_LAYER_VERSION}"

# The variant's worst-case project (8 models, longest tracing settings, SnapStart) with the gateway,
# an alias, the budget action, plus a project without a ledger (enforcement off).
GATEWAY_VARIANT = copy.deepcopy(VARIANT_CONFIG)
GATEWAY_VARIANT["projects"][0]["gateway"] = {
    "enabled": True,
    # The variant's settings are near the limit already: room for one alias (config checks it).
    "model_aliases": {"claude-opus-5-5": "claude-sonnet-4-5"},
    "auth_failure_alarm_threshold": 3,
}
GATEWAY_VARIANT["projects"][0]["budget_action"] = True
# No room left for a guardrail with the alias: the config refuses that combination
# (tests/config/test_config_guardrail.py), so this worst case goes without one.
GATEWAY_VARIANT["projects"][0].pop("guardrail")
GATEWAY_VARIANT["projects"][1] |= {"gateway": {"enabled": True}, "enforcement": "off"}
VARIANT_STACK = "abcdefghijklmnop-project-" + "a" * 32
QUIET_STACK = "abcdefghijklmnop-project-quiet"


@pytest.fixture(scope="module")
def gateway_variant(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Synthesized with cdk-nag: synthesis proves the gateway adds no unacknowledged finding."""
    platform = load_config(GATEWAY_VARIANT, source="gateway-variant")
    return synthesize(platform, Path(tmp_path_factory.mktemp("gateway-variant")), nag=True)


def _gateway(template: dict) -> tuple[str, dict]:
    (found,) = [
        (k, v)
        for k, v in resources_of_type(template, "AWS::Lambda::Function").items()
        if v["Properties"]["Handler"] == "run.sh"
    ]
    return found


def _role_statements(template: dict, function: dict) -> dict[str, dict]:
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = template["Resources"][role_id]["Properties"]["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def test_function_url_streams_and_is_public_with_the_two_url_only_permissions(example):
    template = Template.from_json(example.template(DATA_SCIENCE))
    gateway_id, _ = _gateway(example.template(DATA_SCIENCE))
    template.resource_count_is("AWS::Lambda::Url", 1)
    template.has_resource_properties(
        "AWS::Lambda::Url",
        {
            "AuthType": "NONE",
            "InvokeMode": "RESPONSE_STREAM",
            "TargetFunctionArn": {"Fn::GetAtt": [gateway_id, "Arn"]},
            "Cors": Match.absent(),
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunctionUrl",
            "Principal": "*",
            "FunctionUrlAuthType": "NONE",
            "FunctionName": {"Fn::GetAtt": [gateway_id, "Arn"]},
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "Principal": "*",
            "InvokedViaFunctionUrl": True,
            "FunctionName": {"Fn::GetAtt": [gateway_id, "Arn"]},
        },
    )
    # Nothing else may invoke the gateway, and no public permission touches the invoke function.
    public = [
        p["Properties"]
        for p in resources_of_type(example.template(DATA_SCIENCE), "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "*"
    ]
    assert len(public) == 2
    assert all(p["FunctionName"] == {"Fn::GetAtt": [gateway_id, "Arn"]} for p in public)


def test_gateway_runs_the_adapter_with_the_invoke_functions_code_and_settings(example):
    raw = example.template(DATA_SCIENCE)
    template = Template.from_json(raw)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": "claude-data-science-gateway",
            "Handler": "run.sh",
            "Runtime": "python3.13",
            "Architectures": ["x86_64"],
            "Layers": [LAYER],
            "Timeout": 600,
            "MemorySize": 1769,
            "Environment": {
                "Variables": Match.object_like({**GATEWAY_ENV, "POWERTOOLS_SERVICE_NAME": "claude-gateway"})
            },
            "SnapStart": Match.absent(),
            "ReservedConcurrentExecutions": 20,
        },
    )
    _, gateway = _gateway(raw)
    (proxy,) = proxy_functions(raw).values()
    variables = gateway["Properties"]["Environment"]["Variables"]
    assert "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH" not in variables
    assert gateway["Properties"]["Code"] == proxy["Properties"]["Code"]
    proxy_settings = proxy["Properties"]["Environment"]["Variables"]["PROJECT_SETTINGS"]
    assert variables["PROJECT_SETTINGS"] == proxy_settings
    settings = json.loads(render(proxy_settings))
    assert settings["gateway"] == {
        "model_aliases": {"claude-opus-5-5": "claude-opus-4-5", "claude-haiku-4-5": "claude-sonnet-4-5"},
        "keys_table": "claude-spend-ledger",
    }
    # The invoke function keeps its own handler and has no adapter.
    assert proxy["Properties"]["Handler"] == "claude_proxy.handler.lambda_handler"
    assert "Layers" not in proxy["Properties"]
    assert "AWS_LAMBDA_EXEC_WRAPPER" not in proxy["Properties"]["Environment"]["Variables"]


def test_own_log_group_and_outputs(example):
    raw = example.template(DATA_SCIENCE)
    template = Template.from_json(raw)
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {"LogGroupName": "/aws/lambda/claude-data-science-gateway", "RetentionInDays": 30},
    )
    gateway_id, gateway = _gateway(raw)
    log_group_id = gateway["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert raw["Resources"][log_group_id]["Properties"]["LogGroupName"].endswith("-gateway")
    (url_id,) = resources_of_type(raw, "AWS::Lambda::Url")
    assert raw["Outputs"]["GatewayUrl"]["Value"] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}
    assert raw["Outputs"]["GatewayFunctionName"]["Value"] == {"Ref": gateway_id}


def test_role_has_the_invoke_functions_grants_plus_its_own_keys(example):
    raw = example.template(DATA_SCIENCE)
    _, gateway = _gateway(raw)
    (proxy,) = proxy_functions(raw).values()
    gateway_statements = _role_statements(raw, gateway)
    proxy_statements = _role_statements(raw, proxy)
    assert set(gateway_statements) == set(proxy_statements) | {
        "ReadOwnProjectApiKeys",
        "CountTokensOfOwnModels",
    }
    for sid, statement in proxy_statements.items():
        if sid != "WriteOwnLogs":
            assert gateway_statements[sid] == statement, sid
    gateway_log = gateway["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert gateway_statements["WriteOwnLogs"]["Resource"] == {"Fn::GetAtt": [gateway_log, "Arn"]}
    keys = gateway_statements["ReadOwnProjectApiKeys"]
    assert keys["Action"] == "dynamodb:GetItem"
    assert keys["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["data-science"]}}
    assert render(keys["Resource"]).endswith(":table/claude-spend-ledger")
    counting = gateway_statements["CountTokensOfOwnModels"]
    assert counting["Action"] == "bedrock:CountTokens"  # count_tokens: no inference, no charge
    models = {
        m["base_id"]
        for m in json.loads(render(gateway["Properties"]["Environment"]["Variables"]["PROJECT_SETTINGS"]))[
            "models"
        ]
    }
    resources = counting["Resource"] if isinstance(counting["Resource"], list) else [counting["Resource"]]
    counted = [render(arn) for arn in resources]
    assert {arn.rsplit("/", 1)[1] for arn in counted} == models
    # The function's own region (data-science's) only, no wildcard: not where the profile may route.
    assert all(
        arn.startswith("arn:${AWS::Partition}:bedrock:us-east-1::foundation-model/") for arn in counted
    ), counted
    actions = json.dumps([s["Action"] for s in gateway_statements.values()])
    for forbidden in ("Scan", "BatchGetItem", "BatchWriteItem", '"*"', "lambda:"):
        assert forbidden not in actions
    # Writes (holds are items of their own) only through the ledger statement, on its own partition.
    writers = [sid for sid, s in gateway_statements.items() if "PutItem" in json.dumps(s["Action"])]
    writers += [sid for sid, s in gateway_statements.items() if "DeleteItem" in json.dumps(s["Action"])]
    assert set(writers) == {"OwnProjectLedgerItemsOnly"}
    ledger = gateway_statements["OwnProjectLedgerItemsOnly"]
    assert ledger["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["data-science"]}}


def test_alarm_on_a_burst_of_refused_keys_pages_the_projects_topic(example):
    raw = example.template(DATA_SCIENCE)
    (topic_id,) = resources_of_type(raw, "AWS::SNS::Topic")
    Template.from_json(raw).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "claude-data-science-gateway-auth-failures",
            "Namespace": "ClaudePlatform",
            "MetricName": "AuthFailures",
            "Dimensions": [{"Name": "project", "Value": "data-science"}],
            "Statistic": "Sum",
            "Period": 300,
            "Threshold": 20,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": topic_id}],
        },
    )


def test_alarm_on_the_gateway_functions_crashes(example):
    raw = example.template(DATA_SCIENCE)
    gateway_id, _ = _gateway(raw)
    (topic_id,) = resources_of_type(raw, "AWS::SNS::Topic")
    Template.from_json(raw).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "claude-data-science-gateway-errors",
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": gateway_id}}],
            "Statistic": "Sum",
            "Threshold": 5,
            "AlarmActions": [{"Ref": topic_id}],
        },
    )


def test_projects_without_the_gateway_have_none(example):
    for name, stack in example.project_stacks():
        raw = example.template(stack.stack_name)
        urls = resources_of_type(raw, "AWS::Lambda::Url")
        assert len(urls) == (1 if name == "data-science" else 0), name
        assert ("GatewayUrl" in raw["Outputs"]) == (name == "data-science")
        assert len(resources_of_type(raw, "AWS::Lambda::Function")) == (2 if name == "data-science" else 1)


def test_snapstart_serves_the_live_alias_with_the_adapters_hooks(gateway_variant):
    raw = gateway_variant.template(VARIANT_STACK)
    gateway_id, gateway = _gateway(raw)
    assert gateway["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    variables = gateway["Properties"]["Environment"]["Variables"]
    assert variables["AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH"] == "/snapstart/before"
    assert variables["AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"] == "/snapstart/after"
    assert variables.items() >= GATEWAY_ENV.items()
    assert gateway["Properties"]["Layers"] == [
        f"arn:aws:lambda:ca-central-1:753240598075:layer:LambdaAdapterLayerX86:{LWA_LAYER_VERSION}"
    ]
    aliases = {
        k: v
        for k, v in resources_of_type(raw, "AWS::Lambda::Alias").items()
        if v["Properties"]["FunctionName"] == {"Ref": gateway_id}
    }
    (alias_id,) = aliases
    assert aliases[alias_id]["Properties"]["Name"] == "live"
    Template.from_json(raw).has_resource_properties(
        "AWS::Lambda::Url",
        {
            "TargetFunctionArn": {"Fn::GetAtt": [gateway_id, "Arn"]},
            "Qualifier": "live",
            "InvokeMode": "RESPONSE_STREAM",
            "AuthType": "NONE",
        },
    )
    public = [
        p["Properties"]
        for p in resources_of_type(raw, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "*"
    ]
    assert {p["Action"] for p in public} == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert all(p["FunctionName"] == {"Ref": alias_id} for p in public)
    assert gateway["Properties"]["TracingConfig"] == {"Mode": "Active"}


def test_worst_case_environment_fits_lambdas_4_kb(gateway_variant):
    _, gateway = _gateway(gateway_variant.template(VARIANT_STACK))
    variables = gateway["Properties"]["Environment"]["Variables"]
    # PROJECT_SETTINGS once deployed (tokens as the longest ARNs), gateway aliases included.
    project = gateway_variant.platform.projects[0]
    size = settings_size_bytes(project, project.region, gateway_variant.platform.config.name_prefix)
    assert size <= PROJECT_SETTINGS_MAX_BYTES
    others = sum(len(k) + len(v) for k, v in variables.items() if k != "PROJECT_SETTINGS") + len(
        "PROJECT_SETTINGS"
    )
    assert size + others <= ENVIRONMENT_MAX_BYTES, f"{size + others} bytes"


def test_budget_action_stops_both_functions(gateway_variant):
    raw = gateway_variant.template(VARIANT_STACK)
    _, gateway = _gateway(raw)
    (proxy,) = proxy_functions(raw).values()
    roles = [gateway["Properties"]["Role"]["Fn::GetAtt"][0], proxy["Properties"]["Role"]["Fn::GetAtt"][0]]
    (action,) = resources_of_type(raw, "AWS::Budgets::BudgetsAction").values()
    names = action["Properties"]["Definition"]["IamActionDefinition"]["Roles"]
    assert sorted(n["Ref"] for n in names) == sorted(roles)


def test_without_a_ledger_the_gateway_still_reads_only_its_keys(gateway_variant):
    raw = gateway_variant.template(QUIET_STACK)
    _, gateway = _gateway(raw)
    statements = _role_statements(raw, gateway)
    assert "OwnProjectLedgerItemsOnly" not in statements and "PublishOwnSpendAlerts" not in statements
    assert statements["ReadOwnProjectApiKeys"]["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["quiet"]}
    }
    settings = json.loads(render(gateway["Properties"]["Environment"]["Variables"]["PROJECT_SETTINGS"]))
    assert settings["gateway"]["keys_table"] == "abcdefghijklmnop-spend-ledger"
    assert "ledger_table" not in settings["spend"]


def test_layer_arn_is_pinned_per_region_and_partition():
    assert lwa_layer_arn("eu-west-1") == (
        f"arn:aws:lambda:eu-west-1:753240598075:layer:LambdaAdapterLayerX86:{LWA_LAYER_VERSION}"
    )
    assert lwa_layer_arn("cn-north-1").startswith("arn:aws-cn:lambda:cn-north-1:041581134020:layer:")
    with pytest.raises(ValueError, match="us-gov-west-1"):
        lwa_layer_arn("us-gov-west-1")


def test_gateway_variant_passes_cfn_lint(gateway_variant):
    from cfnlint.api import ManualArgs, lint_file
    from test_cfn_lint import IGNORED

    problems = []
    for path in sorted(gateway_variant.outdir.glob("*.template.json")):
        region = gateway_variant.stacks[path.name.removesuffix(".template.json")].region
        matches = lint_file(path, config=ManualArgs(regions=[region], ignore_checks=sorted(IGNORED)))
        problems += [f"{path.name}: {m}" for m in matches]
    assert problems == []
