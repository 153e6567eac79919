"""The proxy Lambda: runtime, settings, log group, least-privilege role, invoke permissions."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from infra_support import (
    one_resource,
    profile_logical_id,
    proxy_function,
    proxy_functions,
    render,
    resources_of_type,
)

from claude_platform.prices import ModelPrices
from stacks.constructs.claude_proxy_function import (
    ENVIRONMENT_MAX_BYTES,
    ClaudeProxyFunction,
    ModelInvokeAccess,
)

SUPPORT = "claude-project-support-bot"
DATA_SCIENCE = "claude-project-data-science"
LEGACY = "claude-project-legacy-summarizer"
VARIANT = "abcdefghijklmnop-project-" + "a" * 32
INVOKE = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]


def _function(synth, stack_name):
    template = synth.template(stack_name)
    return template, proxy_function(template)


def _settings(function, profile_arn_value):
    """PROJECT_SETTINGS parsed, each profile ARN GetAtt replaced by `profile_arn_value(logical id)`."""
    value = function["Properties"]["Environment"]["Variables"]["PROJECT_SETTINGS"]
    parts = value["Fn::Join"][1] if isinstance(value, dict) else [value]
    text = ""
    for part in parts:
        if isinstance(part, str):
            text += part
        elif "Ref" in part:  # the alert topic's ARN
            text += "arn:aws:sns:us-east-1:123456789012:" + part["Ref"]
        else:
            logical_id, attribute = part["Fn::GetAtt"]
            if attribute == "GuardrailArn":  # at its longest: 12-character id
                text += "arn:aws:bedrock:ca-central-1:123456789012:guardrail/" + "g" * 12
            elif attribute == "Version":  # the guardrail's published version, at most 8 digits
                text += "12345678"
            else:
                assert attribute == "InferenceProfileArn"
                text += profile_arn_value(logical_id)
    return json.loads(text)


def test_runtime_handler_memory_timeout_and_environment(example):
    _, function = _function(example, DATA_SCIENCE)
    props = function["Properties"]
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["x86_64"]
    assert props["Handler"] == "claude_proxy.handler.lambda_handler"
    assert props["FunctionName"] == "claude-data-science-proxy"
    assert (props["MemorySize"], props["Timeout"]) == (1769, 600)
    variables = props["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == "claude-proxy"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "ClaudePlatform"
    assert variables["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert set(variables) == {
        "PROJECT_SETTINGS",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "LITELLM_LOCAL_MODEL_COST_MAP",
    }


def test_project_settings_carry_profile_arns_and_prices(example):
    template, function = _function(example, DATA_SCIENCE)
    settings = _settings(function, lambda logical_id: f"<{logical_id}>")
    project = next(p for p in example.platform.projects if p.name == "data-science")
    assert settings["project"] == "data-science"
    assert settings["default_model"] == "claude-opus-4-5"
    assert (settings["max_tokens_default"], settings["max_tokens_limit"]) == (1024, 32000)
    assert settings["log_prompts"] is False
    assert [m["alias"] for m in settings["models"]] == [m.alias for m in project.models]
    for entry, m in zip(settings["models"], project.models, strict=True):
        assert entry["profile_arn"] == f"<{profile_logical_id(template, m.profile_name)}>"
        assert "litellm_model" not in entry  # derived by the function (4 KB environment)
        assert (entry["geography"], entry["base_id"]) == ("global", m.model.base_id)
        assert ModelPrices.from_dict(entry["prices"]) == m.prices


def test_in_region_project_settings_use_the_config_price(example):
    _, function = _function(example, LEGACY)
    (model,) = _settings(function, lambda _: "arn")["models"]
    assert (model["geography"], model["base_id"]) == ("none", "anthropic.claude-3-haiku-20240307-v1:0")
    # input, output, cache_write, cache_read, cache_write_1h (derived: 2x input); no long-context tier
    assert model["prices"] == {
        "rates": [0.25, 1.25, 0.3, 0.03, 0.5],
        "source": "config:anthropic.claude-3-haiku-20240307-v1:0",
    }


def test_worst_case_models_are_the_longest_serializing_ones(variant):
    """The 8-model variant below really is the worst case: no other `us` model serializes longer."""
    from claude_platform.catalog import MODELS, Geography, MissingPriceError, model_prices

    chosen = {m.alias for m in variant.platform.projects[0].models}

    def size(model):
        try:
            prices = model_prices(model, Geography.US)
        except MissingPriceError:
            return 0
        entry = {"alias": model.alias, "base_id": model.base_id, "prices": prices.to_dict()}
        return len(json.dumps(entry, separators=(",", ":")))

    us_models = [m for m in MODELS if Geography.US in m.geographies]
    longest = sorted(us_models, key=size, reverse=True)[:8]
    assert sum(size(m) for m in longest) == sum(size(m) for m in us_models if m.alias in chosen)


def test_environment_fits_in_4_kb_for_8_models_in_the_worst_case(variant):
    """8 of the longest-serializing models, a 32-char project name, a 12-char region; each profile
    ARN at its longest (12-digit account, 12-char id, `aws` partition: the us geography has no
    GovCloud source region)."""
    _, function = _function(variant, VARIANT)
    longest_arn = "arn:aws:bedrock:ca-central-1:123456789012:application-inference-profile/" + "x" * 12
    variables = function["Properties"]["Environment"]["Variables"]
    settings = _settings(function, lambda _: longest_arn)
    assert len(settings["models"]) == 8
    assert settings["guardrail"]["guardrail_version"] == "12345678"
    size = sum(
        len(key) + len(json.dumps(settings, separators=(",", ":")) if key == "PROJECT_SETTINGS" else value)
        for key, value in variables.items()
    )
    assert size <= ENVIRONMENT_MAX_BYTES - 200, f"{size} bytes leave too little room under Lambda's 4 KB"


def test_log_group_is_explicit_with_retention_and_used_by_the_function(example, variant):
    template, function = _function(example, SUPPORT)
    (log_group_id, log_group) = next(iter(resources_of_type(template, "AWS::Logs::LogGroup").items()))
    assert log_group["Properties"] == {
        "LogGroupName": "/aws/lambda/claude-support-bot-proxy",
        "RetentionInDays": 30,
        "Tags": log_group["Properties"]["Tags"],
    }
    assert function["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": log_group_id}}
    template, _ = _function(variant, VARIANT)
    assert one_resource(template, "AWS::Logs::LogGroup")["Properties"]["RetentionInDays"] == 90


def _policy_statements(template):
    # The proxy's role (a budget_action project also has the Budgets execution role).
    (role,) = [
        r
        for r in resources_of_type(template, "AWS::IAM::Role").values()
        if [p["PolicyName"] for p in r["Properties"].get("Policies", [])] == ["ClaudeProxy"]
    ]
    (policy,) = role["Properties"]["Policies"]
    assert "ManagedPolicyArns" not in role["Properties"]
    assert resources_of_type(template, "AWS::IAM::Policy") == {}
    return role, {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def test_role_is_assumable_by_lambda_only(example):
    role, _ = _policy_statements(example.template(SUPPORT))
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]


def test_role_writes_only_its_own_log_group(example):
    template = example.template(SUPPORT)
    (log_group_id,) = resources_of_type(template, "AWS::Logs::LogGroup")
    _, statements = _policy_statements(template)
    logs = statements["WriteOwnLogs"]
    assert logs["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs["Resource"] == {"Fn::GetAtt": [log_group_id, "Arn"]}


def test_role_invokes_own_profiles_and_foundation_models_only_through_them(example):
    template = example.template(SUPPORT)
    _, statements = _policy_statements(template)
    sonnet = profile_logical_id(template, "claude-support-bot-sonnet-4-5-us")
    haiku = profile_logical_id(template, "claude-support-bot-haiku-4-5-us")
    profiles = statements["InvokeOwnInferenceProfiles"]
    assert profiles["Action"] == INVOKE
    # support-bot has a guardrail (projects.yaml): every invoke grant requires it, nothing else.
    (guardrail,) = resources_of_type(template, "AWS::Bedrock::Guardrail")
    (version,) = resources_of_type(template, "AWS::Bedrock::GuardrailVersion")
    identifier = f"${{{guardrail}.GuardrailArn}}:${{{version}.Version}}"
    assert render(profiles["Condition"]) == {"StringEquals": {"bedrock:GuardrailIdentifier": identifier}}
    assert profiles["Resource"] == [
        {"Fn::GetAtt": [sonnet, "InferenceProfileArn"]},
        {"Fn::GetAtt": [haiku, "InferenceProfileArn"]},
    ]
    for sid, logical_id, base_id in (
        (
            "InvokeFoundationModelOnlyThroughProfileClaudeSonnet45",
            sonnet,
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
        (
            "InvokeFoundationModelOnlyThroughProfileClaudeHaiku45",
            haiku,
            "anthropic.claude-haiku-4-5-20251001-v1:0",
        ),
    ):
        statement = statements[sid]
        assert statement["Action"] == INVOKE
        # The US geography's destination regions only: never a region wildcard for every region.
        assert render(statement["Resource"]) == [
            f"arn:${{AWS::Partition}}:bedrock:us-*::foundation-model/{base_id}",
            f"arn:${{AWS::Partition}}:bedrock:ca-central-1::foundation-model/{base_id}",
        ]
        assert render(statement["Condition"]) == {
            "StringEquals": {
                "bedrock:InferenceProfileArn": [
                    f"${{{logical_id}.InferenceProfileArn}}",
                    f"arn:${{AWS::Partition}}:bedrock:us-east-1:${{AWS::AccountId}}:inference-profile/us.{base_id}",
                ],
                "bedrock:GuardrailIdentifier": identifier,
            }
        }
    # Plus the spend statements (tests/infra/test_spend_ledger.py): own ledger items, own topic, its
    # key; and support-bot traces to Langfuse with X-Ray (projects.yaml; test_proxy_tracing.py).
    assert set(statements) - {
        "OwnProjectLedgerItemsOnly",
        "PublishOwnSpendAlerts",
        "EncryptAlertsForOwnTopic",
        "ReadTraceSecrets",
        "SendXRayTraces",
        "ApplyOwnGuardrailOnly",
    } == {
        "WriteOwnLogs",
        "InvokeOwnInferenceProfiles",
        *(s for s in statements if s.startswith("InvokeFoundationModelOnlyThroughProfile")),
    }
    assert len(statements) == 10  # with ApplyOwnGuardrailOnly
    _, untraced = _policy_statements(example.template(DATA_SCIENCE))
    assert not {"ReadTraceSecrets", "SendXRayTraces"} & set(untraced)


def test_global_profiles_also_allow_the_region_less_foundation_model_arn(example):
    _, statements = _policy_statements(example.template(DATA_SCIENCE))
    statement = statements["InvokeFoundationModelOnlyThroughProfileClaudeOpus45"]
    assert render(statement["Resource"]) == [
        "arn:${AWS::Partition}:bedrock:*::foundation-model/anthropic.claude-opus-4-5-20251101-v1:0",
        "arn:${AWS::Partition}:bedrock:::foundation-model/anthropic.claude-opus-4-5-20251101-v1:0",
    ]
    assert render(statement["Condition"])["StringEquals"]["bedrock:InferenceProfileArn"][1] == (
        "arn:${AWS::Partition}:bedrock:us-east-1:${AWS::AccountId}:inference-profile/"
        "global.anthropic.claude-opus-4-5-20251101-v1:0"
    )


def test_eu_profiles_may_be_served_by_the_model_in_eu_regions_only(example):
    _, statements = _policy_statements(example.template("claude-project-eu-assistant"))
    grants = {
        sid: s for sid, s in statements.items() if sid.startswith("InvokeFoundationModelOnlyThroughProfile")
    }
    assert grants
    for statement in grants.values():
        resource = render(statement["Resource"])
        assert isinstance(resource, str) and resource.startswith(
            "arn:${AWS::Partition}:bedrock:eu-*::foundation-model/"
        )


def test_in_region_profile_allows_the_regional_model_through_the_application_profile_only(example):
    template = example.template(LEGACY)
    _, statements = _policy_statements(template)
    profile = profile_logical_id(template, "claude-legacy-summarizer-3-haiku-inregion")
    statement = statements["InvokeFoundationModelOnlyThroughProfileClaude3Haiku"]
    assert render(statement["Resource"]) == (
        "arn:${AWS::Partition}:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
    )
    assert statement["Condition"] == {
        "StringEquals": {"bedrock:InferenceProfileArn": [{"Fn::GetAtt": [profile, "InferenceProfileArn"]}]}
    }


def test_no_wildcard_actions_and_no_foundation_model_without_condition(example, variant):
    for synth, stack_names in (
        (example, [s.stack_name for _, s in example.project_stacks()]),
        (variant, [VARIANT]),
    ):
        for stack_name in stack_names:
            template = synth.template(stack_name)
            _, statements = _policy_statements(template)
            own_profiles = set(resources_of_type(template, "AWS::Bedrock::ApplicationInferenceProfile"))
            for statement in statements.values():
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                assert all("*" not in a for a in actions), statement
                assert statement["Effect"] == "Allow"
                resources = render(statement["Resource"])
                resources = resources if isinstance(resources, list) else [resources]
                if any("foundation-model/" in r for r in resources):
                    assert "bedrock:InferenceProfileArn" in statement["Condition"]["StringEquals"]
                # Every GetAtt in the policy points at this stack's own resources.
                for ref in json.dumps(statement).split('"Fn::GetAtt": ["')[1:]:
                    logical_id = ref.split('"', 1)[0]
                    assert logical_id in template["Resources"]
                    if "Profiles" in logical_id:
                        assert logical_id in own_profiles


def test_invoke_permissions_only_for_configured_invokers(example):
    expected = {
        SUPPORT: ["arn:aws:iam::111122223333:role/support-bot-backend"],
        DATA_SCIENCE: [],
        LEGACY: [],
    }
    for stack_name, principals in expected.items():
        template = example.template(stack_name)
        (function_id,) = proxy_functions(template)
        permissions = [
            p["Properties"]
            for p in resources_of_type(template, "AWS::Lambda::Permission").values()
            if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
        ]
        assert sorted(p["Principal"] for p in permissions) == principals
        for p in permissions:
            assert p["Action"] == "lambda:InvokeFunction"
            assert p["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}


def test_snapstart_publishes_a_version_and_invokers_call_the_live_alias(variant):
    template, function = _function(variant, VARIANT)
    assert function["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    (version_id,) = resources_of_type(template, "AWS::Lambda::Version")
    (alias_id, alias) = next(iter(resources_of_type(template, "AWS::Lambda::Alias").items()))
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    permissions = [p["Properties"] for p in resources_of_type(template, "AWS::Lambda::Permission").values()]
    assert sorted(p["Principal"] for p in permissions) == [
        "arn:aws:iam::111122223333:role/caller",
        "arn:aws:iam::444455556666:root",
    ]
    for p in permissions:
        assert p["FunctionName"] == {"Ref": alias_id}
    (memory, timeout) = (function["Properties"]["MemorySize"], function["Properties"]["Timeout"])
    assert (memory, timeout) == (1024, 90)


def test_without_snapstart_there_is_no_version_or_alias(example):
    template, function = _function(example, SUPPORT)
    assert "SnapStart" not in function["Properties"]
    assert resources_of_type(template, "AWS::Lambda::Version") == {}
    assert resources_of_type(template, "AWS::Lambda::Alias") == {}


def test_max_concurrency_reserves_the_functions_concurrency_by_default(example):
    # legacy-summarizer sets none: the default reservation, never the region's shared pool.
    expected = {"support-bot": 50, "eu-assistant": 20, "data-science": 20, "legacy-summarizer": 10}
    for name, stack in example.project_stacks():
        function = proxy_function(example.template(stack.stack_name))["Properties"]
        assert function.get("ReservedConcurrentExecutions") == expected[name], name


def test_construct_rejects_a_reserved_concurrency_below_1():
    stack = cdk.Stack(cdk.App(), "s")
    access = ModelInvokeAccess(
        alias="a", profile_arn="arn:p", foundation_model_arns=("arn:m",), routing_profile_arns=("arn:p",)
    )
    with pytest.raises(ValueError, match="max_concurrency must be >= 1"):
        ClaudeProxyFunction(
            stack,
            "P",
            function_name="f",
            log_group_name="/aws/lambda/f",
            code=lambda_.Code.from_inline("x"),
            memory_mb=1769,
            timeout_seconds=60,
            log_retention_days=30,
            project_settings={},
            model_access=[access],
            invokers=[],
            snapstart=False,
            max_concurrency=0,
        )
