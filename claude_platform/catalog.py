"""The one catalog of Claude models on Bedrock: ids, aliases, geographies and prices.

Prices come from LiteLLM's bundled price map at the pinned version, read as JSON without
importing LiteLLM, with config overrides on top. A missing price raises, never returns zero.
Which geographies offer a system cross-region profile is an AWS fact kept by hand in MODELS;
correct it here when AWS adds a profile (see README, "Model catalog").
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from claude_platform.prices import LONG_CONTEXT_THRESHOLD_TOKENS, ModelPrices, RateCard

LITELLM_PRICE_MAP_FILE = "model_prices_and_context_window_backup.json"
REGIONAL_PREMIUM = 1.10


class Geography(StrEnum):
    """Where a project's requests may be served: a system cross-region profile, or none (in-region)."""

    US = "us"
    EU = "eu"
    APAC = "apac"
    JP = "jp"
    AU = "au"
    GLOBAL = "global"
    NONE = "none"

    @property
    def is_regional(self) -> bool:
        """A geographic (not global, not in-region) cross-region profile."""
        return self not in (Geography.GLOBAL, Geography.NONE)


# Source regions from which each geography's system profiles can be called.
_GEOGRAPHY_SOURCE_REGIONS: dict[Geography, tuple[str, ...]] = {
    Geography.US: ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1"),
    Geography.EU: (
        "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2",
        "eu-west-1", "eu-west-2", "eu-west-3",
    ),
    Geography.APAC: (
        "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2",
        "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
    ),
    Geography.JP: ("ap-northeast-1", "ap-northeast-3"),
    Geography.AU: ("ap-southeast-2", "ap-southeast-4"),
}  # fmt: skip


def geography_serves_region(geography: Geography, region: str) -> bool:
    """Whether a project in `region` can call profiles of `geography`."""
    allowed = _GEOGRAPHY_SOURCE_REGIONS.get(geography)
    return allowed is None or region in allowed


@dataclass(frozen=True)
class ClaudeModel:
    """One Claude model on Bedrock."""

    base_id: str
    alias: str
    geographies: frozenset[Geography]
    regional_premium: bool  # regional profiles cost 10% more than global. (Sonnet/Haiku/Opus 4.5 on)

    def inference_id(self, geography: Geography) -> str:
        """The id Bedrock and LiteLLM know for this model at a geography (`us.anthropic...`)."""
        return self.base_id if geography is Geography.NONE else f"{geography.value}.{self.base_id}"

    def litellm_model(self, geography: Geography) -> str:
        """LiteLLM `model` argument: decides route, request format and price."""
        return f"bedrock/{self.inference_id(geography)}"

    def source_arn(self, geography: Geography, *, region: str, account: str, partition: str = "aws") -> str:
        """What an application inference profile copies from: system profile or foundation model."""
        if geography is Geography.NONE:
            return f"arn:{partition}:bedrock:{region}::foundation-model/{self.base_id}"
        return f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{self.inference_id(geography)}"


def _model(base_id: str, alias: str, geos: str, *, premium: bool) -> ClaudeModel:
    return ClaudeModel(base_id, alias, frozenset(Geography(g) for g in geos.split()), premium)


_ALL_GEOS = "us eu apac jp au global"
MODELS: tuple[ClaudeModel, ...] = (
    _model("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku", "us eu apac none", premium=False),
    _model("anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku", "us none", premium=False),
    _model(
        "anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet-v2", "us apac none", premium=False
    ),
    _model("anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet", "us eu apac", premium=False),
    _model("anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4", "us eu apac global", premium=False),
    _model("anthropic.claude-opus-4-20250514-v1:0", "claude-opus-4", "us eu", premium=False),
    _model("anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4-1", "us eu", premium=False),
    _model(
        "anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5", "us eu jp au global", premium=True
    ),
    _model("anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5", _ALL_GEOS, premium=True),
    _model("anthropic.claude-opus-4-5-20251101-v1:0", "claude-opus-4-5", "us eu global", premium=True),
    _model("anthropic.claude-opus-4-6-v1", "claude-opus-4-6", "us eu au global", premium=True),
    _model("anthropic.claude-sonnet-4-6", "claude-sonnet-4-6", _ALL_GEOS, premium=True),
    _model("anthropic.claude-opus-4-7", "claude-opus-4-7", _ALL_GEOS, premium=True),
    _model("anthropic.claude-opus-4-8", "claude-opus-4-8", _ALL_GEOS, premium=True),
    _model("anthropic.claude-sonnet-5", "claude-sonnet-5", _ALL_GEOS, premium=True),
    _model("anthropic.claude-opus-5", "claude-opus-5", _ALL_GEOS, premium=True),
    _model("anthropic.claude-sonnet-5-5", "claude-sonnet-5-5", _ALL_GEOS, premium=True),
    _model("anthropic.claude-opus-5-5", "claude-opus-5-5", _ALL_GEOS, premium=True),
    _model("anthropic.claude-haiku-5-5", "claude-haiku-5-5", _ALL_GEOS, premium=True),
)

_BY_NAME: dict[str, ClaudeModel] = {m.base_id: m for m in MODELS} | {m.alias: m for m in MODELS}


class UnknownModelError(ValueError):
    """A model reference that is not a Claude model in the catalog."""


class MissingPriceError(LookupError):
    """No price for a model at a geography: a config error, never a silent zero."""


def resolve_model(name: str) -> ClaudeModel:
    """A catalog model by base id or alias; a `<geo>.` prefix is not accepted here."""
    try:
        return _BY_NAME[name]
    except KeyError:
        hint = ""
        if name.split(".", 1)[0] in {g.value for g in Geography}:
            hint = " (give the base model id without the geography prefix; set `geography` instead)"
        raise UnknownModelError(
            f"{name!r} is not a Claude model on Bedrock known to the catalog{hint}; "
            f"known: {', '.join(m.alias for m in MODELS)}"
        ) from None


@dataclass(frozen=True)
class PriceOverride:
    """A config override, USD per million tokens; applies to the standard tier."""

    input: float
    output: float
    cache_write: float
    cache_read: float


def litellm_price_map_path() -> Path:
    """LiteLLM's bundled price map, found without importing LiteLLM."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        raise MissingPriceError("litellm is not installed: its bundled price map is the price source")
    return Path(next(iter(spec.submodule_search_locations))) / LITELLM_PRICE_MAP_FILE


@cache
def _litellm_price_map() -> Mapping[str, dict]:
    return json.loads(litellm_price_map_path().read_text(encoding="utf-8"))


def _per_million(entry: dict, key: str, *, suffix: str = "") -> float | None:
    value = entry.get(f"{key}{suffix}")
    return None if value is None else round(float(value) * 1_000_000, 9)


def _rate_card(entry: dict, *, suffix: str = "", factor: float = 1.0) -> RateCard | None:
    values = [
        _per_million(entry, "input_cost_per_token", suffix=suffix),
        _per_million(entry, "output_cost_per_token", suffix=suffix),
        _per_million(entry, "cache_creation_input_token_cost", suffix=suffix),
        _per_million(entry, "cache_read_input_token_cost", suffix=suffix),
    ]
    if any(v is None for v in values):
        return None
    return RateCard(*(round(v * factor, 9) for v in values))


def _prices_from_entry(entry: dict, *, source: str, factor: float = 1.0) -> ModelPrices | None:
    standard = _rate_card(entry, factor=factor)
    if standard is None:
        return None
    suffix = f"_above_{LONG_CONTEXT_THRESHOLD_TOKENS // 1000}k_tokens"
    return ModelPrices(
        standard=standard, long_context=_rate_card(entry, suffix=suffix, factor=factor), source=source
    )


def max_output_tokens(model: ClaudeModel) -> int | None:
    """The model's output token limit according to LiteLLM's map, if it knows one."""
    entry = _litellm_price_map().get(model.base_id) or {}
    value = entry.get("max_output_tokens")
    return int(value) if value else None


def model_prices(
    model: ClaudeModel,
    geography: Geography,
    overrides: Mapping[str, PriceOverride] | None = None,
) -> ModelPrices:
    """Prices for `model` at `geography`: config override, else LiteLLM's map, else MissingPriceError.

    Override keys: `<geo>.<base id>` for one geography, or the base id / alias for all of them.
    A map entry for the base id only is raised by the 10% regional premium where the model carries one.
    """
    overrides = overrides or {}
    for key in (model.inference_id(geography), model.base_id, model.alias):
        if key in overrides:
            o = overrides[key]
            return ModelPrices(
                RateCard(o.input, o.output, o.cache_write, o.cache_read), source=f"config:{key}"
            )
    price_map = _litellm_price_map()
    exact = model.inference_id(geography)
    if exact in price_map and (prices := _prices_from_entry(price_map[exact], source=f"litellm:{exact}")):
        return prices
    if model.base_id in price_map:
        premium = model.regional_premium and geography.is_regional
        prices = _prices_from_entry(
            price_map[model.base_id],
            source=f"litellm:{model.base_id}" + (" +10% regional" if premium else ""),
            factor=REGIONAL_PREMIUM if premium else 1.0,
        )
        if prices:
            return prices
    raise MissingPriceError(
        f"no price for {exact!r} in LiteLLM's price map; add it under `pricing` in the config "
        "(USD per million tokens: input, output, cache_write, cache_read)"
    )
