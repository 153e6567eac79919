"""Token prices and the cost formula, shared by synthesis, the Lambda and the tools.

Rates are USD per million tokens, so `tokens x rate` is micro-USD; costs are computed exactly with
Decimal from those rates (`cost_micro_usd`) and the float USD figures derive from them.

Tier semantics follow LiteLLM 1.110.2 (`_get_token_base_cost`): a long-context tier applies to
every token type of a request once its prompt (input + cache reads + cache writes) is strictly
above the tier's threshold, and the highest such tier wins.

Standard library only: the Lambda bundle imports this module too.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

PER_MILLION = 1_000_000
_MICRO = Decimal(PER_MILLION)
# Anthropic's published 1-hour cache-write price is 2x the base input rate (5-minute writes: 1.25x).
CACHE_WRITE_1H_RATIO = Decimal("2")
# Order of the rates in the compact serialized form (`ModelPrices.to_dict`).
RATE_FIELDS = ("input", "output", "cache_write", "cache_read", "cache_write_1h")


def derived_cache_write_1h(*, input_rate: float, cache_write_rate: float) -> float:
    """A 1-hour cache-write rate where the price source has none: 2x input, never below the 5-minute rate."""
    return float(max(_dec(input_rate) * CACHE_WRITE_1H_RATIO, _dec(cache_write_rate)))


@dataclass(frozen=True)
class RateCard:
    """USD per million tokens for one pricing tier.

    `cache_write` is the 5-minute-TTL write rate, `cache_write_1h` the 1-hour one. Left out (None),
    `cache_write_1h` is derived by `derived_cache_write_1h`, so it is always a float once built.
    """

    input: float
    output: float
    cache_write: float
    cache_read: float
    cache_write_1h: float = None  # type: ignore[assignment]  # None only until __post_init__

    def __post_init__(self) -> None:
        if self.cache_write_1h is None:
            object.__setattr__(
                self,
                "cache_write_1h",
                derived_cache_write_1h(input_rate=self.input, cache_write_rate=self.cache_write),
            )

    def as_list(self) -> list[float]:
        """The rates in RATE_FIELDS order."""
        return [getattr(self, name) for name in RATE_FIELDS]

    @classmethod
    def from_list(cls, values: list[Any]) -> RateCard:
        """Inverse of as_list; raises ValueError on a wrong length, TypeError on a non-number."""
        if not isinstance(values, list | tuple) or len(values) != len(RATE_FIELDS):
            raise ValueError(f"expected {len(RATE_FIELDS)} rates ({', '.join(RATE_FIELDS)}), got {values!r}")
        for name, value in zip(RATE_FIELDS, values, strict=True):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} rate must be a number, got {value!r}")
        return cls(*(float(v) for v in values))

    def highest_input_side(self) -> float:
        """The highest rate a prompt token can be billed at (input, cache writes, cache read)."""
        return max(self.input, self.cache_write, self.cache_write_1h, self.cache_read)


@dataclass(frozen=True)
class PriceTier:
    """A long-context tier: `rates` bill every token of a request whose prompt exceeds `above_tokens`."""

    above_tokens: int
    rates: RateCard


@dataclass(frozen=True)
class ModelPrices:
    """Prices of one model at one geography: the standard rates and long-context tiers by threshold."""

    standard: RateCard
    tiers: tuple[PriceTier, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiers", tuple(self.tiers))
        thresholds = [t.above_tokens for t in self.tiers]
        if thresholds != sorted(set(thresholds)):
            raise ValueError(f"tier thresholds must be distinct and ascending, got {thresholds}")

    def to_dict(self) -> dict[str, Any]:
        """Compact JSON-able form (the Lambda receives prices this way; its environment is 4 KB).

        `{"rates": [input, output, cache_write, cache_read, cache_write_1h], "tiers": [[above_tokens,
        <same five rates>], ...], "source": "..."}`; `tiers` is left out when there are none.
        """
        data: dict[str, Any] = {"rates": _compact(self.standard.as_list())}
        if self.tiers:
            data["tiers"] = [[t.above_tokens, *_compact(t.rates.as_list())] for t in self.tiers]
        if self.source:
            data["source"] = self.source
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelPrices:
        """Inverse of to_dict; raises KeyError/TypeError/ValueError on a malformed price."""
        unknown = set(data) - {"rates", "tiers", "source"}
        if unknown:
            raise ValueError(f"unknown price keys {sorted(unknown)}")
        tiers = []
        for i, tier in enumerate(data.get("tiers") or []):
            if not isinstance(tier, list | tuple) or len(tier) != len(RATE_FIELDS) + 1:
                raise ValueError(f"tiers[{i}] must be [above_tokens, {', '.join(RATE_FIELDS)}], got {tier!r}")
            above = tier[0]
            if isinstance(above, bool) or not isinstance(above, int):
                raise TypeError(f"tiers[{i}] threshold must be an integer token count, got {above!r}")
            tiers.append(PriceTier(above, RateCard.from_list(list(tier[1:]))))
        return cls(
            standard=RateCard.from_list(data["rates"]), tiers=tuple(tiers), source=str(data.get("source", ""))
        )


def _compact(values: list[float]) -> list[float | int]:
    """Whole-number rates as ints (`15` rather than `15.0`): same value, fewer bytes."""
    return [int(v) if float(v).is_integer() else v for v in values]


@dataclass(frozen=True)
class TokenUsage:
    """Token counts as Bedrock reports them: input_tokens excludes cache reads and writes.

    `cache_write_input_tokens` is every cache write; `cache_write_1h_input_tokens` is the part of
    it written with the 1-hour TTL (the rest used the 5-minute TTL).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    cache_write_1h_input_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        """Every prompt token, cached or not: what the long-context thresholds look at."""
        return self.input_tokens + self.cache_read_input_tokens + self.cache_write_input_tokens

    def validate(self) -> None:
        """Raise ValueError naming the field unless every count is a non-negative int and 1h <= all writes."""
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"usage.{f.name} must be a non-negative integer, got {value!r}")
        if self.cache_write_1h_input_tokens > self.cache_write_input_tokens:
            raise ValueError(
                f"usage.cache_write_1h_input_tokens ({self.cache_write_1h_input_tokens}) exceeds "
                f"usage.cache_write_input_tokens ({self.cache_write_input_tokens}), which counts every write"
            )


def tier_for(prices: ModelPrices, prompt_tokens: int) -> RateCard:
    """The rates a request with `prompt_tokens` prompt tokens is billed at: the highest tier exceeded."""
    card = prices.standard
    for tier in prices.tiers:
        if prompt_tokens > tier.above_tokens:
            card = tier.rates
    return card


def rate_card_for(prices: ModelPrices, usage: TokenUsage) -> RateCard:
    """The tier a request is billed at, from its whole prompt (cached tokens included)."""
    return tier_for(prices, usage.total_input_tokens)


def _dec(rate: float) -> Decimal:
    """A rate as the decimal it was written as (3.3, not 3.29999...)."""
    return Decimal(repr(rate)) if isinstance(rate, float) else Decimal(rate)


def cost_micro_usd(prices: ModelPrices, usage: TokenUsage) -> Decimal:
    """Exact cost of one request in micro-USD (tokens x USD-per-million rate)."""
    usage.validate()
    card = rate_card_for(prices, usage)
    write_5m = usage.cache_write_input_tokens - usage.cache_write_1h_input_tokens
    return (
        usage.input_tokens * _dec(card.input)
        + usage.output_tokens * _dec(card.output)
        + write_5m * _dec(card.cache_write)
        + usage.cache_write_1h_input_tokens * _dec(card.cache_write_1h)
        + usage.cache_read_input_tokens * _dec(card.cache_read)
    )


def cost_usd(prices: ModelPrices, usage: TokenUsage) -> float:
    """USD cost of one request (from the exact `cost_micro_usd`)."""
    return float(cost_micro_usd(prices, usage) / _MICRO)


def worst_case_micro_usd(prices: ModelPrices, *, input_tokens: int, max_output_tokens: int) -> Decimal:
    """Upper bound in micro-USD for a request before it is sent (the ledger reserves this much).

    `input_tokens` bounds the whole prompt. Every prompt token is priced at the highest input-side
    rate (input, either cache write, cache read) of the tier the bound falls in or any lower tier,
    and every output token at the highest output rate of those tiers: a smaller real prompt can
    only land in a lower tier.
    """
    TokenUsage(input_tokens=input_tokens, output_tokens=max_output_tokens).validate()
    cards = [prices.standard] + [t.rates for t in prices.tiers if input_tokens > t.above_tokens]
    highest_input = max(_dec(c.highest_input_side()) for c in cards)
    highest_output = max(_dec(c.output) for c in cards)
    return input_tokens * highest_input + max_output_tokens * highest_output


def worst_case_cost_usd(prices: ModelPrices, *, input_tokens: int, max_output_tokens: int) -> float:
    """USD upper bound for a request before it is sent (from `worst_case_micro_usd`)."""
    return float(
        worst_case_micro_usd(prices, input_tokens=input_tokens, max_output_tokens=max_output_tokens) / _MICRO
    )
