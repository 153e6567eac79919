"""Opt-in: activate the cost-allocation tag keys after deploy, and retry daily until all are active."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, CustomResource, Duration, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.constructs.single_file_function import RUNTIME, single_file_function

# The handler is claude_platform/cost_tags.py alone (standard library + boto3), shared with the CLI.
CE_ACTIONS = ("ce:UpdateCostAllocationTagsStatus", "ce:ListCostAllocationTags")


class CostTagActivation(Construct):
    """A small Lambda that activates `tag_keys` in Cost Explorer: as a custom resource on every
    deploy that changes the keys, and once a day (a key can be activated only after it has
    appeared in billing data, up to a day after resources first carry it; already-active keys are
    left alone). It never fails a deployment; its log says what was activated, already active, not
    seen yet or failed. Works only in the management (payer) or a standalone account.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        tag_keys: Sequence[str],
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        keys = list(dict.fromkeys(tag_keys))
        if not keys:
            raise ValueError("tag_keys must not be empty")
        if any(not k or k.lower().startswith("aws:") for k in keys):
            raise ValueError(f"tag_keys must be user tag keys, got {keys}")
        super().__init__(scope, construct_id)
        made = single_file_function(
            self,
            function_name=function_name,
            module_file="cost_tags.py",
            description="Activates the Claude platform's cost-allocation tag keys (deploy and daily)",
            role_description=f"{function_name}: activate cost-allocation tag keys, write own logs",
            policy_name="ActivateCostTags",
            statements=[
                iam.PolicyStatement(sid="ManageCostAllocationTags", actions=list(CE_ACTIONS), resources=["*"])
            ],
            timeout=Duration.seconds(60),
            environment={"TAG_KEYS": ",".join(keys)},
            log_retention=log_retention,
        )
        self.log_group, self.role, self.function = made.log_group, made.role, made.function
        self.resource = CustomResource(
            self,
            "Activation",
            service_token=self.function.function_arn,
            resource_type="Custom::CostAllocationTagActivation",
            properties={"TagKeys": keys},
        )
        self.resource.node.add_dependency(self.role)
        self.schedule = events.Rule(
            self,
            "DailyRetry",
            description="Retry activating cost-allocation tag keys not yet in billing data",
            schedule=events.Schedule.rate(Duration.days(1)),
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason=(
                    "ce:UpdateCostAllocationTagsStatus and ce:ListCostAllocationTags act on the account's "
                    "cost-allocation tag settings and support no resource-level permissions, so IAM "
                    "requires Resource '*'; the role has no other Cost Explorer action."
                ),
            )
        )
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-L1",
                reason=(
                    f"{RUNTIME.name} is pinned to the runtime the project functions use and test on; the "
                    "handler is one standard-library file, so moving it with them is a one-line change."
                ),
            )
        )
