"""Threshold alerts' claims in a counter item (the project's month or a key's), and which are due.

Claim, publish, confirm: a claim with a lease lives in the counter item (`alert#<threshold>`), so
exactly one sender at a time may publish a threshold's alert, and a confirmed threshold is never
sent again that month. Standard library only (boto3 errors are read by their response).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from claude_platform.ledger_model import ALERT_CLAIM_PREFIX, MonthState, month_sk


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _is_conditional_failure(exc: Exception) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


def _n(value: int | float | Decimal) -> dict[str, str]:
    return {"N": str(value)}


def _threshold_number(threshold: float) -> str:
    return format(Decimal(str(threshold)).normalize(), "f")


class AlertClaims:
    """The alert-claim writes of LedgerTable (mixed in: uses its client and table name)."""

    _client: Any
    table_name: str

    def claim_alert(
        self,
        *,
        project: str,
        period: str,
        threshold: float,
        claimant: str,
        now_epoch: int,
        lease_s: int,
        sk: str | None = None,
    ) -> bool:
        """Claim the right to send `threshold`'s alert this month; True for exactly one claimant at a time.

        `sk`: the counter item the claim lives in (default the project's month; a key's month counter
        for that key's alerts).

        A claim not confirmed as sent (`confirm_alert`) within `lease_s` may be taken over by
        another claimant: the first one crashed before it could send. A repeated claim by the same
        claimant (a retried write) is its own. No claim is granted once the alert was confirmed.
        """
        number = _threshold_number(threshold)
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": project}, "sk": {"S": sk or month_sk(period)}},
                UpdateExpression="SET #c = :claim",
                ConditionExpression=(
                    "NOT contains(alerted, :t) AND "
                    "(attribute_not_exists(#c) OR #c.c = :who OR #c.t < :expired)"
                ),
                ExpressionAttributeNames={"#c": f"{ALERT_CLAIM_PREFIX}{number}"},
                ExpressionAttributeValues={
                    ":t": {"N": number},
                    ":who": {"S": claimant},
                    ":claim": {"M": {"c": {"S": claimant}, "t": _n(now_epoch)}},
                    ":expired": _n(now_epoch - lease_s),
                },
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def confirm_alert(
        self, *, project: str, period: str, threshold: float, claimant: str, sk: str | None = None
    ) -> bool:
        """Record that `threshold`'s alert was sent (it is never sent again this month)."""
        number = _threshold_number(threshold)
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": project}, "sk": {"S": sk or month_sk(period)}},
                UpdateExpression="ADD alerted :ts",
                ConditionExpression="#c.c = :who OR contains(alerted, :t)",
                ExpressionAttributeNames={"#c": f"{ALERT_CLAIM_PREFIX}{number}"},
                ExpressionAttributeValues={
                    ":ts": {"NS": [number]},
                    ":t": {"N": number},
                    ":who": {"S": claimant},
                },
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def unclaim_alert(
        self, *, project: str, period: str, threshold: float, claimant: str, sk: str | None = None
    ) -> None:
        """Give the claim back (the alert could not be sent), so a later call retries it at once."""
        number = _threshold_number(threshold)
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": project}, "sk": {"S": sk or month_sk(period)}},
                UpdateExpression="REMOVE #c",
                ConditionExpression="#c.c = :who AND NOT contains(alerted, :t)",
                ExpressionAttributeNames={"#c": f"{ALERT_CLAIM_PREFIX}{number}"},
                ExpressionAttributeValues={":t": {"N": number}, ":who": {"S": claimant}},
            )
        except Exception as exc:
            if not _is_conditional_failure(exc):
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
