"""`pricing` overrides in the config: tiers, 1h cache writes, keys, and the regional premium."""

from __future__ import annotations

from typing import Any

import pytest

from claude_platform.catalog import Geography, model_prices, resolve_model
from claude_platform.config import ConfigError, load_config
from claude_platform.prices import PriceTier, RateCard

HAIKU_55 = "anthropic.claude-haiku-5-5"
HAIKU_55_PRICES = {
    "input": 0.1,
    "output": 0.5,
    "cache_write": 0.125,
    "cache_read": 0.01,
    "cache_write_1h": 0.2,
    "tiers": [
        {"above_tokens": 100_000, "input": 0.5, "output": 2.5, "cache_write": 0.625, "cache_read": 0.05},
    ],
}


def config(pricing: dict[str, Any], models: list[str], geography: str = "us") -> dict[str, Any]:
    project = {"name": "alpha", "models": models, "monthly_budget_usd": 100, "geography": geography}
    region = {"eu": "eu-west-1", "apac": "ap-southeast-1"}.get(geography, "us-east-1")
    return {"region": region, "pricing": pricing, "projects": [project]}


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    return info.value.problems


def test_alias_override_is_the_global_price_and_regional_geographies_get_the_premium():
    raw = config({"claude-haiku-5-5": HAIKU_55_PRICES}, ["claude-haiku-5-5"])
    (us,) = load_config(raw).projects[0].models
    assert us.prices.source == "config:claude-haiku-5-5 +10% regional"
    assert us.prices.standard == RateCard(0.11, 0.55, 0.1375, 0.011, cache_write_1h=0.22)
    # The tier's 1h rate was left out: derived as 2x the tier's input, then +10%.
    assert us.prices.tiers == (PriceTier(100_000, RateCard(0.55, 2.75, 0.6875, 0.055, cache_write_1h=1.1)),)
    (glob,) = (
        load_config(config({"claude-haiku-5-5": HAIKU_55_PRICES}, ["claude-haiku-5-5"], "global"))
        .projects[0]
        .models
    )
    assert glob.prices.standard == RateCard(0.1, 0.5, 0.125, 0.01, cache_write_1h=0.2)
    assert glob.prices.source == "config:claude-haiku-5-5"


def test_per_geography_key_wins_and_is_used_as_given():
    pricing = {"claude-haiku-5-5": HAIKU_55_PRICES, f"us.{HAIKU_55}": HAIKU_55_PRICES | {"input": 0.2}}
    (us,) = load_config(config(pricing, ["claude-haiku-5-5"])).projects[0].models
    assert us.prices.source == f"config:us.{HAIKU_55}"
    assert us.prices.standard.input == 0.2  # no premium on a per-geography price
    assert us.prices.standard.output == 0.5


def test_override_without_the_maps_long_context_tier_is_refused():
    flat = {k: v for k, v in HAIKU_55_PRICES.items() if k != "tiers"}
    (problem,) = problems(config({"claude-haiku-5-5": flat}, ["claude-haiku-5-5"]))
    assert problem.startswith(
        "pricing.claude-haiku-5-5: claude-haiku-5-5 has long-context prices above 100000 tokens in LiteLLM's map"
    )


def test_in_region_model_without_map_price_is_priced_by_override_with_derived_1h():
    raw = config(
        {"claude-3-haiku": {"input": 0.25, "output": 1.25, "cache_write": 0.3, "cache_read": 0.03}},
        ["claude-3-haiku"],
        "none",
    )
    (model,) = load_config(raw).projects[0].models
    assert model.prices.standard == RateCard(0.25, 1.25, 0.3, 0.03, cache_write_1h=0.5)
    assert model.prices.tiers == ()


@pytest.mark.parametrize(
    ("pricing", "expected"),
    [
        (
            {"claude-3-haiku": {"input": 0, "output": 0, "cache_write": 0, "cache_read": 0}},
            "pricing.claude-3-haiku: input and output are both 0: refusing a silent zero cost",
        ),
        (
            {"claude-3-haiku": {"input": float("inf"), "output": 1, "cache_write": 1, "cache_read": 1}},
            "pricing.claude-3-haiku.input: Input should be a finite number",
        ),
        (
            {
                "claude-3-haiku": {
                    "input": 1,
                    "output": 1,
                    "cache_write": 1,
                    "cache_read": 1,
                    "cache_write_1h": -1,
                }
            },
            "pricing.claude-3-haiku.cache_write_1h: Input should be greater than or equal to 0",
        ),
        (
            {f"us.{HAIKU_55}": HAIKU_55_PRICES | {"tiers": HAIKU_55_PRICES["tiers"] * 2}},
            f"pricing.us.{HAIKU_55}.tiers: thresholds [100000, 100000] repeat; give each above_tokens once",
        ),
        (
            {
                f"us.{HAIKU_55}": HAIKU_55_PRICES
                | {"tiers": [{**HAIKU_55_PRICES["tiers"][0], "above_tokens": 0}]}
            },
            f"pricing.us.{HAIKU_55}.tiers[0].above_tokens: Input should be greater than or equal to 1",
        ),
        (
            {"us.claude-haiku-5-5": HAIKU_55_PRICES},
            f"pricing.us.claude-haiku-5-5: a per-geography key uses the base id: us.{HAIKU_55}",
        ),
        (
            {"global.anthropic.claude-opus-4-1-20250805-v1:0": HAIKU_55_PRICES},
            "pricing.global.anthropic.claude-opus-4-1-20250805-v1:0: claude-opus-4-1 is not offered in 'global' "
            "(offered: eu, us)",
        ),
        (
            {HAIKU_55: HAIKU_55_PRICES, "claude-haiku-5-5": HAIKU_55_PRICES},
            f"pricing.claude-haiku-5-5: '{HAIKU_55}' already prices claude-haiku-5-5 for every geography",
        ),
    ],
)
def test_bad_pricing_entries_name_the_key_and_field(pricing, expected):
    assert expected in problems(config(pricing, ["claude-haiku-4-5"]))


def test_overrides_reach_the_synthesized_prices_like_the_map_does():
    """A base override equal to LiteLLM's global price reproduces the map's regional prices exactly."""
    haiku = resolve_model("claude-haiku-5-5")
    for geo in ("us", "eu", "apac", "global"):
        (model,) = (
            load_config(config({"claude-haiku-5-5": HAIKU_55_PRICES}, ["claude-haiku-5-5"], geo))
            .projects[0]
            .models
        )
        mapped = model_prices(haiku, Geography(geo))
        assert (model.prices.standard, model.prices.tiers) == (mapped.standard, mapped.tiers), geo
