"""The project function's settings (the PROJECT_SETTINGS environment variable): one contract.

The stack writes it (`claude_platform.config.runtime_settings`, which validates what it writes
against `FunctionSettings`) and the function reads it (`claude_proxy.settings.load_settings`).
pydantic, the standard library, `claude_platform.prices` and `.guardrail_prices` only: the Lambda bundle ships this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from claude_platform.guardrail_prices import DEFAULT_RATES, POLICIES
from claude_platform.prices import RATE_FIELDS, ModelPrices

PROJECT_SETTINGS_ENV = "PROJECT_SETTINGS"
_ARN_PATTERN = r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{12}:(application-)?inference-profile/[A-Za-z0-9._:-]+$"


class ModelSettings(BaseModel):
    """One model the project may call, with the application inference profile that bills it."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    alias: str = Field(min_length=1)
    base_id: str = Field(min_length=1)
    geography: str = Field(min_length=1)
    litellm_model: str = Field(pattern=r"^bedrock/.+")  # derived from geography and base_id if absent
    profile_arn: str = Field(pattern=_ARN_PATTERN)
    prices: ModelPrices

    @model_validator(mode="before")
    @classmethod
    def _derive_litellm_model(cls, data: Any) -> Any:
        """`bedrock/<geo>.<base id>` (`bedrock/<base id>` in-region): LiteLLM's route and price key.

        The stack leaves it out to keep the environment under Lambda's 4 KB.
        """
        if isinstance(data, Mapping) and "litellm_model" not in data:
            geography, base_id = data.get("geography"), data.get("base_id")
            if isinstance(geography, str) and isinstance(base_id, str):
                prefix = "" if geography == "none" else f"{geography}."
                return {**data, "litellm_model": f"bedrock/{prefix}{base_id}"}
        return data

    @field_validator("prices", mode="before")
    @classmethod
    def _parse_prices(cls, value: Any) -> ModelPrices:
        if isinstance(value, ModelPrices):
            prices = value
        elif isinstance(value, Mapping):
            try:
                prices = ModelPrices.from_dict(dict(value))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"malformed prices ({type(exc).__name__}: {exc})") from None
        else:
            raise ValueError("prices must be an object (ModelPrices.to_dict())")
        cards = [("rates", prices.standard)]
        previous = 0
        for i, tier in enumerate(prices.tiers):
            above = tier.above_tokens
            if isinstance(above, bool) or not isinstance(above, int) or above <= previous:
                raise ValueError(
                    f"tiers[{i}] threshold {above!r} must be a positive integer above the previous "
                    f"tier's ({previous}): tiers are sorted by threshold"
                )
            previous = above
            cards.append((f"tiers[{i}]", tier.rates))
        for where, card in cards:
            for name in RATE_FIELDS:
                rate = getattr(card, name)
                if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate):
                    raise ValueError(f"{where}.{name} must be a finite number, got {rate!r}")
                if rate < 0:
                    raise ValueError(f"{where}.{name} must not be negative, got {rate!r}")
        if prices.standard.input == 0 and prices.standard.output == 0:
            raise ValueError("standard input and output prices are both 0: refusing a silent zero cost")
        return prices


class SpendSettings(BaseModel):
    """Where the project's spend is recorded and how its cap is enforced."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enforcement: Literal["hard", "soft", "off"]
    cap_usd: float = Field(gt=0)
    alert_thresholds: tuple[float, ...] = ()
    ledger_table: str | None = Field(default=None, min_length=3, max_length=255)
    alert_topic_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$"
    )
    # A hold older than this outlived its invocation (the function was killed mid-call): the next
    # reservation charges it as estimated spend. The stack writes the function timeout plus a minute.
    stale_after_s: int | None = Field(default=None, ge=60)
    # The project's own rate limits (all keys and the invoke path together), in the ledger table.
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _table_when_metered(self) -> SpendSettings:
        if self.enforcement != "off" and not self.ledger_table:
            raise ValueError(f"ledger_table is required with enforcement {self.enforcement!r}")
        if self.enforcement == "off" and (self.requests_per_minute or self.tokens_per_minute):
            raise ValueError(
                "requests_per_minute and tokens_per_minute need the ledger (enforcement hard or soft)"
            )
        return self


_URL_PATTERN = r"^https?://[^\s?#@]+$"
_SECRET_ARN_PATTERN = r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$"


class LangfuseSettings(BaseModel):
    """Langfuse OTLP ingestion: host, public key, and the secret holding the secret key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(pattern=_URL_PATTERN)
    public_key: str = Field(min_length=1)
    secret_key_secret_arn: str = Field(pattern=_SECRET_ARN_PATTERN)


class OtlpSettings(BaseModel):
    """An OTLP/HTTP traces endpoint, and the secret holding its headers (a JSON object), if any."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str = Field(pattern=_URL_PATTERN)
    headers_secret_arn: str | None = Field(default=None, pattern=_SECRET_ARN_PATTERN)


class TracingSettings(BaseModel):
    """Per-call traces (at most one backend) and X-Ray; see claude_platform.config.TracingConfig."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    langfuse: LangfuseSettings | None = None
    otlp: OtlpSettings | None = None
    xray: bool = False
    flush_timeout_ms: int = Field(default=1000, ge=100, le=5000)

    @model_validator(mode="after")
    def _one_backend(self) -> TracingSettings:
        if self.langfuse is not None and self.otlp is not None:
            raise ValueError("set either langfuse or otlp, not both")
        return self

    @property
    def backend(self) -> str | None:
        """'langfuse', 'otlp' or None."""
        return "langfuse" if self.langfuse else "otlp" if self.otlp else None


class GatewaySettings(BaseModel):
    """The project's HTTPS endpoint (Messages and Chat Completions APIs); see config `gateway`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Client model names (e.g. a client's default model) mapped to one of the project's models.
    model_aliases: dict[str, str] = Field(default_factory=dict)
    # The table holding the project's API keys (`claude_platform.api_keys`): the region's ledger
    # table, also when the project's enforcement is off.
    keys_table: str | None = Field(default=None, min_length=3, max_length=255)

    def __hash__(self) -> int:
        """Hashable like the other frozen settings (the function caches per settings, e.g. ledger_for)."""
        return hash((tuple(sorted(self.model_aliases.items())), self.keys_table))


class GuardrailSettings(BaseModel):
    """The project's guardrail: every Converse call passes it; its units are priced with `rates`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    guardrail_arn: str = Field(
        pattern=r"^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+$"
    )
    guardrail_version: str = Field(pattern=r"^[1-9][0-9]{0,7}$")
    # The priced policies that may bill (for the worst case before the call).
    policies: tuple[str, ...] = ()
    # USD per 1,000 text units: the config's overrides of claude_platform.guardrail_prices (the
    # stack writes only those, to keep the environment small); `rates` reads them merged.
    rate_overrides: dict[str, float] = Field(default_factory=dict)
    stream_mode: Literal["sync", "async"] = "sync"

    @property
    def rates(self) -> dict[str, float]:
        """USD per 1,000 text units of every policy: the built-in table with the overrides."""
        return {**DEFAULT_RATES, **self.rate_overrides}

    @field_validator("rate_overrides")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(POLICIES))
        if unknown:
            raise ValueError(f"rate_overrides: unknown guardrail policies {unknown}")
        for policy, rate in value.items():
            if (
                isinstance(rate, bool)
                or not isinstance(rate, int | float)
                or not math.isfinite(rate)
                or rate < 0
            ):
                raise ValueError(f"rates.{policy} must be a finite number >= 0, got {rate!r}")
        return value

    @model_validator(mode="after")
    def _known_policies(self) -> GuardrailSettings:
        unknown = sorted(set(self.policies) - set(POLICIES))
        if unknown:
            raise ValueError(f"unknown guardrail policies {unknown}")
        return self

    def __hash__(self) -> int:
        """Hashable like the other frozen settings."""
        return hash((self.guardrail_arn, self.guardrail_version, self.policies, self.stream_mode))


class FunctionSettings(BaseModel):
    """PROJECT_SETTINGS: what the stack writes (config.runtime_settings) and the function reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project: str = Field(min_length=1)
    default_model: str = Field(min_length=1)
    max_tokens_default: int = Field(ge=1)
    max_tokens_limit: int = Field(ge=1)
    log_prompts: bool = False
    tracing: TracingSettings | None = None
    models: tuple[ModelSettings, ...] = Field(min_length=1)
    spend: SpendSettings
    gateway: GatewaySettings | None = None  # set when the project has the HTTPS endpoint
    guardrail: GuardrailSettings | None = None  # set when the project has a guardrail

    @model_validator(mode="after")
    def _consistent(self) -> FunctionSettings:
        if self.max_tokens_default > self.max_tokens_limit:
            raise ValueError(
                f"max_tokens_default ({self.max_tokens_default}) exceeds max_tokens_limit "
                f"({self.max_tokens_limit})"
            )
        seen: dict[str, str] = {}
        for model in self.models:
            for name in {model.alias, model.base_id}:
                if name in seen:
                    raise ValueError(f"model name {name!r} is listed twice")
                seen[name] = model.alias
        if self.default_model not in seen:
            raise ValueError(f"default_model {self.default_model!r} is not one of the project's models")
        return self

    def find_model(self, name: str) -> ModelSettings | None:
        """A project model by alias or base id."""
        for model in self.models:
            if name in (model.alias, model.base_id):
                return model
        return None

    @property
    def model_aliases(self) -> list[str]:
        """Aliases callers may use."""
        return [m.alias for m in self.models]
