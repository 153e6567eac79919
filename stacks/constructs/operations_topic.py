"""The region's operations topic: where alarms about the alerting itself go (never a project topic)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class OperationsTopic(Construct):
    """SNS topic encrypted with its own customer-managed key (rotating), TLS-only, publishable only
    by CloudWatch alarms of this account and region whose names start with `alarm_name_prefix`,
    with e-mail subscriptions for the people who run the platform.

    Its own key, not the alert topics' key: a mistake in one key's policy cannot silence both the
    alerts and the alarm about their delivery. The key lets CloudWatch encrypt only for this topic
    (SNS's encryption context `aws:sns:topicArn`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic_name: str,
        key_alias_name: str,
        alarm_name_prefix: str,
        emails: Sequence[str],
    ) -> None:
        if not key_alias_name.startswith("alias/"):
            raise ValueError(f"key_alias_name must be a KMS alias name, got {key_alias_name!r}")
        if len(set(emails)) != len(emails):
            raise ValueError("emails must be distinct")
        if not alarm_name_prefix:
            raise ValueError("alarm_name_prefix must not be empty")
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # Built from the name, so the key policy can name the topic without a reference cycle.
        self.topic_arn = f"arn:{stack.partition}:sns:{stack.region}:{stack.account}:{topic_name}"
        alarms = f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:{alarm_name_prefix}*"
        self.key = kms.Key(
            self,
            "Key",
            alias=key_alias_name,
            description=f"Encrypts the Claude platform's operations topic {topic_name}",
            enable_key_rotation=True,
            pending_window=Duration.days(30),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudwatchToPublishToTheOperationsTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": stack.account,
                        "kms:EncryptionContext:aws:sns:topicArn": self.topic_arn,
                    }
                },
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=topic_name,
            display_name="Claude platform operations",
            master_key=self.key,
        )
        self.policy = sns.TopicPolicy(self, "Policy", topics=[self.topic], enforce_ssl=True)
        self.policy.document.add_statements(
            iam.PolicyStatement(
                sid="AllowPlatformAlarmsOfThisAccountAndRegion",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["SNS:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": alarms},
                },
            )
        )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
