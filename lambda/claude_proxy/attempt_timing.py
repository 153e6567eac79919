"""Attempt timing: the retry policy, and how long each attempt may run, per model family.

A cut attempt may still be billed (Bedrock can finish the generation we stopped waiting for), so an
attempt is only cut when it is slower than a working call and a whole retry still fits behind it;
speeds per model family and their sources: claude_platform/limits.py, docs/spend-ledger.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from claude_platform.limits import FUNCTION_SAFETY_MARGIN_S, GenerationSpeed, speed_for
from claude_proxy.errors import ErrorType, ProxyError


@dataclass(frozen=True)
class RetryPolicy:
    """Retries on throttling, 5xx and timeouts, with full-jitter exponential backoff, within the deadline."""

    max_attempts: int = 4
    base_delay_s: float = 0.25
    max_delay_s: float = 4.0
    safety_margin_ms: int = int(FUNCTION_SAFETY_MARGIN_S * 1000)  # left for ledger, logs, metrics, response
    min_attempt_ms: int = 500  # never start an attempt with less time than this
    max_attempt_timeout_s: float | None = None  # per-attempt cap; None: whatever time is left
    # How fast the model generates (claude_platform/limits.py): "per_model" looks its family up; a
    # GenerationSpeed applies to every model; None turns timing off (nothing is refused up front,
    # every attempt gets all the time left, any retry needs only min_attempt_ms). With a speed, a
    # request that cannot finish even at the best rate is refused up front; an attempt gets all the
    # time left unless that leaves room for a whole retry at the slow rate after giving this
    # attempt at least as much, so an attempt is only cut when it is slower than a working call;
    # and a retry after an unknown outcome (timeout) is sent only if it can finish at the slow rate.
    speed: GenerationSpeed | Literal["per_model"] | None = "per_model"

    def speed_for(self, model_id: str) -> GenerationSpeed | None:
        """The speed assumed for `model_id` (a base id), or None (timing off)."""
        if self.speed == "per_model":
            return speed_for(model_id)
        return self.speed


DEFAULT_RETRY_POLICY = RetryPolicy()


@dataclass(frozen=True)
class Timing:
    """The speed assumption for one request: its model's speed (None: timing off) and max_tokens."""

    speed: GenerationSpeed | None
    max_tokens: int

    @property
    def best_s(self) -> float | None:
        """Seconds the answer needs at the very least."""
        return None if self.speed is None else self.speed.best_seconds(self.max_tokens)

    @property
    def slow_s(self) -> float | None:
        """Seconds a working call may take."""
        return None if self.speed is None else self.speed.slow_seconds(self.max_tokens)


def attempt_timeout_s(policy: RetryPolicy, budget_s: float, timing: Timing, last: bool) -> float:
    """All the time left, unless the attempt can keep what a working call needs and still leave
    a whole retry (backoff plus a working call) behind: then all but that retry's share."""
    timeout_s = budget_s
    slow_s = timing.slow_s
    if not last and slow_s is not None:
        retry_share = policy.max_delay_s + slow_s
        if budget_s - retry_share >= slow_s:
            timeout_s = budget_s - retry_share
    if policy.max_attempt_timeout_s is not None:
        timeout_s = min(timeout_s, policy.max_attempt_timeout_s)
    return timeout_s


def may_retry(timing: Timing, budget_s: float, after_unknown_outcome: bool) -> bool:
    """A retry after a timeout (or another unknown outcome) only if a working call fits in the time
    left; after a no-work failure, if the answer can fit at best."""
    need_s = timing.slow_s if after_unknown_outcome else timing.best_s
    return need_s is None or need_s <= budget_s


def implausible(policy: RetryPolicy, timing: Timing, remaining: int) -> ProxyError | None:
    """An invalid_request when `max_tokens` cannot plausibly be generated in the time left."""
    budget_s = (remaining - policy.safety_margin_ms) / 1000
    speed, need_s = timing.speed, timing.best_s
    if speed is None or need_s is None or budget_s * 1000 < policy.min_attempt_ms or need_s <= budget_s:
        return None
    return ProxyError(
        ErrorType.INVALID_REQUEST,
        f"max_tokens: {timing.max_tokens} tokens cannot plausibly be generated in the {budget_s:.0f} s "
        f"this function has left (at {speed.best_tokens_per_s:g} tokens/s, the best plausible rate of "
        f"{speed.family} models); ask for at most {speed.tokens_in(budget_s)}, or raise the project's "
        "lambda_timeout_seconds",
        retryable=False,
    )
