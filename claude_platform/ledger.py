"""The spend ledger: what each project spent and holds in reserve, per UTC calendar month.

All of a project's items share its partition (`pk` = project name, so IAM's `dynamodb:LeadingKeys`
confines each function to them):

- `sk` = `month#YYYY-MM`: the month's counters in integer micro-dollars (spent, reserved,
  committed = spent + reserved, estimated, tokens, requests, refusals) and its alert claims. Its
  size does not depend on how many calls are in flight.
- `sk` = `hold#YYYY-MM#<created epoch, 10 digits>#<hold id>`: one open hold (a call in flight).
  The hold id is the request id plus a nonce drawn for each reservation, so every attempt's hold
  is its own. Sorted by creation time, so holds older than a moment are one Query on a sort-key
  range (the stale-hold rule), never a scan.

Writes (each a single TransactWriteItems, which DynamoDB applies atomically, or a single UpdateItem):

- reserve: Put the hold (only if it does not exist) + Update the month's counters (with a cap,
  only if `committed <= cap - amount`; DynamoDB conditions cannot add).
- settle: Delete the hold (only if it exists) + move its amount to `spent` (actual amount, tokens).
- release: Delete the hold (only if it exists) + give its amount back.
- alerts: a threshold's claim in the month item, with a lease; confirmed once sent.

Every write is safe to repeat (botocore or the caller retries a write whose answer was lost): a
hold id is never reused, so a reserve that finds its own hold was applied, and a settle or release
that finds no hold counts nothing. The same ClientRequestToken is sent on every try of one write.
`reserve` takes further counter items to charge in the same transaction (`CounterCharge`), so a
per-key month cap or a rate bucket can be enforced in the same atomic write as the project cap.

Standard library and boto3 only: the project Lambda ships this module, and the CLI uses it too.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

from claude_platform.ledger_alerts import (
    AlertClaims,
    _is_conditional_failure,
    _n,
    crossed_thresholds,
    error_code,
)
from claude_platform.ledger_model import (
    ALERT_CLAIM_PREFIX,
    COUNTERS,
    EPOCH_DIGITS,
    HOLD_PREFIX,
    KEY_MONTH_PREFIX,
    LEGACY_RESERVATION_PREFIX,
    MICRO_PER_USD,
    MONTH_PREFIX,
    PERIOD_FORMAT,
    AlertClaim,
    CounterCharge,
    Hold,
    MonthState,
    OpenReservation,
    RateUse,
    SettledUsage,
    hold_sk,
    key_month_sk,
    month_key,
    month_sk,
    period_end,
    period_of,
    period_start,
    shift_period,
    to_micro,
    to_usd,
)
from claude_platform.rate_window import (
    SLOTS_PER_MINUTE,
    RateLimit,
    RateRefusal,
    admit_update,
    give_back_update,
    rate_sk,
    refusal,
    slot_of,
    window_parts,
)

__all__ = [
    "ALERT_CLAIM_PREFIX",
    "COUNTERS",
    "EPOCH_DIGITS",
    "HOLD_PREFIX",
    "KEY_MONTH_PREFIX",
    "LEGACY_RESERVATION_PREFIX",
    "MICRO_PER_USD",
    "MONTH_PREFIX",
    "PERIOD_FORMAT",
    "AlertClaim",
    "CapExceededError",
    "CounterCharge",
    "DynamoDBClient",
    "Hold",
    "LedgerBusyError",
    "LedgerConflictError",
    "LedgerTable",
    "MonthState",
    "OpenReservation",
    "RateLimit",
    "RateLimitedError",
    "RateUse",
    "SettledUsage",
    "crossed_thresholds",
    "error_code",
    "hold_sk",
    "key_month_sk",
    "month_key",
    "month_sk",
    "new_hold",
    "period_end",
    "period_of",
    "period_start",
    "request_token",
    "shift_period",
    "to_micro",
    "to_usd",
]

_TOKEN_NAMESPACE = uuid.UUID("6f1d3c52-5d0e-4c1b-9a43-7d2f0b7f1e55")


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

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        """TransactWriteItems."""
        ...


class CapExceededError(Exception):
    """A reservation would pass the cap; `state` is the month as it stands (refusal counted)."""

    def __init__(self, state: MonthState, amount_micro: int, cap_micro: int, counter: str = "") -> None:
        super().__init__(f"reservation of {amount_micro} micro-USD would pass the cap of {cap_micro}")
        self.state = state
        self.amount_micro = amount_micro
        self.cap_micro = cap_micro
        self.counter = counter or month_sk(state.period)  # which counter item's cap refused it
        self.counter_state = state  # that counter item as it stands (the month's, or a key's)


class RateLimitedError(Exception):
    """A reservation would pass a requests- or tokens-per-minute limit of `scope`.

    `refusal` says which limit, what the window holds and how long to wait; None when the request
    alone is over the tokens limit (it can never fit: `tokens` > the limit).
    """

    def __init__(self, scope: str, refusal: RateRefusal | None, tokens: int, limit: RateLimit) -> None:
        super().__init__(f"rate limit of {scope!r} reached")
        self.scope = scope
        self.refusal = refusal
        self.tokens = tokens
        self.limit = limit


class LedgerConflictError(Exception):
    """A write's condition failed for a reason other than the cap (should not happen)."""


class LedgerBusyError(Exception):
    """DynamoDB cancelled a transaction because another one touched the same item: retry it."""


def _cancellation_codes(exc: Exception) -> list[str] | None:
    """Per-item codes of a cancelled transaction, or None if `exc` is not a cancellation."""
    if error_code(exc) != "TransactionCanceledException":
        return None
    reasons = (getattr(exc, "response", None) or {}).get("CancellationReasons") or []
    return [str(r.get("Code") or "None") for r in reasons]


def request_token(operation: str, hold: Hold, now_epoch: int, generation: int = 0) -> str:
    """The ClientRequestToken of one write of one hold at `now_epoch`: the same on every try of it.

    `generation` moves on after a cancelled try (a conflict), so the next try is a new request
    rather than a repeat of the cancelled one.
    """
    text = f"{operation}:{hold.project}:{hold.sk}:{now_epoch}:{generation}"
    return str(uuid.uuid5(_TOKEN_NAMESPACE, text))


def new_hold(
    *,
    project: str,
    period: str,
    request_id: str,
    nonce: str,
    amount_micro: int,
    now_epoch: int,
    model: str = "",
    also: Sequence[CounterCharge] = (),
    rates: Sequence[RateLimit] = (),
    tokens: int = 0,
) -> Hold:
    """The identity and content of a hold about to be reserved.

    `rates`: the limited scopes it counts in, with `tokens` (the request's bound) reserved where
    tokens are limited.
    """
    return Hold(
        project=project,
        period=period,
        hold_id=f"{request_id}#{nonce}" if nonce else request_id,
        amount_micro=amount_micro,
        created_epoch=now_epoch,
        model=model,
        request_id=request_id,
        counters=(month_sk(period), *(c.sk for c in also)),
        rates=tuple(
            RateUse(r.scope, slot_of(now_epoch), tokens if r.tokens_per_minute is not None else 0)
            for r in rates
            if r.limited
        ),
    )


class LedgerTable(AlertClaims):
    """Reads and writes one ledger table through a low-level DynamoDB client."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self.table_name = table_name

    def _update(self, project: str, period: str, **kwargs: Any) -> MonthState:
        response = self._client.update_item(
            TableName=self.table_name, Key=month_key(project, period), ReturnValues="ALL_NEW", **kwargs
        )
        return MonthState.from_item(project, period, response.get("Attributes"))

    def _transact(self, items: list[dict[str, Any]], token: str) -> list[str] | None:
        """Write `items` atomically; None on success, else the per-item cancellation codes."""
        try:
            self._client.transact_write_items(TransactItems=items, ClientRequestToken=token)
        except Exception as exc:
            codes = _cancellation_codes(exc)
            if codes is None:
                raise
            if "TransactionConflict" in codes:
                raise LedgerBusyError("another transaction touched the same ledger item") from exc
            return codes
        return None

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
        nonce: str | None = None,
        also: Sequence[CounterCharge] = (),
        rates: Sequence[RateLimit] = (),
        tokens: int = 0,
    ) -> Hold:
        """Hold `amount_micro` as a new hold; with `cap_micro`, refuse (CapExceededError) if it would pass.

        `nonce` makes the hold's identity (`<request id>#<nonce>`): a fresh random one unless
        given; a caller repeating this very write gives the same one again. `also`: further counter
        items charged in the same transaction, each refusing past its own cap. `rates`: limited
        scopes the request counts in (with `tokens` reserved where tokens are limited), refusing
        with RateLimitedError past a limit.
        """
        hold = new_hold(
            project=project,
            period=period,
            request_id=request_id,
            nonce=secrets.token_hex(8) if nonce is None else nonce,
            amount_micro=amount_micro,
            now_epoch=now_epoch,
            model=model,
            also=also,
            rates=rates,
            tokens=tokens,
        )
        return self.reserve_hold(hold, cap_micro=cap_micro, also=also, rates=rates)

    def reserve_hold(
        self,
        hold: Hold,
        *,
        cap_micro: int | None,
        also: Sequence[CounterCharge] = (),
        rates: Sequence[RateLimit] = (),
        token: str | None = None,
        now_s: float | None = None,
    ) -> Hold:
        """Write `hold` (from `new_hold`) and charge its counters in one transaction; see `reserve`.

        `token`: the ClientRequestToken (default `request_token("reserve", hold, created)`).
        `rates`: the limits of the scopes in `hold.rates`; `now_s` the exact time (for the wait).
        """
        if hold.amount_micro < 0:
            raise ValueError("amount_micro must not be negative")
        charges = (CounterCharge(month_sk(hold.period), cap_micro), *also)
        for charge in charges:
            if charge.cap_micro is not None and charge.cap_micro < hold.amount_micro:
                raise self._refused(hold, charge)
        limits = {r.scope: r for r in rates}
        for use in hold.rates:
            tpm = limits[use.scope].tokens_per_minute
            if tpm is not None and use.tokens > tpm:
                raise RateLimitedError(use.scope, None, use.tokens, limits[use.scope])
        items = [self._put_hold(hold)]
        items += [self._charge(hold.project, c, hold.amount_micro, hold.created_epoch) for c in charges]
        for use in hold.rates:
            for part in window_parts(use.scope, use.slot):
                items.append(
                    admit_update(
                        self.table_name,
                        hold.project,
                        part,
                        limit=limits[use.scope],
                        tokens=use.tokens,
                        now_epoch=hold.created_epoch,
                    )
                )
        codes = self._transact(items, token or request_token("reserve", hold, hold.created_epoch))
        if codes is None:
            return hold
        if codes[0] == "ConditionalCheckFailed":
            return hold  # the hold exists: an earlier try of this same write was applied
        for charge, code in zip(charges, codes[1:], strict=False):
            if code == "ConditionalCheckFailed" and charge.cap_micro is not None:
                raise self._refused(hold, charge)
        rate_codes = codes[1 + len(charges) :]
        for i, use in enumerate(hold.rates):
            if "ConditionalCheckFailed" in rate_codes[2 * i : 2 * i + 2]:
                limit = limits[use.scope]
                found = self.rate_items(hold.project, use.scope, use.slot)
                now = hold.created_epoch if now_s is None else now_s
                why = refusal(limit, found, slot=use.slot, now_s=now, tokens=use.tokens)
                raise RateLimitedError(use.scope, why, use.tokens, limit)
        raise LedgerConflictError(f"reservation {hold.hold_id!r} could not be recorded: {codes}")

    def rate_items(self, project: str, scope: str, slot: int) -> list[dict[str, Any]]:
        """A scope's rate items of the minutes around `slot` (one Query)."""
        minute = slot // SLOTS_PER_MINUTE
        values = {
            ":p": {"S": project},
            ":a": {"S": rate_sk(scope, minute - 1)},
            ":b": {"S": rate_sk(scope, minute + 1)},
        }
        return list(self._query("pk = :p AND sk BETWEEN :a AND :b", values))

    def _refused(self, hold: Hold, charge: CounterCharge) -> CapExceededError:
        is_month = charge.sk == month_sk(hold.period)
        state = self.count_refusal(hold.project, hold.period, charge.cap_micro if is_month else None)
        error = CapExceededError(state, hold.amount_micro, charge.cap_micro or 0, charge.sk)
        if not is_month:
            error.counter_state = self.counter(hold.project, hold.period, charge.sk)
        return error

    def counter(self, project: str, period: str, sk: str) -> MonthState:
        """A counter item (a key's month) read consistently, as a MonthState (zeros if absent)."""
        response = self._client.get_item(
            TableName=self.table_name, Key={"pk": {"S": project}, "sk": {"S": sk}}, ConsistentRead=True
        )
        return MonthState.from_item(project, period, response.get("Item"))

    def key_months(self, project: str, period: str) -> dict[str, MonthState]:
        """Every caller key's counters of `period`, by key name (one Query)."""
        prefix = f"{KEY_MONTH_PREFIX}{period}#"
        values = {":p": {"S": project}, ":k": {"S": prefix}}
        return {
            item["sk"]["S"].removeprefix(prefix): MonthState.from_item(project, period, item)
            for item in self._query("pk = :p AND begins_with(sk, :k)", values)
        }

    def _put_hold(self, hold: Hold) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": {"S": hold.project},
            "sk": {"S": hold.sk},
            "amount_micro": _n(hold.amount_micro),
            "model": {"S": hold.model},
            "request_id": {"S": hold.request_id},
            "counters": {"L": [{"S": sk} for sk in hold.counters]},
        }
        if hold.rates:
            item["rates"] = {
                "L": [{"M": {"s": {"S": r.scope}, "t": _n(r.slot), "n": _n(r.tokens)}} for r in hold.rates]
            }
        return {
            "Put": {
                "TableName": self.table_name,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(sk)",
            }
        }

    def _charge(self, project: str, charge: CounterCharge, amount: int, now_epoch: int) -> dict[str, Any]:
        values: dict[str, Any] = {":a": _n(amount), ":now": _n(now_epoch)}
        update = "ADD committed_micro :a, reserved_micro :a SET updated_epoch = :now"
        update_op: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {"pk": {"S": project}, "sk": {"S": charge.sk}},
            "UpdateExpression": update,
            "ExpressionAttributeValues": values,
        }
        if charge.cap_micro is not None:
            update_op["UpdateExpression"] += ", cap_micro = :cap"
            values[":cap"] = _n(charge.cap_micro)
            values[":room"] = _n(charge.cap_micro - amount)
            update_op["ConditionExpression"] = (
                "attribute_not_exists(committed_micro) OR committed_micro <= :room"
            )
        return {"Update": update_op}

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
        hold: Hold,
        *,
        actual_micro: int,
        usage: SettledUsage,
        estimated: bool,
        now_epoch: int,
        operation: str = "settle",
        token: str | None = None,
    ) -> bool:
        """Replace the hold with the actual cost; False if it was already settled or released."""
        if actual_micro < 0:
            raise ValueError("actual_micro must not be negative")
        values: dict[str, Any] = {
            ":delta": _n(actual_micro - hold.amount_micro),
            ":unreserve": _n(-hold.amount_micro),
            ":spent": _n(actual_micro),
            ":one": _n(1),
            ":now": _n(now_epoch),
        }
        update = "ADD committed_micro :delta, reserved_micro :unreserve, spent_micro :spent, requests :one"
        if estimated:
            update += ", estimated_micro :spent, estimated_requests :one"
        month = {**values, ":in": _n(usage.input_tokens), ":out": _n(usage.output_tokens)}
        month |= {":cr": _n(usage.cache_read_tokens), ":cw": _n(usage.cache_write_tokens)}
        month_update = (
            update + ", input_tokens :in, output_tokens :out, cache_read_tokens :cr, cache_write_tokens :cw"
        )
        used = usage.input_tokens + usage.output_tokens + usage.cache_read_tokens + usage.cache_write_tokens
        return self._close(
            hold,
            month_update=month_update,
            month_values=month,
            other_update=month_update,
            other_values=month,
            now_epoch=now_epoch,
            operation=operation,
            token=token,
            tokens_used=None if estimated else used,
        )

    def release(self, hold: Hold, *, now_epoch: int, token: str | None = None) -> bool:
        """Drop the hold: nothing was spent. False if it was already settled or released."""
        values = {":unreserve": _n(-hold.amount_micro), ":now": _n(now_epoch)}
        update = "ADD committed_micro :unreserve, reserved_micro :unreserve"
        return self._close(
            hold,
            month_update=update,
            month_values=values,
            other_update=update,
            other_values=values,
            now_epoch=now_epoch,
            operation="release",
            token=token,
            tokens_used=0,
        )

    def _close(
        self,
        hold: Hold,
        *,
        month_update: str,
        month_values: dict[str, Any],
        other_update: str,
        other_values: dict[str, Any],
        now_epoch: int,
        operation: str,
        token: str | None = None,
        tokens_used: int | None = None,
    ) -> bool:
        """Remove the hold and apply `month_update` (other counters: `other_update`), atomically, once.

        `tokens_used`: what the call used, so the rest of the tokens it reserved goes back to its
        rate windows (None: unknown, nothing goes back).
        """
        if hold.legacy:
            return self._close_legacy(hold, month_update, month_values)
        items: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self.table_name,
                    "Key": {"pk": {"S": hold.project}, "sk": {"S": hold.sk}},
                    "ConditionExpression": "attribute_exists(sk)",
                }
            }
        ]
        for i, sk in enumerate(hold.counters or (month_sk(hold.period),)):
            update, values = (month_update, month_values) if i == 0 else (other_update, other_values)
            items.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": {"pk": {"S": hold.project}, "sk": {"S": sk}},
                        "UpdateExpression": update + " SET updated_epoch = :now",
                        "ExpressionAttributeValues": {**values, ":now": _n(now_epoch)},
                    }
                }
            )
        for use in hold.rates:
            back = 0 if tokens_used is None else use.tokens - min(use.tokens, tokens_used)
            if back > 0:
                for part in window_parts(use.scope, use.slot):
                    items.append(give_back_update(self.table_name, hold.project, part, back, now_epoch))
        codes = self._transact(items, token or request_token(operation, hold, now_epoch))
        if codes is None:
            return True
        if codes[0] == "ConditionalCheckFailed":
            return False
        raise LedgerConflictError(f"hold {hold.hold_id!r} could not be closed: {codes}")

    def _close_legacy(self, hold: Hold, update: str, values: dict[str, Any]) -> bool:
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=month_key(hold.project, hold.period),
                UpdateExpression=update + " REMOVE #r SET updated_epoch = :now",
                ConditionExpression="attribute_exists(#r)",
                ExpressionAttributeNames={"#r": f"{LEGACY_RESERVATION_PREFIX}{hold.request_id}"},
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def month(self, project: str, period: str, *, with_holds: bool = False) -> MonthState:
        """One month, read consistently; `with_holds` adds its open holds (one more Query)."""
        response = self._client.get_item(
            TableName=self.table_name, Key=month_key(project, period), ConsistentRead=True
        )
        state = MonthState.from_item(project, period, response.get("Item"))
        if not with_holds:
            return state
        holds = state.open_reservations + tuple(self.holds(project, period))
        return _replace_holds(state, holds)

    def holds(self, project: str, period: str, *, older_than_epoch: int | None = None) -> Iterator[Hold]:
        """Open holds of `period` (created before `older_than_epoch` if given), oldest first: one Query."""
        low = f"{HOLD_PREFIX}{period}#"
        high = low + "~"  # "~" sorts after every digit and "#"
        if older_than_epoch is not None:  # BETWEEN is inclusive: stop at holds created a second earlier
            high = f"{low}{max(0, older_than_epoch - 1):0{EPOCH_DIGITS}d}#~"
        values = {":p": {"S": project}, ":a": {"S": low}, ":b": {"S": high}}
        for item in self._query("pk = :p AND sk BETWEEN :a AND :b", values):
            yield Hold.from_item(item)

    def months(self, project: str, first: str, last: str) -> list[MonthState]:
        """Every month from `first` to `last` inclusive, oldest first (one Query; zeros where absent)."""
        found: dict[str, MonthState] = {}
        values = {":p": {"S": project}, ":a": {"S": month_sk(first)}, ":b": {"S": month_sk(last)}}
        for item in self._query("pk = :p AND sk BETWEEN :a AND :b", values):
            period = item["sk"]["S"].removeprefix(MONTH_PREFIX)
            found[period] = MonthState.from_item(project, period, item)
        out, period = [], first
        while period <= last:
            out.append(found.get(period) or MonthState(project=project, period=period))
            period = shift_period(period, 1)
        return out

    def _query(self, condition: str, values: dict[str, Any]) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
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
        self,
        *,
        project: str,
        period: str,
        older_than_epoch: int,
        now_epoch: int,
        max_holds: int | None = None,
    ) -> list[Hold]:
        """Turn holds older than `older_than_epoch` into estimated spend (their call's outcome is unknown).

        A hold outlives its invocation only when the function was killed between reserve and
        settle, or its settle failed; the call may have been billed, so its worst case is charged,
        marked estimated, for reconciliation to correct. Found with a Query on the sort-key range
        of old holds (plus any hold the previous layout kept in the month item); at most
        `max_holds` of them (the oldest) when given. Returns the holds charged.
        """
        legacy = self.month(project, period).open_reservations
        candidates = [h for h in legacy if h.created_epoch < older_than_epoch]
        candidates += list(self.holds(project, period, older_than_epoch=older_than_epoch))
        charged = []
        for hold in candidates[:max_holds]:
            if self.settle(
                hold,
                actual_micro=hold.amount_micro,
                usage=SettledUsage(),
                estimated=True,
                now_epoch=now_epoch,
                operation="stale",
            ):
                charged.append(hold)
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


def _replace_holds(state: MonthState, holds: tuple[Hold, ...]) -> MonthState:
    return replace(state, open_reservations=tuple(sorted(holds, key=lambda h: (h.created_epoch, h.hold_id))))
