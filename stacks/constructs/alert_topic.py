"""A project's alert topic: encrypted, TLS-only, publishable by Budgets and CloudWatch only."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class AlertTopic(Construct):
    """SNS topic for a project's budget and alarm notifications, with email subscriptions.

    The topic policy is a separate resource (`policy`) so a budget can depend on it: AWS Budgets
    checks at creation that it may publish.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic_name: str,
        display_name: str,
        key_alias_name: str,
        emails: Sequence[str],
    ) -> None:
        if not key_alias_name.startswith("alias/"):
            raise ValueError(f"key_alias_name must be a KMS alias name, got {key_alias_name!r}")
        if len(set(emails)) != len(emails):
            raise ValueError("emails must be distinct")
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=topic_name,
            display_name=display_name[:100],
            master_key=kms.Alias.from_alias_name(self, "AlertsKey", key_alias_name),
        )
        self.policy = sns.TopicPolicy(self, "Policy", topics=[self.topic], enforce_ssl=True)
        self.policy.document.add_statements(
            iam.PolicyStatement(
                sid="AllowBudgetsOfThisAccount",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["SNS:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:budgets::{stack.account}:*"},
                },
            ),
            iam.PolicyStatement(
                sid="AllowAlarmsOfThisAccountAndRegion",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["SNS:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
                    },
                },
            ),
        )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
