"""The customer-managed KMS key that encrypts every project's alert topic."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# Services that publish to the encrypted alert topics and so need the key to encrypt messages.
PUBLISHING_SERVICES = ("budgets.amazonaws.com", "cloudwatch.amazonaws.com")
# The encryption context SNS sends to KMS for a topic's messages: the topic's ARN.
TOPIC_CONTEXT_KEY = "kms:EncryptionContext:aws:sns:topicArn"


class AlertsKey(Construct):
    """KMS key with rotation and a fixed alias, usable by the platform's budgets and alarms for the
    platform's topics only.

    Project topics refer to it by alias (no cross-stack export), so a project stack can be
    deleted without touching the platform stack. `alias/aws/sns` cannot work: AWS services
    cannot use the AWS-managed SNS key.
    """

    def __init__(self, scope: Construct, construct_id: str, *, alias_name: str, name_prefix: str) -> None:
        if not alias_name.startswith("alias/") or alias_name.startswith("alias/aws/"):
            raise ValueError(f"alias_name must start with 'alias/' and not 'alias/aws/': {alias_name!r}")
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        account, region, partition = stack.account, stack.region, stack.partition
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the Claude platform's project alert topics (budgets, alarms)",
            enable_key_rotation=True,
            alias=alias_name,
        )
        # One key serves every topic of the region, so its policy cannot list each project's
        # budget and alarms (a key policy holds 32 KB; the topic policies list them exactly).
        # It admits only the platform's own names: topics, budgets and alarms named `<prefix>-...`.
        sources = {
            "budgets.amazonaws.com": f"arn:{partition}:budgets::{account}:budget/{name_prefix}-*",
            "cloudwatch.amazonaws.com": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{name_prefix}-*",
        }
        for service in PUBLISHING_SERVICES:
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Allow{service.split('.')[0].capitalize()}ToPublishToEncryptedTopics",
                    principals=[iam.ServicePrincipal(service)],
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=["*"],  # in a key policy, "*" is this key
                    conditions={
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": sources[service]},
                        # SNS encrypts with the topic's ARN as encryption context.
                        "StringLike": {
                            TOPIC_CONTEXT_KEY: topic_arn_pattern(stack, name_prefix),
                        },
                    },
                )
            )
        self.alias_name = alias_name


def topic_arn_pattern(stack: Stack, name_prefix: str) -> str:
    """Every SNS topic of the platform in this stack's region: `<prefix>-*`."""
    return f"arn:{stack.partition}:sns:{stack.region}:{stack.account}:{name_prefix}-*"
