"""Cost Explorer reads: spend grouped by the cost-allocation tag, tag status, month-end forecast.

Claude is billed through AWS Marketplace, so nothing here filters by SERVICE: spend is found by
its tag. boto3 has no paginator for GetCostAndUsage: pages are followed through NextPageToken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from finops.errors import ACCESS_DENIED_CODES, error_code
from finops.periods import Period, next_month

COST_METRIC = "UnblendedCost"  # what the bill charges; Marketplace line items included
FORECAST_METRIC = "UNBLENDED_COST"


@dataclass(frozen=True)
class TagCost:
    """Cost of one tag value over one result period; `tag_value` None is the untagged group."""

    start: date
    end: date
    tag_value: str | None
    amount: Decimal
    unit: str
    estimated: bool
    dimension: str | None = None  # the second group key (a SERVICE or RECORD_TYPE value), if grouped by one


@dataclass(frozen=True)
class TagCosts:
    """Every group of every result period, and how many pages it took."""

    costs: list[TagCost]
    pages: int
    estimated_periods: dict[date, bool] = field(default_factory=dict)  # period start -> still estimated


def tag_value_of(group_key: str, tag_key: str) -> str | None:
    """`project$support-bot` -> 'support-bot'; `project$` (untagged) -> None."""
    prefix = f"{tag_key}$"
    value = group_key[len(prefix) :] if group_key.startswith(prefix) else group_key.partition("$")[2]
    return value or None


def tag_filter(tag_key: str, value: str) -> dict[str, Any]:
    """A Cost Explorer Expression selecting one tag value (never a SERVICE filter)."""
    return {"Tags": {"Key": tag_key, "Values": [value], "MatchOptions": ["EQUALS"]}}


def costs_by_tag(
    ce: Any,
    *,
    period: Period,
    granularity: str,
    tag_key: str,
    on_page: Callable[[int], None] | None = None,
    dimension: str | None = None,
    filter_expression: dict[str, Any] | None = None,
) -> TagCosts:
    """GetCostAndUsage grouped by `tag_key` (and a `dimension` such as SERVICE), every page followed."""
    kwargs: dict[str, Any] = {
        "TimePeriod": {"Start": period.start.isoformat(), "End": period.end.isoformat()},
        "Granularity": granularity,
        "Metrics": [COST_METRIC],
        "GroupBy": [{"Type": "TAG", "Key": tag_key}],
    }
    if dimension:
        kwargs["GroupBy"].append({"Type": "DIMENSION", "Key": dimension})
    if filter_expression:
        kwargs["Filter"] = filter_expression
    costs: list[TagCost] = []
    estimated: dict[date, bool] = {}
    pages = 0
    while True:
        response = ce.get_cost_and_usage(**kwargs)
        pages += 1
        for result in response.get("ResultsByTime", []):
            start = date.fromisoformat(result["TimePeriod"]["Start"])
            end = date.fromisoformat(result["TimePeriod"]["End"])
            estimated[start] = estimated.get(start, False) or bool(result.get("Estimated", False))
            for group in result.get("Groups", []):
                metric = group["Metrics"][COST_METRIC]
                costs.append(
                    TagCost(
                        start=start,
                        end=end,
                        tag_value=tag_value_of(group["Keys"][0], tag_key),
                        amount=Decimal(metric["Amount"]),
                        unit=metric.get("Unit", "USD"),
                        estimated=bool(result.get("Estimated", False)),
                        dimension=group["Keys"][1] if dimension and len(group["Keys"]) > 1 else None,
                    )
                )
        if on_page:
            on_page(pages)
        token = response.get("NextPageToken")
        if not token:
            return TagCosts(costs, pages, estimated)
        kwargs["NextPageToken"] = token


class TagStatus(StrEnum):
    """A user-defined cost-allocation tag key as Cost Explorer knows it."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    NOT_SEEN = "not seen yet"
    UNKNOWN = "unknown"


def tag_statuses(ce: Any, keys: list[str]) -> dict[str, TagStatus]:
    """Status of each key; keys Cost Explorer has not seen in billing data are NOT_SEEN.

    UNKNOWN for every key when the caller may not list tags (member accounts often may not).
    """
    found: dict[str, TagStatus] = {}
    try:
        for chunk_start in range(0, len(keys), 100):
            kwargs: dict[str, Any] = {"TagKeys": keys[chunk_start : chunk_start + 100], "Type": "UserDefined"}
            while True:
                response = ce.list_cost_allocation_tags(**kwargs)
                for tag in response.get("CostAllocationTags", []):
                    status = TagStatus.ACTIVE if tag.get("Status") == "Active" else TagStatus.INACTIVE
                    found[tag["TagKey"]] = status
                token = response.get("NextToken")
                if not token:
                    break
                kwargs["NextToken"] = token
    except ClientError as exc:
        if error_code(exc) in ACCESS_DENIED_CODES:
            return dict.fromkeys(keys, TagStatus.UNKNOWN)
        raise
    return {key: found.get(key, TagStatus.NOT_SEEN) for key in keys}


def month_end_forecast(ce: Any, *, tag_key: str, tag_value: str, today: date) -> Decimal | None:
    """Forecast spend from today to the end of today's month (None: not enough history yet)."""
    end = next_month(today)
    try:
        response = ce.get_cost_forecast(
            TimePeriod={"Start": today.isoformat(), "End": end.isoformat()},
            Metric=FORECAST_METRIC,
            Granularity="MONTHLY",
            Filter=tag_filter(tag_key, tag_value),
        )
    except ClientError as exc:
        if error_code(exc) == "DataUnavailableException":
            return None
        raise
    return Decimal(response["Total"]["Amount"])
