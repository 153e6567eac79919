"""Budget per project (tag filter, limits, notifications) and its encrypted, locked-down alert topic."""

from __future__ import annotations

from aws_cdk.assertions import Match
from infra_support import one_resource, render, resources_of_type

SUPPORT = "claude-project-support-bot"
DATA_SCIENCE = "claude-project-data-science"
VARIANT = "abcdefghijklmnop-project-" + "a" * 32


def _topic_id(template):
    (topic_id,) = resources_of_type(template, "AWS::SNS::Topic")
    return topic_id


def test_budget_filters_only_on_the_cost_tag(example):
    for name, stack in example.project_stacks():
        budget = one_resource(example.template(stack.stack_name), "AWS::Budgets::Budget")["Properties"]
        assert budget["Budget"]["CostFilters"] == {"TagKeyValue": [f"user:project${name}"]}
        assert "FilterExpression" not in budget["Budget"]


def test_budget_shape_limit_and_cost_types(example):
    example.assertions(DATA_SCIENCE).has_resource_properties(
        "AWS::Budgets::Budget",
        {
            "Budget": {
                "BudgetName": "claude-data-science-monthly-9542f4",
                "BudgetType": "COST",
                "TimeUnit": "MONTHLY",
                "BudgetLimit": {"Amount": 2000, "Unit": "USD"},
                "CostTypes": {
                    "IncludeCredit": False,
                    "IncludeRefund": False,
                    "IncludeTax": True,
                    "IncludeSubscription": True,
                    "UseBlended": False,
                    "UseAmortized": False,
                },
            }
        },
    )


def test_budget_notifies_the_topic_per_threshold_plus_forecast(example):
    template = example.template(DATA_SCIENCE)
    topic_id = _topic_id(template)
    budget = one_resource(template, "AWS::Budgets::Budget")["Properties"]
    notifications = budget["NotificationsWithSubscribers"]
    assert [
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"]) for n in notifications
    ] == [("ACTUAL", t) for t in (25, 50, 75, 90, 100)] + [("FORECASTED", 100)]
    for n in notifications:
        assert n["Notification"]["ComparisonOperator"] == "GREATER_THAN"
        assert n["Notification"]["ThresholdType"] == "PERCENTAGE"
        assert n["Subscribers"] == [{"SubscriptionType": "SNS", "Address": {"Ref": topic_id}}]


def test_budget_depends_on_the_topic_policy_and_is_tagged(example):
    template = example.template(SUPPORT)
    (policy_id,) = resources_of_type(template, "AWS::SNS::TopicPolicy")
    budget = one_resource(template, "AWS::Budgets::Budget")
    assert policy_id in budget["DependsOn"]
    tags = {t["Key"]: t["Value"] for t in budget["Properties"]["ResourceTags"]}
    assert tags == {
        "project": "support-bot",
        "managed-by": "claude-platform",
        "cost-center": "CC-1042",
        "owner": "support-platform",
    }


def test_nine_thresholds_fill_all_ten_notifications(variant):
    budget = one_resource(variant.template(VARIANT), "AWS::Budgets::Budget")["Properties"]
    assert len(budget["NotificationsWithSubscribers"]) == 10
    assert budget["Budget"]["BudgetLimit"] == {"Amount": 1234.5, "Unit": "USD"}
    assert budget["Budget"]["CostFilters"] == {"TagKeyValue": [f"user:billing:project${'a' * 32}"]}


def test_topic_is_encrypted_with_the_platform_key_by_alias_without_an_import(example):
    for name, stack in example.project_stacks():
        topic = one_resource(example.template(stack.stack_name), "AWS::SNS::Topic")["Properties"]
        assert topic["TopicName"] == f"claude-{name}-alerts"
        # CDK renders the alias as its ARN, which SNS accepts as KmsMasterKeyId.
        # The key of the project's own region (one platform stack per region).
        region = "eu-west-1" if name == "eu-assistant" else "us-east-1"
        assert render(topic["KmsMasterKeyId"]) == (
            f"arn:${{AWS::Partition}}:kms:{region}:${{AWS::AccountId}}:alias/claude/alerts"
        )


def test_topic_policy_is_tls_only_and_admits_budgets_and_alarms_of_this_account(example):
    template = example.template(SUPPORT)
    topic_ref = {"Ref": _topic_id(template)}
    policy = one_resource(template, "AWS::SNS::TopicPolicy")["Properties"]
    assert policy["Topics"] == [topic_ref]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert set(statements) == {"AllowPublishThroughSSLOnly", "AllowOwnBudgetOnly", "AllowOwnAlarmsOnly"}
    tls = statements["AllowPublishThroughSSLOnly"]
    assert (tls["Effect"], tls["Principal"], tls["Condition"]) == (
        "Deny",
        "*",
        {"Bool": {"aws:SecureTransport": "false"}},
    )
    budgets = statements["AllowOwnBudgetOnly"]
    assert budgets["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert (budgets["Effect"], budgets["Action"], budgets["Resource"]) == ("Allow", "SNS:Publish", topic_ref)
    budget_arn = "arn:${AWS::Partition}:budgets::${AWS::AccountId}:budget/claude-support-bot-monthly-32799f"
    assert render(budgets["Condition"]) == {
        "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"},
        "ArnLike": {"aws:SourceArn": [budget_arn, f"{budget_arn}/action/*"]},
    }
    alarms = statements["AllowOwnAlarmsOnly"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert (alarms["Effect"], alarms["Action"], alarms["Resource"]) == ("Allow", "SNS:Publish", topic_ref)
    # Exactly the project's own alarms, each by its full ARN: no other alarm of the region.
    alarm_names = sorted(_alarms_notifying(template, topic_ref))
    assert len(alarm_names) >= 4
    condition = render(alarms["Condition"])
    assert condition["StringEquals"] == {"aws:SourceAccount": "${AWS::AccountId}"}
    assert sorted(condition["ArnEquals"]["aws:SourceArn"]) == [
        f"arn:${{AWS::Partition}}:cloudwatch:us-east-1:${{AWS::AccountId}}:alarm:{n}" for n in alarm_names
    ]
    assert set(condition) == {"StringEquals", "ArnEquals"}


def test_every_alarm_of_every_project_may_publish_to_its_topic(example):
    for _, stack in example.project_stacks():
        template = example.template(stack.stack_name)
        policy = one_resource(template, "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]
        (alarms,) = [s for s in policy["Statement"] if s["Sid"] == "AllowOwnAlarmsOnly"]
        allowed = {a.rsplit(":", 1)[1] for a in render(alarms["Condition"]["ArnEquals"]["aws:SourceArn"])}
        (topic_id,) = resources_of_type(template, "AWS::SNS::Topic")
        names = _alarms_notifying(template, {"Ref": topic_id})
        assert allowed == names
        # The failed-delivery alarm notifies the operations topic, never this one: not admitted.
        assert not any(name.endswith("-alerts-delivery-failures") for name in allowed)


def _alarms_notifying(template: dict, topic_ref: object) -> set[str]:
    """Names of the template's alarms with `topic_ref` among their actions."""
    return {
        a["Properties"]["AlarmName"]
        for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
        if topic_ref in a["Properties"].get("AlarmActions", []) + a["Properties"].get("OKActions", [])
    }


def test_email_subscriptions_match_alert_emails(example):
    expected = {
        "claude-project-support-bot": {"support-leads@example.com"},
        "claude-project-data-science": {"ds-team@example.com", "finance-alerts@example.com"},
        "claude-project-legacy-summarizer": set(),
    }
    for stack_name, emails in expected.items():
        template = example.template(stack_name)
        topic_ref = {"Ref": _topic_id(template)}
        subscriptions = resources_of_type(template, "AWS::SNS::Subscription").values()
        assert {s["Properties"]["Endpoint"] for s in subscriptions} == emails
        for s in subscriptions:
            assert s["Properties"]["Protocol"] == "email"
            assert s["Properties"]["TopicArn"] == topic_ref


def test_explicit_account_in_topic_policy(variant):
    variant.assertions(VARIANT).has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "AllowOwnBudgetOnly",
                                "Condition": Match.object_like(
                                    {"StringEquals": {"aws:SourceAccount": "123456789012"}}
                                ),
                            }
                        )
                    ]
                )
            }
        },
    )
    topic = one_resource(variant.template(VARIANT), "AWS::SNS::Topic")["Properties"]
    assert render(topic["KmsMasterKeyId"]) == (
        "arn:${AWS::Partition}:kms:ca-central-1:123456789012:alias/abcdefghijklmnop/alerts"
    )


def _topic_with_alarms(*names):
    import aws_cdk as cdk
    from aws_cdk import aws_cloudwatch as cloudwatch
    from aws_cdk import aws_cloudwatch_actions as actions

    from stacks.constructs.alert_topic import AlertTopic

    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    topic = AlertTopic(
        stack,
        "Alerts",
        topic_name="t",
        display_name="t",
        key_alias_name="alias/k",
        emails=[],
        budget_name="b",
    )
    for i, name in enumerate(names):
        alarm = cloudwatch.Alarm(
            stack,
            f"Alarm{i}",  # added after the topic, outside it: still listed
            alarm_name=name,
            metric=cloudwatch.Metric(namespace="N", metric_name="M"),
            threshold=1,
            evaluation_periods=1,
        )
        alarm.add_alarm_action(actions.SnsAction(topic.topic))
    cloudwatch.Alarm(  # notifies nothing of this topic: not listed
        stack, "Other", alarm_name="other", metric=cloudwatch.Metric(namespace="N", metric_name="M"), threshold=1,
        evaluation_periods=1,
    )  # fmt: skip
    return stack


def test_topic_policy_lists_every_alarm_of_the_stack_that_notifies_it_whenever_added():
    from aws_cdk.assertions import Template

    policy = Template.from_stack(_topic_with_alarms("a1", "a2")).find_resources("AWS::SNS::TopicPolicy")
    (statement,) = [
        s
        for s in next(iter(policy.values()))["Properties"]["PolicyDocument"]["Statement"]
        if s["Sid"] == "AllowOwnAlarmsOnly"
    ]
    assert render(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == [
        "arn:${AWS::Partition}:cloudwatch:eu-west-1:123456789012:alarm:a1",
        "arn:${AWS::Partition}:cloudwatch:eu-west-1:123456789012:alarm:a2",
    ]


def test_an_alarm_without_a_fixed_name_on_the_topic_fails_synthesis():
    import pytest
    from aws_cdk.assertions import Template

    with pytest.raises(RuntimeError, match="needs a fixed name"):
        Template.from_stack(_topic_with_alarms(None))
