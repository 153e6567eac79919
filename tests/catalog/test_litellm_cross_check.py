"""Every catalog price x geography against LiteLLM's own calculator (`litellm.cost_per_token`).

Prompts of 1k tokens and just below, at and just above each long-context threshold, with cache
reads and 5-minute and 1-hour cache writes. Where the map has no 1-hour write rate, LiteLLM bills
1-hour writes at the 5-minute rate and we at a derived, higher one: there ours must be at least
LiteLLM's, higher by exactly that rate difference.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal

import pytest

from claude_platform import catalog
from claude_platform.prices import ModelPrices, TokenUsage, cost_micro_usd, rate_card_for

ONE_HOUR_KEY = "cache_creation_input_token_cost_above_1hr"


@pytest.fixture(scope="module")
def litellm():
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
    return pytest.importorskip("litellm")


def _priced():
    for model in catalog.MODELS:
        for geo in sorted(model.geographies):
            try:
                catalog.model_prices(model, geo)
            except catalog.MissingPriceError:
                continue
            yield pytest.param(model, geo, id=f"{model.alias}-{geo.value}")


PRICED = list(_priced())


def _prompt_sizes(model: catalog.ClaudeModel) -> list[int]:
    """1k, a few long prompts, and around every `_above_<N>k_tokens` threshold in the model's map
    entries (read here independently of the catalog's parser)."""
    sizes = {1_000, 150_000, 250_000, 600_000}
    for entry_id, entry in catalog._litellm_price_map().items():
        if entry_id == model.base_id or entry_id.endswith(f".{model.base_id}"):
            for key in entry:
                if match := re.search(r"_above_(\d+)k_tokens$", key):
                    threshold = int(match.group(1)) * 1000
                    sizes |= {threshold - 1, threshold, threshold + 1}
    return sorted(sizes)


def _usages(total: int) -> list[TokenUsage]:
    """Plain input, and a mix of input, cache reads and 5m + 1h writes, each `total` prompt tokens."""
    read, write_5m, write_1h = total // 4, total // 8, total // 8 + 1
    return [
        TokenUsage(input_tokens=total, output_tokens=700),
        TokenUsage(
            input_tokens=total - read - write_5m - write_1h,
            output_tokens=700,
            cache_read_input_tokens=read,
            cache_write_input_tokens=write_5m + write_1h,
            cache_write_1h_input_tokens=write_1h,
        ),
    ]


def _litellm_micro_usd(litellm, model_name: str, usage: TokenUsage) -> Decimal:
    from litellm.types.utils import Usage

    write_1h = usage.cache_write_1h_input_tokens
    lite_usage = Usage(
        prompt_tokens=usage.total_input_tokens,
        completion_tokens=usage.output_tokens,
        total_tokens=usage.total_input_tokens + usage.output_tokens,
        cache_read_input_tokens=usage.cache_read_input_tokens,
        cache_creation_input_tokens=usage.cache_write_input_tokens,
        prompt_tokens_details={
            "cache_creation_token_details": {
                "ephemeral_5m_input_tokens": usage.cache_write_input_tokens - write_1h,
                "ephemeral_1h_input_tokens": write_1h,
            }
        },
    )
    prompt, completion = litellm.cost_per_token(
        model=model_name, usage_object=lite_usage, custom_llm_provider="bedrock"
    )
    return Decimal(repr(prompt + completion)) * 1_000_000


def _map_has_1h_rate(prices: ModelPrices, usage: TokenUsage) -> bool:
    """Whether LiteLLM's map entry behind `prices` has a 1h write rate for the usage's tier (or below)."""
    entry_id = prices.source.removeprefix("litellm:").split(" ")[0]
    entry = catalog._litellm_price_map()[entry_id]
    exceeded = [t.above_tokens for t in prices.tiers if usage.total_input_tokens > t.above_tokens]
    keys = [ONE_HOUR_KEY] + [f"{ONE_HOUR_KEY}_above_{t // 1000}k_tokens" for t in exceeded]
    return any(entry.get(k) is not None for k in keys)


def test_most_of_the_catalog_is_cross_checked():
    assert len(PRICED) >= 60
    assert 100_001 in _prompt_sizes(catalog.resolve_model("claude-haiku-5-5"))
    assert 200_001 in _prompt_sizes(catalog.resolve_model("claude-sonnet-4"))


@pytest.mark.parametrize(("model", "geo"), PRICED)
def test_cost_agrees_with_litellm(litellm, model, geo):
    prices = catalog.model_prices(model, geo)
    for total in _prompt_sizes(model):
        for usage in _usages(total):
            ours = cost_micro_usd(prices, usage)
            theirs = _litellm_micro_usd(litellm, model.litellm_model(geo), usage)
            if usage.cache_write_1h_input_tokens == 0 or _map_has_1h_rate(prices, usage):
                assert float(ours) == pytest.approx(float(theirs), rel=1e-9), (total, usage)
                continue
            card = rate_card_for(prices, usage)
            extra = usage.cache_write_1h_input_tokens * (
                Decimal(repr(card.cache_write_1h)) - Decimal(repr(card.cache_write))
            )
            assert extra > 0
            assert ours >= theirs
            assert float(ours - extra) == pytest.approx(float(theirs), rel=1e-9), (total, usage)


def test_haiku_5_5_long_context_tier_matches_litellm(litellm):
    """The issue's case: a 150k-token prompt on us. Haiku 5.5 is billed at the above-100k tier."""
    model = catalog.resolve_model("claude-haiku-5-5")
    prices = catalog.model_prices(model, catalog.Geography.US)
    usage = TokenUsage(input_tokens=150_000, output_tokens=1_000)
    assert cost_micro_usd(prices, usage) == Decimal("85250")
    assert _litellm_micro_usd(litellm, model.litellm_model(catalog.Geography.US), usage) == pytest.approx(
        Decimal("85250")
    )
