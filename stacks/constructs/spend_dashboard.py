"""A CloudWatch dashboard of every project's spend and traffic, from the proxy function's EMF metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

PROJECTS_PER_DASHBOARD = 100  # 4 widgets per project: CloudWatch allows 500 widgets per dashboard
WIDGET_HEIGHT = 6


@dataclass(frozen=True)
class DashboardProject:
    """One project on the dashboard: its name (the metrics' `project` dimension) and monthly cap."""

    name: str
    cap_usd: float


def _metric(namespace: str, name: str, project: str, label: str, **dimensions: str) -> cw.Metric:
    return cw.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map={"project": project, **dimensions},
        statistic="Sum",
        label=label,
    )


class SpendDashboard(Construct):
    """`<name>`, or `<name>-2`, ... per 100 projects: per project, spend over the last 24 hours and
    30 days with the cap used, tokens, and requests, errors, throttles and budget refusals.

    Metrics (namespace `ClaudePlatform`, dimension `project`): CostUSD + EstimatedCostUSD (spend),
    InputTokens, OutputTokens,
    CacheReadInputTokens, CacheWriteInputTokens, Requests, Errors, Errors by error_type `throttled`,
    BudgetRefusals and LedgerErrors. CloudWatch has no calendar-month window: the exact month to
    date per project is `claude-finops status` (the ledger).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        projects: Sequence[DashboardProject],
        metrics_namespace: str,
    ) -> None:
        if not projects:
            raise ValueError("projects must not be empty")
        for project in projects:
            if project.cap_usd <= 0:
                raise ValueError(f"project {project.name!r}: cap_usd must be positive")
        super().__init__(scope, construct_id)
        self.dashboards: list[cw.Dashboard] = []
        for index in range(0, len(projects), PROJECTS_PER_DASHBOARD):
            chunk = projects[index : index + PROJECTS_PER_DASHBOARD]
            number = index // PROJECTS_PER_DASHBOARD + 1
            name = dashboard_name if number == 1 else f"{dashboard_name}-{number}"
            dashboard = cw.Dashboard(
                self,
                "Dashboard" if number == 1 else f"Dashboard{number}",
                dashboard_name=name,
                default_interval=Duration.days(7),
            )
            dashboard.add_widgets(
                cw.TextWidget(
                    markdown=(
                        f"# Claude spend per project ({len(chunk)} projects)\n"
                        "From the project functions' own metrics (namespace "
                        f"`{metrics_namespace}`). Calendar-month spend against the cap, exactly: "
                        "`claude-finops status`; the bill: `claude-finops report`."
                    ),
                    width=24,
                    height=2,
                )
            )
            for project in chunk:
                dashboard.add_widgets(*self._project_row(project, metrics_namespace))
            self.dashboards.append(dashboard)

    @staticmethod
    def _project_row(project: DashboardProject, namespace: str) -> list[cw.IWidget]:
        name = project.name

        def spend(label: str) -> cw.MathExpression:
            # Exact cost of served calls plus the worst-case charges for calls whose outcome was
            # unknown: what the ledger counts, so the dashboard never shows less than was charged.
            return cw.MathExpression(
                expression="FILL(cost, 0) + FILL(estimated, 0)",
                using_metrics={
                    "cost": _metric(namespace, "CostUSD", name, "cost"),
                    "estimated": _metric(namespace, "EstimatedCostUSD", name, "estimated"),
                },
                label=label,
            )

        cost = spend("spend USD")
        month_cost = spend("spend USD, 30 days")
        cap_used = cw.MathExpression(
            expression=f"100 * (FILL(mcost, 0) + FILL(mestimated, 0)) / {project.cap_usd:g}",
            using_metrics={
                "mcost": _metric(namespace, "CostUSD", name, "cost"),
                "mestimated": _metric(namespace, "EstimatedCostUSD", name, "estimated"),
            },
            label=f"cap used % (cap {project.cap_usd:g} USD)",
        )
        return [
            cw.SingleValueWidget(
                title=f"{name}: last 24 h",
                metrics=[cost, _metric(namespace, "Requests", name, "requests")],
                start="-PT24H",
                set_period_to_time_range=True,
                full_precision=True,
                width=5,
                height=WIDGET_HEIGHT,
            ),
            cw.SingleValueWidget(
                title=f"{name}: last 30 days",
                metrics=[month_cost, cap_used],
                start="-P30D",
                set_period_to_time_range=True,
                full_precision=True,
                width=5,
                height=WIDGET_HEIGHT,
            ),
            cw.GraphWidget(
                title=f"{name}: tokens per hour",
                left=[
                    _metric(namespace, "InputTokens", name, "input"),
                    _metric(namespace, "OutputTokens", name, "output"),
                    _metric(namespace, "CacheReadInputTokens", name, "cache read"),
                    _metric(namespace, "CacheWriteInputTokens", name, "cache write"),
                ],
                period=Duration.hours(1),
                stacked=True,
                width=7,
                height=WIDGET_HEIGHT,
            ),
            cw.GraphWidget(
                title=f"{name}: requests, errors, throttles, refusals per 5 min",
                left=[
                    _metric(namespace, "Requests", name, "requests"),
                    _metric(namespace, "Errors", name, "errors"),
                    _metric(namespace, "Errors", name, "throttled", error_type="throttled"),
                    _metric(namespace, "BudgetRefusals", name, "budget refusals"),
                    _metric(namespace, "LedgerErrors", name, "ledger errors"),
                ],
                period=Duration.minutes(5),
                width=7,
                height=WIDGET_HEIGHT,
            ),
        ]
