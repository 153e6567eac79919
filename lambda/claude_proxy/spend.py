"""The project's spend ledger as the core sees it: enforcement mode, cap, alerts and failure policy.

`hard`: a reservation that would pass the cap is refused; an unreachable ledger refuses the call
(budget_unavailable). `soft`: everything is recorded and alerted, nothing is refused; an unreachable
ledger is logged and counted, and the call goes on. `off` uses the core's NullLedger instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from claude_platform.ledger import (
    CapExceededError,
    LedgerTable,
    MonthState,
    SettledUsage,
    crossed_thresholds,
    period_end,
    period_of,
    to_micro,
    to_usd,
)
from claude_platform.prices import TokenUsage
from claude_proxy.core import BudgetExceededError, BudgetUnavailableError


class AlertPublisher(Protocol):
    """Sends one alert message (SNS Publish fits)."""

    def publish(self, *, subject: str, message: str) -> None:
        """Send; raise on failure."""
        ...


@dataclass(frozen=True)
class Reservation:
    """A hold in the ledger; `recorded` is False when a soft ledger could not write it."""

    request_id: str
    period: str
    amount_micro: int
    recorded: bool = True


def _usd(micro: int) -> float:
    return float(to_usd(micro))


def usd_text(micro: int) -> str:
    """Exact USD with at least 2 decimals and no trailing zeros beyond: 500 -> '0.0005', 5e8 -> '500.00'."""
    text = f"{to_usd(micro):.6f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


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
    ) -> None:
        self._table = table
        self._stale_after_s = stale_after_s
        self._project = project
        self._hard = hard
        self._cap_micro = to_micro(cap_usd)
        self._thresholds = thresholds
        self._publisher = publisher
        self._now = now
        self._warn = log_warning
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

    def reserve(self, *, model: str, request_id: str, amount_usd: float) -> Reservation:
        """Hold the worst case in this month's item; refuse past the cap when hard."""
        moment = self._now()
        period = period_of(moment)
        amount = to_micro(amount_usd)
        try:
            state = self._table.reserve(
                project=self._project,
                period=period,
                request_id=request_id,
                amount_micro=amount,
                cap_micro=self._cap_micro if self._hard else None,
                model=model,
                now_epoch=int(moment.timestamp()),
            )
        except CapExceededError as exc:
            self._last_state = exc.state
            raise BudgetExceededError(self._refusal_message(exc.state, amount)) from None
        except Exception as exc:
            self._failed("reserve", exc, request_id=request_id)
            self._undo_reserve(period, request_id, amount)
            if self._hard:
                raise BudgetUnavailableError(
                    f"the spend ledger could not be reached to check project {self._project!r}'s cap; "
                    "the request was not sent (retry shortly)"
                ) from None
            return Reservation(request_id, period, amount, recorded=False)
        self._last_state = state
        self._charge_stale_holds(state, moment)
        return Reservation(request_id, period, amount)

    def _charge_stale_holds(self, state: MonthState, moment: datetime) -> None:
        """Holds that outlived their invocation (function killed mid-call): charge them as estimated."""
        if self._stale_after_s is None:
            return
        cutoff = int(moment.timestamp()) - self._stale_after_s
        if not any(r.created_epoch < cutoff for r in state.open_reservations):
            return
        try:
            charged = self._table.charge_stale_reservations(
                project=self._project,
                period=state.period,
                older_than_epoch=cutoff,
                now_epoch=int(moment.timestamp()),
            )
        except Exception as exc:
            self._failed("stale hold charge", exc)
            return
        if charged:
            self._warn(
                "spend ledger charged holds left by killed invocations as estimated spend",
                {"project": self._project, "request_ids": [r.request_id for r in charged]},
            )

    def _undo_reserve(self, period: str, request_id: str, amount: int) -> None:
        """After a failed reserve, drop the hold in case the write was applied but its answer lost."""
        try:
            self._table.release(
                project=self._project,
                period=period,
                request_id=request_id,
                reserved_micro=amount,
                now_epoch=int(self._now().timestamp()),
            )
        except Exception:  # still unreachable: the hold, if any, is charged as stale later, never dropped
            return

    def _refusal_message(self, state: MonthState, amount_micro: int) -> str:
        resets = period_end(state.period).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            f"project {self._project!r} has spent {usd_text(state.spent_micro)} USD of its "
            f"{usd_text(self._cap_micro)} USD cap for {state.period}, with "
            f"{usd_text(state.reserved_micro)} USD reserved by calls in flight; this request could cost up "
            f"to {usd_text(amount_micro)} USD. The cap resets at {resets}."
        )

    def settle(
        self, reservation: Reservation, *, amount_usd: float, usage: TokenUsage | None, estimated: bool
    ) -> dict[str, Any] | None:
        """Record the actual (or estimated) cost, send any alert now due; returns the budget status."""
        if not reservation.recorded:
            return self.status()
        usage = usage or TokenUsage()
        try:
            state = self._table.settle(
                project=self._project,
                period=reservation.period,
                request_id=reservation.request_id,
                reserved_micro=reservation.amount_micro,
                actual_micro=to_micro(amount_usd),
                usage=SettledUsage(
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    cache_read_tokens=usage.cache_read_input_tokens,
                    cache_write_tokens=usage.cache_write_input_tokens,
                ),
                estimated=estimated,
                now_epoch=int(self._now().timestamp()),
            )
        except Exception as exc:
            # The hold stays open: the CLI charges stale holds as estimated spend, never as zero.
            self._failed("settle", exc, request_id=reservation.request_id)
            return self.status()
        if state is None:
            self._warn(
                "spend ledger reservation was already settled or released",
                {"project": self._project, "request_id": reservation.request_id},
            )
            return self.status()
        self._last_state = state
        self._send_alerts(state, reservation.request_id)
        return self.status()

    def release(self, reservation: Reservation) -> None:
        """Drop the hold: Bedrock did no work."""
        if not reservation.recorded:
            return
        try:
            state = self._table.release(
                project=self._project,
                period=reservation.period,
                request_id=reservation.request_id,
                reserved_micro=reservation.amount_micro,
                now_epoch=int(self._now().timestamp()),
            )
        except Exception as exc:
            self._failed("release", exc, request_id=reservation.request_id)
            return
        if state is not None:
            self._last_state = state

    def status(self) -> dict[str, Any]:
        """Where the project stands this month, as last seen by this container."""
        period = period_of(self._now())
        state = self._last_state if self._last_state and self._last_state.period == period else None
        return {
            "period": period,
            "spent_usd": _usd(state.spent_micro) if state else None,
            "reserved_usd": _usd(state.reserved_micro) if state else None,
            "cap_usd": _usd(self._cap_micro),
            "enforcement": self.enforcement,
            "resets_at": period_end(period).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def _send_alerts(self, state: MonthState, claimant: str) -> None:
        if self._publisher is None:
            return
        for threshold in crossed_thresholds(state, self._thresholds, self._cap_micro):
            try:
                claimed = self._table.claim_alert(
                    project=self._project, period=state.period, threshold=threshold, claimant=claimant
                )
            except Exception as exc:
                self._failed("alert claim", exc, threshold=threshold)
                continue
            if not claimed:
                continue
            subject, message = alert_text(self._project, state, self._cap_micro, threshold, self.enforcement)
            try:
                self._publisher.publish(subject=subject, message=message)
                self.alerts_sent.append(threshold)
            except Exception as exc:
                self._failed("alert publish", exc, threshold=threshold)
                try:  # give the claim back so a later call sends it
                    self._table.unclaim_alert(
                        project=self._project, period=state.period, threshold=threshold, claimant=claimant
                    )
                except Exception as undo:
                    self._failed("alert unclaim", undo, threshold=threshold)


def alert_text(
    project: str, state: MonthState, cap_micro: int, threshold: float, enforcement: str
) -> tuple[str, str]:
    """Subject (<= 100 chars, SNS's limit) and body of a spend alert."""
    spent, cap = _usd(state.spent_micro), _usd(cap_micro)
    subject = f"Claude spend: {project} passed {threshold:g}% of its {state.period} cap"[:100]
    lines = [
        f"Project: {project}",
        f"Month (UTC): {state.period}",
        f"Spent: {usd_text(state.spent_micro)} USD ({spent / cap * 100 if cap else 0:.1f}% of the cap)",
        f"Cap: {usd_text(cap_micro)} USD (enforcement: {enforcement})",
        f"Threshold crossed: {threshold:g}%",
        f"Of which estimated (calls with unknown outcome, corrected by reconciliation): "
        f"{usd_text(state.estimated_micro)} USD",
        f"Requests: {state.requests}, refused: {state.refusals}",
    ]
    if enforcement == "hard":
        lines.append("At 100% further requests are refused until the month resets or the cap is raised.")
    return subject, "\n".join(lines)


class UnmeteredLedger:
    """`enforcement: off`: no ledger calls at all; the status says so."""

    def __init__(self, *, cap_usd: float, now: Callable[[], datetime]) -> None:
        self._cap_usd = cap_usd
        self._now = now
        self.errors = 0
        self.alerts_sent: list[float] = []

    def reserve(self, *, model: str, request_id: str, amount_usd: float) -> None:
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
            "resets_at": period_end(period).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


class SnsPublisher:
    """AlertPublisher over an SNS client and topic ARN."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, *, subject: str, message: str) -> None:
        """sns:Publish."""
        self._client.publish(TopicArn=self._topic_arn, Subject=subject, Message=message)
