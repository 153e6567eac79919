"""The cost formula shared by the Lambda, the budget and the tools: tiers, cache TTLs, exact money."""

import itertools
import json
from decimal import Decimal

import pytest

from claude_platform.catalog import MODELS, MissingPriceError, model_prices
from claude_platform.prices import (
    ModelPrices,
    PriceTier,
    RateCard,
    TokenUsage,
    cost_micro_usd,
    cost_usd,
    rate_card_for,
    worst_case_cost_usd,
    worst_case_micro_usd,
)

STANDARD = RateCard(input=3.0, output=15.0, cache_write=3.75, cache_read=0.3, cache_write_1h=6.0)
LONG = RateCard(input=6.0, output=22.5, cache_write=7.5, cache_read=0.6, cache_write_1h=12.0)
PRICES = ModelPrices(standard=STANDARD, tiers=(PriceTier(200_000, LONG),))
# Three tiers whose rates do not rise monotonically: the worst case must still bound every cost.
ODD = ModelPrices(
    standard=RateCard(1, 9, 1.25, 0.1, 2),
    tiers=(PriceTier(1_000, RateCard(5, 4, 6.25, 0.5, 3)), PriceTier(5_000, RateCard(2, 30, 2.5, 8, 4))),
)


def test_cost_adds_every_token_kind_at_its_rate_with_1h_writes_apart():
    usage = TokenUsage(
        input_tokens=1000,
        output_tokens=500,
        cache_read_input_tokens=2000,
        cache_write_input_tokens=400,
        cache_write_1h_input_tokens=150,
    )
    expected = Decimal(1000 * 3) + 500 * 15 + 2000 * Decimal("0.3") + 250 * Decimal("3.75") + 150 * 6
    assert cost_micro_usd(PRICES, usage) == expected
    assert cost_usd(PRICES, usage) == float(expected / 1_000_000)


def test_micro_usd_is_exact_where_floats_are_not():
    prices = ModelPrices(standard=RateCard(0.1, 0.2, 0.1, 0.1, 0.1))
    usage = TokenUsage(input_tokens=1, output_tokens=1)
    assert 1 * 0.1 + 1 * 0.2 != 0.3  # what float arithmetic would give
    assert cost_micro_usd(prices, usage) == Decimal("0.3")
    assert cost_usd(prices, usage) == 0.3 / 1e6


def test_tier_applies_to_every_token_once_the_whole_prompt_is_strictly_above_the_threshold():
    at = TokenUsage(input_tokens=100_000, cache_read_input_tokens=60_000, cache_write_input_tokens=40_000)
    assert at.total_input_tokens == 200_000
    assert rate_card_for(PRICES, at) is STANDARD
    over = TokenUsage(
        input_tokens=100_001,
        output_tokens=10,
        cache_read_input_tokens=60_000,
        cache_write_input_tokens=40_000,
        cache_write_1h_input_tokens=40_000,
    )
    assert rate_card_for(PRICES, over) is LONG
    assert (
        cost_micro_usd(PRICES, over)
        == 100_001 * 6 + 10 * Decimal("22.5") + 60_000 * Decimal("0.6") + 40_000 * 12
    )


def test_the_highest_exceeded_tier_wins():
    assert rate_card_for(ODD, TokenUsage(input_tokens=1_000)) is ODD.standard
    assert rate_card_for(ODD, TokenUsage(input_tokens=1_001)) is ODD.tiers[0].rates
    assert rate_card_for(ODD, TokenUsage(input_tokens=5_000)) is ODD.tiers[0].rates
    assert (
        rate_card_for(ODD, TokenUsage(input_tokens=4_000, cache_read_input_tokens=1_001))
        is ODD.tiers[1].rates
    )


def test_no_tier_means_standard_rates_for_any_size():
    flat = ModelPrices(standard=STANDARD)
    assert cost_micro_usd(flat, TokenUsage(input_tokens=900_000, output_tokens=1)) == 900_000 * 3 + 15


def test_missing_1h_rate_is_derived_never_below_the_5m_write():
    assert RateCard(3.0, 15.0, 3.75, 0.3).cache_write_1h == 6.0  # Anthropic: 1h write = 2x input
    assert RateCard(1.1, 5.5, 1.375, 0.11).cache_write_1h == 2.2
    assert RateCard(1.0, 5.0, 2.5, 0.1).cache_write_1h == 2.5  # an odd 5m rate above 2x input wins
    assert RateCard(1.0, 5.0, 1.25, 0.1, cache_write_1h=1.5).cache_write_1h == 1.5  # given: used as is


@pytest.mark.parametrize(
    "usage",
    [
        TokenUsage(input_tokens=-1),
        TokenUsage(output_tokens=1.5),
        TokenUsage(cache_read_input_tokens=True),
        TokenUsage(cache_write_1h_input_tokens=-3),
    ],
)
def test_negative_or_non_integer_usage_is_refused_naming_the_field(usage):
    bad = next(name for name, value in vars(usage).items() if value != 0)
    with pytest.raises(ValueError, match=f"usage.{bad}"):
        cost_usd(PRICES, usage)


def test_1h_writes_cannot_exceed_all_writes():
    with pytest.raises(ValueError, match=r"cache_write_1h_input_tokens \(5\) exceeds"):
        cost_micro_usd(PRICES, TokenUsage(cache_write_input_tokens=4, cache_write_1h_input_tokens=5))


def test_worst_case_prices_the_bound_at_the_highest_input_side_rate_of_its_tier():
    assert worst_case_micro_usd(PRICES, input_tokens=5000, max_output_tokens=1000) == 5000 * 6 + 1000 * 15
    above = worst_case_micro_usd(PRICES, input_tokens=250_000, max_output_tokens=1000)
    assert above == 250_000 * 12 + 1000 * Decimal("22.5")
    assert worst_case_cost_usd(PRICES, input_tokens=250_000, max_output_tokens=1000) == float(above / 10**6)


@pytest.mark.parametrize("prices", [PRICES, ODD], ids=["monotonic", "odd"])
@pytest.mark.parametrize("bound", [900, 1_000, 1_001, 4_999, 5_000, 5_001, 12_000, 250_000])
def test_worst_case_bounds_every_split_of_every_smaller_prompt(prices, bound):
    worst = worst_case_micro_usd(prices, input_tokens=bound, max_output_tokens=300)
    sizes = sorted({1, bound // 2, 999, 1_000, 1_001, 4_999, 5_000, 5_001, bound} - {0})
    for total in (s for s in sizes if s <= bound):
        for in_part, read_part, write_part in itertools.product((0, 1, 2), repeat=3):
            weights = in_part + read_part + write_part
            if not weights:
                continue
            read = total * read_part // weights
            write = total * write_part // weights
            for write_1h in {0, write // 2, write}:
                usage = TokenUsage(total - read - write, 300, read, write, write_1h)
                assert cost_micro_usd(prices, usage) <= worst, usage


def test_prices_round_trip_through_the_compact_form_for_every_catalog_price():
    checked = 0
    for model in MODELS:
        for geo in model.geographies:
            try:
                prices = model_prices(model, geo)
            except MissingPriceError:
                continue
            data = json.loads(json.dumps(prices.to_dict()))
            assert ModelPrices.from_dict(data) == prices
            assert set(data) <= {"rates", "tiers", "source"}
            assert len(data["rates"]) == 5
            checked += 1
    assert checked >= 60
    assert ODD.from_dict(ODD.to_dict()) == ODD


def test_compact_form_shape_and_size():
    assert PRICES.to_dict() == {"rates": [3, 15, 3.75, 0.3, 6], "tiers": [[200000, 6, 22.5, 7.5, 0.6, 12]]}
    assert len(json.dumps(PRICES.to_dict(), separators=(",", ":"))) < 70
    assert ModelPrices(standard=STANDARD).to_dict() == {"rates": [3, 15, 3.75, 0.3, 6]}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"rates": [1, 2, 3, 4]}, "expected 5 rates"),
        ({"rates": [1, 2, 3, 4, "5"]}, "cache_write_1h rate must be a number"),
        ({"rates": [1, 2, 3, 4, 5], "tiers": [[True, 1, 2, 3, 4, 5]]}, "threshold must be an integer"),
        ({"rates": [1, 2, 3, 4, 5], "tiers": [[1000, 1, 2, 3, 4]]}, r"tiers\[0\] must be"),
        ({"rates": [1, 2, 3, 4, 5], "tiers": [[2000, *[1] * 5], [1000, *[1] * 5]]}, "ascending"),
        ({"rates": [1, 2, 3, 4, 5], "standard": {}}, "unknown price keys"),
        ({"tiers": []}, "rates"),
    ],
)
def test_malformed_compact_form_is_refused(data, error):
    with pytest.raises((KeyError, TypeError, ValueError), match=error):
        ModelPrices.from_dict(data)
