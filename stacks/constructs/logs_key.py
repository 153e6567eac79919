"""The customer-managed KMS key of a project's log groups when they may hold prompt text."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

LOGS_KEY_ACTIONS = ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*")


def log_group_arn(stack: Stack, log_group_name: str) -> str:
    """A log group's ARN as CloudWatch Logs puts it in the encryption context (no `:*`)."""
    return f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:{log_group_name}"


class LogsKey(Construct):
    """KMS key (rotation on) that CloudWatch Logs of this region may use only for the named log
    groups (`kms:EncryptionContext:aws:logs:arn`), for projects with `log_prompts: true`.

    It lives in the project's stack and goes with it: the log groups it encrypts are deleted with
    the stack too (KMS waits 30 days before deleting the key; the deletion can be cancelled).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, project_name: str, log_group_names: Sequence[str]
    ) -> None:
        if not log_group_names:
            raise ValueError("log_group_names must not be empty")
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the log groups of Claude project {project_name} (log_prompts)",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(30),
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsForTheProjectsLogGroupsOnly",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=list(LOGS_KEY_ACTIONS),
                resources=["*"],  # in a key policy, "*" is this key
                conditions={
                    "ArnEquals": {
                        "kms:EncryptionContext:aws:logs:arn": [
                            log_group_arn(stack, n) for n in log_group_names
                        ]
                    }
                },
            )
        )
