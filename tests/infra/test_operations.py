"""Alerts cannot fail silently: the region's operations topic, the failed-delivery alarm of every
project topic, and the hourly check of unconfirmed subscriptions."""

from __future__ import annotations

from infra_support import render, resources_of_type

PLATFORM = "claude-platform"
SUPPORT = "claude-project-support-bot"
VARIANT_PLATFORM = "abcdefghijklmnop-platform"
OPS_ARN = "arn:${AWS::Partition}:sns:us-east-1:${AWS::AccountId}:claude-operations"


def _by_sid(policy_document):
    return {s.get("Sid"): s for s in render(policy_document)["Statement"]}


def _operations_topic(template):
    (topic_id,) = [
        k
        for k, v in resources_of_type(template, "AWS::SNS::Topic").items()
        if v["Properties"]["TopicName"].endswith("-operations")
    ]
    return topic_id, template["Resources"][topic_id]


def test_operations_topic_has_its_own_rotating_key_bound_to_the_topic(example):
    template = example.template(PLATFORM)
    _, topic = _operations_topic(template)
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = template["Resources"][key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    aliases = {
        a["Properties"]["AliasName"]: a["Properties"]["TargetKeyId"]["Fn::GetAtt"][0]
        for a in resources_of_type(template, "AWS::KMS::Alias").values()
    }
    assert aliases["alias/claude/operations"] == key_id
    assert aliases["alias/claude/alerts"] != key_id  # not the alert topics' key
    statement = _by_sid(key["Properties"]["KeyPolicy"])["AllowCloudwatchToPublishToTheOperationsTopic"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statement["Condition"] == {
        "StringEquals": {
            "aws:SourceAccount": "${AWS::AccountId}",
            "kms:EncryptionContext:aws:sns:topicArn": OPS_ARN,
        }
    }


def test_operations_topic_is_tls_only_and_publishable_only_by_the_platforms_alarms(example):
    template = example.template(PLATFORM)
    topic_id, _ = _operations_topic(template)
    (policy,) = [
        p
        for p in resources_of_type(template, "AWS::SNS::TopicPolicy").values()
        if p["Properties"]["Topics"] == [{"Ref": topic_id}]
    ]
    statements = render(policy["Properties"]["PolicyDocument"])["Statement"]
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert len(denies) == 1 and denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allows) == 1
    (allow,) = allows
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "SNS:Publish"
    assert allow["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"},
        "ArnLike": {
            "aws:SourceArn": "arn:${AWS::Partition}:cloudwatch:us-east-1:${AWS::AccountId}:alarm:claude-*"
        },
    }


def test_operations_emails_subscribe_to_every_regions_operations_topic(example, variant):
    subscriptions = resources_of_type(variant.template(VARIANT_PLATFORM), "AWS::SNS::Subscription")
    assert sorted(s["Properties"]["Endpoint"] for s in subscriptions.values()) == [
        "oncall@example.com",
        "platform-team@example.com",
    ]
    assert {s["Properties"]["Protocol"] for s in subscriptions.values()} == {"email"}
    for stack in (PLATFORM, "claude-platform-eu-west-1"):  # none configured, topic still there
        template = example.template(stack)
        assert not resources_of_type(template, "AWS::SNS::Subscription")
        _operations_topic(template)


def test_every_project_topic_alarms_on_failed_notifications_to_the_operations_topic(example):
    for project, stack in example.project_stacks():
        template = example.template(stack.stack_name)
        alarms = [
            a["Properties"]
            for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
            if a["Properties"].get("MetricName") == "NumberOfNotificationsFailed"
        ]
        assert len(alarms) == 1, project
        (alarm,) = alarms
        assert alarm["AlarmName"] == f"claude-{project}-alerts-delivery-failures"
        assert alarm["Namespace"] == "AWS/SNS"
        assert alarm["Dimensions"] == [{"Name": "TopicName", "Value": f"claude-{project}-alerts"}]
        assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 300, 1)
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        # To the operations topic (by name: project stacks import nothing), never the failing topic.
        assert render(alarm["AlarmActions"]) == [OPS_ARN.replace("us-east-1", stack.region)]
        (alert_topic,) = [
            k
            for k, v in resources_of_type(template, "AWS::SNS::Topic").items()
            if v["Properties"]["TopicName"] == f"claude-{project}-alerts"
        ]
        assert {"Ref": alert_topic} not in alarm["AlarmActions"]


def _check_function(template):
    (function,) = [
        f
        for f in resources_of_type(template, "AWS::Lambda::Function").values()
        if "subscription" in f["Properties"]["FunctionName"]
    ]
    return function["Properties"]


def test_subscription_check_runs_hourly_with_least_privilege(example):
    template = example.template(PLATFORM)
    function = _check_function(template)
    assert function["FunctionName"] == "claude-subscription-check"
    assert function["Handler"] == "pending_subscriptions.lambda_handler"
    assert render(function["Environment"]["Variables"]) == {
        "METRICS_NAMESPACE": "ClaudePlatform",
        "TOPIC_ARN_PREFIX": "arn:${AWS::Partition}:sns:us-east-1:${AWS::AccountId}:claude-",
        "TOPIC_SUFFIX": "-alerts",
    }
    rules = [r["Properties"] for r in resources_of_type(template, "AWS::Events::Rule").values()]
    assert [r["ScheduleExpression"] for r in rules] == ["rate(1 hour)"]
    role_id = function["Role"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role
    (policy,) = role["Policies"]
    statements = _by_sid(policy["PolicyDocument"])
    assert set(statements) == {"WriteOwnLogs", "ListSubscriptions", "PublishPendingSubscriptionsMetric"}
    assert statements["ListSubscriptions"]["Action"] == "sns:ListSubscriptions"
    metric = statements["PublishPendingSubscriptionsMetric"]
    assert metric["Action"] == "cloudwatch:PutMetricData"
    assert metric["Condition"] == {"StringEquals": {"cloudwatch:namespace": "ClaudePlatform"}}


def test_pending_subscriptions_and_check_failures_alarm_to_the_operations_topic(example):
    template = example.template(PLATFORM)
    topic_id, _ = _operations_topic(template)
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) == {
        "claude-platform-pending-subscriptions",
        "claude-platform-subscription-check-errors",
    }
    pending = alarms["claude-platform-pending-subscriptions"]
    assert (pending["Namespace"], pending["MetricName"], pending["Statistic"]) == (
        "ClaudePlatform",
        "PendingSubscriptions",
        "Maximum",
    )
    assert "Dimensions" not in pending  # the region total
    assert (pending["Period"], pending["EvaluationPeriods"], pending["DatapointsToAlarm"]) == (3600, 6, 6)
    assert pending["TreatMissingData"] == "breaching"  # a check that stopped reporting is not "fine"
    errors = alarms["claude-platform-subscription-check-errors"]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["AlarmName"].startswith("claude-")  # what the topic policy admits
