"""The project's spend ledger as the core sees it: enforcement mode, cap, alerts and failure policy.

`hard`: a reservation that would pass the cap is refused; an unreachable ledger refuses the call
(budget_unavailable). `soft`: everything is recorded and alerted, nothing is refused; an unreachable
ledger is logged and counted, and the call goes on. `off` uses the core's NullLedger instead.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from claude_platform.ledger import (
    CapExceededError,
    CounterCharge,
    Hold,
    LedgerBusyError,
    LedgerTable,
    MonthState,
    RateLimit,
    RateLimitedError,
    SettledUsage,
    crossed_thresholds,
    error_code,
    key_month_sk,
    new_hold,
    period_of,
    request_token,
    shift_period,
    to_micro,
)
from claude_platform.prices import TokenUsage
from claude_platform.rate_window import PROJECT_SCOPE, key_scope
from claude_proxy.auth import Caller
from claude_proxy.core import BudgetExceededError, BudgetUnavailableError
from claude_proxy.core import RateLimitedError as CallRateLimited
from claude_proxy.spend_messages import (
    alert_text,
    cap_reached_text,
    key_alert_text,
    rate_refusal_message,
    reset_text,
    retry_wait,
    usd,
    usd_text,
)

__all__ = ["ProjectSpendLedger", "SnsPublisher", "UnmeteredLedger", "usd_text"]

T = TypeVar("T")

# Every ledger request is one try of at most connect + read timeout (botocore retries are off:
# `total_max_attempts` 1), retried here only while the invocation has time for another try and
# still ANSWER_ROOM_MS to answer. The settle or release after a call (its money is at stake: a
# hold left open is charged at its worst case) gets its first try whenever one try still fits;
# one try plus the room fits in the FUNCTION_SAFETY_MARGIN_S the core keeps after its last attempt.
LEDGER_CONNECT_TIMEOUT_S = 0.15
LEDGER_READ_TIMEOUT_S = 0.35
LEDGER_TRIES = 3  # per ledger write or read, time permitting
LEDGER_TRY_MS = int((LEDGER_CONNECT_TIMEOUT_S + LEDGER_READ_TIMEOUT_S) * 1000)
ANSWER_ROOM_MS = 200  # logs, metrics and the response after the last ledger request
BACKOFF_BASE_S = 0.05
CAP_THRESHOLD = 100.0  # the claim the "cap reached" message shares with a 100% alert
DEFAULT_ALERT_LEASE_S = 900  # a claim not confirmed this long after is taken over
STALE_CHECK_INTERVAL_S = 60  # how often a container looks for stale holds (one Query)
STALE_HOLDS_PER_CHECK = 10  # at most this many charged per check (the rest by the next ones)

_RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
        "InternalServerError",
        "ServiceUnavailable",
        "Throttling",
    }
)


def retryable(exc: BaseException) -> bool:
    """Whether a failed ledger request may be tried again (throttled, 5xx, busy, connection)."""
    if isinstance(exc, LedgerBusyError):
        return True
    try:
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from botocore.exceptions import HTTPClientError
    except ImportError:  # pragma: no cover - botocore ships with the function
        return False
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return True
    status = (getattr(exc, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error_code(exc) in _RETRYABLE_CODES or int(status or 0) >= 500


class _Token:
    """The ClientRequestToken for the tries of one write: the same after a lost answer (DynamoDB
    then answers the repeat without applying it again), a new one after a cancelled try."""

    def __init__(self, operation: str, hold: Hold, now_epoch: int) -> None:
        self._operation, self._hold, self._now, self.generation = operation, hold, now_epoch, 0

    def __call__(self) -> str:
        return request_token(self._operation, self._hold, self._now, self.generation)


class LedgerOutOfTimeError(Exception):
    """Not enough of the invocation left for a ledger request and the answer after it."""


class AlertPublisher(Protocol):
    """Sends one alert message (SNS Publish fits)."""

    def publish(self, *, subject: str, message: str) -> None:
        """Send; raise on failure."""
        ...


@dataclass(frozen=True)
class Reservation:
    """A hold in the ledger; `recorded` is False when a soft ledger could not write it."""

    hold: Hold
    recorded: bool = True
    remaining_ms: Callable[[], int] | None = None
    caller: Caller | None = None

    @property
    def request_id(self) -> str:
        """The request the hold belongs to."""
        return self.hold.request_id

    @property
    def period(self) -> str:
        """The month it was reserved in (and is settled in)."""
        return self.hold.period

    @property
    def amount_micro(self) -> int:
        """The worst case held."""
        return self.hold.amount_micro


class ProjectSpendLedger:
    """SpendLedger for one project over a LedgerTable."""

    def __init__(
        self,
        *,
        table: LedgerTable,
        project: str,
        hard: bool,
        cap_usd: float,
        thresholds: tuple[float, ...],
        publisher: AlertPublisher | None,
        now: Callable[[], datetime],
        log_warning: Callable[[str, dict[str, Any]], None],
        stale_after_s: int | None = None,
        new_nonce: Callable[[], str] = lambda: secrets.token_hex(8),
        sleep: Callable[[float], None] = time.sleep,
        try_ms: int = LEDGER_TRY_MS,
        tries: int = LEDGER_TRIES,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
    ) -> None:
        self._rate = RateLimit(PROJECT_SCOPE, requests_per_minute, tokens_per_minute)
        self._table = table
        self._stale_after_s = stale_after_s
        self._next_stale_check = 0.0
        self._project = project
        self._hard = hard
        self._cap_micro = to_micro(cap_usd)
        self._thresholds = thresholds
        self._publisher = publisher
        self._now = now
        self._warn = log_warning
        self._new_nonce = new_nonce
        self._sleep = sleep
        self._try_ms = try_ms
        self._tries = tries
        self._alert_lease_s = stale_after_s or DEFAULT_ALERT_LEASE_S
        self._last_state: MonthState | None = None
        self.errors = 0  # ledger failures since the handler last reset it (a metric)
        self.alerts_sent: list[float] = []

    @property
    def enforcement(self) -> str:
        """hard or soft."""
        return "hard" if self._hard else "soft"

    def _failed(self, what: str, exc: Exception, **fields: Any) -> None:
        self.errors += 1
        self._warn(
            f"spend ledger {what} failed",
            {"project": self._project, "error": f"{type(exc).__name__}: {exc}"[:300], **fields},
        )

    def _has_time(
        self, remaining_ms: Callable[[], int] | None, tries: int = 1, room_ms: int = ANSWER_ROOM_MS
    ) -> bool:
        return remaining_ms is None or remaining_ms() >= tries * self._try_ms + room_ms

    def _call(
        self,
        request: Callable[[], T],
        remaining_ms: Callable[[], int] | None,
        *,
        closing: bool = False,
        token: _Token | None = None,
    ) -> T:
        """`request`, tried again after a retryable failure while the invocation has time for it.

        `closing` (a settle or release after the call): the first try needs only the try's own time.
        """
        last: Exception | None = None
        for n in range(self._tries):
            if not self._has_time(remaining_ms, room_ms=0 if closing and n == 0 else ANSWER_ROOM_MS):
                break
            try:
                return request()
            except Exception as exc:
                if not retryable(exc):
                    raise
                if token is not None and isinstance(exc, LedgerBusyError):
                    token.generation += 1
                last = exc
            delay = BACKOFF_BASE_S * (2**n) * (0.5 + secrets.randbelow(1000) / 2000)
            if remaining_ms is not None and remaining_ms() < delay * 1000 + self._try_ms + ANSWER_ROOM_MS:
                break
            self._sleep(delay)
        raise last or LedgerOutOfTimeError("not enough time left in this invocation for the spend ledger")

    def _limits(self, period: str, caller: Caller | None) -> tuple[list[CounterCharge], list[RateLimit]]:
        """The key's month counter (capped under hard) and the limited rate scopes of this call."""
        also: list[CounterCharge] = []
        rates = [self._rate] if self._rate.limited else []
        if caller is not None:
            limits = caller.limits
            cap = limits.monthly_cap_micro if self._hard else None
            also.append(CounterCharge(key_month_sk(period, caller.key_name), cap))
            key_rate = RateLimit(
                key_scope(caller.key_name), limits.requests_per_minute, limits.tokens_per_minute
            )
            if key_rate.limited:
                rates.append(key_rate)
        return also, rates

    def reserve(
        self,
        *,
        model: str,
        request_id: str,
        amount_usd: float,
        remaining_ms: Callable[[], int] | None = None,
        tokens: int = 0,
        caller: Caller | None = None,
    ) -> Reservation:
        """Hold the worst case as a new hold of its own, with the caller key's counter and the rate
        windows in the same write; refuse past a cap when hard, past a rate limit always."""
        moment = self._now()
        now_epoch = int(moment.timestamp())
        period = period_of(moment)
        also, rates = self._limits(period, caller)
        hold = new_hold(
            project=self._project,
            period=period,
            request_id=request_id,
            nonce=self._new_nonce(),
            amount_micro=to_micro(amount_usd),
            now_epoch=now_epoch,
            model=model,
            also=also,
            rates=rates,
            tokens=tokens,
        )
        cap = self._cap_micro if self._hard else None
        try:
            token = _Token("reserve", hold, now_epoch)
            self._call(
                lambda: self._table.reserve_hold(
                    hold, cap_micro=cap, also=also, rates=rates, token=token(), now_s=moment.timestamp()
                ),
                remaining_ms,
                token=token,
            )
        except CapExceededError as exc:
            self._last_state = exc.state
            if exc.counter != hold.counters[0]:
                raise BudgetExceededError(self._key_refusal_message(exc, caller)) from None
            self._cap_reached(exc.state, hold, remaining_ms)
            raise BudgetExceededError(self._refusal_message(exc.state, hold.amount_micro)) from None
        except RateLimitedError as exc:
            raise CallRateLimited(rate_refusal_message(self._project, exc), retry_wait(exc)) from None
        except Exception as exc:
            self._failed("reserve", exc, request_id=request_id)
            self._undo_reserve(hold, remaining_ms)
            if self._hard:
                raise BudgetUnavailableError(
                    f"the spend ledger could not be reached to check project {self._project!r}'s cap; "
                    "the request was not sent (retry shortly)"
                ) from None
            return Reservation(hold, recorded=False, remaining_ms=remaining_ms, caller=caller)
        self._charge_stale_holds(hold.period, moment, remaining_ms)
        return Reservation(hold, remaining_ms=remaining_ms, caller=caller)

    def _charge_stale_holds(
        self, period: str, moment: datetime, remaining_ms: Callable[[], int] | None
    ) -> None:
        """Holds that outlived their invocation (killed mid-call, or settle failed): charge them as estimated.

        One Query on the sort-key range of holds older than `stale_after_s`, in this month and the
        previous one (a call killed just before midnight at a month's end), at most once per
        STALE_CHECK_INTERVAL_S per container, and only with time to spare.
        """
        if self._stale_after_s is None or not self._has_time(remaining_ms, tries=5):
            return
        clock = moment.timestamp()
        if clock < self._next_stale_check:
            return
        self._next_stale_check = clock + STALE_CHECK_INTERVAL_S
        # Two reads per month, then one transaction per hold: as many as the time left allows.
        left = (
            (remaining_ms() - ANSWER_ROOM_MS) // self._try_ms - 4 if remaining_ms else STALE_HOLDS_PER_CHECK
        )
        try:
            charged = [
                hold
                for month in (shift_period(period, -1), period)
                for hold in self._table.charge_stale_reservations(
                    project=self._project,
                    period=month,
                    older_than_epoch=int(clock) - self._stale_after_s,
                    now_epoch=int(clock),
                    max_holds=max(1, min(STALE_HOLDS_PER_CHECK, left) // 2),
                )
            ]
        except Exception as exc:
            self._failed("stale hold charge", exc)
            return
        if charged:
            self._warn(
                "spend ledger charged holds left by killed invocations as estimated spend",
                {"project": self._project, "request_ids": [h.request_id for h in charged]},
            )

    def _undo_reserve(self, hold: Hold, remaining_ms: Callable[[], int] | None) -> None:
        """After a failed reserve, drop this hold in case the write was applied but its answer lost.

        Only this attempt's own hold (its id is new); with no time left it stays, and the
        stale-hold rule charges it as estimated (an over-count reconciliation corrects).
        """
        if not self._has_time(remaining_ms):
            return
        try:
            self._table.release(hold, now_epoch=int(self._now().timestamp()))
        except Exception:  # still unreachable: the hold, if any, is charged as stale later, never dropped
            return

    def _key_refusal_message(self, exc: CapExceededError, caller: Caller | None) -> str:
        state, name = exc.counter_state, caller.key_name if caller else "?"
        return (
            f"API key {name!r} has spent {usd_text(state.spent_micro)} USD of its own "
            f"{usd_text(exc.cap_micro)} USD monthly cap for {state.period} (project {self._project!r}), with "
            f"{usd_text(state.reserved_micro)} USD reserved by its calls in flight; this request could cost up "
            f"to {usd_text(exc.amount_micro)} USD. The key's cap resets at {reset_text(state.period)}."
        )

    def _refusal_message(self, state: MonthState, amount_micro: int) -> str:
        return (
            f"project {self._project!r} has spent {usd_text(state.spent_micro)} USD of its "
            f"{usd_text(self._cap_micro)} USD cap for {state.period}, with "
            f"{usd_text(state.reserved_micro)} USD reserved by calls in flight; this request could cost up "
            f"to {usd_text(amount_micro)} USD. The cap resets at {reset_text(state.period)}."
        )

    def settle(
        self, reservation: Reservation, *, amount_usd: float, usage: TokenUsage | None, estimated: bool
    ) -> dict[str, Any] | None:
        """Record the actual (or estimated) cost, send any alert now due; returns the budget status."""
        if not reservation.recorded:
            return self.status()
        usage = usage or TokenUsage()
        remaining_ms = reservation.remaining_ms
        tries = 0
        now_epoch = int(self._now().timestamp())  # the same on every try: one request, one token
        token = _Token("settle", reservation.hold, now_epoch)

        def write() -> bool:
            nonlocal tries
            tries += 1
            return self._table.settle(
                reservation.hold,
                actual_micro=to_micro(amount_usd),
                usage=SettledUsage(
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    cache_read_tokens=usage.cache_read_input_tokens,
                    cache_write_tokens=usage.cache_write_input_tokens,
                ),
                estimated=estimated,
                now_epoch=now_epoch,
                token=token(),
            )

        try:
            applied = self._call(write, remaining_ms, closing=True, token=token)
        except Exception as exc:
            # The hold stays open: the stale-hold rule charges it as estimated spend, never as zero.
            self._failed("settle", exc, request_id=reservation.request_id)
            return self.status()
        if not applied and tries == 1:
            self._warn(
                "spend ledger reservation was already settled or released",
                {"project": self._project, "request_id": reservation.request_id},
            )
            return self.status()
        # not applied on a later try: the earlier try was applied and its answer lost
        state = self._read_month(reservation.period, remaining_ms)
        if state is not None:
            self._send_alerts(state, reservation.hold.hold_id, remaining_ms)
        self._send_key_alerts(reservation, remaining_ms)
        return self.status()

    def _send_key_alerts(self, reservation: Reservation, remaining_ms: Callable[[], int] | None) -> None:
        """A key with alert thresholds: each crossed threshold of its cap, once a month, naming the key."""
        caller = reservation.caller
        if caller is None or not caller.limits.alert_thresholds or caller.limits.monthly_cap_micro is None:
            return
        if self._publisher is None or not self._has_time(remaining_ms, tries=4):
            return
        period, cap = reservation.period, caller.limits.monthly_cap_micro
        sk = key_month_sk(period, caller.key_name)
        try:
            state = self._table.counter(self._project, period, sk)
        except Exception as exc:
            self._failed("key read", exc)
            return
        for threshold in crossed_thresholds(state, caller.limits.alert_thresholds, cap):
            subject, message = key_alert_text(self._project, caller.key_name, state, cap, threshold)
            self._alert_once(
                period,
                threshold=threshold,
                claimant=reservation.hold.hold_id,
                subject=subject,
                message=message,
                remaining_ms=remaining_ms,
                sk=sk,
            )

    def _read_month(self, period: str, remaining_ms: Callable[[], int] | None) -> MonthState | None:
        try:
            state = self._call(lambda: self._table.month(self._project, period), remaining_ms)
        except Exception as exc:
            self._failed("read", exc)
            return None
        self._last_state = state
        return state

    def release(self, reservation: Reservation) -> None:
        """Drop the hold: Bedrock did no work."""
        if not reservation.recorded:
            return
        try:
            now_epoch = int(self._now().timestamp())
            token = _Token("release", reservation.hold, now_epoch)
            self._call(
                lambda: self._table.release(reservation.hold, now_epoch=now_epoch, token=token()),
                reservation.remaining_ms,
                closing=True,
                token=token,
            )
        except Exception as exc:
            self._failed("release", exc, request_id=reservation.request_id)

    def status(self) -> dict[str, Any]:
        """Where the project stands this month, as last seen by this container."""
        period = period_of(self._now())
        state = self._last_state if self._last_state and self._last_state.period == period else None
        return {
            "period": period,
            "spent_usd": usd(state.spent_micro) if state else None,
            "reserved_usd": usd(state.reserved_micro) if state else None,
            "cap_usd": usd(self._cap_micro),
            "enforcement": self.enforcement,
            "resets_at": reset_text(period),
        }

    def _cap_reached(self, state: MonthState, hold: Hold, remaining_ms: Callable[[], int] | None) -> None:
        """Under hard, the first refusal of the month sends "cap reached" (sharing the 100% alert's claim).

        A request whose worst case alone is over the whole cap is too large, not a reached cap.
        """
        if not self._hard or hold.amount_micro > self._cap_micro or CAP_THRESHOLD in state.alerted:
            return
        subject, message = cap_reached_text(self._project, state, self._cap_micro, hold.amount_micro)
        self._alert_once(
            state.period,
            threshold=CAP_THRESHOLD,
            claimant=hold.hold_id,
            subject=subject,
            message=message,
            remaining_ms=remaining_ms,
        )

    def _send_alerts(self, state: MonthState, claimant: str, remaining_ms: Callable[[], int] | None) -> None:
        for threshold in crossed_thresholds(state, self._thresholds, self._cap_micro):
            subject, message = alert_text(self._project, state, self._cap_micro, threshold, self.enforcement)
            self._alert_once(
                state.period,
                threshold=threshold,
                claimant=claimant,
                subject=subject,
                message=message,
                remaining_ms=remaining_ms,
            )

    def _alert_once(
        self,
        period: str,
        *,
        threshold: float,
        claimant: str,
        subject: str,
        message: str,
        remaining_ms: Callable[[], int] | None,
        sk: str | None = None,
    ) -> None:
        """Claim, publish, confirm: sent once per month in effect (an unconfirmed claim is taken over
        after the lease, a failed publish gives the claim back). `sk`: the counter item holding the
        claim (default the project's month)."""
        if self._publisher is None or not self._has_time(remaining_ms, tries=3):
            return
        table, project = self._table, self._project
        try:
            claimed = table.claim_alert(
                project=project,
                period=period,
                threshold=threshold,
                claimant=claimant,
                now_epoch=int(self._now().timestamp()),
                lease_s=self._alert_lease_s,
                sk=sk,
            )
        except Exception as exc:
            self._failed("alert claim", exc, threshold=threshold)
            return
        if not claimed:
            return
        try:
            self._publisher.publish(subject=subject, message=message)
        except Exception as exc:
            self._failed("alert publish", exc, threshold=threshold)
            try:  # give the claim back so a later call sends it
                table.unclaim_alert(
                    project=project, period=period, threshold=threshold, claimant=claimant, sk=sk
                )
            except Exception as undo:
                self._failed("alert unclaim", undo, threshold=threshold)
            return
        self.alerts_sent.append(threshold)
        try:
            table.confirm_alert(project=project, period=period, threshold=threshold, claimant=claimant, sk=sk)
        except Exception as exc:  # unconfirmed: sent again after the lease (at least once, not lost)
            self._failed("alert confirm", exc, threshold=threshold)


class UnmeteredLedger:
    """`enforcement: off`: no ledger calls at all; the status says so."""

    def __init__(self, *, cap_usd: float, now: Callable[[], datetime]) -> None:
        self._cap_usd = cap_usd
        self._now = now
        self.errors = 0
        self.alerts_sent: list[float] = []

    def reserve(
        self,
        *,
        model: str,
        request_id: str,
        amount_usd: float,
        remaining_ms: Callable[[], int] | None = None,
        tokens: int = 0,
        caller: Caller | None = None,
    ) -> None:
        """Nothing is held."""

    def settle(
        self, reservation: Any, *, amount_usd: float, usage: TokenUsage | None, estimated: bool
    ) -> dict[str, Any]:
        """Nothing is recorded."""
        return self.status()

    def release(self, reservation: Any) -> None:
        """Nothing to release."""

    def status(self) -> dict[str, Any]:
        """No spend figures: the ledger is off."""
        period = period_of(self._now())
        return {
            "period": period,
            "spent_usd": None,
            "reserved_usd": None,
            "cap_usd": self._cap_usd,
            "enforcement": "off",
            "resets_at": reset_text(period),
        }


class SnsPublisher:
    """AlertPublisher over an SNS client and topic ARN."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, *, subject: str, message: str) -> None:
        """sns:Publish."""
        self._client.publish(TopicArn=self._topic_arn, Subject=subject, Message=message)
