"""Every taggable resource carries the cost tag; outputs; stacks stay independent of each other."""

from __future__ import annotations

import json

import aws_cdk as cdk
from infra_support import profile_logical_id, proxy_functions, resources_of_type

# Resource types each project stack must tag (a guard against a vacuous "all taggable" check).
EXPECTED_TAGGED_TYPES = {
    "AWS::Bedrock::ApplicationInferenceProfile",
    "AWS::SNS::Topic",
    "AWS::CloudWatch::Alarm",
    "AWS::Logs::LogGroup",
    "AWS::IAM::Role",
    "AWS::Lambda::Function",
    "AWS::Budgets::Budget",
}
# Types CloudFormation cannot tag: nothing to check on them.
UNTAGGABLE_TYPES = {
    "AWS::SNS::TopicPolicy",
    "AWS::SNS::Subscription",
    "AWS::Lambda::Permission",
    "AWS::Lambda::Version",
    "AWS::Lambda::Alias",
    "AWS::Lambda::Url",  # the gateway's function URL (CloudFormation takes no Tags for it)
    "AWS::KMS::Alias",
    "AWS::IAM::ManagedPolicy",  # CloudFormation takes no Tags for it
    "AWS::Bedrock::GuardrailVersion",  # no Tags property (the guardrail itself is tagged)
}


def _taggable_logical_ids(stack: cdk.Stack) -> set[str]:
    """Logical ids of the stack's L1 resources that CDK's tag aspect can reach."""
    found = set()
    for construct in stack.node.find_all():
        if not isinstance(construct, cdk.CfnResource):
            continue
        # ITaggable (`tags`) or ITaggableV2 (`cdk_tag_manager`); TagManager.is_taggable fails via jsii.
        managers = (getattr(construct, "tags", None), getattr(construct, "cdk_tag_manager", None))
        if any(isinstance(m, cdk.TagManager) for m in managers):
            found.add(stack.resolve(construct.logical_id))
    return found


def _tags(resource):
    props = resource.get("Properties", {})
    budgets = ("AWS::Budgets::Budget", "AWS::Budgets::BudgetsAction")
    tags = props.get("ResourceTags") if resource["Type"] in budgets else props.get("Tags")
    pairs = {t["Key"]: t["Value"] for t in tags or []}
    assert len(pairs) == len(tags or []), f"duplicate tag keys: {tags}"
    return pairs


def test_every_taggable_resource_carries_the_cost_and_project_tags(example, variant):
    for synth in (example, variant):
        key = synth.platform.tag_key
        for project in synth.platform.projects:
            stack = synth.stacks[f"{synth.platform.config.name_prefix}-project-{project.name}"]
            template = synth.template(stack.stack_name)
            taggable = _taggable_logical_ids(stack)
            types = {template["Resources"][i]["Type"] for i in taggable}
            assert types >= EXPECTED_TAGGED_TYPES
            for logical_id in taggable:
                tags = _tags(template["Resources"][logical_id])
                assert tags.get(key) == project.name, logical_id
                for k, v in project.config.tags.items():
                    assert tags.get(k) == v, (logical_id, k)
            for logical_id, resource in template["Resources"].items():
                assert logical_id in taggable or resource["Type"] in UNTAGGABLE_TYPES, resource["Type"]


def test_platform_key_is_tagged_as_platform_infrastructure_not_a_project(example):
    template = example.template("claude-platform")
    keys = resources_of_type(template, "AWS::KMS::Key").values()
    assert len(keys) == 2  # alert topics' key, operations topic's key
    assert all("project" not in _tags(key) for key in keys)


def test_project_stacks_import_nothing_and_depend_only_on_their_regions_platform_stack(example):
    platform_stacks = {"us-east-1": "claude-platform", "eu-west-1": "claude-platform-eu-west-1"}
    for name, stack in example.project_stacks():
        text = json.dumps(example.template(stack.stack_name))
        assert "Fn::ImportValue" not in text
        region = "eu-west-1" if name == "eu-assistant" else "us-east-1"
        assert stack.region == region
        assert [d.stack_name for d in stack.dependencies] == [platform_stacks[region]]
    for region, stack_name in platform_stacks.items():
        assert example.stacks[stack_name].region == region
        assert "Export" not in json.dumps(example.template(stack_name))


def test_outputs_per_project(example):
    template = example.template("claude-project-data-science")
    outputs = template["Outputs"]
    for alias, profile_name in (
        ("ClaudeOpus45", "claude-data-science-opus-4-5-global"),
        ("ClaudeSonnet45", "claude-data-science-sonnet-4-5-global"),
    ):
        logical_id = profile_logical_id(template, profile_name)
        assert outputs[f"{alias}ProfileArn"]["Value"] == {"Fn::GetAtt": [logical_id, "InferenceProfileArn"]}
        assert outputs[f"{alias}ProfileId"]["Value"] == {"Fn::GetAtt": [logical_id, "InferenceProfileId"]}
    (topic_id,) = resources_of_type(template, "AWS::SNS::Topic")
    (function_id,) = proxy_functions(template)
    assert outputs["AlertTopicArn"]["Value"] == {"Ref": topic_id}
    assert outputs["BudgetName"]["Value"] == "claude-data-science-monthly-9542f4"
    assert outputs["ProxyFunctionName"]["Value"] == {"Ref": function_id}
    assert outputs["ProxyInvokeArn"]["Value"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert all("Export" not in o for o in outputs.values())


def test_snapstart_invoke_arn_output_is_the_alias(variant):
    template = variant.template("abcdefghijklmnop-project-" + "a" * 32)
    (alias_id,) = resources_of_type(template, "AWS::Lambda::Alias")
    assert template["Outputs"]["ProxyInvokeArn"]["Value"] == {"Ref": alias_id}


def test_stack_names_and_environment(example, variant):
    assert sorted(example.stacks) == [
        "claude-platform",
        "claude-platform-eu-west-1",
        "claude-project-data-science",
        "claude-project-eu-assistant",
        "claude-project-legacy-summarizer",
        "claude-project-support-bot",
    ]
    for name, stack in example.stacks.items():
        assert stack.region == ("eu-west-1" if "eu-" in name else "us-east-1"), name
        assert cdk.Token.is_unresolved(stack.account)  # environment-agnostic account
    for stack in variant.stacks.values():
        assert (stack.account, stack.region) == ("123456789012", "ca-central-1")


def test_function_roles_carry_the_cost_tag_and_the_function_path(example):
    """Caller-identity cost allocation attributes Bedrock usage by the caller's tags, even usage that
    bypassed a profile; the optional SCP and boundary (policies/) find the roles by their path."""
    for name, stack in example.project_stacks():
        roles = [
            r["Properties"]
            for r in resources_of_type(example.template(stack.stack_name), "AWS::IAM::Role").values()
            if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
            == {"Service": "lambda.amazonaws.com"}
        ]
        assert len(roles) == (2 if name == "data-science" else 1), name  # data-science has the gateway
        for role in roles:
            assert {"Key": "project", "Value": name} in role["Tags"]
            assert role["Path"] == "/claude-functions/"
