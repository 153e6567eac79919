"""The shared stack of one region: the KMS key of the region's alert topics and its spend ledger table."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from claude_platform.config import PlatformConfig
from claude_platform.naming import alerts_key_alias, ledger_table_name
from stacks.constructs.alerts_key import AlertsKey
from stacks.constructs.spend_ledger_table import SpendLedgerTable


class PlatformStack(Stack):
    """Shared resources of one region (one such stack per region with projects). Project stacks of
    the region depend on it but import nothing from it (alias by name)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, platform: PlatformConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.alerts_key = AlertsKey(self, "AlertsKey", alias_name=alerts_key_alias(platform.name_prefix))
        CfnOutput(
            self, "AlertsKeyArn", value=self.alerts_key.key.key_arn, description="KMS key of alert topics"
        )
        CfnOutput(self, "AlertsKeyAlias", value=self.alerts_key.alias_name, description="Its alias")
        self.ledger = SpendLedgerTable(
            self, "SpendLedger", table_name=ledger_table_name(platform.name_prefix)
        )
        CfnOutput(
            self, "SpendLedgerTableName", value=self.ledger.table_name, description="Spend ledger (DynamoDB)"
        )
