"""The one catalog of Claude models on Bedrock: ids, aliases, geographies and prices.

Prices come from LiteLLM's bundled price map at the pinned version, read as JSON without
importing LiteLLM, with config overrides on top. A missing price raises, never returns zero.
Which geographies offer a system cross-region profile is an AWS fact kept by hand in MODELS;
correct it here when AWS adds a profile (see README, "Model catalog").
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cache
from pathlib import Path

from claude_platform.prices import (
    PER_MILLION,
    ModelPrices,
    PriceTier,
    RateCard,
    derived_cache_write_1h,
)

LITELLM_PRICE_MAP_FILE = "model_prices_and_context_window_backup.json"
REGIONAL_PREMIUM = Decimal("1.10")


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


# Where each geography's system profiles may serve a request (the foundation-model ARNs a profile
# routes to), as IAM region patterns. A geographic profile stays inside its geography; AWS adds
# destination regions within it, so the geography's own region prefix is used where it has one
# (`eu-*` is every EU region). `us` also serves from ca-central-1, one of its source regions.
# `global` routes to any commercial region: no narrower pattern exists (docs/aws-facts.md).
_GEOGRAPHY_DESTINATION_PATTERNS: dict[Geography, tuple[str, ...]] = {
    Geography.US: ("us-*", "ca-central-1"),
    Geography.EU: ("eu-*",),
    Geography.APAC: ("ap-*",),
    Geography.JP: ("ap-northeast-1", "ap-northeast-3"),
    Geography.AU: ("ap-southeast-2", "ap-southeast-4"),
    Geography.GLOBAL: ("*",),
}


def destination_region_patterns(geography: Geography, source_region: str) -> tuple[str, ...]:
    """IAM region patterns of the foundation models a profile of `geography`, called from
    `source_region`, may route to: the geography's regions; `none` is the source region only."""
    if geography is Geography.NONE:
        return (source_region,)
    return _GEOGRAPHY_DESTINATION_PATTERNS[geography]


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
    """A config override, USD per million tokens: standard rates plus long-context tiers.

    `cache_write_1h` left out is derived (`prices.derived_cache_write_1h`); each tier's rates bill a
    whole request whose prompt exceeds the tier's threshold.
    """

    input: float
    output: float
    cache_write: float
    cache_read: float
    cache_write_1h: float | None = None
    tiers: tuple[PriceTier, ...] = ()

    def standard(self) -> RateCard:
        """The standard (below every threshold) rates."""
        return RateCard(self.input, self.output, self.cache_write, self.cache_read, self.cache_write_1h)


def litellm_price_map_path() -> Path:
    """LiteLLM's bundled price map, found without importing LiteLLM."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        raise MissingPriceError("litellm is not installed: its bundled price map is the price source")
    return Path(next(iter(spec.submodule_search_locations))) / LITELLM_PRICE_MAP_FILE


@cache
def _litellm_price_map() -> Mapping[str, dict]:
    return json.loads(litellm_price_map_path().read_text(encoding="utf-8"))


# LiteLLM map keys of the standard rates, and of long-context tiers (`<key>_above_<N>k_tokens`).
_RATE_KEYS = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cache_write": "cache_creation_input_token_cost",
    "cache_read": "cache_read_input_token_cost",
    "cache_write_1h": "cache_creation_input_token_cost_above_1hr",
}
_TIER_KEY = re.compile(rf"^({'|'.join(_RATE_KEYS.values())})_above_(\d+)(k?)_tokens$")


def _tiered_rates(entry: Mapping[str, object]) -> dict[int, dict[str, object]]:
    """An entry's long-context rates by threshold (tokens, ascending), as the map gives them."""
    names = {key: name for name, key in _RATE_KEYS.items()}
    tiers: dict[int, dict[str, object]] = {}
    for key, value in entry.items():
        if value is not None and (match := _TIER_KEY.match(key)):
            threshold = int(match.group(2)) * (1000 if match.group(3) else 1)
            tiers.setdefault(threshold, {})[names[match.group(1)]] = value
    return dict(sorted(tiers.items()))


def _per_million(value: object, factor: Decimal) -> Decimal | None:
    return None if value is None else Decimal(repr(float(value))) * PER_MILLION * factor  # type: ignore[arg-type]


def _prices_from_entry(entry: Mapping[str, object], *, source: str, factor: Decimal) -> ModelPrices | None:
    """An entry's rates, scaled by `factor`, with LiteLLM's tier semantics.

    A tier without some rate keeps the next lower tier's. A 1-hour write rate the map lacks is
    derived: 2x input, and at least the 5-minute rate and the lower tier's 1-hour rate, so it is
    never below what LiteLLM charges (LiteLLM falls back to those).
    """
    rates = {name: _per_million(entry.get(key), factor) for name, key in _RATE_KEYS.items()}
    explicit_1h = rates.pop("cache_write_1h")
    if any(v is None for v in rates.values()):
        return None
    standard = _card(rates, explicit_1h, lower_1h=None)
    tiers = []
    for threshold, tiered in _tiered_rates(entry).items():
        for name in rates:
            if (rate := _per_million(tiered.get(name), factor)) is not None:
                rates[name] = rate
        tier_1h = _per_million(tiered.get("cache_write_1h"), factor)
        tiers.append(PriceTier(threshold, _card(rates, tier_1h, lower_1h=explicit_1h)))
        explicit_1h = tier_1h if tier_1h is not None else explicit_1h
    return ModelPrices(standard=standard, tiers=tuple(tiers), source=source)


def _card(
    rates: Mapping[str, Decimal | None], rate_1h: Decimal | None, *, lower_1h: Decimal | None
) -> RateCard:
    values = {name: float(v) for name, v in rates.items() if v is not None}
    if rate_1h is None:
        derived = derived_cache_write_1h(input_rate=values["input"], cache_write_rate=values["cache_write"])
        rate_1h = max(Decimal(repr(derived)), lower_1h if lower_1h is not None else Decimal(0))
    return RateCard(**values, cache_write_1h=float(rate_1h))


def _map_entries(model: ClaudeModel) -> dict[str, Mapping[str, object]]:
    """The model's entries in LiteLLM's map: base id and each `<geo>.` id it has."""
    price_map = _litellm_price_map()
    ids = [model.base_id] + [model.inference_id(g) for g in Geography if g is not Geography.NONE]
    return {i: price_map[i] for i in ids if i in price_map}


def map_tier_thresholds(model: ClaudeModel) -> tuple[int, ...]:
    """Every long-context threshold any of the model's map entries prices, ascending."""
    return tuple(sorted({t for entry in _map_entries(model).values() for t in _tiered_rates(entry)}))


def context_window(model: ClaudeModel) -> int | None:
    """The model's input token limit (`max_input_tokens`) in LiteLLM's map, if it knows one."""
    windows = [int(e["max_input_tokens"]) for e in _map_entries(model).values() if e.get("max_input_tokens")]
    return max(windows) if windows else None


def override_problems(model: ClaudeModel, override: PriceOverride) -> list[str]:
    """Why an override cannot stand: it must price every long-context tier the map has for the model."""
    given = {t.above_tokens for t in override.tiers}
    missing = [t for t in map_tier_thresholds(model) if t not in given]
    if not missing:
        return []
    listed = ", ".join(f"{t} tokens" for t in missing)
    return [
        f"{model.alias} has long-context prices above {listed} in LiteLLM's map; the override must give "
        f"them too (`tiers: [{{above_tokens: {missing[0]}, input: ..., output: ..., cache_write: ..., "
        "cache_read: ...}]`), or it would bill long prompts at the standard rate"
    ]


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

    Override keys: `<geo>.<base id>` for one geography, used as given; else the base id or alias,
    which is the `global.` (base) price: at a regional geography of a model that carries the
    regional premium it is raised by 10%, tiers included. A map entry for the base id only is
    raised the same way. Map prices must cover every long-context tier the model has below its
    context window (a geography missing one is an error, not a cheaper price).
    """
    overrides = overrides or {}
    premium = model.regional_premium and geography.is_regional
    factor = REGIONAL_PREMIUM if premium else Decimal(1)
    exact = model.inference_id(geography)
    for key in (exact, model.base_id, model.alias):
        if key in overrides:
            scale = Decimal(1) if key == exact else factor
            note = " +10% regional" if scale != 1 else ""
            return _scaled(_override_prices(overrides[key]), scale, source=f"config:{key}{note}")
    price_map = _litellm_price_map()
    prices = None
    if exact in price_map:
        prices = _prices_from_entry(price_map[exact], source=f"litellm:{exact}", factor=Decimal(1))
    if prices is None and model.base_id in price_map:
        note = " +10% regional" if premium else ""
        source = f"litellm:{model.base_id}{note}"
        prices = _prices_from_entry(price_map[model.base_id], source=source, factor=factor)
    if prices is None:
        raise MissingPriceError(
            f"no price for {exact!r} in LiteLLM's price map; add it under `pricing` in the config "
            "(USD per million tokens: input, output, cache_write, cache_read)"
        )
    window = context_window(model)
    have = {t.above_tokens for t in prices.tiers}
    missing = [t for t in map_tier_thresholds(model) if t not in have and (window is None or t < window)]
    if missing:
        raise MissingPriceError(
            f"LiteLLM's map prices {model.alias} above {missing[0]} prompt tokens elsewhere but not at "
            f"{exact!r} ({prices.source}), and its context window is "
            f"{f'{window} tokens' if window else 'unknown'}; add `pricing` for "
            f"{exact!r} with that tier rather than bill long prompts at the standard rate"
        )
    return prices


def _override_prices(override: PriceOverride) -> ModelPrices:
    return ModelPrices(standard=override.standard(), tiers=override.tiers)


def _scaled(prices: ModelPrices, factor: Decimal, *, source: str) -> ModelPrices:
    """`prices` with every rate multiplied by `factor` (exactly, then as float)."""

    def card(c: RateCard) -> RateCard:
        return RateCard(*(float(Decimal(repr(float(v))) * factor) for v in c.as_list()))

    tiers = tuple(PriceTier(t.above_tokens, card(t.rates)) for t in prices.tiers)
    return ModelPrices(standard=card(prices.standard), tiers=tiers, source=source)
