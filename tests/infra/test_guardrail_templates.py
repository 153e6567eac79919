"""The project guardrail in the template: the guardrail, its version, the IAM condition on every invoke grant."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match
from cfnlint.api import ManualArgs, lint_file
from infra_support import proxy_function, render, resources_of_type, synthesize
from replacement import replaced_resources, undeployable_changes

from claude_platform.config import load_config

DECLARED = {
    "blocked_input_message": "Blocked by policy (input).",
    "blocked_output_message": "Blocked by policy (output).",
    "content_filters": {"hate": "high", "violence": {"input": "medium", "output": "low"}},
    "prompt_attack": "high",
    "denied_topics": [
        {"name": "Investment advice", "definition": "Advice on buying securities.", "examples": ["Buy ACME?"]}
    ],
    "words": ["project-zebra"],
    "profanity": True,
    "pii": {"EMAIL": "anonymize", "US_SOCIAL_SECURITY_NUMBER": "block"},
    "regexes": [{"name": "ticket", "pattern": "TCK-[0-9]{6}", "action": "anonymize"}],
    "contextual_grounding": {"grounding": 0.7, "relevance": 0.5},
}
CONFIG = {
    "region": "us-east-1",
    "cost_allocation_tag_key": "project",
    "projects": [
        {
            "name": "guarded",
            "models": ["claude-sonnet-4-5", "claude-haiku-4-5"],
            "monthly_budget_usd": 100,
            "guardrail": DECLARED,
            "gateway": {"enabled": True},
        },
        {
            "name": "referenced",
            "models": ["claude-sonnet-4-5"],
            "geography": "global",
            "monthly_budget_usd": 100,
            "guardrail": {"id": "abc123xyz", "version": "4"},
        },
        {"name": "open", "models": ["claude-haiku-4-5"], "monthly_budget_usd": 10},
    ],
}
GUARDED, REFERENCED, OPEN = (f"claude-project-{n}" for n in ("guarded", "referenced", "open"))
INVOKE = {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return synthesize(load_config(CONFIG, source="guardrail"), tmp_path_factory.mktemp("guardrail"), nag=True)


def _roles(template):
    """Every function role's inline statements (the invoke function's and the gateway's)."""
    out = []
    for role in resources_of_type(template, "AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            out.append(policy["PolicyDocument"]["Statement"])
    return out


def _actions(statement):
    actions = statement["Action"]
    return set(actions if isinstance(actions, list) else [actions])


def test_declared_guardrail_and_its_version_are_created_with_the_policies_and_cost_tag(synth):
    t = synth.assertions(GUARDED)
    t.has_resource_properties(
        "AWS::Bedrock::Guardrail",
        {
            "Name": "claude-guarded",
            "BlockedInputMessaging": "Blocked by policy (input).",
            "BlockedOutputsMessaging": "Blocked by policy (output).",
            "ContentPolicyConfig": {
                "FiltersConfig": Match.array_with(
                    [{"Type": "PROMPT_ATTACK", "InputStrength": "HIGH", "OutputStrength": "NONE"}]
                )
            },
            "SensitiveInformationPolicyConfig": {
                "PiiEntitiesConfig": [
                    {"Type": "EMAIL", "Action": "ANONYMIZE"},
                    {"Type": "US_SOCIAL_SECURITY_NUMBER", "Action": "BLOCK"},
                ],
                "RegexesConfig": [{"Name": "ticket", "Pattern": "TCK-[0-9]{6}", "Action": "ANONYMIZE"}],
            },
            "WordPolicyConfig": {
                "WordsConfig": [{"Text": "project-zebra"}],
                "ManagedWordListsConfig": [{"Type": "PROFANITY"}],
            },
            "TopicPolicyConfig": {
                "TopicsConfig": [Match.object_like({"Name": "Investment advice", "Type": "DENY"})]
            },
            "ContextualGroundingPolicyConfig": {
                "FiltersConfig": Match.array_with([{"Type": "GROUNDING", "Threshold": 0.7}])
            },
            "Tags": Match.array_with([{"Key": "project", "Value": "guarded"}]),
        },
    )
    template = synth.template(GUARDED)
    (guardrail_id,) = resources_of_type(template, "AWS::Bedrock::Guardrail")
    t.has_resource_properties(
        "AWS::Bedrock::GuardrailVersion",
        {
            "GuardrailIdentifier": {"Fn::GetAtt": [guardrail_id, "GuardrailId"]},
            "Description": Match.string_like_regexp("^policies [0-9a-f]{16}$"),
        },
    )


def test_a_policy_change_replaces_the_version(tmp_path):
    changed = json.loads(json.dumps(CONFIG))
    changed["projects"][0]["guardrail"]["words"] = ["project-yak"]
    changed["projects"] = changed["projects"][:1]
    before = synthesize(
        load_config({**CONFIG, "projects": CONFIG["projects"][:1]}), tmp_path / "a", nag=False
    )
    after = synthesize(load_config(changed), tmp_path / "b", nag=False)

    def description(s):
        (version,) = resources_of_type(s.template(GUARDED), "AWS::Bedrock::GuardrailVersion").values()
        return version["Properties"]["Description"]

    assert description(before) != description(after)  # Description is create-only: a new version
    replaced = replaced_resources(before.template(GUARDED), after.template(GUARDED))
    (version_id,) = resources_of_type(after.template(GUARDED), "AWS::Bedrock::GuardrailVersion")
    assert version_id in replaced  # published anew ...
    assert not [
        k for k in replaced if resources_of_type(after.template(GUARDED), "AWS::Bedrock::Guardrail").get(k)
    ]
    assert undeployable_changes(GUARDED, before.template(GUARDED), after.template(GUARDED)) == []


def test_function_settings_name_the_published_version(synth):
    template = synth.template(GUARDED)
    (guardrail_id,) = resources_of_type(template, "AWS::Bedrock::Guardrail")
    (version_id,) = resources_of_type(template, "AWS::Bedrock::GuardrailVersion")
    rendered = json.dumps(
        proxy_function(template)["Properties"]["Environment"]["Variables"]["PROJECT_SETTINGS"]
    )
    assert '\\"guardrail_arn\\":\\"' in rendered
    assert guardrail_id in rendered and version_id in rendered
    assert '\\"policies\\":[\\"content\\",\\"topics\\",\\"pii\\",\\"contextual_grounding\\"]' in rendered
    assert "rate_overrides" not in rendered and "stream_mode" not in rendered  # defaults stay out (4 KB)


def test_every_invoke_grant_requires_the_guardrail_and_apply_is_only_on_it(synth):
    for stack in (GUARDED, REFERENCED):
        template = synth.template(stack)
        roles = _roles(template)
        assert len(roles) == (2 if stack == GUARDED else 1)  # the gateway's role too
        for statements in roles:
            invoke = [s for s in statements if _actions(s) & INVOKE]
            assert len(invoke) >= 2
            for s in invoke:
                assert s["Effect"] == "Allow"
                value = render(s["Condition"]["StringEquals"]["bedrock:GuardrailIdentifier"])
                if stack == GUARDED:
                    (gid,) = resources_of_type(template, "AWS::Bedrock::Guardrail")
                    (vid,) = resources_of_type(template, "AWS::Bedrock::GuardrailVersion")
                    assert value == f"${{{gid}.GuardrailArn}}:${{{vid}.Version}}"
                else:
                    assert (
                        value
                        == "arn:${AWS::Partition}:bedrock:us-east-1:${AWS::AccountId}:guardrail/abc123xyz:4"
                    )
            (apply,) = [s for s in statements if "bedrock:ApplyGuardrail" in _actions(s)]
            assert _actions(apply) == {"bedrock:ApplyGuardrail"}
            resource = render(apply["Resource"])
            assert "*" not in json.dumps(resource)
            assert not any(
                "bedrock:" in a and "Guardrail" in a
                for s in statements
                if s is not apply
                for a in _actions(s)
            )


def test_no_guardrail_no_condition_and_no_apply(synth):
    template = synth.template(OPEN)
    assert resources_of_type(template, "AWS::Bedrock::Guardrail") == {}
    for statements in _roles(template):
        assert "GuardrailIdentifier" not in json.dumps(statements)
        assert "ApplyGuardrail" not in json.dumps(statements)


def test_referenced_guardrail_creates_nothing(synth):
    template = synth.template(REFERENCED)
    assert resources_of_type(template, "AWS::Bedrock::Guardrail") == {}
    assert resources_of_type(template, "AWS::Bedrock::GuardrailVersion") == {}


def test_reference_in_another_region_is_refused(tmp_path):
    raw = {
        **CONFIG,
        "projects": [
            {
                **CONFIG["projects"][1],
                "guardrail": {"id": "arn:aws:bedrock:eu-west-1:123456789012:guardrail/abc", "version": "1"},
            }
        ],
    }
    with pytest.raises(ValueError, match=r"guardrail.id: .* is in eu-west-1"):
        synthesize(load_config(raw), tmp_path, nag=False)


def test_templates_pass_cfn_lint(synth):
    problems = []
    for path in sorted(synth.outdir.glob("*.template.json")):
        matches = lint_file(path, config=ManualArgs(regions=["us-east-1"], ignore_checks=["W3005"]))
        problems += [f"{path.name}: {m}" for m in matches]
    assert problems == []
