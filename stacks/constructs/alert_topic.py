"""A project's alert topic: encrypted, TLS-only, publishable only by the project's own budget and alarms."""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import IStableListProducer, Lazy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.constructs.budget_stop_action import budget_source_conditions


def alarm_arn(stack: Stack, alarm_name: str) -> str:
    """The ARN of a CloudWatch alarm of this stack's account and region, from its name."""
    return f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:{alarm_name}"


@jsii.implements(IStableListProducer)
class _AlarmArns:
    """The topic's alarm ARNs, computed when the template is written."""

    def __init__(self, topic: AlertTopic) -> None:
        self._topic = topic

    def produce(self) -> list[str]:
        stack = Stack.of(self._topic)
        return [alarm_arn(stack, name) for name in self._topic.alarm_names()]


class AlertTopic(Construct):
    """SNS topic for a project's budget and alarm notifications, with email subscriptions.

    The topic policy is a separate resource (`policy`) so a budget can depend on it: AWS Budgets
    checks at creation that it may publish. Budgets may publish only for `budget_name` (and its
    stop action); CloudWatch only for the stack's alarms that notify the topic, each by its full ARN.
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
        # CloudWatch: exactly the stack's alarms that notify this topic, listed at synthesis (so
        # alarms added anywhere in the stack, later, are included), each by its full ARN.
        self.policy.document.add_statements(
            iam.PolicyStatement(
                sid="AllowOwnAlarmsOnly",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["SNS:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnEquals": {
                        "aws:SourceArn": Lazy.list(_AlarmArns(self)),
                    },
                },
            )
        )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def alarm_names(self) -> list[str]:
        """Names of the stack's alarms with this topic among their actions (each needs a fixed name)."""
        stack = Stack.of(self)
        names = []
        topic_ref = stack.resolve(self.topic.topic_arn)
        for child in stack.node.find_all():
            if not isinstance(child, cloudwatch.CfnAlarm):
                continue
            # L2 alarms keep their actions in lazy values: compare them resolved.
            actions = [
                *(stack.resolve(child.alarm_actions) or []),
                *(stack.resolve(child.ok_actions) or []),
                *(stack.resolve(child.insufficient_data_actions) or []),
            ]
            if topic_ref not in actions:
                continue
            if not isinstance(child.alarm_name, str) or Token.is_unresolved(child.alarm_name):
                raise ValueError(f"alarm {child.node.path} needs a fixed name: the topic policy lists it")
            names.append(child.alarm_name)
        if not names:
            raise ValueError(f"no alarm notifies {self.node.path}: its policy would admit no alarm")
        return sorted(set(names))
