"""A role's inline policies stay under IAM's limit in the worst case: 8 models in the geography with
the most foundation-model grants, every optional statement on (spend, traces, X-Ray, gateway)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_support import resources_of_type, synthesize

from claude_platform.catalog import MODELS, Geography
from claude_platform.config import load_config
from claude_platform.config_sections import MAX_MODELS_PER_PROJECT

# IAM: all inline policies of one role together, in characters, whitespace not counted.
ROLE_INLINE_POLICIES_MAX_CHARS = 10_240
ACCOUNT = "123456789012"
GEOGRAPHY_REGIONS = {"eu": "eu-west-3", "apac": "ap-southeast-2", "global": "ap-northeast-1"}


def _longest_models(geography: str) -> list[str]:
    offered = [m for m in MODELS if Geography(geography) in m.geographies and "3-haiku" not in m.alias]
    return [m.alias for m in sorted(offered, key=lambda m: -len(m.base_id))][:MAX_MODELS_PER_PROJECT]


def _resolve(value: Any, template: dict[str, Any], region: str) -> Any:
    """A CloudFormation value as IAM would store it: tokens replaced by realistic values of full length."""
    if isinstance(value, list):
        return [_resolve(v, template, region) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::Join"}:
        delimiter, parts = value["Fn::Join"]
        return delimiter.join(str(_resolve(p, template, region)) for p in parts)
    if set(value) == {"Ref"}:
        ref = value["Ref"]
        pseudo = {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT, "AWS::Region": region}
        if ref in pseudo:
            return pseudo[ref]
        resource = template["Resources"][ref]
        if resource["Type"] == "AWS::SNS::Topic":
            return f"arn:aws:sns:{region}:{ACCOUNT}:{resource['Properties']['TopicName']}"
        raise AssertionError(f"unexpected Ref {ref}")
    if set(value) == {"Fn::GetAtt"}:
        logical_id, attribute = value["Fn::GetAtt"]
        resource = template["Resources"][logical_id]
        if attribute == "InferenceProfileArn":
            return f"arn:aws:bedrock:{region}:{ACCOUNT}:application-inference-profile/{'x' * 12}"
        if attribute == "Arn" and resource["Type"] == "AWS::Logs::LogGroup":
            return f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{resource['Properties']['LogGroupName']}:*"
        if attribute == "Arn" and resource["Type"] == "AWS::KMS::Key":
            return f"arn:aws:kms:{region}:{ACCOUNT}:key/{'0' * 8}-{'0' * 4}-{'0' * 4}-{'0' * 4}-{'0' * 12}"
        raise AssertionError(f"unexpected GetAtt {logical_id}.{attribute}")
    return {k: _resolve(v, template, region) for k, v in value.items()}


@pytest.fixture(scope="module")
def worst_case(tmp_path_factory):
    projects = []
    for geography, region in GEOGRAPHY_REGIONS.items():
        projects.append(
            {
                "name": f"{geography}-" + "p" * (32 - len(geography) - 1),
                "region": region,
                "geography": geography,
                "models": _longest_models(geography),
                "monthly_budget_usd": 100,
                "max_concurrency": 5,
                "log_prompts": True,
                "tracing": {
                    "otlp": {
                        "endpoint": "https://otel.example.com/v1/traces",
                        "headers_secret_arn": f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{'s' * 128}-AbC123",
                    },
                    "xray": True,
                    "secrets_kms_key_arn": f"arn:aws:kms:{region}:{ACCOUNT}:key/mrk-{'0' * 32}",
                },
                "gateway": {"enabled": True},
            }
        )
    raw = {"region": "eu-west-3", "account": ACCOUNT, "name_prefix": "p" * 16, "projects": projects}
    platform = load_config(raw, source="worst case")
    return synthesize(platform, tmp_path_factory.mktemp("policy-size"), nag=True)


@pytest.mark.parametrize("geography", sorted(GEOGRAPHY_REGIONS))
def test_every_roles_inline_policies_fit_iams_limit_with_8_models(worst_case, geography):
    region = GEOGRAPHY_REGIONS[geography]
    (stack_name,) = [n for n in worst_case.stacks if f"-project-{geography}-" in n]
    template = worst_case.template(stack_name)
    roles = resources_of_type(template, "AWS::IAM::Role")
    sizes = {}
    for logical_id, role in roles.items():
        policies = role["Properties"].get("Policies", [])
        sizes[logical_id] = sum(
            len(json.dumps(_resolve(p["PolicyDocument"], template, region), separators=(",", ":")))
            for p in policies
        )
    for policy in resources_of_type(template, "AWS::IAM::Policy").values():
        assert not policy["Properties"].get("Roles"), "grants belong in the roles' inline policies"
    function_roles = [k for k in roles if "Proxy" in k or "Gateway" in k]
    assert len(function_roles) == 2
    models = len(_longest_models(geography))
    assert models == MAX_MODELS_PER_PROJECT
    assert max(sizes.values()) <= ROLE_INLINE_POLICIES_MAX_CHARS, sizes


def test_gateway_and_proxy_log_groups_share_the_projects_logs_key(worst_case):
    (stack_name,) = [n for n in worst_case.stacks if "-project-eu-" in n]
    template = worst_case.template(stack_name)
    ((key_id, key),) = resources_of_type(template, "AWS::KMS::Key").items()
    log_groups = resources_of_type(template, "AWS::Logs::LogGroup").values()
    assert len(log_groups) == 2
    assert all(g["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]} for g in log_groups)
    (logs,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid", "").startswith("AllowCloudWatchLogs")
    ]
    arns = _resolve(
        logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"], template, "eu-west-3"
    )
    assert sorted(a.rsplit(":", 1)[1] for a in arns) == sorted(
        g["Properties"]["LogGroupName"] for g in log_groups
    )


def test_worst_case_templates_pass_cfn_lint(worst_case):
    from cfnlint.api import ManualArgs, lint_file

    problems = []
    for path in sorted(worst_case.outdir.glob("*.template.json")):
        region = worst_case.stacks[path.name.removesuffix(".template.json")].region
        matches = lint_file(path, config=ManualArgs(regions=[region], ignore_checks=["W3005"]))
        problems += [f"{path.name}: {m.rule.id} {m.message} (line {m.linenumber})" for m in matches]
    assert problems == []
