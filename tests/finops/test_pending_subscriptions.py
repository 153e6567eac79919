"""The hourly subscription check: counts unconfirmed subscriptions of the project alert topics only,
publishes the region total always and per project where any (botocore Stubber, no network)."""

from __future__ import annotations

import boto3
from botocore.stub import ANY, Stubber

from claude_platform import pending_subscriptions as check

PREFIX = "arn:aws:sns:us-east-1:123456789012:claude-"


def _sub(topic: str, arn: str) -> dict:
    return {
        "TopicArn": topic,
        "SubscriptionArn": arn,
        "Protocol": "email",
        "Endpoint": "x@example.com",
        "Owner": "1",
    }


def test_counts_only_pending_subscriptions_of_project_alert_topics():
    subscriptions = [
        _sub(f"{PREFIX}support-bot-alerts", "PendingConfirmation"),
        _sub(f"{PREFIX}support-bot-alerts", "PendingConfirmation"),
        _sub(f"{PREFIX}support-bot-alerts", f"{PREFIX}support-bot-alerts:1111"),  # confirmed
        _sub(f"{PREFIX}data-science-alerts", f"{PREFIX}data-science-alerts:2222"),
        _sub(f"{PREFIX}operations", "PendingConfirmation"),  # not a project topic
        _sub(
            "arn:aws:sns:us-east-1:999999999999:claude-other-alerts", "PendingConfirmation"
        ),  # other account
        _sub("arn:aws:sns:eu-west-1:123456789012:claude-eu-alerts", "PendingConfirmation"),  # other region
    ]
    assert check.pending_by_project(subscriptions, topic_arn_prefix=PREFIX, topic_suffix="-alerts") == {
        "support-bot": 2
    }


def test_check_pages_through_every_subscription_and_publishes_total_and_per_project():
    sns = boto3.client("sns", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    cloudwatch = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(sns) as sns_stub, Stubber(cloudwatch) as cw_stub:
        sns_stub.add_response(
            "list_subscriptions",
            {"Subscriptions": [_sub(f"{PREFIX}a-alerts", "PendingConfirmation")], "NextToken": "page2"},
            {},
        )
        sns_stub.add_response(
            "list_subscriptions",
            {"Subscriptions": [_sub(f"{PREFIX}b-alerts", "PendingConfirmation")] * 3},
            {"NextToken": "page2"},
        )
        cw_stub.add_response(
            "put_metric_data",
            {},
            {
                "Namespace": "ClaudePlatform",
                "MetricData": [
                    {"MetricName": "PendingSubscriptions", "Value": 4.0, "Unit": "Count"},
                    {
                        "MetricName": "PendingSubscriptions",
                        "Dimensions": [{"Name": "project", "Value": "a"}],
                        "Value": 1.0,
                        "Unit": "Count",
                    },
                    {
                        "MetricName": "PendingSubscriptions",
                        "Dimensions": [{"Name": "project", "Value": "b"}],
                        "Value": 3.0,
                        "Unit": "Count",
                    },
                ],
            },
        )
        result = check.check(
            sns, cloudwatch, namespace="ClaudePlatform", topic_arn_prefix=PREFIX, topic_suffix="-alerts"
        )
        sns_stub.assert_no_pending_responses()
        cw_stub.assert_no_pending_responses()
    assert result == {"pending_total": 4, "pending_by_project": {"a": 1, "b": 3}}


def test_all_confirmed_still_publishes_a_zero_total_so_the_alarm_has_data():
    assert check.metric_data({}) == [{"MetricName": "PendingSubscriptions", "Value": 0.0, "Unit": "Count"}]


def test_many_projects_are_published_in_batches():
    cloudwatch = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    data = check.metric_data({f"p{i:03d}": 1 for i in range(45)})
    assert len(data) == 46
    with Stubber(cloudwatch) as stub:
        for _ in range(0, 46, check.PUT_BATCH):
            stub.add_response("put_metric_data", {}, {"Namespace": "ClaudePlatform", "MetricData": ANY})
        check.publish(cloudwatch, "ClaudePlatform", data)
        stub.assert_no_pending_responses()
