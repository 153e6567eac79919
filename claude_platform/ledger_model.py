"""The ledger's items as values: periods, money units, keys, month state, holds (no I/O).

Standard library only: the project Lambda ships this module (through claude_platform.ledger).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

MICRO_PER_USD = 1_000_000
MONTH_PREFIX = "month#"
HOLD_PREFIX = "hold#"
LEGACY_RESERVATION_PREFIX = "res#"  # holds inside the month item, written before holds had own items
ALERT_CLAIM_PREFIX = "alert#"
KEY_MONTH_PREFIX = "keymonth#"  # a caller key's month counters: keymonth#YYYY-MM#<key name>
PERIOD_FORMAT = "%Y-%m"
EPOCH_DIGITS = 10  # zero-padded creation epoch in a hold's sort key: string order is time order

# Integer counters of a month item, in the order MonthState lists them.
COUNTERS = (
    "spent_micro",
    "reserved_micro",
    "committed_micro",
    "estimated_micro",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "requests",
    "estimated_requests",
    "refusals",
    "corrections_micro",
)


def period_of(moment: datetime) -> str:
    """The UTC calendar month of `moment`, `YYYY-MM`."""
    return moment.astimezone(UTC).strftime(PERIOD_FORMAT)


def period_start(period: str) -> datetime:
    """First instant (UTC) of a `YYYY-MM` period."""
    return datetime.strptime(period, PERIOD_FORMAT).replace(tzinfo=UTC)


def period_end(period: str) -> datetime:
    """First instant (UTC) of the month after `period`: when its spend resets."""
    start = period_start(period)
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def shift_period(period: str, months: int) -> str:
    """`period` moved by a whole number of months."""
    start = period_start(period)
    index = start.year * 12 + start.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def to_micro(usd: Decimal | float | int) -> int:
    """USD to whole micro-dollars, rounded up: the ledger never under-counts."""
    value = Decimal(str(usd)) if isinstance(usd, float) else Decimal(usd)
    if not value.is_finite() or value < 0:
        raise ValueError(f"amount must be a finite non-negative number of USD, got {usd!r}")
    return int((value * MICRO_PER_USD).to_integral_value(rounding=ROUND_CEILING))


def to_usd(micro: int) -> Decimal:
    """Micro-dollars to exact USD."""
    return Decimal(micro) / MICRO_PER_USD


def month_sk(period: str) -> str:
    """The sort key of a month item."""
    return f"{MONTH_PREFIX}{period}"


def month_key(project: str, period: str) -> dict[str, dict[str, str]]:
    """The DynamoDB key of a project's month item."""
    return {"pk": {"S": project}, "sk": {"S": month_sk(period)}}


def hold_sk(period: str, created_epoch: int, hold_id: str) -> str:
    """The sort key of a hold: period, zero-padded creation time, hold id."""
    return f"{HOLD_PREFIX}{period}#{created_epoch:0{EPOCH_DIGITS}d}#{hold_id}"


def key_month_sk(period: str, key_name: str) -> str:
    """The sort key of a caller key's month counters (same counters as the project's month item)."""
    return f"{KEY_MONTH_PREFIX}{period}#{key_name}"


@dataclass(frozen=True)
class RateUse:
    """What one hold took from one rate scope: its slot and the tokens reserved (0: tokens not limited)."""

    scope: str  # "p" (the project) or "k#<key name>"
    slot: int  # absolute slot index (epoch seconds // rate_window.SLOT_S)
    tokens: int = 0


@dataclass(frozen=True)
class CounterCharge:
    """A further counter item a reservation charges in the same transaction as the project's month.

    `sk` names an item in the project's partition holding `committed_micro`/`reserved_micro`/
    `spent_micro`; with `cap_micro` the reservation is refused if it would pass that cap.
    """

    sk: str
    cap_micro: int | None = None


@dataclass(frozen=True)
class Hold:
    """A hold not yet settled or released: one attempt's worst case."""

    project: str
    period: str
    hold_id: str  # request id + "#" + nonce; never reused
    amount_micro: int
    created_epoch: int
    model: str = ""
    request_id: str = ""
    counters: tuple[str, ...] = ()  # sort keys of the counter items it charged (the month first)
    rates: tuple[RateUse, ...] = ()  # the rate windows it counted in (tokens given back at close)
    legacy: bool = False  # an attribute of the month item (written before holds had own items)

    @property
    def sk(self) -> str:
        """Its sort key."""
        return hold_sk(self.period, self.created_epoch, self.hold_id)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Hold:
        """Parse a hold item (low-level attribute values)."""
        _, period, created, hold_id = item["sk"]["S"].split("#", 3)
        return cls(
            project=item["pk"]["S"],
            period=period,
            hold_id=hold_id,
            amount_micro=int(item["amount_micro"]["N"]),
            created_epoch=int(created),
            model=item.get("model", {}).get("S", ""),
            request_id=item.get("request_id", {}).get("S", ""),
            counters=tuple(c["S"] for c in item.get("counters", {}).get("L", [])),
            rates=tuple(
                RateUse(r["M"]["s"]["S"], int(r["M"]["t"]["N"]), int(r["M"]["n"]["N"]))
                for r in item.get("rates", {}).get("L", [])
            ),
        )


OpenReservation = Hold  # the name the CLI and older callers use


@dataclass(frozen=True)
class AlertClaim:
    """Who is sending a threshold's alert, since when (not yet confirmed as sent)."""

    threshold: float
    claimant: str
    claimed_epoch: int


@dataclass(frozen=True)
class MonthState:
    """A project's month as the ledger holds it (zeros for a month with no item)."""

    project: str
    period: str
    spent_micro: int = 0
    reserved_micro: int = 0
    committed_micro: int = 0
    estimated_micro: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    requests: int = 0
    estimated_requests: int = 0
    refusals: int = 0
    corrections_micro: int = 0  # net change made by reconciliation (correct_estimates)
    cap_micro: int | None = None
    alerted: tuple[float, ...] = ()  # thresholds whose alert was confirmed as sent
    alert_claims: tuple[AlertClaim, ...] = ()  # claims not (yet) confirmed
    open_reservations: tuple[Hold, ...] = field(default=())  # filled by `month(with_holds=True)`

    @property
    def spent_usd(self) -> Decimal:
        """Settled spend, exact (estimated charges included)."""
        return to_usd(self.spent_micro)

    @property
    def reserved_usd(self) -> Decimal:
        """Open reservations, exact."""
        return to_usd(self.reserved_micro)

    @property
    def resets_at(self) -> datetime:
        """When this period ends."""
        return period_end(self.period)

    @classmethod
    def from_item(cls, project: str, period: str, item: Mapping[str, Any] | None) -> MonthState:
        """Parse a DynamoDB item (low-level attribute values); None gives an empty month."""
        if not item:
            return cls(project=project, period=period)
        counters = {name: int(item[name]["N"]) if name in item else 0 for name in COUNTERS}
        cap = item.get("cap_micro")
        alerted = tuple(sorted(float(v) for v in item.get("alerted", {}).get("NS", [])))
        claims = []
        for name, value in item.items():
            if name.startswith(ALERT_CLAIM_PREFIX) and "M" in value:
                threshold = float(name.removeprefix(ALERT_CLAIM_PREFIX))
                if threshold not in alerted:
                    fields = value["M"]
                    claims.append(AlertClaim(threshold, fields["c"]["S"], int(fields["t"]["N"])))
        return cls(
            project=project,
            period=period,
            cap_micro=int(cap["N"]) if cap else None,
            alerted=alerted,
            alert_claims=tuple(sorted(claims, key=lambda c: c.threshold)),
            open_reservations=_legacy_holds(project, period, item),
            **counters,
        )


def _legacy_holds(project: str, period: str, item: Mapping[str, Any]) -> tuple[Hold, ...]:
    """Holds kept as `res#<request id>` attributes of the month item by the previous layout."""
    holds = []
    for name, value in item.items():
        if name.startswith(LEGACY_RESERVATION_PREFIX) and "M" in value:
            fields = value["M"]
            request_id = name.removeprefix(LEGACY_RESERVATION_PREFIX)
            holds.append(
                Hold(
                    project=project,
                    period=period,
                    hold_id=request_id,
                    amount_micro=int(fields["a"]["N"]),
                    created_epoch=int(fields["t"]["N"]),
                    model=fields.get("m", {}).get("S", ""),
                    request_id=request_id,
                    counters=(month_sk(period),),
                    legacy=True,
                )
            )
    return tuple(sorted(holds, key=lambda h: h.created_epoch))


@dataclass(frozen=True)
class SettledUsage:
    """Token counts recorded with a settlement."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
