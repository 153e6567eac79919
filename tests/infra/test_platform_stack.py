"""The platform stack: the alert key, its rotation, alias and key policy."""

from __future__ import annotations

from infra_support import one_resource, render


def _key_statements(template):
    key = one_resource(template, "AWS::KMS::Key")
    return key, {s.get("Sid", "(account)"): s for s in key["Properties"]["KeyPolicy"]["Statement"]}


def test_key_rotates_and_has_the_fixed_alias(example):
    template = example.template("claude-platform")
    key, _ = _key_statements(template)
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    alias = one_resource(template, "AWS::KMS::Alias")["Properties"]
    assert alias["AliasName"] == "alias/claude/alerts"


def test_key_policy_lets_budgets_and_cloudwatch_encrypt_for_this_account_only(example):
    _, statements = _key_statements(example.template("claude-platform"))
    for sid, service in (
        ("AllowBudgetsToPublishToEncryptedTopics", "budgets.amazonaws.com"),
        ("AllowCloudwatchToPublishToEncryptedTopics", "cloudwatch.amazonaws.com"),
    ):
        statement = statements[sid]
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"Service": service}
        assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert statement["Resource"] == "*"
        assert render(statement["Condition"]) == {"StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"}}
    # Besides the two services, only the account's own administration statement (CDK default).
    others = [s for sid, s in statements.items() if not sid.endswith("ToPublishToEncryptedTopics")]
    assert len(others) == 1
    assert render(others[0]["Principal"]) == {"AWS": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}


def test_platform_stack_has_the_key_its_alias_and_the_ledger_table(example):
    resources = example.template("claude-platform")["Resources"]
    assert sorted(r["Type"] for r in resources.values()) == [
        "AWS::DynamoDB::Table",
        "AWS::KMS::Alias",
        "AWS::KMS::Key",
    ]


def test_explicit_account_in_key_policy(variant):
    _, statements = _key_statements(variant.template("abcdefghijklmnop-platform"))
    condition = statements["AllowBudgetsToPublishToEncryptedTopics"]["Condition"]
    assert condition == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
