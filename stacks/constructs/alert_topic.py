"""A project's alert topic: encrypted, TLS-only, publishable only by the project's own budget and alarms."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.constructs.budget_stop_action import budget_source_conditions


def alarm_arn(stack: Stack, alarm_name: str) -> str:
    """The ARN of a CloudWatch alarm of this stack's account and region, from its name."""
    return f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:{alarm_name}"


class AlertTopic(Construct):
    """SNS topic for a project's budget and alarm notifications, with email subscriptions.

    The topic policy is a separate resource (`policy`) so a budget can depend on it: AWS Budgets
    checks at creation that it may publish. Budgets may publish only for `budget_name` (and its
    stop action); CloudWatch only for the alarms named with `allow_alarms`, each by its full ARN.
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
        budget_name: str,
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
                sid="AllowOwnBudgetOnly",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["SNS:Publish"],
                resources=[self.topic.topic_arn],
                conditions=budget_source_conditions(stack, budget_name),
            )
        )
        self._alarms_allowed = False
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def allow_alarms(self, alarm_names: Sequence[str]) -> None:
        """Let CloudWatch publish for exactly these alarms (of this account and region); call once."""
        if self._alarms_allowed:
            raise ValueError("allow_alarms may be called once (one statement lists every alarm)")
        if not alarm_names:
            return
        if len(set(alarm_names)) != len(alarm_names):
            raise ValueError("alarm names must be distinct")
        self._alarms_allowed = True
        stack = Stack.of(self)
        self.policy.document.add_statements(
            iam.PolicyStatement(
                sid="AllowOwnAlarmsOnly",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["SNS:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnEquals": {"aws:SourceArn": [alarm_arn(stack, n) for n in alarm_names]},
                },
            )
        )
