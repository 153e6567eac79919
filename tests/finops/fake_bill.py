"""A fake bill: line items as the CUR has them, served through a Cost Explorer that evaluates queries.

`FakeCostExplorer.get_cost_and_usage` validates its parameters against botocore's model of the real
API, applies `Filter` (Dimensions SERVICE/RECORD_TYPE, Tags, And/Or/Not) and `GroupBy` (TAG and
DIMENSION) to the line items, pages the groups, and answers in Cost Explorer's response shape, so a
test checks what the code asks for, not only what it does with a canned answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import boto3
from botocore.validate import validate_parameters

_MODEL = boto3.client("ce", region_name="us-east-1").meta.service_model


@dataclass(frozen=True)
class LineItem:
    """One CUR line: `line_item_line_item_type`, `product_servicecode` (Cost Explorer's SERVICE name),
    the resource's tag value, the usage month and `line_item_unblended_cost`."""

    tag_value: str | None
    service: str
    amount: str
    record_type: str = "Usage"
    month: str = "2026-10"

    def dimension(self, key: str) -> str:
        if key == "SERVICE":
            return self.service
        if key == "RECORD_TYPE":
            return self.record_type
        raise AssertionError(f"the fake bill does not know dimension {key}")


def bedrock(tag_value: str | None, amount: str, **kwargs: Any) -> LineItem:
    """A Claude usage line as billed under Bedrock's service name."""
    return LineItem(tag_value, "Amazon Bedrock", amount, **kwargs)


def infrastructure(tag_value: str, amount: str, **kwargs: Any) -> list[LineItem]:
    """The project's own resources, `amount` split over Lambda, logs and alarms, and the topic."""
    total = Decimal(amount)
    lam = (total * Decimal("0.5")).quantize(Decimal("0.000001"))
    logs = (total * Decimal("0.3")).quantize(Decimal("0.000001"))
    return [
        LineItem(tag_value, "AWS Lambda", str(lam), **kwargs),
        LineItem(tag_value, "AmazonCloudWatch", str(logs), **kwargs),
        LineItem(tag_value, "Amazon Simple Notification Service", str(total - lam - logs), **kwargs),
    ]


class FakeCostExplorer:
    """The parts of the Cost Explorer client `claude-finops` calls, over a list of line items."""

    def __init__(
        self,
        lines: list[LineItem],
        *,
        tag_key: str = "project",
        tag_status: str = "Active",
        estimated: bool = False,
        page_size: int = 3,
    ) -> None:
        self.lines = lines
        self.tag_key = tag_key
        self.tag_status = tag_status
        self.estimated = estimated
        self.page_size = page_size
        self.calls: list[dict[str, Any]] = []

    def _validate(self, operation: str, params: dict[str, Any]) -> None:
        validate_parameters(params, _MODEL.operation_model(operation).input_shape)

    def list_cost_allocation_tags(self, **params: Any) -> dict[str, Any]:
        self._validate("ListCostAllocationTags", params)
        return {
            "CostAllocationTags": [{"TagKey": self.tag_key, "Type": "UserDefined", "Status": self.tag_status}]
        }

    def _matches(self, line: LineItem, expression: dict[str, Any]) -> bool:
        (kind,) = expression.keys()
        body = expression[kind]
        if kind == "And":
            return all(self._matches(line, e) for e in body)
        if kind == "Or":
            return any(self._matches(line, e) for e in body)
        if kind == "Not":
            return not self._matches(line, body)
        if kind == "Dimensions":
            assert body.get("MatchOptions", ["EQUALS"]) == ["EQUALS"]
            return line.dimension(body["Key"]) in body["Values"]
        if kind == "Tags":
            assert body["Key"] == self.tag_key
            return (line.tag_value or "") in body["Values"]
        raise AssertionError(f"the fake bill does not evaluate {kind}")

    def _key(self, line: LineItem, group: dict[str, str]) -> str:
        if group["Type"] == "TAG":
            assert group["Key"] == self.tag_key
            return f"{self.tag_key}${line.tag_value or ''}"
        return line.dimension(group["Key"])

    def get_cost_and_usage(self, **params: Any) -> dict[str, Any]:
        self._validate("GetCostAndUsage", params)
        self.calls.append(params)
        assert params["Granularity"] == "MONTHLY" and params["Metrics"] == ["UnblendedCost"]
        assert len(params.get("GroupBy", [])) <= 2, "Cost Explorer allows two GroupBy keys"
        start = date.fromisoformat(params["TimePeriod"]["Start"])
        end = date.fromisoformat(params["TimePeriod"]["End"])
        groups: dict[tuple[str, tuple[str, ...]], Decimal] = {}
        for line in self.lines:
            first = date.fromisoformat(f"{line.month}-01")
            if not start <= first < end:
                continue
            if "Filter" in params and not self._matches(line, params["Filter"]):
                continue
            keys = tuple(self._key(line, g) for g in params.get("GroupBy", []))
            groups[(line.month, keys)] = groups.get((line.month, keys), Decimal(0)) + Decimal(line.amount)
        flat = sorted(groups.items())
        offset = int(params.get("NextPageToken") or 0)
        page = flat[offset : offset + self.page_size]
        months = sorted({m for (m, _), _ in flat}) or [start.strftime("%Y-%m")]
        results = []
        for month in months:
            first = date.fromisoformat(f"{month}-01")
            following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            results.append(
                {
                    "TimePeriod": {"Start": first.isoformat(), "End": following.isoformat()},
                    "Total": {},
                    "Estimated": self.estimated,
                    "Groups": [
                        {
                            "Keys": list(keys),
                            "Metrics": {"UnblendedCost": {"Amount": str(amount), "Unit": "USD"}},
                        }
                        for (m, keys), amount in page
                        if m == month
                    ],
                }
            )
        response: dict[str, Any] = {"ResultsByTime": results}
        if offset + self.page_size < len(flat):
            response["NextPageToken"] = str(offset + self.page_size)
        return response
