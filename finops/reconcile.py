"""`reconcile`: the ledger's spend per project and month against the bill (Cost Explorer).

The arithmetic is pure (`reconcile_month`); `settle` writes the corrections through the ledger.
A month's ledger spend is exact (priced from token counts) except `estimated_micro`: calls whose
outcome was unknown (timeouts, killed functions) charged at their worst case. Once the bill for
the month is final, the true cost of those calls is what the bill shows beyond the exact part,
never more than their worst case and never less than zero; that is what settling writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from claude_platform.ledger import LedgerTable, MonthState, period_end, to_micro, to_usd
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
    bill_usd: Decimal
    difference_usd: Decimal  # bill - ledger (positive: the bill shows more)
    status: Status
    bill_final: bool
    corrected_estimates_micro: int | None = None  # what the estimated charges should become
    note: str = ""

    def row(self) -> dict[str, object]:
        """The output row."""
        return {
            "period": self.period,
            "project": self.project,
            "ledger_usd": self.ledger_usd,
            "estimated_usd": self.estimated_usd,
            "bill_usd": self.bill_usd,
            "difference_usd": self.difference_usd,
            "bill_final": self.bill_final,
            "status": self.status.value,
            "note": self.note,
        }


COLUMNS = (
    Column("period", "period"),
    Column("project", "project"),
    Column("ledger_usd", "ledger USD", places=4),
    Column("estimated_usd", "of which estimated", places=4),
    Column("bill_usd", "bill USD", places=4),
    Column("difference_usd", "bill - ledger", places=4),
    Column("bill_final", "final"),
    Column("status", "status"),
    Column("note", "note"),
)


def bill_is_final(period: str, *, now: datetime, ce_estimated: bool) -> bool:
    """Whether the month's bill can be trusted as complete."""
    return not ce_estimated and now >= period_end(period) + timedelta(hours=BILL_SETTLE_HOURS)


def final_after(period: str) -> datetime:
    """When the month's bill is taken as final at the earliest."""
    return (period_end(period) + timedelta(hours=BILL_SETTLE_HOURS)).astimezone(UTC)


def reconcile_month(
    state: MonthState,
    bill_usd: Decimal,
    *,
    bill_final: bool,
    tag_active: bool,
    tolerance: Tolerance,
    ledger_on: bool = True,
) -> Reconciliation:
    """Compare one month; propose the estimated charges' true cost when the bill is final."""
    ledger = to_usd(state.spent_micro)
    estimated = to_usd(state.estimated_micro)
    difference = bill_usd - ledger
    common = {
        "project": state.project,
        "period": state.period,
        "ledger_usd": ledger,
        "estimated_usd": estimated,
        "bill_usd": bill_usd,
        "difference_usd": difference,
        "bill_final": bill_final,
    }
    if not ledger_on:
        return Reconciliation(
            **common, status=Status.NO_LEDGER, note="enforcement is off: the function records no spend"
        )
    if not tag_active:
        return Reconciliation(
            **common,
            status=Status.TAG_NOT_ACTIVE,
            note="the cost-allocation tag is not active: the bill cannot show project spend (run activate-tags)",
        )
    if not bill_final:
        return Reconciliation(
            **common,
            status=Status.NOT_FINAL,
            note=f"Marketplace usage can settle late; final after {final_after(state.period):%Y-%m-%d %H:%M} UTC",
        )
    if state.estimated_micro > 0:
        exact_micro = state.spent_micro - state.estimated_micro
        bill_micro = to_micro(bill_usd) if bill_usd > 0 else 0
        corrected = min(max(bill_micro - exact_micro, 0), state.estimated_micro)
        after = bill_usd - to_usd(exact_micro + corrected)
        note = f"estimated {estimated} -> {to_usd(corrected)} USD; difference after: {after}"
        if not tolerance.allows(after, bill_usd):
            note += " (still beyond tolerance)"
        return Reconciliation(
            **common, status=Status.WOULD_SETTLE, corrected_estimates_micro=corrected, note=note
        )
    if tolerance.allows(difference, bill_usd):
        return Reconciliation(**common, status=Status.OK)
    side = "the bill shows more than the ledger" if difference > 0 else "the ledger shows more than the bill"
    return Reconciliation(**common, status=Status.DIFFERS, note=side)


def missing_table(project: str, period: str, bill_usd: Decimal, *, region: str) -> Reconciliation:
    """The row for a project whose region has no ledger table (nothing to compare with)."""
    return Reconciliation(
        project=project,
        period=period,
        ledger_usd=Decimal(0),
        estimated_usd=Decimal(0),
        bill_usd=bill_usd,
        difference_usd=bill_usd,
        status=Status.NO_TABLE,
        bill_final=False,
        note=f"no spend ledger table in {region} (platform stack not deployed there?)",
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
