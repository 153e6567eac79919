"""The tag's bill split like the ledger: Claude usage lines, the project's infrastructure, the rest.

The ledger records Claude calls at list price; the tagged bill also holds the function, its log
group, alarms and topic, and credits, refunds and taxes. Reconciliation compares only the lines
of usage record types whose SERVICE matches a Claude pattern below. The names Claude is billed
under through AWS Marketplace are not verified (docs/aws-facts.md): `--claude-service` adds a
pattern, and every usage line that matches no pattern is reported as unclassified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from finops.costexplorer import costs_by_tag
from finops.periods import Period

# Record types that are usage at the price the ledger uses; Credit, Refund, Tax, Fee, discounts,
# Savings Plan and RI lines are never compared (the project's AWS Budget excludes credits too).
USAGE_RECORD_TYPES = ("Usage",)


class LineKind(StrEnum):
    """What a usage line of the tag is."""

    CLAUDE = "claude"
    INFRASTRUCTURE = "infrastructure"
    UNCLASSIFIED = "unclassified"


@dataclass(frozen=True)
class ServicePattern:
    """A Cost Explorer SERVICE value (fnmatch pattern, case-sensitive) and what it is."""

    pattern: str
    kind: LineKind
    source: str


SERVICE_PATTERNS: tuple[ServicePattern, ...] = (
    ServicePattern(
        "Amazon Bedrock", LineKind.CLAUDE, "Bedrock's service name (reported, unverified for Claude)"
    ),
    ServicePattern(
        "Amazon Bedrock Service",
        LineKind.CLAUDE,
        "where aws-samples report Marketplace Claude lands (unverified)",
    ),
    ServicePattern(
        "Claude*(Amazon Bedrock Edition)", LineKind.CLAUDE, "Marketplace product names (reported, unverified)"
    ),
    ServicePattern("AWS Lambda", LineKind.INFRASTRUCTURE, "the project's functions"),
    ServicePattern("AmazonCloudWatch", LineKind.INFRASTRUCTURE, "log groups, alarms, metrics"),
    ServicePattern("Amazon CloudWatch*", LineKind.INFRASTRUCTURE, "CloudWatch under its long name"),
    ServicePattern("Amazon Simple Notification Service", LineKind.INFRASTRUCTURE, "the alert topic"),
    ServicePattern("AWS Key Management Service", LineKind.INFRASTRUCTURE, "keys"),
    ServicePattern("AWS X-Ray", LineKind.INFRASTRUCTURE, "traces (tracing.xray)"),
    ServicePattern("AWS Secrets Manager", LineKind.INFRASTRUCTURE, "tracing secrets"),
    ServicePattern("Amazon DynamoDB", LineKind.INFRASTRUCTURE, "tables"),
    ServicePattern("Amazon Simple Queue Service", LineKind.INFRASTRUCTURE, "queues"),
    ServicePattern("Amazon Simple Storage Service", LineKind.INFRASTRUCTURE, "buckets"),
)


def service_patterns(extra_claude: tuple[str, ...] | list[str] = ()) -> tuple[ServicePattern, ...]:
    """The table, with `--claude-service` patterns first (a Claude pattern wins over infrastructure)."""
    added = tuple(ServicePattern(p, LineKind.CLAUDE, "--claude-service") for p in extra_claude)
    return added + SERVICE_PATTERNS


def classify(service: str, patterns: tuple[ServicePattern, ...]) -> LineKind:
    """The kind of a usage line by its SERVICE value; Claude patterns are tried first."""
    for kind in (LineKind.CLAUDE, LineKind.INFRASTRUCTURE):
        if any(p.kind is kind and fnmatchcase(service, p.pattern) for p in patterns):
            return kind
    return LineKind.UNCLASSIFIED


@dataclass
class MonthBill:
    """One tag value's bill for one month, split like the ledger."""

    claude_usd: Decimal = Decimal(0)
    infrastructure_usd: Decimal = Decimal(0)
    unclassified_usd: Decimal = Decimal(0)
    not_usage_usd: Decimal = Decimal(0)  # credits, refunds, taxes, fees: shown, never compared
    services: dict[LineKind, set[str]] = field(default_factory=dict)
    record_types: set[str] = field(default_factory=set)  # the non-usage record types seen

    def add_usage(self, service: str, kind: LineKind, amount: Decimal) -> None:
        """Count one usage line."""
        if kind is LineKind.CLAUDE:
            self.claude_usd += amount
        elif kind is LineKind.INFRASTRUCTURE:
            self.infrastructure_usd += amount
        else:
            self.unclassified_usd += amount
        self.services.setdefault(kind, set()).add(service)

    def names(self, kind: LineKind) -> str:
        """The SERVICE values counted as `kind`, sorted, comma-separated ('' for none)."""
        return ", ".join(sorted(self.services.get(kind, ())))


@dataclass(frozen=True)
class TagBill:
    """The tag's bill per (tag value, month), and how many Cost Explorer pages it took."""

    months: dict[tuple[str | None, str], MonthBill]
    estimated: dict[str, bool]  # month -> Cost Explorer still marks it estimated
    pages: int

    def of(self, tag_value: str, month: str) -> MonthBill:
        """The month's bill for the tag value (empty when the bill has no line)."""
        return self.months.get((tag_value, month), MonthBill())


def record_type_filter(*, usage: bool) -> dict[str, Any]:
    """Usage record types only, or everything else."""
    dimension = {"Dimensions": {"Key": "RECORD_TYPE", "Values": list(USAGE_RECORD_TYPES)}}
    return dimension if usage else {"Not": dimension}


def read_tag_bill(
    ce: Any,
    *,
    period: Period,
    tag_key: str,
    patterns: tuple[ServicePattern, ...],
    on_page: Any = None,
) -> TagBill:
    """Two GetCostAndUsage queries: usage lines by tag and SERVICE, other record types by tag and type."""
    months: dict[tuple[str | None, str], MonthBill] = {}
    usage = costs_by_tag(
        ce,
        period=period,
        granularity="MONTHLY",
        tag_key=tag_key,
        dimension="SERVICE",
        filter_expression=record_type_filter(usage=True),
        on_page=on_page,
    )
    for cost in usage.costs:
        month = months.setdefault((cost.tag_value, cost.start.strftime("%Y-%m")), MonthBill())
        service = cost.dimension or "(no service)"
        month.add_usage(service, classify(service, patterns), cost.amount)
    other = costs_by_tag(
        ce,
        period=period,
        granularity="MONTHLY",
        tag_key=tag_key,
        dimension="RECORD_TYPE",
        filter_expression=record_type_filter(usage=False),
        on_page=on_page,
    )
    for cost in other.costs:
        month = months.setdefault((cost.tag_value, cost.start.strftime("%Y-%m")), MonthBill())
        month.not_usage_usd += cost.amount
        if cost.amount:
            month.record_types.add(cost.dimension or "(no record type)")
    estimated: dict[str, bool] = {}
    for source in (usage, other):
        for start, flag in source.estimated_periods.items():
            key = start.strftime("%Y-%m")
            estimated[key] = estimated.get(key, False) or flag
    return TagBill(months, estimated, usage.pages + other.pages)
