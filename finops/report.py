"""`report`: Cost Explorer spend per project against its budget, with untagged spend and totals."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from finops.costexplorer import TagCost
from finops.output import Column

UNTAGGED = "(untagged)"
TOTAL = "TOTAL"

COLUMNS = (
    Column("period", "period"),
    Column("project", "project"),
    Column("cost_usd", "cost USD", places=2),
    Column("budget_usd", "budget USD", places=2),
    Column("budget_used_pct", "used %", places=1),
    Column("forecast_usd", "month-end forecast USD", places=2),
    Column("estimated", "estimated"),
    Column("note", "note"),
)


@dataclass(frozen=True)
class ProjectBudget:
    """A configured project: its tag value and monthly budget."""

    name: str
    monthly_budget_usd: Decimal


def report_rows(
    costs: Sequence[TagCost],
    *,
    projects: Sequence[ProjectBudget],
    monthly: bool,
    forecasts: Mapping[str, Decimal | None] | None = None,
    current_month_start: date | None = None,
) -> list[dict[str, object]]:
    """One row per period and project (configured projects always, other tag values as found),
    the untagged line per period, then a total per period.

    `forecasts` (project -> forecast of the rest of the current month) fills the month-end
    forecast of the current month's rows: spend so far plus the forecast. Budget and percent used
    are filled for monthly rows only (a day is not a month).
    """
    by_period: dict[tuple[date, date], dict[str | None, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    estimated: dict[tuple[date, date], bool] = {}
    for cost in costs:
        key = (cost.start, cost.end)
        by_period[key][cost.tag_value] += cost.amount
        estimated[key] = estimated.get(key, False) or cost.estimated
    budgets = {p.name: p.monthly_budget_usd for p in projects}
    rows: list[dict[str, object]] = []
    for (start, end), amounts in sorted(by_period.items()):
        label = start.strftime("%Y-%m") if monthly else start.isoformat()
        names = [p.name for p in projects] + sorted(v for v in amounts if v is not None and v not in budgets)
        total = Decimal(0)
        for name in names:
            amount = amounts.get(name, Decimal(0))
            total += amount
            row: dict[str, object] = {
                "period": label,
                "project": name,
                "cost_usd": amount,
                "estimated": estimated[(start, end)],
                "note": "" if name in budgets else "tag value not in the config",
            }
            if monthly and name in budgets:
                budget = budgets[name]
                row["budget_usd"] = budget
                row["budget_used_pct"] = (amount * 100 / budget).quantize(Decimal("0.1"))
                if forecasts is not None and start == current_month_start and name in forecasts:
                    rest = forecasts[name]
                    row["forecast_usd"] = None if rest is None else amount + rest
                    if rest is None:
                        row["note"] = "no forecast (no spend yet this month, or too little history)"
            rows.append(row)
        untagged = amounts.get(None, Decimal(0))
        total += untagged
        rows.append(
            {
                "period": label,
                "project": UNTAGGED,
                "cost_usd": untagged,
                "estimated": estimated[(start, end)],
                "note": "account spend without the tag (all services)",
            }
        )
        rows.append(
            {"period": label, "project": TOTAL, "cost_usd": total, "estimated": estimated[(start, end)]}
        )
    return rows
