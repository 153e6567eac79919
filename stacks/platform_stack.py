"""The shared stack of one region: the alert topics' KMS key, the spend ledger table, the operations
topic with its subscription check, and the dashboard; its size does not grow with the projects."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from claude_platform.config_model import PlatformConfig
from claude_platform.cur import GLUE_TABLE_NAME, athena_workgroup_name, export_name, glue_database_name
from claude_platform.naming import (
    alert_topic_name,
    alerts_key_alias,
    cost_tag_activation_function_name,
    ledger_table_name,
    operations_alarm_name,
    operations_key_alias,
    operations_topic_name,
    spend_dashboard_name,
    subscription_check_function_name,
)
from stacks.constructs.alerts_key import AlertsKey
from stacks.constructs.claude_proxy_function import METRICS_NAMESPACE
from stacks.constructs.cost_tag_activation import CostTagActivation
from stacks.constructs.cur_export import CurExport
from stacks.constructs.operations_topic import OperationsTopic
from stacks.constructs.spend_dashboard import SpendDashboard
from stacks.constructs.spend_ledger_table import SpendLedgerTable
from stacks.constructs.subscription_check import SubscriptionCheck


class PlatformStack(Stack):
    """Shared resources of one region (one such stack per region with projects). Project stacks of
    the region depend on it but import nothing from it (alias by name)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, platform: PlatformConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.alerts_key = AlertsKey(
            self,
            "AlertsKey",
            alias_name=alerts_key_alias(platform.name_prefix),
            name_prefix=platform.name_prefix,
        )
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
        self._add_operations(platform)
        self._add_finance(platform)

    def _add_operations(self, platform: PlatformConfig) -> None:
        """The operations topic (alarms about the alerting itself) and the hourly check of
        unconfirmed alert subscriptions."""
        prefix = platform.name_prefix
        scope = Construct(self, "Operations")
        self.operations = OperationsTopic(
            scope,
            "Topic",
            topic_name=operations_topic_name(prefix),
            key_alias_name=operations_key_alias(prefix),
            alarm_name_prefix=f"{prefix}-",
            emails=platform.operations_emails,
        )
        CfnOutput(
            self,
            "OperationsTopicArn",
            value=self.operations.topic.topic_arn,
            description="Operations topic: failed alert e-mails, unconfirmed alert subscriptions",
        )
        # Alert topics are `<prefix>-<project>-alerts` (naming.alert_topic_name).
        example = alert_topic_name(prefix, "{project}")
        head, tail = example.split("{project}")
        self.subscription_check = SubscriptionCheck(
            scope,
            "SubscriptionCheck",
            function_name=subscription_check_function_name(prefix),
            topic_name_prefix=head,
            topic_name_suffix=tail,
            metrics_namespace=METRICS_NAMESPACE,
            pending_alarm_name=operations_alarm_name(prefix, "pending-subscriptions"),
            errors_alarm_name=operations_alarm_name(prefix, "subscription-check-errors"),
            operations_topic=self.operations.topic,
        )

    def _add_finance(self, platform: PlatformConfig) -> None:
        """The region's dashboard (constant size: queries over every project's metrics); in the
        home region, the opt-in tag activation and CUR export, which are account-wide
        (docs/finance.md)."""
        prefix = platform.name_prefix
        here = [
            p for p in platform.projects if (getattr(p, "region", None) or platform.region) == self.region
        ]
        if here:
            self.spend_dashboard = SpendDashboard(
                self,
                "SpendDashboard",
                dashboard_name=spend_dashboard_name(prefix, self.region),
                metrics_namespace=METRICS_NAMESPACE,
                detail_project=here[0].name,
                operations_alarms=[
                    self.subscription_check.pending_alarm,
                    self.subscription_check.errors_alarm,
                ],
            )
        if self.region != platform.region:
            return
        if platform.activate_cost_tags_on_deploy:
            extra = sorted(
                {k for p in platform.projects for k in p.tags} - {platform.cost_allocation_tag_key}
            )
            CostTagActivation(
                self,
                "CostTagActivation",
                function_name=cost_tag_activation_function_name(prefix),
                tag_keys=[platform.cost_allocation_tag_key, *extra],
            )
        if platform.cur_export.enabled:
            cur = platform.cur_export
            export = CurExport(
                self,
                "CurExport",
                export_name=export_name(prefix),
                s3_prefix=cur.s3_prefix,
                time_granularity=cur.time_granularity,
                database_name=glue_database_name(prefix),
                table_name=GLUE_TABLE_NAME,
                workgroup_name=athena_workgroup_name(prefix),
                tag_key=platform.cost_allocation_tag_key,
                access_log_retention_days=cur.access_log_retention_days,
            )
            CfnOutput(
                self, "CurBucketName", value=export.bucket.bucket_name, description="CUR 2.0 export bucket"
            )
            CfnOutput(self, "AthenaWorkGroup", value=export.workgroup.ref, description="Athena workgroup")
