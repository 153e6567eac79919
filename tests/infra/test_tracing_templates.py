"""Tracing in the templates: X-Ray active tracing, the grant limited to the named secret, the settings
the function gets, and the environment-size estimate the config relies on."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template
from infra_support import one_resource, proxy_function, resources_of_type

from claude_platform.config import settings_size_bytes
from stacks.constructs.claude_proxy_function import ClaudeProxyFunction, ModelInvokeAccess

SUPPORT = "claude-project-support-bot"
DATA_SCIENCE = "claude-project-data-science"
VARIANT = "abcdefghijklmnop-project-" + "a" * 32
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:support-bot/langfuse-AbC123"


def _statements(template):
    # The proxy's role (support-bot's budget_action adds the Budgets execution role).
    (role,) = [
        r
        for r in resources_of_type(template, "AWS::IAM::Role").values()
        if [p["PolicyName"] for p in r["Properties"].get("Policies", [])] == ["ClaudeProxy"]
    ]
    (policy,) = role["Properties"]["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def test_traced_project_gets_active_xray_and_reads_only_its_secret(example):
    example.assertions(SUPPORT).has_resource_properties(
        "AWS::Lambda::Function",
        {"FunctionName": "claude-support-bot-proxy", "TracingConfig": {"Mode": "Active"}},
    )
    statements = _statements(example.template(SUPPORT))
    assert statements["ReadTraceSecrets"] == {
        "Sid": "ReadTraceSecrets",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": SECRET,
    }
    assert statements["SendXRayTraces"] == {
        "Sid": "SendXRayTraces",
        "Effect": "Allow",
        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        "Resource": "*",
    }
    # No other statement mentions Secrets Manager or X-Ray.
    others = json.dumps(
        [s for sid, s in statements.items() if sid not in {"ReadTraceSecrets", "SendXRayTraces"}]
    )
    assert "secretsmanager" not in others and "xray" not in others


def test_secret_with_a_customer_managed_key_is_decrypted_only_through_secrets_manager(example, variant):
    tracing = variant.platform.projects[0].config.tracing
    secret, key = tracing.langfuse.secret_key_secret_arn, tracing.secrets_kms_key_arn
    assert key is not None
    statements = _statements(variant.template(VARIANT))
    assert statements["DecryptTraceSecretsThroughSecretsManager"] == {
        "Sid": "DecryptTraceSecretsThroughSecretsManager",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": key,
        "Condition": {
            "StringEquals": {
                "kms:ViaService": "secretsmanager.ca-central-1.amazonaws.com",
                "kms:EncryptionContext:SecretARN": [secret],
            }
        },
    }
    # Without a configured key (support-bot's secret uses aws/secretsmanager): no KMS grant for it.
    assert "DecryptTraceSecretsThroughSecretsManager" not in _statements(example.template(SUPPORT))


def test_untraced_project_has_no_tracing_at_all(example):
    function = proxy_function(example.template(DATA_SCIENCE))
    assert "TracingConfig" not in function["Properties"]
    assert not {"ReadTraceSecrets", "SendXRayTraces"} & set(_statements(example.template(DATA_SCIENCE)))
    settings = function["Properties"]["Environment"]["Variables"]["PROJECT_SETTINGS"]
    assert "tracing" not in json.dumps(settings)


def test_traced_project_settings_carry_the_backend_but_no_secret_value(example):
    function = one_resource(example.template(SUPPORT), "AWS::Lambda::Function")
    value = function["Properties"]["Environment"]["Variables"]["PROJECT_SETTINGS"]
    text = "".join(p if isinstance(p, str) else "<arn>" for p in value["Fn::Join"][1])
    tracing = json.loads(text)["tracing"]
    assert tracing == {
        "langfuse": {
            "host": "https://cloud.langfuse.com",
            "public_key": "pk-lf-1234567890abcdef",
            "secret_key_secret_arn": SECRET,
        },
        "xray": True,
        "flush_timeout_ms": 1000,
    }
    assert set(function["Properties"]["Environment"]["Variables"]) == {
        "PROJECT_SETTINGS",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "LITELLM_LOCAL_MODEL_COST_MAP",
    }


def test_config_size_estimate_is_never_below_the_deployed_size(variant):
    """The config guard (settings_size_bytes) must not under-count what synthesis writes."""
    function = one_resource(variant.template(VARIANT), "AWS::Lambda::Function")
    value = function["Properties"]["Environment"]["Variables"]["PROJECT_SETTINGS"]
    longest_arn = "arn:aws:bedrock:ca-central-1:123456789012:application-inference-profile/" + "x" * 12
    topic_arn = "arn:aws:sns:ca-central-1:123456789012:abcdefghijklmnop-" + "a" * 32 + "-alerts"

    def resolve(part):
        if isinstance(part, str):
            return part
        if "Fn::GetAtt" in part and part["Fn::GetAtt"][1] == "InferenceProfileArn":
            return longest_arn
        if "Fn::GetAtt" in part and part["Fn::GetAtt"][1] == "GuardrailArn":  # 12-character id
            return "arn:aws:bedrock:ca-central-1:123456789012:guardrail/" + "g" * 12
        if "Fn::GetAtt" in part and part["Fn::GetAtt"][1] == "Version":  # the guardrail's, 8 digits
            return "12345678"
        assert "Ref" in part, part  # the alert topic
        return topic_arn

    deployed_text = "".join(resolve(p) for p in value["Fn::Join"][1])
    deployed = len(json.dumps(json.loads(deployed_text), separators=(",", ":")).encode())
    project = next(p for p in variant.platform.projects if p.name == "a" * 32)
    assert settings_size_bytes(project, "ca-central-1", "abcdefghijklmnop") >= deployed


def _function(**props):
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account="123456789012", region="us-east-1"))
    access = ModelInvokeAccess(
        alias="claude-haiku-4-5",
        profile_arn="arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc",
        foundation_model_arns=("arn:aws:bedrock:us-east-1::foundation-model/x",),
        routing_profile_arns=("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc",),
    )
    ClaudeProxyFunction(
        stack,
        "Proxy",
        function_name="f",
        log_group_name="/aws/lambda/f",
        code=lambda_.Code.from_inline("def lambda_handler(e, c): pass"),
        memory_mb=1769,
        timeout_seconds=60,
        log_retention_days=30,
        project_settings={"project": "p"},
        model_access=[access],
        invokers=[],
        snapstart=False,
        **props,
    )
    return Template.from_stack(stack)


def test_construct_grants_a_secret_without_xray_and_refuses_partial_arns():
    template = _function(trace_secret_arns=[SECRET])
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "Policies": [
                {
                    "PolicyDocument": {
                        "Statement": Match.array_with(
                            [Match.object_like({"Sid": "ReadTraceSecrets", "Resource": SECRET})]
                        )
                    }
                }
            ]
        },
    )
    assert "TracingConfig" not in json.dumps(template.to_json())
    with pytest.raises(ValueError, match="full Secrets Manager secret ARN"):
        _function(trace_secret_arns=["arn:aws:secretsmanager:us-east-1:123456789012:secret:support-bot/*"])
