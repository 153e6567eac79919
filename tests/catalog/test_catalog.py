"""The model catalog: ids, aliases, geographies, prices from LiteLLM's map, overrides."""

import re
import subprocess
import sys

import pytest

from claude_platform.catalog import (
    MODELS,
    ClaudeModel,
    Geography,
    MissingPriceError,
    PriceOverride,
    UnknownModelError,
    geography_serves_region,
    model_prices,
    resolve_model,
)
from claude_platform.prices import RateCard

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
    assert us.standard == RateCard(input=3.3, output=16.5, cache_write=4.125, cache_read=0.33)
    assert us.long_context == RateCard(input=6.6, output=24.75, cache_write=8.25, cache_read=0.66)
    assert us.source == f"litellm:us.{SONNET_45}"
    glob = model_prices(sonnet, Geography.GLOBAL)
    assert glob.standard == RateCard(input=3.0, output=15.0, cache_write=3.75, cache_read=0.3)


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
        f"eu.{haiku3.base_id}": PriceOverride(0.3, 1.5, 0.4, 0.04),
    }
    assert model_prices(haiku3, Geography.US, overrides).standard.input == 0.25
    eu = model_prices(haiku3, Geography.EU, overrides)
    assert eu.standard == RateCard(0.3, 1.5, 0.4, 0.04)
    assert eu.source == f"config:eu.{haiku3.base_id}"
    # An override by alias replaces LiteLLM's price, long-context tier included.
    sonnet = resolve_model("claude-sonnet-4-5")
    overridden = model_prices(sonnet, Geography.US, {"claude-sonnet-4-5": PriceOverride(1, 2, 3, 4)})
    assert overridden.standard == RateCard(1, 2, 3, 4)
    assert overridden.long_context is None


def test_price_map_is_read_without_importing_litellm():
    code = (
        "import sys\n"
        "from claude_platform.catalog import model_prices, resolve_model, Geography\n"
        "model_prices(resolve_model('claude-sonnet-4-5'), Geography.US)\n"
        "assert 'litellm' not in sys.modules, 'litellm was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
