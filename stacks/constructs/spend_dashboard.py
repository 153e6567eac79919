"""A region's spend and operations dashboard whose size does not depend on the number of projects.

Rankings and totals are CloudWatch Metrics Insights queries over the proxy functions' EMF metrics
(namespace `ClaudePlatform`, dimension `project`, per key `project` + `api_key`): a query processes
up to 10,000 metrics, sorts them all by its ORDER BY and returns at most 500 series, so a top-N is
right however many projects the region has. One project's detail comes from a dashboard variable
(the `project` property) instead of one row per project.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

TOP_N = 20
# CloudWatch limits the dashboard is checked against (docs/aws-facts.md).
MAX_WIDGETS_PER_DASHBOARD = 500
MAX_METRICS_PER_WIDGET = 500
MAX_INSIGHTS_SERIES = 500  # time series one Metrics Insights query returns
HEIGHT = 6
PROJECT_PROPERTY = "project"


def insights(
    function: str, metric: str, namespace: str, schema: Sequence[str], *, group_by: str = "", where: str = ""
) -> str:
    """`SELECT <function>(<metric>) FROM SCHEMA(...)`, optionally grouped and ranked (top TOP_N)."""
    keys = ", ".join(schema)
    query = f'SELECT {function}({metric}) FROM SCHEMA("{namespace}", {keys})'
    if where:
        query += f" WHERE {where}"
    if group_by:
        query += f" GROUP BY {group_by} ORDER BY {function}() DESC LIMIT {TOP_N}"
    return query


class SpendDashboard(Construct):
    """`dashboard_name`: region totals, top projects and API keys by spend, errors, throttles,
    budget refusals, ledger errors, latency and tokens; alert delivery (failed SNS notifications
    per topic, unconfirmed subscriptions per project, the operations alarms); then one project's
    detail, chosen with the dashboard's `project` variable.

    Metrics Insights queries reach two weeks back, so the longest window here is 14 days; the
    calendar month against each cap is `claude-finops status` (the ledger).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        metrics_namespace: str,
        detail_project: str,
        operations_alarms: Sequence[cw.IAlarm] = (),
    ) -> None:
        if not detail_project:
            raise ValueError("detail_project must name a project of the region")
        super().__init__(scope, construct_id)
        ns = metrics_namespace
        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            default_interval=Duration.days(7),
            variables=[
                cw.DashboardVariable(
                    id=PROJECT_PROPERTY,
                    type=cw.VariableType.PROPERTY,
                    label="Project",
                    input_type=cw.VariableInputType.SELECT,
                    value=PROJECT_PROPERTY,
                    values=cw.Values.from_search(
                        f'{{{ns},{PROJECT_PROPERTY}}} MetricName="Requests"', PROJECT_PROPERTY
                    ),
                    default_value=cw.DefaultValue.FIRST,
                )
            ],
        )
        self.dashboard.add_widgets(
            cw.TextWidget(
                markdown=(
                    "# Claude spend and operations in this region\n"
                    f"From the project functions' own metrics (namespace `{ns}`); spend is `SpendUSD`, "
                    "exact cost plus the worst case of calls whose outcome was unknown. Rankings cover "
                    "every project of the region. Calendar-month spend against each cap: "
                    "`claude-finops status`; the bill: `claude-finops report`. One project's detail: "
                    "pick it in **Project** above, see the bottom rows."
                ),
                width=24,
                height=2,
            )
        )
        self.dashboard.add_widgets(*self._totals(ns))
        self.dashboard.add_widgets(
            self._top(
                "Top projects by spend USD",
                "SUM",
                "SpendUSD",
                namespace=ns,
                schema=[PROJECT_PROPERTY],
                width=12,
                bar=True,
            ),
            self._top(
                "Top API keys by spend USD",
                "SUM",
                "SpendUSD",
                namespace=ns,
                schema=["api_key", PROJECT_PROPERTY],
                width=12,
                bar=True,
                group_by=f"{PROJECT_PROPERTY}, api_key",
            ),
        )
        self.dashboard.add_widgets(
            self._top(
                "Top projects by errors", "SUM", "Errors", namespace=ns, schema=[PROJECT_PROPERTY], width=6
            ),
            self._top(
                "Top projects by throttles",
                "SUM",
                "Errors",
                namespace=ns,
                schema=["error_type", PROJECT_PROPERTY],
                width=6,
                where="error_type = 'throttled'",
            ),
            self._top(
                "Top projects by budget refusals",
                "SUM",
                "BudgetRefusals",
                namespace=ns,
                schema=[PROJECT_PROPERTY],
                width=6,
            ),
            self._top(
                "Top projects by ledger errors",
                "SUM",
                "LedgerErrors",
                namespace=ns,
                schema=[PROJECT_PROPERTY],
                width=6,
            ),
        )
        self.dashboard.add_widgets(
            self._top(
                "Slowest projects: average latency ms",
                "AVG",
                "LatencyMs",
                namespace=ns,
                schema=[PROJECT_PROPERTY],
                width=12,
            ),
            self._top(
                "Top projects by output tokens",
                "SUM",
                "OutputTokens",
                namespace=ns,
                schema=[PROJECT_PROPERTY],
                width=12,
            ),
        )
        delivery: list[cw.IWidget] = [
            self._top(
                "Alert e-mails that failed, per SNS topic",
                "SUM",
                "NumberOfNotificationsFailed",
                namespace="AWS/SNS",
                schema=["TopicName"],
                width=9,
            ),
            self._top(
                "Unconfirmed alert subscriptions, per project",
                "MAX",
                "PendingSubscriptions",
                namespace=ns,
                schema=[PROJECT_PROPERTY],
                width=9,
            ),
        ]
        if operations_alarms:
            delivery.append(
                cw.AlarmStatusWidget(
                    title="Operations alarms", alarms=list(operations_alarms), width=6, height=HEIGHT
                )
            )
        self.dashboard.add_widgets(*delivery)
        self.dashboard.add_widgets(
            cw.TextWidget(markdown="## One project (choose it in **Project** at the top)", width=24, height=1)
        )
        self.dashboard.add_widgets(*self._detail(ns, detail_project))

    @staticmethod
    def _totals(ns: str) -> list[cw.IWidget]:
        def single(title: str, function: str, metric: str, start: str) -> cw.SingleValueWidget:
            return cw.SingleValueWidget(
                title=title,
                metrics=[
                    cw.MathExpression(
                        expression=insights(function, metric, ns, [PROJECT_PROPERTY]),
                        using_metrics={},
                        label=metric,
                    )
                ],
                start=start,
                set_period_to_time_range=True,
                full_precision=True,
                width=6,
                height=4,
            )

        return [
            single("Region spend USD, last 24 h", "SUM", "SpendUSD", "-PT24H"),
            single("Region spend USD, last 14 days", "SUM", "SpendUSD", "-P14D"),
            single("Region requests, last 24 h", "SUM", "Requests", "-PT24H"),
            single("Region errors, last 24 h", "SUM", "Errors", "-PT24H"),
        ]

    @staticmethod
    def _top(
        title: str,
        function: str,
        metric: str,
        *,
        namespace: str,
        schema: Sequence[str],
        width: int,
        bar: bool = False,
        group_by: str = "",
        where: str = "",
    ) -> cw.GraphWidget:
        query = insights(function, metric, namespace, schema, group_by=group_by or schema[-1], where=where)
        return cw.GraphWidget(
            title=f"{title} (top {TOP_N})",
            left=[cw.MathExpression(expression=query, using_metrics={}, label="", period=Duration.hours(1))],
            view=cw.GraphWidgetView.BAR if bar else cw.GraphWidgetView.TIME_SERIES,
            set_period_to_time_range=bar,
            width=width,
            height=HEIGHT,
        )

    @staticmethod
    def _detail(ns: str, project: str) -> list[cw.IWidget]:
        def metric(name: str, label: str, statistic: str = "Sum", **dimensions: str) -> cw.Metric:
            return cw.Metric(
                namespace=ns,
                metric_name=name,
                dimensions_map={PROJECT_PROPERTY: project, **dimensions},
                statistic=statistic,
                label=label,
            )

        return [
            cw.GraphWidget(
                title="Project spend USD per hour",
                left=[
                    metric("SpendUSD", "spend"),
                    metric("CostUSD", "exact cost"),
                    metric("EstimatedCostUSD", "estimated (unknown outcome)"),
                ],
                period=Duration.hours(1),
                width=6,
                height=HEIGHT,
            ),
            cw.GraphWidget(
                title="Project tokens per hour",
                left=[
                    metric("InputTokens", "input"),
                    metric("OutputTokens", "output"),
                    metric("CacheReadInputTokens", "cache read"),
                    metric("CacheWriteInputTokens", "cache write"),
                ],
                period=Duration.hours(1),
                stacked=True,
                width=6,
                height=HEIGHT,
            ),
            cw.GraphWidget(
                title="Project requests, errors, throttles, refusals per 5 min",
                left=[
                    metric("Requests", "requests"),
                    metric("Errors", "errors"),
                    metric("Errors", "throttled", error_type="throttled"),
                    metric("BudgetRefusals", "budget refusals"),
                    metric("LedgerErrors", "ledger errors"),
                ],
                period=Duration.minutes(5),
                width=6,
                height=HEIGHT,
            ),
            cw.GraphWidget(
                title="Project latency ms and unconfirmed subscriptions",
                left=[
                    metric("LatencyMs", "average", statistic="Average"),
                    metric("LatencyMs", "p99", statistic="p99"),
                ],
                right=[metric("PendingSubscriptions", "unconfirmed subscriptions", statistic="Maximum")],
                period=Duration.minutes(5),
                width=6,
                height=HEIGHT,
            ),
        ]
