"""Count alert-topic subscriptions nobody confirmed and publish them as a CloudWatch metric.

SNS has no metric for unconfirmed subscriptions: a subscriber who never clicks the confirmation
link receives nothing, silently. The platform stack runs this module hourly as a Lambda
(standard library + boto3 only): it lists the account's subscriptions in the region, keeps those of
the project alert topics (`<prefix>-<project>-alerts`), and publishes `PendingSubscriptions`
(namespace `ClaudePlatform`): the region's total, always, and one per project that has any.
Endpoints (e-mail addresses) are never logged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

METRIC_NAME = "PendingSubscriptions"
PENDING = "PendingConfirmation"  # SubscriptionArn of a subscription not confirmed yet
PUT_BATCH = 20  # metric data per PutMetricData call (well inside the API's limit)


def pending_by_project(
    subscriptions: Iterable[Mapping[str, Any]], *, topic_arn_prefix: str, topic_suffix: str
) -> dict[str, int]:
    """Project name -> number of unconfirmed subscriptions, for topics `<topic_arn_prefix><project><topic_suffix>`
    (projects whose subscriptions are all confirmed are absent)."""
    counts: dict[str, int] = {}
    for subscription in subscriptions:
        topic = str(subscription.get("TopicArn", ""))
        if not (topic.startswith(topic_arn_prefix) and topic.endswith(topic_suffix)):
            continue
        project = topic[len(topic_arn_prefix) : len(topic) - len(topic_suffix)]
        if not project or subscription.get("SubscriptionArn") != PENDING:
            continue
        counts[project] = counts.get(project, 0) + 1
    return counts


def list_subscriptions(sns: Any) -> Iterable[Mapping[str, Any]]:
    """Every subscription of the account in the client's region (all pages)."""
    for page in sns.get_paginator("list_subscriptions").paginate():
        yield from page.get("Subscriptions", [])


def metric_data(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """The region total (always, so its alarm never lacks data) and one datum per project with any."""
    total = {"MetricName": METRIC_NAME, "Value": float(sum(counts.values())), "Unit": "Count"}
    per_project = [
        {
            "MetricName": METRIC_NAME,
            "Dimensions": [{"Name": "project", "Value": project}],
            "Value": float(count),
            "Unit": "Count",
        }
        for project, count in sorted(counts.items())
    ]
    return [total, *per_project]


def publish(cloudwatch: Any, namespace: str, data: list[dict[str, Any]]) -> None:
    """PutMetricData in batches."""
    for start in range(0, len(data), PUT_BATCH):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + PUT_BATCH])


def check(
    sns: Any, cloudwatch: Any, *, namespace: str, topic_arn_prefix: str, topic_suffix: str
) -> dict[str, Any]:
    """Count, publish, and return what was found (project names and counts, no endpoints)."""
    counts = pending_by_project(
        list_subscriptions(sns), topic_arn_prefix=topic_arn_prefix, topic_suffix=topic_suffix
    )
    publish(cloudwatch, namespace, metric_data(counts))
    return {"pending_total": sum(counts.values()), "pending_by_project": counts}


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Scheduled entry point; settings from the environment the stack sets."""
    import boto3

    result = check(
        boto3.client("sns"),
        boto3.client("cloudwatch"),
        namespace=os.environ["METRICS_NAMESPACE"],
        topic_arn_prefix=os.environ["TOPIC_ARN_PREFIX"],
        topic_suffix=os.environ["TOPIC_SUFFIX"],
    )
    print(json.dumps({"message": "alert subscriptions checked", **result}))
    return result
