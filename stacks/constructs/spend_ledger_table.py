"""The region's spend ledger: one DynamoDB table every project function in the region writes to."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

PARTITION_KEY = "pk"  # the project name: IAM's dynamodb:LeadingKeys confines each function to its own
SORT_KEY = "sk"  # month#YYYY-MM, hold#..., keymonth#..., rate#... (claude_platform.ledger)
TTL_ATTRIBUTE = "expires_at"  # only the per-minute rate items carry it (claude_platform.rate_window)


class SpendLedgerTable(Construct):
    """On-demand, point-in-time recovery, encrypted, deletion-protected, retained on stack deletion.

    Time to live on `expires_at`: the rate-limit window items (one per minute and limited scope)
    expire an hour after their minute; month counters, holds and keys never carry the attribute.

    Named deterministically (`table_name`) so project stacks build its ARN without a cross-stack
    export. Spend history is financial data: deleting the stack never deletes the table.
    """

    def __init__(self, scope: Construct, construct_id: str, *, table_name: str) -> None:
        if not 3 <= len(table_name) <= 255:
            raise ValueError(f"table_name must be 3-255 characters: {table_name!r}")
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=table_name,
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
            time_to_live_attribute=TTL_ATTRIBUTE,
        )
        self.table_name = table_name
