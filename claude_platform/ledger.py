"""The spend ledger: what each project spent and holds in reserve, per UTC calendar month.

One DynamoDB item per project and month (`pk` = project, `sk` = `month#YYYY-MM`) holds integer
micro-dollars and counters, so twelve months of history are one Query. Every write is a single
conditional UpdateItem on that item, which DynamoDB applies atomically:

- reserve: `committed += amount`, `reserved += amount`, and an open-reservation attribute
  `res#<request id>`; with a cap, only if `committed <= cap - amount` (DynamoDB conditions cannot
  add, so `committed` = spent + open reservations is kept as its own counter).
- settle: moves the reservation to `spent` (actual amount, tokens, requests), only if the
  reservation attribute still exists, so a repeated settle never counts twice.
- release: drops the reservation (nothing was spent), under the same condition.
- alerts: a threshold's claim (`alert#<threshold>` = the claimant's request id, and the threshold in
  the `alerted` set) is written only if no claim exists, so exactly one caller wins the right to
  publish each threshold's alert per month.

Every write is safe to repeat (botocore retries a write whose answer was lost): a reservation,
settlement, release or claim that was already applied is recognised, never counted twice.

Standard library and boto3 only: the project Lambda ships this module, and the CLI uses it too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any, Protocol

MICRO_PER_USD = 1_000_000
MONTH_PREFIX = "month#"
RESERVATION_PREFIX = "res#"
ALERT_CLAIM_PREFIX = "alert#"
PERIOD_FORMAT = "%Y-%m"

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


class DynamoDBClient(Protocol):
    """The low-level boto3 DynamoDB client calls the ledger uses."""

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        """UpdateItem."""
        ...

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        """GetItem."""
        ...

    def query(self, **kwargs: Any) -> dict[str, Any]:
        """Query."""
        ...


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


def month_key(project: str, period: str) -> dict[str, dict[str, str]]:
    """The DynamoDB key of a project's month item."""
    return {"pk": {"S": project}, "sk": {"S": f"{MONTH_PREFIX}{period}"}}


@dataclass(frozen=True)
class OpenReservation:
    """A hold not yet settled or released."""

    request_id: str
    amount_micro: int
    created_epoch: int
    model: str


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
    alerted: tuple[float, ...] = ()
    open_reservations: tuple[OpenReservation, ...] = field(default=())

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
        reservations = []
        for name, value in item.items():
            if name.startswith(RESERVATION_PREFIX) and "M" in value:
                fields = value["M"]
                reservations.append(
                    OpenReservation(
                        request_id=name.removeprefix(RESERVATION_PREFIX),
                        amount_micro=int(fields["a"]["N"]),
                        created_epoch=int(fields["t"]["N"]),
                        model=fields.get("m", {}).get("S", ""),
                    )
                )
        return cls(
            project=project,
            period=period,
            cap_micro=int(cap["N"]) if cap else None,
            alerted=alerted,
            open_reservations=tuple(sorted(reservations, key=lambda r: r.created_epoch)),
            **counters,
        )


@dataclass(frozen=True)
class SettledUsage:
    """Token counts recorded with a settlement."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


class CapExceededError(Exception):
    """A reservation would pass the cap; `state` is the month as it stands (refusal counted)."""

    def __init__(self, state: MonthState, amount_micro: int, cap_micro: int) -> None:
        super().__init__(f"reservation of {amount_micro} micro-USD would pass the cap of {cap_micro}")
        self.state = state
        self.amount_micro = amount_micro
        self.cap_micro = cap_micro


class LedgerConflictError(Exception):
    """A write's condition failed for a reason other than the cap (should not happen)."""


def _is_conditional_failure(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _n(value: int | float | Decimal) -> dict[str, str]:
    return {"N": str(value)}


def _threshold_number(threshold: float) -> str:
    return format(Decimal(str(threshold)).normalize(), "f")


class LedgerTable:
    """Reads and writes one ledger table through a low-level DynamoDB client."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self.table_name = table_name

    def _update(self, project: str, period: str, **kwargs: Any) -> MonthState:
        response = self._client.update_item(
            TableName=self.table_name, Key=month_key(project, period), ReturnValues="ALL_NEW", **kwargs
        )
        return MonthState.from_item(project, period, response.get("Attributes"))

    def reserve(
        self,
        *,
        project: str,
        period: str,
        request_id: str,
        amount_micro: int,
        cap_micro: int | None,
        model: str,
        now_epoch: int,
    ) -> MonthState:
        """Hold `amount_micro`; with `cap_micro`, refuse (CapExceededError) if it would pass the cap."""
        if amount_micro < 0:
            raise ValueError("amount_micro must not be negative")
        names = {"#r": f"{RESERVATION_PREFIX}{request_id}"}
        values: dict[str, Any] = {
            ":a": _n(amount_micro),
            ":res": {"M": {"a": _n(amount_micro), "t": _n(now_epoch), "m": {"S": model}}},
            ":now": _n(now_epoch),
        }
        update = "ADD committed_micro :a, reserved_micro :a SET #r = :res, updated_epoch = :now"
        # A reservation is applied once per request id: botocore retries a write whose answer was
        # lost, and the retry must not add the amount twice.
        condition = "attribute_not_exists(#r)"
        if cap_micro is not None:
            update += ", cap_micro = :cap"
            values[":cap"] = _n(cap_micro)
            room = cap_micro - amount_micro
            if room < 0:
                raise CapExceededError(
                    self.count_refusal(project, period, cap_micro), amount_micro, cap_micro
                )
            values[":room"] = _n(room)
            condition += " AND (attribute_not_exists(committed_micro) OR committed_micro <= :room)"
        try:
            return self._update(
                project,
                period,
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
        state = self.month(project, period)
        if any(r.request_id == request_id for r in state.open_reservations):
            return state  # an earlier attempt of this same write was applied
        if cap_micro is None:
            raise LedgerConflictError(f"reservation {request_id!r} could not be recorded") from None
        raise CapExceededError(
            self.count_refusal(project, period, cap_micro), amount_micro, cap_micro
        ) from None

    def count_refusal(self, project: str, period: str, cap_micro: int | None = None) -> MonthState:
        """Count one refused request; returns the month as it stands."""
        update = "ADD refusals :one"
        values: dict[str, Any] = {":one": _n(1)}
        if cap_micro is not None:
            update += " SET cap_micro = :cap"
            values[":cap"] = _n(cap_micro)
        return self._update(project, period, UpdateExpression=update, ExpressionAttributeValues=values)

    def settle(
        self,
        *,
        project: str,
        period: str,
        request_id: str,
        reserved_micro: int,
        actual_micro: int,
        usage: SettledUsage,
        estimated: bool,
        now_epoch: int,
    ) -> MonthState | None:
        """Replace the hold with the actual cost; None if it was already settled or released."""
        if actual_micro < 0:
            raise ValueError("actual_micro must not be negative")
        values: dict[str, Any] = {
            ":delta": _n(actual_micro - reserved_micro),
            ":unreserve": _n(-reserved_micro),
            ":spent": _n(actual_micro),
            ":one": _n(1),
            ":in": _n(usage.input_tokens),
            ":out": _n(usage.output_tokens),
            ":cr": _n(usage.cache_read_tokens),
            ":cw": _n(usage.cache_write_tokens),
            ":now": _n(now_epoch),
        }
        update = (
            "ADD committed_micro :delta, reserved_micro :unreserve, spent_micro :spent, requests :one, "
            "input_tokens :in, output_tokens :out, cache_read_tokens :cr, cache_write_tokens :cw"
        )
        if estimated:
            update += ", estimated_micro :spent, estimated_requests :one"
        update += " REMOVE #r SET updated_epoch = :now"
        return self._conditional_on_reservation(project, period, request_id, update, values)

    def release(
        self, *, project: str, period: str, request_id: str, reserved_micro: int, now_epoch: int
    ) -> MonthState | None:
        """Drop the hold: nothing was spent. None if it was already settled or released."""
        values = {":unreserve": _n(-reserved_micro), ":now": _n(now_epoch)}
        update = (
            "ADD committed_micro :unreserve, reserved_micro :unreserve REMOVE #r SET updated_epoch = :now"
        )
        return self._conditional_on_reservation(project, period, request_id, update, values)

    def _conditional_on_reservation(
        self, project: str, period: str, request_id: str, update: str, values: dict[str, Any]
    ) -> MonthState | None:
        try:
            return self._update(
                project,
                period,
                UpdateExpression=update,
                ConditionExpression="attribute_exists(#r)",
                ExpressionAttributeNames={"#r": f"{RESERVATION_PREFIX}{request_id}"},
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return None
            raise

    def claim_alert(self, *, project: str, period: str, threshold: float, claimant: str) -> bool:
        """Record that `threshold`'s alert is being sent; True for exactly one claimant per month.

        The claimant (a request id) is stored with the claim, so a retried write of the same
        claim is recognised as the caller's own rather than lost.
        """
        number = _threshold_number(threshold)
        names = {"#c": f"{ALERT_CLAIM_PREFIX}{number}"}
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=month_key(project, period),
                UpdateExpression="ADD alerted :t SET #c = :who",
                ConditionExpression="attribute_not_exists(#c)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":t": {"NS": [number]}, ":who": {"S": claimant}},
            )
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise
            item = self._client.get_item(
                TableName=self.table_name,
                Key=month_key(project, period),
                ConsistentRead=True,
                ProjectionExpression="#c",
                ExpressionAttributeNames=names,
            ).get("Item", {})
            return item.get(names["#c"], {}).get("S") == claimant
        return True

    def unclaim_alert(self, *, project: str, period: str, threshold: float, claimant: str) -> None:
        """Give the claim back (the alert could not be sent), so a later call retries it."""
        number = _threshold_number(threshold)
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=month_key(project, period),
                UpdateExpression="DELETE alerted :t REMOVE #c",
                ConditionExpression="#c = :who",
                ExpressionAttributeNames={"#c": f"{ALERT_CLAIM_PREFIX}{number}"},
                ExpressionAttributeValues={":t": {"NS": [number]}, ":who": {"S": claimant}},
            )
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise

    def month(self, project: str, period: str) -> MonthState:
        """One month, read consistently."""
        response = self._client.get_item(
            TableName=self.table_name, Key=month_key(project, period), ConsistentRead=True
        )
        return MonthState.from_item(project, period, response.get("Item"))

    def months(self, project: str, first: str, last: str) -> list[MonthState]:
        """Every month from `first` to `last` inclusive, oldest first (one Query; zeros where absent)."""
        found: dict[str, MonthState] = {}
        for item in self._query(project, first, last):
            period = item["sk"]["S"].removeprefix(MONTH_PREFIX)
            found[period] = MonthState.from_item(project, period, item)
        out, period = [], first
        while period <= last:
            out.append(found.get(period) or MonthState(project=project, period=period))
            period = shift_period(period, 1)
        return out

    def _query(self, project: str, first: str, last: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
            "ExpressionAttributeValues": {
                ":p": {"S": project},
                ":a": {"S": f"{MONTH_PREFIX}{first}"},
                ":b": {"S": f"{MONTH_PREFIX}{last}"},
            },
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**kwargs)
            yield from response.get("Items", [])
            token = response.get("LastEvaluatedKey")
            if not token:
                return
            kwargs["ExclusiveStartKey"] = token

    def charge_stale_reservations(
        self, *, project: str, period: str, older_than_epoch: int, now_epoch: int
    ) -> list[OpenReservation]:
        """Turn holds older than `older_than_epoch` into estimated spend (their call's outcome is unknown).

        A hold outlives its invocation only when the function was killed between reserve and
        settle; the call may have been billed, so its worst case is charged, marked estimated, for
        reconciliation to correct. Returns the holds charged.
        """
        charged = []
        for reservation in self.month(project, period).open_reservations:
            if reservation.created_epoch >= older_than_epoch:
                continue
            values = {
                ":a": _n(reservation.amount_micro),
                ":unreserve": _n(-reservation.amount_micro),
                ":one": _n(1),
                ":now": _n(now_epoch),
            }
            update = (
                "ADD spent_micro :a, estimated_micro :a, estimated_requests :one, requests :one, "
                "reserved_micro :unreserve REMOVE #r SET updated_epoch = :now"
            )
            if self._conditional_on_reservation(project, period, reservation.request_id, update, values):
                charged.append(reservation)
        return charged

    def correct_estimates(
        self,
        *,
        project: str,
        period: str,
        expected_estimated_micro: int,
        corrected_micro: int,
        now_epoch: int,
    ) -> MonthState | None:
        """Replace the month's estimated charges by what the bill shows for them.

        Optimistic: applies only if `estimated_micro` is still `expected_estimated_micro` (None
        otherwise: read the month again). Afterwards the month has no estimated charges left.
        """
        if corrected_micro < 0:
            raise ValueError("corrected_micro must not be negative")
        if expected_estimated_micro == 0 and corrected_micro == 0:
            return self.month(project, period)
        delta = corrected_micro - expected_estimated_micro
        try:
            return self._update(
                project,
                period,
                UpdateExpression=(
                    "ADD spent_micro :d, committed_micro :d, corrections_micro :d "
                    "SET estimated_micro = :zero, estimated_requests = :zero, updated_epoch = :now"
                ),
                ConditionExpression="estimated_micro = :expected",
                ExpressionAttributeValues={
                    ":d": _n(delta),
                    ":zero": _n(0),
                    ":expected": _n(expected_estimated_micro),
                    ":now": _n(now_epoch),
                },
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return None
            raise


def crossed_thresholds(
    state: MonthState, thresholds: list[float] | tuple[float, ...], cap_micro: int
) -> list[float]:
    """Thresholds (percent of the cap) the month's spend has reached and not yet alerted."""
    if cap_micro <= 0:
        return []
    done = set(state.alerted)
    spent = Decimal(state.spent_micro) * 100
    return [t for t in sorted(thresholds) if t not in done and spent >= Decimal(str(t)) * cap_micro]
