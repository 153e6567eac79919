"""`reconcile`: the ledger's spend per project and month against the bill (Cost Explorer).

Like with like: the ledger holds Claude calls only, so it is compared with the tag's Claude usage
lines only (`finops.bill_lines`); the project's infrastructure, unclassified usage lines and
credits, refunds and taxes are shown on their own and never compared.

The arithmetic is pure (`reconcile_month`); `settle` writes the corrections through the ledger.
A month's ledger spend is exact (priced from token counts) except `estimated_micro`: calls whose
outcome was unknown (timeouts, killed functions) charged at their worst case. Once the bill for
the month is final, the true cost of those calls is what the Claude lines show beyond the exact
part (unclassified usage lines counted too, since they may be Claude under a service name not in
the table), never more than their worst case and never less than zero; that is what settling
writes. A credit never reduces an estimate: it is not a usage line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from claude_platform.ledger import LedgerTable, MonthState, period_end, to_micro, to_usd
from finops.bill_lines import LineKind, MonthBill
from finops.output import Column

# Marketplace line items can settle more than 48 hours after the usage; a month's bill is taken as
# final 72 hours after the month ends and once Cost Explorer no longer marks it estimated.
BILL_SETTLE_HOURS = 72


class Status(StrEnum):
    """Outcome of reconciling one project month."""

    OK = "ok"
    DIFFERS = "differs"
    SETTLED = "estimates settled"
    WOULD_SETTLE = "estimates to settle"
    NOT_FINAL = "bill not final"
    TAG_NOT_ACTIVE = "tag not active"
    CONFLICT = "ledger changed, run again"
    NO_LEDGER = "no ledger (enforcement off)"
    NO_TABLE = "no ledger table"


@dataclass(frozen=True)
class Tolerance:
    """A difference is flagged when it exceeds both the absolute and the relative tolerance."""

    usd: Decimal = Decimal("0.01")
    percent: Decimal = Decimal("1")

    def allows(self, difference: Decimal, bill: Decimal) -> bool:
        """Whether |difference| is within tolerance of `bill`."""
        return abs(difference) <= max(self.usd, abs(bill) * self.percent / 100)


@dataclass(frozen=True)
class Reconciliation:
    """One project month: ledger, bill, difference and what to do about estimated charges."""

    project: str
    period: str
    ledger_usd: Decimal
    estimated_usd: Decimal
    bill_usd: Decimal  # the tag's Claude usage lines
    difference_usd: Decimal  # Claude bill - ledger (positive: the bill shows more)
    status: Status
    bill_final: bool
    corrected_estimates_micro: int | None = None  # what the estimated charges should become
    note: str = ""
    infrastructure_usd: Decimal = Decimal(0)
    unclassified_usd: Decimal = Decimal(0)
    not_usage_usd: Decimal = Decimal(0)
    claude_services: str = ""
    infrastructure_services: str = ""
    unclassified_services: str = ""

    def row(self) -> dict[str, object]:
        """The output row."""
        return {
            "period": self.period,
            "project": self.project,
            "ledger_usd": self.ledger_usd,
            "estimated_usd": self.estimated_usd,
            "bill_usd": self.bill_usd,
            "difference_usd": self.difference_usd,
            "infrastructure_usd": self.infrastructure_usd,
            "unclassified_usd": self.unclassified_usd,
            "not_usage_usd": self.not_usage_usd,
            "bill_final": self.bill_final,
            "status": self.status.value,
            "claude_services": self.claude_services,
            "infrastructure_services": self.infrastructure_services,
            "unclassified_services": self.unclassified_services,
            "note": self.note,
        }


COLUMNS = (
    Column("period", "period"),
    Column("project", "project"),
    Column("ledger_usd", "ledger USD", places=4),
    Column("estimated_usd", "of which estimated", places=4),
    Column("bill_usd", "Claude bill USD", places=4),
    Column("difference_usd", "bill - ledger", places=4),
    Column("infrastructure_usd", "infrastructure USD", places=4),
    Column("unclassified_usd", "unclassified USD", places=4),
    Column("not_usage_usd", "credits etc. USD", places=4),
    Column("bill_final", "final"),
    Column("status", "status"),
    Column("claude_services", "counted as Claude"),
    Column("infrastructure_services", "counted as infrastructure"),
    Column("unclassified_services", "unclassified"),
    Column("note", "note"),
)


def bill_is_final(period: str, *, now: datetime, ce_estimated: bool) -> bool:
    """Whether the month's bill can be trusted as complete."""
    return not ce_estimated and now >= period_end(period) + timedelta(hours=BILL_SETTLE_HOURS)


def final_after(period: str) -> datetime:
    """When the month's bill is taken as final at the earliest."""
    return (period_end(period) + timedelta(hours=BILL_SETTLE_HOURS)).astimezone(UTC)


def _bill_fields(bill: MonthBill) -> dict[str, object]:
    return {
        "bill_usd": bill.claude_usd,
        "infrastructure_usd": bill.infrastructure_usd,
        "unclassified_usd": bill.unclassified_usd,
        "not_usage_usd": bill.not_usage_usd,
        "claude_services": bill.names(LineKind.CLAUDE),
        "infrastructure_services": bill.names(LineKind.INFRASTRUCTURE),
        "unclassified_services": bill.names(LineKind.UNCLASSIFIED),
    }


def _bill_notes(bill: MonthBill) -> list[str]:
    notes = []
    if bill.unclassified_usd:
        notes.append(
            f"unclassified usage lines ({bill.names(LineKind.UNCLASSIFIED)}): not compared; if Claude is "
            "billed under one of these, pass --claude-service NAME"
        )
    if bill.not_usage_usd:
        notes.append(f"{', '.join(sorted(bill.record_types))} lines not compared")
    return notes


def reconcile_month(
    state: MonthState,
    bill: MonthBill,
    *,
    bill_final: bool,
    tag_active: bool,
    tolerance: Tolerance,
    ledger_on: bool = True,
) -> Reconciliation:
    """Compare one month with the Claude lines; propose the estimates' true cost when the bill is final."""
    ledger = to_usd(state.spent_micro)
    estimated = to_usd(state.estimated_micro)
    claude = bill.claude_usd
    difference = claude - ledger
    common: dict[str, object] = {
        "project": state.project,
        "period": state.period,
        "ledger_usd": ledger,
        "estimated_usd": estimated,
        "difference_usd": difference,
        "bill_final": bill_final,
        **_bill_fields(bill),
    }
    extra = _bill_notes(bill)

    def result(status: Status, note: str = "", **more: object) -> Reconciliation:
        return Reconciliation(
            **common, status=status, note="; ".join([n for n in (note, *extra) if n]), **more
        )

    if not ledger_on:
        return result(Status.NO_LEDGER, "enforcement is off: the function records no spend")
    if not tag_active:
        return result(
            Status.TAG_NOT_ACTIVE,
            "the cost-allocation tag is not active: the bill cannot show project spend (run activate-tags)",
        )
    if not bill_final:
        return result(
            Status.NOT_FINAL,
            f"Marketplace usage can settle late; final after {final_after(state.period):%Y-%m-%d %H:%M} UTC",
        )
    if state.estimated_micro > 0:
        exact_micro = state.spent_micro - state.estimated_micro
        # Unclassified usage may be Claude under a name the table lacks: counted, so never under-counted.
        explained = max(claude, Decimal(0)) + max(bill.unclassified_usd, Decimal(0))
        corrected = min(max(to_micro(explained) - exact_micro, 0), state.estimated_micro)
        after = claude - to_usd(exact_micro + corrected)
        note = f"estimated {estimated} -> {to_usd(corrected)} USD; difference after: {after}"
        if bill.unclassified_usd and corrected:
            note += " (unclassified lines counted as possible Claude)"
        if not tolerance.allows(after, claude):
            note += " (still beyond tolerance)"
        return result(Status.WOULD_SETTLE, note, corrected_estimates_micro=corrected)
    if tolerance.allows(difference, claude):
        return result(Status.OK)
    side = "the bill shows more than the ledger" if difference > 0 else "the ledger shows more than the bill"
    return result(Status.DIFFERS, side)


def missing_table(project: str, period: str, bill: MonthBill, *, region: str) -> Reconciliation:
    """The row for a project whose region has no ledger table (nothing to compare with)."""
    return Reconciliation(
        project=project,
        period=period,
        ledger_usd=Decimal(0),
        estimated_usd=Decimal(0),
        difference_usd=bill.claude_usd,
        status=Status.NO_TABLE,
        bill_final=False,
        note=f"no spend ledger table in {region} (platform stack not deployed there?)",
        **_bill_fields(bill),  # type: ignore[arg-type]
    )


def settle(
    ledger: LedgerTable, result: Reconciliation, state: MonthState, *, now_epoch: int
) -> Reconciliation:
    """Write a proposed correction; the optimistic check fails if the month moved meanwhile."""
    if result.status is not Status.WOULD_SETTLE or result.corrected_estimates_micro is None:
        return result
    written = ledger.correct_estimates(
        project=state.project,
        period=state.period,
        expected_estimated_micro=state.estimated_micro,
        corrected_micro=result.corrected_estimates_micro,
        now_epoch=now_epoch,
    )
    if written is None:
        return Reconciliation(**{**result.__dict__, "status": Status.CONFLICT})
    return Reconciliation(
        **{
            **result.__dict__,
            "status": Status.SETTLED,
            "ledger_usd": to_usd(written.spent_micro),
            "estimated_usd": to_usd(written.estimated_micro),
            "difference_usd": result.bill_usd - to_usd(written.spent_micro),
        }
    )
