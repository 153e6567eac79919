"""The customer-managed KMS key that encrypts every project's alert topic."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# Services that publish to the encrypted alert topics and so need the key to encrypt messages.
PUBLISHING_SERVICES = ("budgets.amazonaws.com", "cloudwatch.amazonaws.com")


class AlertsKey(Construct):
    """KMS key with rotation and a fixed alias, usable by AWS Budgets and CloudWatch alarms.

    Project topics refer to it by alias (no cross-stack export), so a project stack can be
    deleted without touching the platform stack. `alias/aws/sns` cannot work: AWS services
    cannot use the AWS-managed SNS key.
    """

    def __init__(self, scope: Construct, construct_id: str, *, alias_name: str) -> None:
        if not alias_name.startswith("alias/") or alias_name.startswith("alias/aws/"):
            raise ValueError(f"alias_name must start with 'alias/' and not 'alias/aws/': {alias_name!r}")
        super().__init__(scope, construct_id)
        account = Stack.of(self).account
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the Claude platform's project alert topics (budgets, alarms)",
            enable_key_rotation=True,
            alias=alias_name,
        )
        for service in PUBLISHING_SERVICES:
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Allow{service.split('.')[0].capitalize()}ToPublishToEncryptedTopics",
                    principals=[iam.ServicePrincipal(service)],
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=["*"],  # in a key policy, "*" is this key
                    conditions={"StringEquals": {"aws:SourceAccount": account}},
                )
            )
        self.alias_name = alias_name
