"""The cost formula shared by the Lambda, the budget and the tools."""

import os

import pytest

from claude_platform.catalog import Geography, model_prices, resolve_model
from claude_platform.prices import ModelPrices, RateCard, TokenUsage, cost_usd, worst_case_cost_usd

PRICES = ModelPrices(
    standard=RateCard(input=3.0, output=15.0, cache_write=3.75, cache_read=0.3),
    long_context=RateCard(input=6.0, output=22.5, cache_write=7.5, cache_read=0.6),
)


def test_cost_adds_every_token_kind_at_its_rate():
    usage = TokenUsage(
        input_tokens=1000, output_tokens=500, cache_read_input_tokens=2000, cache_write_input_tokens=400
    )
    assert cost_usd(PRICES, usage) == pytest.approx((1000 * 3.0 + 500 * 15.0 + 2000 * 0.3 + 400 * 3.75) / 1e6)


def test_long_context_tier_applies_once_the_whole_prompt_passes_200k():
    at_limit = TokenUsage(input_tokens=100_000, cache_read_input_tokens=100_000, output_tokens=10)
    assert cost_usd(PRICES, at_limit) == pytest.approx((100_000 * 3.0 + 100_000 * 0.3 + 10 * 15.0) / 1e6)
    over = TokenUsage(input_tokens=100_001, cache_read_input_tokens=100_000, output_tokens=10)
    assert cost_usd(PRICES, over) == pytest.approx((100_001 * 6.0 + 100_000 * 0.6 + 10 * 22.5) / 1e6)


def test_no_long_context_tier_means_standard_rates_for_any_size():
    flat = ModelPrices(standard=PRICES.standard)
    usage = TokenUsage(input_tokens=500_000, output_tokens=1)
    assert cost_usd(flat, usage) == pytest.approx((500_000 * 3.0 + 15.0) / 1e6)


@pytest.mark.parametrize("field", ["input_tokens", "output_tokens", "cache_read_input_tokens"])
def test_negative_or_non_integer_usage_is_refused(field):
    with pytest.raises(ValueError, match=field):
        cost_usd(PRICES, TokenUsage(**{field: -1}))
    with pytest.raises(ValueError, match=field):
        cost_usd(PRICES, TokenUsage(**{field: 1.5}))


def test_worst_case_bounds_any_actual_cost():
    worst = worst_case_cost_usd(PRICES, input_tokens=5000, max_output_tokens=1000)
    for usage in (
        TokenUsage(input_tokens=5000, output_tokens=1000),
        TokenUsage(input_tokens=1000, cache_write_input_tokens=4000, output_tokens=1000),
        TokenUsage(cache_read_input_tokens=5000, output_tokens=1000),
    ):
        assert cost_usd(PRICES, usage) <= worst
    assert worst == pytest.approx((5000 * 3.75 + 1000 * 15.0) / 1e6)


def test_prices_round_trip_through_json_form():
    prices = model_prices(resolve_model("claude-sonnet-4-5"), Geography.EU)
    assert ModelPrices.from_dict(prices.to_dict()) == prices


@pytest.mark.parametrize(
    ("alias", "geography"),
    [("claude-sonnet-4-5", Geography.US), ("claude-sonnet-4-5", Geography.GLOBAL), ("claude-haiku-4-5", Geography.JP),
     ("claude-opus-4-5", Geography.EU), ("claude-sonnet-4", Geography.APAC)],
)  # fmt: skip
@pytest.mark.parametrize(
    "usage",
    [TokenUsage(1000, 500, 2000, 3000), TokenUsage(150_000, 700, 40_000, 20_000)],
)
def test_formula_agrees_with_litellm_cost_calculator(alias, geography, usage):
    """Our catalog + formula give what LiteLLM itself would charge, cache and long-context tiers included."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
    litellm = pytest.importorskip("litellm")
    from litellm.types.utils import Usage

    model = resolve_model(alias)
    total_in = usage.total_input_tokens
    lite_usage = Usage(
        prompt_tokens=total_in,
        completion_tokens=usage.output_tokens,
        total_tokens=total_in + usage.output_tokens,
        cache_read_input_tokens=usage.cache_read_input_tokens,
        cache_creation_input_tokens=usage.cache_write_input_tokens,
    )
    prompt_cost, completion_cost = litellm.cost_per_token(
        model=model.litellm_model(geography), usage_object=lite_usage, custom_llm_provider="bedrock"
    )
    ours = cost_usd(model_prices(model, geography), usage)
    assert ours == pytest.approx(prompt_cost + completion_cost, rel=1e-9)
