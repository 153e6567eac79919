"""The model catalog: ids, aliases, geographies, prices from LiteLLM's map, overrides."""

import re
import subprocess
import sys

import pytest

from claude_platform import catalog
from claude_platform.catalog import (
    MODELS,
    ClaudeModel,
    Geography,
    MissingPriceError,
    PriceOverride,
    UnknownModelError,
    context_window,
    geography_serves_region,
    map_tier_thresholds,
    model_prices,
    override_problems,
    resolve_model,
)
from claude_platform.prices import PriceTier, RateCard, TokenUsage, cost_usd, worst_case_cost_usd

SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def test_every_model_resolves_by_alias_and_base_id():
    for model in MODELS:
        assert resolve_model(model.alias) is model
        assert resolve_model(model.base_id) is model
        assert model.base_id.startswith("anthropic.claude-")
    assert len({m.alias for m in MODELS}) == len(MODELS)


def test_unknown_and_prefixed_ids_are_rejected_with_a_hint():
    with pytest.raises(UnknownModelError, match="'gpt-4o' is not a Claude model"):
        resolve_model("gpt-4o")
    with pytest.raises(UnknownModelError, match="without the geography prefix"):
        resolve_model(f"us.{SONNET_45}")


def test_inference_ids_and_source_arns():
    sonnet = resolve_model("claude-sonnet-4-5")
    assert sonnet.inference_id(Geography.US) == f"us.{SONNET_45}"
    assert sonnet.litellm_model(Geography.GLOBAL) == f"bedrock/global.{SONNET_45}"
    assert (
        sonnet.source_arn(Geography.EU, region="eu-west-1", account="123456789012")
        == f"arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.{SONNET_45}"
    )
    haiku3 = resolve_model("claude-3-haiku")
    assert (
        haiku3.source_arn(Geography.NONE, region="us-east-1", account="123456789012")
        == "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
    )


@pytest.mark.parametrize(
    ("geography", "region", "ok"),
    [
        (Geography.US, "us-east-1", True),
        (Geography.US, "eu-west-1", False),
        (Geography.EU, "eu-central-1", True),
        (Geography.JP, "ap-northeast-1", True),
        (Geography.JP, "ap-southeast-2", False),
        (Geography.AU, "ap-southeast-2", True),
        (Geography.GLOBAL, "sa-east-1", True),
        (Geography.NONE, "eu-west-3", True),
    ],
)
def test_geography_source_regions(geography, region, ok):
    assert geography_serves_region(geography, region) is ok


def test_prices_from_litellm_map_per_geography():
    sonnet = resolve_model("claude-sonnet-4-5")
    us = model_prices(sonnet, Geography.US)
    assert us.standard == RateCard(
        input=3.3, output=16.5, cache_write=4.125, cache_read=0.33, cache_write_1h=6.6
    )
    assert us.tiers == (PriceTier(200_000, RateCard(6.6, 24.75, 8.25, 0.66, cache_write_1h=13.2)),)
    assert us.source == f"litellm:us.{SONNET_45}"
    glob = model_prices(sonnet, Geography.GLOBAL)
    assert glob.standard == RateCard(
        input=3.0, output=15.0, cache_write=3.75, cache_read=0.3, cache_write_1h=6.0
    )


def test_every_long_context_tier_of_the_map_is_read():
    """Haiku 5.5 has its tier above 100k prompt tokens, not 200k: 5x the standard rates."""
    haiku = resolve_model("claude-haiku-5-5")
    us = model_prices(haiku, Geography.US)
    assert us.standard == RateCard(0.11, 0.55, 0.1375, 0.011, cache_write_1h=0.22)
    assert us.tiers == (PriceTier(100_000, RateCard(0.55, 2.75, 0.6875, 0.055, cache_write_1h=1.1)),)
    assert cost_usd(us, TokenUsage(input_tokens=150_000, output_tokens=1_000)) == 0.08525
    assert worst_case_cost_usd(us, input_tokens=150_000, max_output_tokens=1_000) == 0.16775
    for model in MODELS:
        for geo in model.geographies:
            try:
                prices = model_prices(model, geo)
            except MissingPriceError:
                continue
            assert tuple(t.above_tokens for t in prices.tiers) == map_tier_thresholds(model), model.alias
    assert map_tier_thresholds(haiku) == (100_000,)
    assert context_window(haiku) == 1_000_000


def test_regional_premium_is_ten_percent_over_global_for_every_premium_model():
    """The catalog's premium flag agrees with LiteLLM's map wherever both prices exist."""
    checked = 0
    for model in MODELS:
        if Geography.GLOBAL not in model.geographies:
            continue
        base = model_prices(model, Geography.GLOBAL).standard
        for geo in model.geographies:
            if not geo.is_regional:
                continue
            regional = model_prices(model, geo).standard
            factor = 1.10 if model.regional_premium else 1.0
            assert regional.input == pytest.approx(base.input * factor), (model.alias, geo)
            assert regional.output == pytest.approx(base.output * factor), (model.alias, geo)
            checked += 1
    assert checked > 30


def test_premium_is_derived_when_the_map_lacks_the_geography_entry():
    # LiteLLM's map has no apac. entry for Sonnet 4.5: the base price is raised by 10%.
    model = ClaudeModel(SONNET_45, "test-sonnet", frozenset({Geography.APAC}), regional_premium=True)
    prices = model_prices(model, Geography.APAC)
    assert prices.standard == RateCard(input=3.3, output=16.5, cache_write=4.125, cache_read=0.33)
    assert prices.source.endswith("+10% regional")
    flat = ClaudeModel(SONNET_45, "test-sonnet", frozenset({Geography.APAC}), regional_premium=False)
    assert model_prices(flat, Geography.APAC).standard.input == 3.0


def test_missing_price_is_an_error_never_zero():
    haiku3 = resolve_model("claude-3-haiku")
    with pytest.raises(MissingPriceError, match=re.escape("us.anthropic.claude-3-haiku-20240307-v1:0")):
        model_prices(haiku3, Geography.US)


def test_overrides_exact_geography_beats_base_id():
    haiku3 = resolve_model("claude-3-haiku")
    overrides = {
        haiku3.base_id: PriceOverride(0.25, 1.25, 0.3, 0.03),
        f"eu.{haiku3.base_id}": PriceOverride(0.3, 1.5, 0.4, 0.04, cache_write_1h=0.45),
    }
    us = model_prices(haiku3, Geography.US, overrides)
    assert us.standard == RateCard(0.25, 1.25, 0.3, 0.03, cache_write_1h=0.5)  # 1h derived: 2x input
    assert us.source == f"config:{haiku3.base_id}"  # Claude 3 Haiku has no regional premium
    eu = model_prices(haiku3, Geography.EU, overrides)
    assert eu.standard == RateCard(0.3, 1.5, 0.4, 0.04, cache_write_1h=0.45)
    assert eu.source == f"config:eu.{haiku3.base_id}"


HAIKU_55_OVERRIDE = PriceOverride(
    0.1, 0.5, 0.125, 0.01, tiers=(PriceTier(100_000, RateCard(0.5, 2.5, 0.625, 0.05, cache_write_1h=1.0)),)
)


def test_base_override_of_a_premium_model_keeps_the_regional_premium_per_geography():
    haiku = resolve_model("claude-haiku-5-5")
    overrides = {"claude-haiku-5-5": HAIKU_55_OVERRIDE}
    glob = model_prices(haiku, Geography.GLOBAL, overrides)
    assert glob.standard == RateCard(0.1, 0.5, 0.125, 0.01, cache_write_1h=0.2)
    assert glob.tiers == HAIKU_55_OVERRIDE.tiers
    assert glob.source == "config:claude-haiku-5-5"
    for geo in (Geography.US, Geography.EU, Geography.JP):
        regional = model_prices(haiku, geo, overrides)
        assert regional.standard == RateCard(0.11, 0.55, 0.1375, 0.011, cache_write_1h=0.22)
        assert regional.tiers == (
            PriceTier(100_000, RateCard(0.55, 2.75, 0.6875, 0.055, cache_write_1h=1.1)),
        )
        assert regional.source == "config:claude-haiku-5-5 +10% regional"
        mapped = model_prices(haiku, geo)  # the same figures LiteLLM's map has
        assert (regional.standard, regional.tiers) == (mapped.standard, mapped.tiers)
    # A per-geography key is used as given: no premium on top.
    exact = {f"us.{haiku.base_id}": HAIKU_55_OVERRIDE} | overrides
    assert model_prices(haiku, Geography.US, exact).standard.input == 0.1


def test_an_override_must_price_every_tier_the_map_has_for_the_model():
    haiku = resolve_model("claude-haiku-5-5")
    (problem,) = override_problems(haiku, PriceOverride(0.1, 0.5, 0.125, 0.01))
    assert "claude-haiku-5-5 has long-context prices above 100000 tokens in LiteLLM's map" in problem
    assert "above_tokens: 100000" in problem
    assert override_problems(haiku, HAIKU_55_OVERRIDE) == []
    # Sonnet 4.5's map window is 200k but its tier above 200k is priced: an override must keep it.
    assert override_problems(resolve_model("claude-sonnet-4-5"), PriceOverride(3, 15, 3.75, 0.3))
    assert override_problems(resolve_model("claude-3-haiku"), PriceOverride(0.25, 1.25, 0.3, 0.03)) == []


def _with_map(monkeypatch, entries):
    monkeypatch.setattr(catalog, "_litellm_price_map", lambda: entries)


def _entry(scale=1.0, **extra):
    base = {
        "input_cost_per_token": 1e-06 * scale,
        "output_cost_per_token": 5e-06 * scale,
        "cache_creation_input_token_cost": 1.25e-06 * scale,
        "cache_read_input_token_cost": 1e-07 * scale,
        "max_input_tokens": 1_000_000,
    }
    return base | extra


TEST_MODEL = ClaudeModel("anthropic.test-model", "test-model", frozenset(Geography) - {Geography.NONE}, True)


def test_map_tiers_follow_litellm_semantics(monkeypatch):
    """Several tiers; a rate a tier lacks is the lower tier's; a missing 1h rate is derived upward."""
    entry = _entry(
        input_cost_per_token_above_100k_tokens=2e-06,
        output_cost_per_token_above_100k_tokens=1e-05,
        cache_creation_input_token_cost_above_1hr_above_100k_tokens=5e-06,
        input_cost_per_token_above_500k_tokens=4e-06,  # only input: the rest carry over from 100k
        cache_read_input_token_cost_above_500_tokens=9e-08,  # spelled without `k`
        input_cost_per_token_above_200k_tokens_batches=1.0,  # batch prices are not ours
    )
    _with_map(monkeypatch, {f"global.{TEST_MODEL.base_id}": entry})
    prices = model_prices(TEST_MODEL, Geography.GLOBAL)
    assert prices.standard == RateCard(1, 5, 1.25, 0.1, cache_write_1h=2)
    assert [t.above_tokens for t in prices.tiers] == [500, 100_000, 500_000]
    assert prices.tiers[0].rates == RateCard(1, 5, 1.25, 0.09, cache_write_1h=2)
    assert prices.tiers[1].rates == RateCard(2, 10, 1.25, 0.09, cache_write_1h=5)
    # 1h: none at this tier, so 2x input (8) beats the lower tier's 5 and the 5m rate.
    assert prices.tiers[2].rates == RateCard(4, 10, 1.25, 0.09, cache_write_1h=8)


def test_a_geography_missing_a_tier_the_model_has_is_an_error(monkeypatch):
    tiered = _entry(input_cost_per_token_above_200k_tokens=2e-06)
    _with_map(
        monkeypatch,
        {f"us.{TEST_MODEL.base_id}": _entry(1.1), f"global.{TEST_MODEL.base_id}": tiered},
    )
    with pytest.raises(
        MissingPriceError, match=r"above 200000 prompt tokens elsewhere but not at 'us\.anthropic"
    ):
        model_prices(TEST_MODEL, Geography.US)
    assert model_prices(TEST_MODEL, Geography.GLOBAL).tiers[0].above_tokens == 200_000
    # A tier at or above the context window can never apply: no error.
    small = tiered | {"max_input_tokens": 200_000}
    _with_map(
        monkeypatch,
        {
            f"us.{TEST_MODEL.base_id}": _entry(1.1) | {"max_input_tokens": 200_000},
            f"global.{TEST_MODEL.base_id}": small,
        },
    )
    assert model_prices(TEST_MODEL, Geography.US).tiers == ()


def test_base_entry_gets_the_premium_on_every_tier(monkeypatch):
    _with_map(monkeypatch, {TEST_MODEL.base_id: _entry(input_cost_per_token_above_100k_tokens=2e-06)})
    us = model_prices(TEST_MODEL, Geography.US)
    assert us.standard == RateCard(1.1, 5.5, 1.375, 0.11, cache_write_1h=2.2)
    assert us.tiers == (PriceTier(100_000, RateCard(2.2, 5.5, 1.375, 0.11, cache_write_1h=4.4)),)
    assert us.source == f"litellm:{TEST_MODEL.base_id} +10% regional"


def test_price_map_is_read_without_importing_litellm():
    code = (
        "import sys\n"
        "from claude_platform.catalog import model_prices, resolve_model, Geography\n"
        "model_prices(resolve_model('claude-sonnet-4-5'), Geography.US)\n"
        "assert 'litellm' not in sys.modules, 'litellm was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
