"""Time limits shared by the config check and the function, so both judge a request the same way.

Standard library only: the Lambda bundle ships this module.

Generation speed is per model family (Haiku, Sonnet, Opus), with two rates each:

- `best_tokens_per_s`: faster than any measurement below, on purpose. A request whose `max_tokens`
  cannot finish in the time left even at this rate is refused before it is sent, and a project's
  `max_tokens_limit` that no request could use within `lambda_timeout_seconds` is a config error.
- `slow_tokens_per_s`: well below the measured medians, the slowest pace still taken as a working
  call. An attempt is never given less time than a generation of `max_tokens` needs at this pace
  (so a call that can finish is never cut to make room for a retry), and a retry after a timeout is
  only sent when the time left covers it at this pace.

Sources (docs/spend-ledger.md, "Time for the retry the policy promises"): measured output speeds on
Amazon Bedrock and Anthropic's API published by Artificial Analysis (third party): Claude 3.5
Sonnet 53-54 tokens/s on Bedrock, Claude 3 Sonnet 60, Claude 3.5 Haiku 50-68 (101 latency-optimized),
Sonnet 4.5 63 with 1.8 s to the first token, Opus 4.1 45 with 2.7 s; a third-party latency guide
gives Haiku 4.5 150-180, Sonnet 4.6 80-120, Opus 4.6 40-70 tokens/s (approximate). Anthropic and
AWS publish no speed. The rates here are assumptions derived from those figures, not measurements
of this platform.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Time the function keeps for recording spend, logging and returning after the last attempt.
FUNCTION_SAFETY_MARGIN_S = 1.0
PLAUSIBLE_FIRST_TOKEN_S = 2.0  # best case to the first token (measured medians: 0.8-2.7 s)
SLOW_FIRST_TOKEN_S = 5.0  # a slow but working first token (about twice the slowest median)


@dataclass(frozen=True)
class GenerationSpeed:
    """How fast a model family plausibly generates on Bedrock, at best and at its slowest normal pace."""

    family: str
    best_tokens_per_s: float
    slow_tokens_per_s: float
    best_first_token_s: float = PLAUSIBLE_FIRST_TOKEN_S
    slow_first_token_s: float = SLOW_FIRST_TOKEN_S

    def best_seconds(self, max_tokens: int) -> float:
        """Seconds a generation of `max_tokens` needs at the very least."""
        return self.best_first_token_s + max_tokens / self.best_tokens_per_s

    def slow_seconds(self, max_tokens: int) -> float:
        """Seconds a working generation of `max_tokens` may take (the slowest normal pace)."""
        return self.slow_first_token_s + max_tokens / self.slow_tokens_per_s

    def tokens_in(self, seconds: float) -> int:
        """The largest max_tokens that can finish in `seconds` at best."""
        return int(max(0.0, seconds - self.best_first_token_s) * self.best_tokens_per_s)


# Measured medians (see the module docstring) -> assumed rates: best about 1.4-1.7x the fastest
# figure of the family, slow about a third to a half of the slowest one.
SPEEDS: dict[str, GenerationSpeed] = {
    "haiku": GenerationSpeed("haiku", best_tokens_per_s=250.0, slow_tokens_per_s=25.0),  # 50-180 measured
    "sonnet": GenerationSpeed("sonnet", best_tokens_per_s=150.0, slow_tokens_per_s=20.0),  # 53-120
    "opus": GenerationSpeed("opus", best_tokens_per_s=100.0, slow_tokens_per_s=12.0),  # 40-70
}
# A model of no known family: the fastest best rate (refuses least) and the slowest slow rate
# (cuts least).
UNKNOWN_SPEED = GenerationSpeed(
    "unknown",
    best_tokens_per_s=max(s.best_tokens_per_s for s in SPEEDS.values()),
    slow_tokens_per_s=min(s.slow_tokens_per_s for s in SPEEDS.values()),
)


def speed_for(model: str) -> GenerationSpeed:
    """The speed of a model by base id, inference id or alias (`...claude-opus-4-5...` is Opus)."""
    name = model.lower()
    for family, speed in SPEEDS.items():
        if family in name:
            return speed
    return UNKNOWN_SPEED


def fastest_speed(models: Iterable[str] | None) -> GenerationSpeed:
    """The speed with the highest best rate among `models` (all families when None or empty)."""
    speeds = [speed_for(m) for m in models or ()] or [*SPEEDS.values()]
    return max(speeds, key=lambda s: (s.best_tokens_per_s, -s.best_first_token_s))
