"""Spend ledger in the templates: the table, each function's scoped grants, settings, the budget stop action."""

from __future__ import annotations

import json

from infra_support import one_resource, proxy_function, render, resources_of_type

SUPPORT = "claude-project-support-bot"  # hard cap, budget_action: true
DATA_SCIENCE = "claude-project-data-science"  # spend_cap_usd 1800 < budget 2000
LEGACY = "claude-project-legacy-summarizer"  # enforcement: soft


def test_ledger_table_is_on_demand_recoverable_encrypted_protected_and_retained(example):
    template = example.assertions("claude-platform")
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "TableName": "claude-spend-ledger",
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {"SSEEnabled": True},
                "DeletionProtectionEnabled": True,
                # rate-limit window items expire; nothing else carries the attribute
                "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            },
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def _proxy_role(example, stack):
    roles = resources_of_type(example.template(stack), "AWS::IAM::Role")
    return next(
        r
        for r in roles.values()
        if any(p["PolicyName"] == "ClaudeProxy" for p in r["Properties"].get("Policies", []))
    )


def _proxy_statements(example, stack):
    role = _proxy_role(example, stack)
    policy = next(p for p in role["Properties"]["Policies"] if p["PolicyName"] == "ClaudeProxy")
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def test_each_function_touches_only_its_own_ledger_items(example):
    for stack, project in ((SUPPORT, "support-bot"), (LEGACY, "legacy-summarizer")):
        statement = _proxy_statements(example, stack)["OwnProjectLedgerItemsOnly"]
        # Holds are items of their own, put and deleted in the same transaction as the counters.
        assert statement["Action"] == [
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
        ]
        assert render(statement["Resource"]) == (
            "arn:${AWS::Partition}:dynamodb:us-east-1:${AWS::AccountId}:table/claude-spend-ledger"
        )
        assert statement["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [project]}}


def test_each_function_publishes_only_to_its_own_topic_with_the_alerts_key_through_sns(example):
    statements = _proxy_statements(example, SUPPORT)
    publish = statements["PublishOwnSpendAlerts"]
    topics = resources_of_type(example.template(SUPPORT), "AWS::SNS::Topic")
    assert publish["Action"] == "sns:Publish" and publish["Resource"] == {"Ref": next(iter(topics))}
    key = statements["EncryptAlertsForOwnTopic"]
    assert key["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert render(key["Resource"]) == "arn:${AWS::Partition}:kms:us-east-1:${AWS::AccountId}:key/*"
    assert key["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/claude/alerts"]},
        "StringEquals": {
            "kms:ViaService": "sns.us-east-1.amazonaws.com",
            # Only to encrypt for its own topic: SNS's encryption context is the topic ARN.
            "kms:EncryptionContext:aws:sns:topicArn": {"Ref": next(iter(topics))},
        },
    }


def test_readme_security_names_everyone_the_template_lets_publish_to_the_topic(example):
    """Every publisher the template allows (topic policy principals, roles with sns:Publish) is in the README."""
    from pathlib import Path

    raw = example.template(SUPPORT)
    (topic_id,) = resources_of_type(raw, "AWS::SNS::Topic")
    principals = set()
    for policy in resources_of_type(raw, "AWS::SNS::TopicPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow" and "SNS:Publish" in statement["Action"]:
                principals.add(statement["Principal"]["Service"])
    roles = [
        r
        for r in resources_of_type(raw, "AWS::IAM::Role").values()
        for p in r["Properties"].get("Policies", [])
        for s in p["PolicyDocument"]["Statement"]
        if s["Action"] == "sns:Publish" and s["Resource"] == {"Ref": topic_id}
    ]
    assert principals == {"budgets.amazonaws.com", "cloudwatch.amazonaws.com"} and roles
    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
    security = readme[readme.index("## Security") :]
    sentence = security[security.index("Who may publish to a project's topic") :][:400]
    for words in (
        "AWS Budgets",
        "CloudWatch alarms",
        "the project's own functions",
        "`sns:Publish` on that one topic",
    ):
        assert words in sentence, f"README Security does not say {words!r} may publish"


def test_function_settings_carry_enforcement_cap_table_and_topic(example):
    function = proxy_function(example.template(DATA_SCIENCE))
    raw = render(function["Properties"]["Environment"]["Variables"]["PROJECT_SETTINGS"])
    spend = json.loads(raw)["spend"]
    topic_id = next(iter(resources_of_type(example.template(DATA_SCIENCE), "AWS::SNS::Topic")))
    assert spend == {
        "enforcement": "hard",
        "cap_usd": 1800,
        "alert_thresholds": [25, 50, 75, 90, 100],
        "ledger_table": "claude-spend-ledger",
        "stale_after_s": 660,  # the 600 s timeout plus a minute
        "alert_topic_arn": f"${{{topic_id}}}",
    }
    legacy = one_resource(example.template(LEGACY), "AWS::Lambda::Function")
    assert (
        json.loads(render(legacy["Properties"]["Environment"]["Variables"]["PROJECT_SETTINGS"]))["spend"][
            "enforcement"
        ]
        == "soft"
    )


def test_budget_action_denies_bedrock_to_the_function_role_at_100_percent(example):
    template = example.assertions(SUPPORT)
    raw = example.template(SUPPORT)
    proxy_role_id = next(
        logical_id
        for logical_id, r in resources_of_type(raw, "AWS::IAM::Role").items()
        if any(p["PolicyName"] == "ClaudeProxy" for p in r["Properties"].get("Policies", []))
    )
    (policy_id,) = resources_of_type(raw, "AWS::IAM::ManagedPolicy")
    template.has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "ManagedPolicyName": "claude-support-bot-budget-stop",
            "PolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
                        "Resource": "*",
                    }
                ]
            },
        },
    )
    (action,) = resources_of_type(raw, "AWS::Budgets::BudgetsAction").values()
    props = action["Properties"]
    assert props["BudgetName"] == "claude-support-bot-monthly-32799f"  # the budget's own name
    assert (props["ActionType"], props["ApprovalModel"], props["NotificationType"]) == (
        "APPLY_IAM_POLICY",
        "AUTOMATIC",
        "ACTUAL",
    )
    assert props["ActionThreshold"] == {"Type": "PERCENTAGE", "Value": 100}
    assert props["Definition"]["IamActionDefinition"] == {
        "PolicyArn": {"Ref": policy_id},
        "Roles": [{"Ref": proxy_role_id}],
    }
    topic_id = next(iter(resources_of_type(raw, "AWS::SNS::Topic")))
    assert props["Subscribers"] == [{"Type": "SNS", "Address": {"Ref": topic_id}}]
    budget_id = next(iter(resources_of_type(raw, "AWS::Budgets::Budget")))
    assert budget_id in action["DependsOn"]
    # Its execution role: trusted by Budgets of this account, may attach only the stop policy, only to that role.
    execution_role_id = props["ExecutionRoleArn"]["Fn::GetAtt"][0]
    execution_role = raw["Resources"][execution_role_id]["Properties"]
    (trust,) = execution_role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert render(trust["Condition"]) == {
        "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"},
        "ArnLike": {
            # Exactly this budget and its actions: no prefix wildcard that matches `<name>-other`.
            "aws:SourceArn": [
                "arn:${AWS::Partition}:budgets::${AWS::AccountId}:budget/claude-support-bot-monthly-32799f",
                "arn:${AWS::Partition}:budgets::${AWS::AccountId}:budget/claude-support-bot-monthly-32799f/action/*",
            ]
        },
    }
    (statement,) = execution_role["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    assert statement["Resource"] == {"Fn::GetAtt": [proxy_role_id, "Arn"]}
    assert statement["Condition"] == {"ArnEquals": {"iam:PolicyARN": {"Ref": policy_id}}}


def test_no_budget_action_unless_asked(example):
    for stack in (DATA_SCIENCE, LEGACY):
        assert resources_of_type(example.template(stack), "AWS::Budgets::BudgetsAction") == {}
