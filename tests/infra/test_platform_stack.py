"""The platform stack: the alert key, its rotation, alias and key policy."""

from __future__ import annotations

import pytest
from infra_support import render, resources_of_type

# One platform stack per region with projects; the home region's keeps the unsuffixed name.
PLATFORM_STACKS = ["claude-platform", "claude-platform-eu-west-1"]


def _alias(template, name="alias/claude/alerts"):
    (alias,) = [
        a
        for a in resources_of_type(template, "AWS::KMS::Alias").values()
        if a["Properties"]["AliasName"] == name
    ]
    return alias


def _key_statements(template):
    """The alerts key (the platform stack also has the operations topic's key)."""
    aliases = [
        a
        for a in resources_of_type(template, "AWS::KMS::Alias").values()
        if a["Properties"]["AliasName"].endswith("/alerts")
    ]
    assert len(aliases) == 1, aliases
    key = template["Resources"][aliases[0]["Properties"]["TargetKeyId"]["Fn::GetAtt"][0]]
    return key, {s.get("Sid", "(account)"): s for s in key["Properties"]["KeyPolicy"]["Statement"]}


@pytest.mark.parametrize("stack_name", PLATFORM_STACKS)
def test_key_rotates_and_has_the_fixed_alias(example, stack_name):
    template = example.template(stack_name)
    key, _ = _key_statements(template)
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    assert _alias(template)["Properties"]["AliasName"] == "alias/claude/alerts"


@pytest.mark.parametrize("stack_name", PLATFORM_STACKS)
def test_key_policy_lets_only_the_platforms_budgets_and_alarms_encrypt_for_its_topics(example, stack_name):
    _, statements = _key_statements(example.template(stack_name))
    region = "us-east-1" if stack_name == "claude-platform" else "eu-west-1"
    for sid, service, source in (
        (
            "AllowBudgetsToPublishToEncryptedTopics",
            "budgets.amazonaws.com",
            "budgets::${AWS::AccountId}:budget/claude-*",
        ),
        (
            "AllowCloudwatchToPublishToEncryptedTopics",
            "cloudwatch.amazonaws.com",
            f"cloudwatch:{region}:${{AWS::AccountId}}:alarm:claude-*",
        ),
    ):
        statement = statements[sid]
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"Service": service}
        assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert statement["Resource"] == "*"
        # Not any budget or alarm of the account, not any topic: the platform's own names only
        # (one key serves every project of the region; the topic policies list exact ARNs).
        assert render(statement["Condition"]) == {
            "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"},
            "ArnLike": {"aws:SourceArn": f"arn:${{AWS::Partition}}:{source}"},
            "StringLike": {
                "kms:EncryptionContext:aws:sns:topicArn": f"arn:${{AWS::Partition}}:sns:{region}:${{AWS::AccountId}}:claude-*"
            },
        }
    # Besides the two services, only the account's own administration statement (CDK default).
    others = [s for sid, s in statements.items() if not sid.endswith("ToPublishToEncryptedTopics")]
    assert len(others) == 1
    assert render(others[0]["Principal"]) == {"AWS": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}


@pytest.mark.parametrize("stack_name", PLATFORM_STACKS)
def test_platform_stack_has_the_key_alias_ledger_table_and_dashboard_by_default(example, stack_name):
    resources = example.template(stack_name)["Resources"]
    assert sorted(r["Type"] for r in resources.values()) == [
        "AWS::CloudWatch::Alarm",  # unconfirmed subscriptions, subscription check errors
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::DynamoDB::Table",
        "AWS::Events::Rule",  # the hourly subscription check
        "AWS::IAM::Role",
        "AWS::KMS::Alias",  # alerts key, operations key
        "AWS::KMS::Alias",
        "AWS::KMS::Key",
        "AWS::KMS::Key",
        "AWS::Lambda::Function",
        "AWS::Lambda::Permission",
        "AWS::Logs::LogGroup",
        "AWS::SNS::Topic",  # the operations topic
        "AWS::SNS::TopicPolicy",
    ]


def test_explicit_account_in_key_policy(variant):
    _, statements = _key_statements(variant.template("abcdefghijklmnop-platform"))
    condition = statements["AllowBudgetsToPublishToEncryptedTopics"]["Condition"]
    assert render(condition) == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": "arn:${AWS::Partition}:budgets::123456789012:budget/abcdefghijklmnop-*"},
        "StringLike": {
            "kms:EncryptionContext:aws:sns:topicArn": "arn:${AWS::Partition}:sns:ca-central-1:123456789012:abcdefghijklmnop-*"
        },
    }


def test_one_platform_stack_per_region_with_projects(example, variant):
    assert {s.stack_name: s.region for s in example.stacks.values() if "-platform" in s.stack_name} == {
        "claude-platform": "us-east-1",
        "claude-platform-eu-west-1": "eu-west-1",
    }
    assert [s for s in variant.stacks if "-platform" in s] == ["abcdefghijklmnop-platform"]
