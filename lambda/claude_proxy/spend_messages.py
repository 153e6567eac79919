"""What the spend ledger says: refusals, alerts and amounts as text (no I/O)."""

from __future__ import annotations

from claude_platform.ledger import MonthState, RateLimitedError, period_end, to_usd


def usd(micro: int) -> float:
    """Micro-USD as a float USD (status fields)."""
    return float(to_usd(micro))


def usd_text(micro: int) -> str:
    """Exact USD with at least 2 decimals and no trailing zeros beyond: 500 -> '0.0005', 5e8 -> '500.00'."""
    text = f"{to_usd(micro):.6f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def reset_text(period: str) -> str:
    """When `period` resets, ISO 8601 UTC."""
    return period_end(period).strftime("%Y-%m-%dT%H:%M:%SZ")


def retry_wait(exc: RateLimitedError) -> int | None:
    """The seconds to wait, or None when the request can never fit."""
    return exc.refusal.retry_after_s if exc.refusal is not None else None


def rate_refusal_message(project: str, exc: RateLimitedError) -> str:
    """Which limit refused the call, what its window holds and when to retry (or why it never fits)."""
    who = f"API key {exc.scope[2:]!r}" if exc.scope.startswith("k#") else f"project {project!r}"
    refusal = exc.refusal
    if refusal is None:
        return (
            f"this request could use up to {exc.tokens} tokens (its input bound plus max_tokens), more than "
            f"{who}'s tokens_per_minute of {exc.limit.tokens_per_minute}: lower max_tokens or shorten the input"
        )
    unit = "requests" if refusal.what == "requests_per_minute" else "tokens"
    extra = f"; this request could use up to {exc.tokens} tokens" if unit == "tokens" else ""
    return (
        f"{who} is at its {refusal.what} limit of {refusal.limit}: {refusal.in_window} {unit} counted in "
        f"the last minute{extra}. Retry in {refusal.retry_after_s} s; the request was not sent."
    )


def cap_reached_text(project: str, state: MonthState, cap_micro: int, amount_micro: int) -> tuple[str, str]:
    """Subject (<= 100 chars) and body of the message sent when the hard cap starts refusing calls."""
    resets = reset_text(state.period)
    subject = f"Claude spend: {project} cap reached, calls are refused until {resets}"[:100]
    room = max(0, cap_micro - state.committed_micro)
    lines = [
        f"Project: {project}",
        f"Month (UTC): {state.period}",
        f"Cap reached, calls are refused until {resets} (or until the cap is raised).",
        f"Spent: {usd_text(state.spent_micro)} USD, reserved by calls in flight: "
        f"{usd_text(state.reserved_micro)} USD, cap: {usd_text(cap_micro)} USD (enforcement: hard)",
        f"Left under the cap: {usd_text(room)} USD; the refused request could cost up to "
        f"{usd_text(amount_micro)} USD: calls whose worst case does not fit are refused.",
        f"Of which estimated (calls with unknown outcome, corrected by reconciliation): "
        f"{usd_text(state.estimated_micro)} USD",
        f"Requests: {state.requests}, refused: {state.refusals}",
        "This message stands for the 100% alert this month.",
    ]
    return subject, "\n".join(lines)


def key_alert_text(
    project: str, key_name: str, state: MonthState, cap_micro: int, threshold: float
) -> tuple[str, str]:
    """Subject (<= 100 chars) and body of a key's alert: the key's spend against its own cap."""
    subject = f"Claude spend: key {key_name} of {project} passed {threshold:g}% of its {state.period} cap"
    lines = [
        f"Project: {project}",
        f"API key: {key_name}",
        f"Month (UTC): {state.period}",
        f"Spent by this key: {usd_text(state.spent_micro)} USD "
        f"({state.spent_micro / cap_micro * 100:.1f}% of its cap), reserved by its calls in flight: "
        f"{usd_text(state.reserved_micro)} USD",
        f"Key's monthly cap: {usd_text(cap_micro)} USD (the key's calls are refused past it until "
        f"{reset_text(state.period)} or until it is raised with claude-finops keys update)",
        f"Threshold crossed: {threshold:g}%",
        f"Requests: {state.requests}",
    ]
    return subject[:100], "\n".join(lines)


def alert_text(
    project: str, state: MonthState, cap_micro: int, threshold: float, enforcement: str
) -> tuple[str, str]:
    """Subject (<= 100 chars, SNS's limit) and body of a spend alert."""
    spent, cap = usd(state.spent_micro), usd(cap_micro)
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
