"""Token prices and the cost formula, shared by synthesis, the Lambda and the tools.

Standard library only: the Lambda bundle imports this module too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

PER_MILLION = 1_000_000
LONG_CONTEXT_THRESHOLD_TOKENS = 200_000


@dataclass(frozen=True)
class RateCard:
    """USD per million tokens for one pricing tier."""

    input: float
    output: float
    cache_write: float
    cache_read: float


@dataclass(frozen=True)
class ModelPrices:
    """Prices of one model at one geography, with the long-context tier where one exists."""

    standard: RateCard
    long_context: RateCard | None = None
    long_context_threshold_tokens: int = LONG_CONTEXT_THRESHOLD_TOKENS
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (the Lambda receives prices this way)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelPrices:
        """Inverse of to_dict; raises KeyError/TypeError on a malformed price."""
        long_context = data.get("long_context")
        return cls(
            standard=RateCard(**data["standard"]),
            long_context=RateCard(**long_context) if long_context else None,
            long_context_threshold_tokens=int(
                data.get("long_context_threshold_tokens", LONG_CONTEXT_THRESHOLD_TOKENS)
            ),
            source=str(data.get("source", "")),
        )


@dataclass(frozen=True)
class TokenUsage:
    """Token counts as Bedrock reports them: input_tokens excludes cache reads and writes."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_write_input_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        """Every prompt token, cached or not: what the long-context threshold looks at."""
        return self.input_tokens + self.cache_read_input_tokens + self.cache_write_input_tokens


def rate_card_for(prices: ModelPrices, usage: TokenUsage) -> RateCard:
    """The tier a request is billed at: long-context once the whole prompt passes the threshold."""
    if prices.long_context is not None and usage.total_input_tokens > prices.long_context_threshold_tokens:
        return prices.long_context
    return prices.standard


def cost_usd(prices: ModelPrices, usage: TokenUsage) -> float:
    """Exact USD cost of one request."""
    for field, value in asdict(usage).items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"usage.{field} must be a non-negative integer, got {value!r}")
    card = rate_card_for(prices, usage)
    micro = (
        usage.input_tokens * card.input
        + usage.output_tokens * card.output
        + usage.cache_write_input_tokens * card.cache_write
        + usage.cache_read_input_tokens * card.cache_read
    )
    return micro / PER_MILLION


def worst_case_cost_usd(prices: ModelPrices, *, input_tokens: int, max_output_tokens: int) -> float:
    """Upper bound for a request before it is sent (the ledger reserves this much)."""
    usage = TokenUsage(input_tokens=input_tokens, output_tokens=max_output_tokens)
    card = rate_card_for(prices, usage)
    highest_input = max(card.input, card.cache_write, card.cache_read)
    return (input_tokens * highest_input + max_output_tokens * card.output) / PER_MILLION
