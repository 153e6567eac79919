"""A project's monthly cost budget, filtered on its cost-allocation tag, alerting its topic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from claude_platform.config_sections import MAX_BUDGET_NOTIFICATIONS
from claude_platform.naming import FORECAST_THRESHOLD_PERCENT, budget_tag_filter

# What counts as spend. Credits and refunds are excluded so that promotional credits or a refund
# never hide a project's real consumption; tax, subscriptions (Claude is billed through AWS
# Marketplace) and discounts are included so the budget tracks what the project costs. Unblended,
# unamortized: the rates actually billed for on-demand usage.
COST_TYPES = budgets.CfnBudget.CostTypesProperty(
    include_credit=False,
    include_refund=False,
    include_discount=True,
    include_tax=True,
    include_subscription=True,
    include_other_subscription=True,
    include_recurring=True,
    include_upfront=True,
    include_support=True,
    use_blended=False,
    use_amortized=False,
)


class ProjectBudget(Construct):
    """`AWS::Budgets::Budget`: MONTHLY COST, filtered only on the cost-allocation tag.

    No SERVICE filter: Claude spend is billed through AWS Marketplace under per-model service
    names, not "Amazon Bedrock". One ACTUAL notification per threshold plus a FORECASTED one at
    100 %, each to the SNS topic. The budget depends on `depends_on` (the topic policy).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        budget_name: str,
        monthly_limit_usd: float,
        tag_key: str,
        tag_value: str,
        actual_thresholds_percent: Sequence[float],
        topic: sns.ITopic,
        tags: Mapping[str, str],
        depends_on: Sequence[IConstruct] = (),
    ) -> None:
        if monthly_limit_usd <= 0:
            raise ValueError(f"monthly_limit_usd must be positive, got {monthly_limit_usd}")
        if not actual_thresholds_percent or len(actual_thresholds_percent) + 1 > MAX_BUDGET_NOTIFICATIONS:
            raise ValueError(f"give 1-{MAX_BUDGET_NOTIFICATIONS - 1} thresholds (one slot is the forecast)")
        if any(not 0 < t <= 1000 for t in actual_thresholds_percent):
            raise ValueError(f"thresholds must be in (0, 1000] percent: {list(actual_thresholds_percent)}")
        super().__init__(scope, construct_id)
        subscribers = [budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)]
        notifications = [
            budgets.CfnBudget.NotificationWithSubscribersProperty(
                notification=budgets.CfnBudget.NotificationProperty(
                    notification_type=kind,
                    comparison_operator="GREATER_THAN",
                    threshold=threshold,
                    threshold_type="PERCENTAGE",
                ),
                subscribers=subscribers,
            )
            for kind, threshold in [
                *(("ACTUAL", t) for t in actual_thresholds_percent),
                ("FORECASTED", FORECAST_THRESHOLD_PERCENT),
            ]
        ]
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=budget_name,
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=monthly_limit_usd, unit="USD"),
                cost_filters={"TagKeyValue": [budget_tag_filter(tag_key, tag_value)]},
                cost_types=COST_TYPES,
            ),
            notifications_with_subscribers=notifications,
            resource_tags=[budgets.CfnBudget.ResourceTagProperty(key=k, value=v) for k, v in tags.items()],
        )
        for dependency in depends_on:
            self.budget.node.add_dependency(dependency)
        self.budget_name = budget_name
