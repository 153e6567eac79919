"""The projects file as pydantic models: a project's settings, its defaults, prices and the platform.

Validated by `claude_platform.config.load_config`, which also resolves models against the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from claude_platform.catalog import (
    Geography,
)
from claude_platform.config_sections import (
    ACCOUNT_RE,
    ALERT_THRESHOLDS_MEANING,
    CUR_EXPORT_REGION,
    EMAIL_RE,
    LOG_RETENTION_DAYS,
    MAX_BUDGET_EMAIL_SUBSCRIBERS,
    MAX_BUDGET_NOTIFICATIONS,
    MAX_MODELS_PER_PROJECT,
    MAX_OPERATIONS_EMAILS,
    MAX_USER_TAGS,
    PRINCIPAL_ARN_RE,
    PROJECT_NAME_MAX,
    PROJECT_NAME_RE,
    REGION_RE,
    TAG_KEY_RE,
    TAG_VALUE_RE,
    AlarmThresholds,
    GatewayConfig,
    TracingConfig,
    _doc_default,
    _Strict,
)
from claude_platform.guardrails import GuardrailConfig, GuardrailPricing
from claude_platform.limits import FUNCTION_SAFETY_MARGIN_S, fastest_speed

# Reserved concurrency of a project's function unless it says otherwise: enough for a team's
# interactive use, small enough that 80 such projects fit a region's default Lambda quota.
DEFAULT_MAX_CONCURRENCY = 10


def check_emails(value: list[str]) -> list[str]:
    """Email addresses, each valid and all distinct (ValueError naming the index otherwise)."""
    for i, email in enumerate(value):
        if not EMAIL_RE.match(email):
            raise ValueError(f"[{i}] {email!r} is not an email address")
    if len(set(value)) != len(value):
        raise ValueError("emails must be distinct")
    return value


class ProjectSettings(_Strict):
    """Every project field but `name`: what `defaults` may set and a project may override."""

    region: Annotated[
        str | None,
        Field(
            description=(
                "region the project's stack, profiles, function, logs and ledger live in; `geography` "
                "decides where requests are served (EU residency: an EU region and `eu`, not `global`); "
                "Bedrock quotas are per account and region"
            ),
            json_schema_extra=_doc_default("top-level `region`"),
        ),
    ] = None
    models: Annotated[
        list[str],
        Field(
            min_length=1,
            max_length=MAX_MODELS_PER_PROJECT,
            description=f"1-{MAX_MODELS_PER_PROJECT} Bedrock base model ids or catalog aliases; the first is the default",
        ),
    ]
    geography: Annotated[
        Geography,
        Field(
            description=(
                "where requests may be served: "
                + ", ".join(f"`{g.value}`" for g in Geography if g is not Geography.NONE)
                + " (system cross-region profile), or `none` (in-region foundation model); must be "
                "callable from the project's region"
            )
        ),
    ] = Geography.US
    monthly_budget_usd: Annotated[
        float, Field(gt=0, le=10_000_000, description="the AWS Budget's monthly limit in USD, > 0")
    ]
    alert_thresholds: Annotated[
        list[float],
        Field(
            description=(
                f"{ALERT_THRESHOLDS_MEANING}; each in (0, 1000], at most 100 under `enforcement: hard` "
                f"(spend never passes the cap), at most {MAX_BUDGET_NOTIFICATIONS - 1} (plus the "
                f"forecast alert at 100%: Budgets allows {MAX_BUDGET_NOTIFICATIONS}); a change replaces "
                "the budget (new name)"
            )
        ),
    ] = [50.0, 80.0, 100.0]
    alert_emails: Annotated[
        list[str],
        Field(
            max_length=MAX_BUDGET_EMAIL_SUBSCRIBERS,
            description=f"up to {MAX_BUDGET_EMAIL_SUBSCRIBERS} addresses subscribed to the alert topic (each confirms by email)",
        ),
    ] = []
    tags: Annotated[
        dict[str, str],
        Field(
            description=f"extra cost tags (cost-center, owner, ...) on every resource, at most {MAX_USER_TAGS}"
        ),
    ] = {}
    invokers: Annotated[
        list[str],
        Field(
            description=(
                "IAM principal ARNs (roles, users) allowed to invoke the function; an account root "
                "(`arn:aws:iam::<account>:root`) only with `allow_account_invokers`"
            )
        ),
    ] = []
    allow_account_invokers: Annotated[
        bool,
        Field(
            description=(
                "accept account roots in `invokers`: every principal of such an account whose own IAM "
                "policy allows `lambda:InvokeFunction` can then spend up to the project's cap"
            )
        ),
    ] = False
    max_tokens_default: Annotated[
        int, Field(ge=1, description="`max_tokens` of a request that gives none")
    ] = 1024
    max_tokens_limit: Annotated[
        int,
        Field(
            ge=1,
            description="upper bound of a request's `max_tokens` (checked against each model's output limit)",
        ),
    ] = 8192
    # 1769 MB is one full vCPU: `import litellm` is ~4 s of CPU, which at 512 MB (~0.3 vCPU) would
    # overrun Lambda's 10 s init phase. See README "Costs".
    lambda_memory_mb: Annotated[
        int, Field(ge=128, le=10240, description="function memory; 1769 MB is one full vCPU (see Costs)")
    ] = 1769
    lambda_timeout_seconds: Annotated[
        int,
        Field(
            ge=5,
            le=900,
            description=(
                "function timeout; must fit `max_tokens_limit` at the fastest plausible rate of the "
                "project's models (2 s + limit / rate + 1 s; rates per model family in docs/spend-ledger.md)"
            ),
        ),
    ] = 120
    max_concurrency: Annotated[
        int | None,
        Field(
            ge=1,
            description=(
                "reserved concurrency of the function (and of the gateway's function, each): at most this "
                "many calls at once, so one project "
                "cannot take the region's Lambda concurrency or Bedrock quota from the others; the "
                "projects of a region together leave 100 of `lambda_concurrency_quota` unreserved; "
                "`null` opts out (the function shares the region's unreserved pool with every other)"
            ),
        ),
    ] = DEFAULT_MAX_CONCURRENCY
    log_retention_days: Annotated[
        int, Field(description="CloudWatch Logs retention of the function's log group")
    ] = 30
    log_prompts: Annotated[
        bool,
        Field(
            description="log prompt and completion text (off: only counts, cost, latency and tags are logged)"
        ),
    ] = False
    snapstart: Annotated[
        bool,
        Field(
            description="Lambda SnapStart on a published version; callers invoke the `live` alias (see Costs)"
        ),
    ] = False
    alarms: Annotated[
        AlarmThresholds,
        Field(description="per-profile counts per 5 minutes that raise an alarm (see Alarms)"),
    ] = AlarmThresholds()
    # Spend control (README "Spend ledger and cap"): hard refuses calls past the cap, soft only
    # records and alerts, off records nothing. The cap is monthly_budget_usd unless spend_cap_usd.
    enforcement: Annotated[
        Literal["hard", "soft", "off"],
        Field(
            description=(
                "spend ledger: `hard` refuses calls past the cap, `soft` records and alerts only, `off` no ledger"
            )
        ),
    ] = "hard"
    spend_cap_usd: Annotated[
        float | None,
        Field(
            gt=0,
            le=10_000_000,
            description="the monthly cap the ledger enforces",
            json_schema_extra=_doc_default("`monthly_budget_usd`"),
        ),
    ] = None
    requests_per_minute: Annotated[
        int | None,
        Field(
            ge=1,
            description=(
                "the project's requests per minute (every API key and the invoke path together), kept in "
                "the ledger across containers: no 60 s interval admits more (needs `enforcement` hard or soft)"
            ),
            json_schema_extra=_doc_default("none"),
        ),
    ] = None
    tokens_per_minute: Annotated[
        int | None,
        Field(
            ge=1,
            description=(
                "the project's tokens (input + output) per minute: each call reserves its bound (input "
                "bound + `max_tokens`), settled to the actual count; at least `max_tokens_limit`"
            ),
            json_schema_extra=_doc_default("none"),
        ),
    ] = None
    budget_action: Annotated[
        bool,
        Field(
            description="at 100% of the AWS Budget, Budgets attaches a deny-Bedrock policy to the function's role"
        ),
    ] = False
    tracing: Annotated[
        TracingConfig,
        Field(
            description=(
                "per-call traces: `langfuse: {host, public_key, secret_key_secret_arn}` or "
                "`otlp: {endpoint, headers_secret_arn}`, `xray: true`, `flush_timeout_ms` (see Per-call traces)"
            ),
            json_schema_extra=_doc_default("off"),
        ),
    ] = TracingConfig()

    gateway: Annotated[
        GatewayConfig,
        Field(
            description=(
                "HTTPS endpoint for Claude Code and the Anthropic/OpenAI SDKs: `enabled`, `model_aliases`, "
                "`auth_failure_alarm_threshold` (see `gateway` and docs/deploy.md)"
            ),
            json_schema_extra=_doc_default("off"),
        ),
    ] = GatewayConfig()
    guardrail: Annotated[
        GuardrailConfig | None,
        Field(
            description=(
                "Bedrock guardrail every call goes through, enforced by IAM: `{id, version}` of an "
                "existing one, or declared policies the stack creates (see `guardrail`)"
            ),
            json_schema_extra=_doc_default("none"),
        ),
    ] = None

    @field_validator("alert_thresholds")
    @classmethod
    def _thresholds(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError(
                "give at least one threshold (percent of the cap for the ledger, of the budget for the AWS Budget)"
            )
        for i, t in enumerate(value):
            if not 0 < t <= 1000:
                raise ValueError(f"[{i}] = {t:g} is outside (0, 1000] percent")
        if len(set(value)) != len(value):
            raise ValueError("thresholds must be distinct")
        if len(value) + 1 > MAX_BUDGET_NOTIFICATIONS:
            raise ValueError(
                f"{len(value)} thresholds plus the forecast alert exceed AWS Budgets' "
                f"{MAX_BUDGET_NOTIFICATIONS} notifications per budget"
            )
        return sorted(value)

    @field_validator("alert_emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        return check_emails(value)

    @field_validator("invokers")
    @classmethod
    def _invokers(cls, value: list[str]) -> list[str]:
        for i, arn in enumerate(value):
            if not PRINCIPAL_ARN_RE.match(arn):
                raise ValueError(
                    f"[{i}] {arn!r} is not an IAM principal ARN "
                    "(arn:aws:iam::<12-digit account>:role/..., :user/... or :root)"
                )
        return value

    @model_validator(mode="after")
    def _account_invokers(self) -> ProjectSettings:
        roots = [(i, arn) for i, arn in enumerate(self.invokers) if arn.endswith(":root")]
        if roots and not self.allow_account_invokers:
            i, arn = roots[0]
            account = arn.split(":")[4]
            raise ValueError(
                f"invokers[{i}] {arn!r} is an account root: every principal of account {account} whose own "
                "IAM policy allows lambda:InvokeFunction could spend up to the project's cap; name the "
                "roles or users that call it, or set allow_account_invokers: true to accept that"
            )
        return self

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_USER_TAGS:
            raise ValueError(f"{len(value)} tags, at most {MAX_USER_TAGS}")
        for key, tag_value in value.items():
            if not TAG_KEY_RE.match(key) or key.lower().startswith("aws:"):
                raise ValueError(
                    f"key {key!r} is not a valid tag key (1-128 of letters, digits, spaces, _.:/=+-@; no aws: prefix)"
                )
            if not isinstance(tag_value, str) or not TAG_VALUE_RE.match(tag_value):
                raise ValueError(
                    f"{key}: value {tag_value!r} is not a valid tag value (0-256 of letters, digits, spaces, _.:/=+-@)"
                )
        return value

    @field_validator("region")
    @classmethod
    def _project_region(cls, value: str | None) -> str | None:
        if value is not None and not REGION_RE.match(value):
            raise ValueError(f"{value!r} is not an AWS region name like eu-west-1")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"{value} is not a CloudWatch Logs retention; one of {LOG_RETENTION_DAYS}")
        return value

    @model_validator(mode="after")
    def _max_tokens(self) -> ProjectSettings:
        if self.max_tokens_default > self.max_tokens_limit:
            raise ValueError(
                f"max_tokens_default ({self.max_tokens_default}) exceeds max_tokens_limit ({self.max_tokens_limit})"
            )
        return self

    @model_validator(mode="after")
    def _answers_fit_the_timeout(self) -> ProjectSettings:
        # The function refuses a request whose max_tokens cannot plausibly finish in its time
        # (lambda/claude_proxy/attempt_timing.py, per model family); a limit no request to any of
        # the project's models could use is a config error.
        speed = fastest_speed(self.models)
        seconds = speed.best_seconds(self.max_tokens_limit)
        budget = self.lambda_timeout_seconds - FUNCTION_SAFETY_MARGIN_S
        if seconds > budget:
            fits = speed.tokens_in(budget)
            need = int(seconds + FUNCTION_SAFETY_MARGIN_S + 0.999)
            raise ValueError(
                f"max_tokens_limit ({self.max_tokens_limit}) cannot plausibly be generated within "
                f"lambda_timeout_seconds ({self.lambda_timeout_seconds}) even at "
                f"{speed.best_tokens_per_s:g} tokens/s (the fastest plausible rate of its models, "
                f"{speed.family}); lower it to {fits} or raise the timeout to {need}"
            )
        return self

    @model_validator(mode="after")
    def _rate_limits(self) -> ProjectSettings:
        if self.enforcement == "off" and (self.requests_per_minute or self.tokens_per_minute):
            raise ValueError(
                "requests_per_minute / tokens_per_minute are kept in the spend ledger: they need "
                "enforcement hard or soft, not off"
            )
        if self.tokens_per_minute is not None and self.tokens_per_minute < self.max_tokens_limit:
            raise ValueError(
                f"tokens_per_minute ({self.tokens_per_minute}) is below max_tokens_limit "
                f"({self.max_tokens_limit}): a request asking for that many tokens could never be admitted"
            )
        return self

    @property
    def cap_usd(self) -> float:
        """The spend cap the ledger enforces: spend_cap_usd, else monthly_budget_usd."""
        return self.spend_cap_usd if self.spend_cap_usd is not None else self.monthly_budget_usd


class ProjectDefaults(ProjectSettings):
    """`defaults`: any project field, all optional."""

    models: Annotated[list[str], Field(min_length=1, max_length=MAX_MODELS_PER_PROJECT)] | None = None  # type: ignore[assignment]
    monthly_budget_usd: Annotated[float, Field(gt=0, le=10_000_000)] | None = None  # type: ignore[assignment]


class ProjectConfig(ProjectSettings):
    """One project: its name is the cost-allocation tag value and part of every resource name."""

    name: Annotated[
        str,
        Field(
            description=(
                f"1-{PROJECT_NAME_MAX} lowercase letters, digits, single hyphens; the tag value and part "
                "of every name"
            )
        ),
    ]

    @model_validator(mode="after")
    def _thresholds_can_fire(self) -> ProjectConfig:
        # Under hard the ledger refuses calls before spend passes the cap: such an alert never fires.
        if self.enforcement == "hard":
            never = [t for t in self.alert_thresholds if t > 100]
            if never:
                raise ValueError(
                    f"alert_thresholds: {', '.join(f'{t:g}' for t in never)} can never fire under "
                    "enforcement: hard (the ledger's alerts are percent of the cap, and spend never "
                    "passes the cap): use thresholds up to 100, or enforcement: soft"
                )
        return self

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if len(value) > PROJECT_NAME_MAX or not PROJECT_NAME_RE.match(value):
            raise ValueError(
                f"{value!r} must be 1-{PROJECT_NAME_MAX} lowercase letters, digits and single hyphens, "
                "starting with a letter (it names the profiles, stack, function and budget and is the tag value)"
            )
        return value


Rate = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Rates(_Strict):
    """USD per million tokens of each kind."""

    input: Annotated[Rate, Field(description="input tokens")]
    output: Annotated[Rate, Field(description="output tokens")]
    cache_write: Annotated[Rate, Field(description="prompt-cache write tokens (5-minute cache)")]
    cache_read: Annotated[Rate, Field(description="prompt-cache read tokens")]
    cache_write_1h: Annotated[
        Rate | None,
        Field(
            description="1-hour cache write tokens",
            json_schema_extra=_doc_default("2x `input`, at least `cache_write`"),
        ),
    ] = None


class PriceTierConfig(_Rates):
    """A long-context tier: these rates bill a whole request whose prompt exceeds `above_tokens`."""

    above_tokens: Annotated[int, Field(ge=1, description="prompt tokens above which the tier's rates apply")]


class PriceOverrideConfig(_Rates):
    """USD per million tokens. `cache_write` is the 5-minute cache write; `cache_write_1h` (the 1-hour
    write) defaults to 2x input, at least `cache_write`. `tiers`: long-context rates by threshold."""

    tiers: Annotated[
        list[PriceTierConfig],
        Field(
            description="long-context rates: each bills a whole request whose prompt exceeds its `above_tokens`"
        ),
    ] = []

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, value: list[PriceTierConfig]) -> list[PriceTierConfig]:
        thresholds = [t.above_tokens for t in value]
        if len(set(thresholds)) != len(thresholds):
            raise ValueError(f"thresholds {thresholds} repeat; give each above_tokens once")
        return sorted(value, key=lambda t: t.above_tokens)

    @model_validator(mode="after")
    def _not_free(self) -> PriceOverrideConfig:
        if self.input == 0 and self.output == 0:
            raise ValueError("input and output are both 0: refusing a silent zero cost")
        return self


class CurExportConfig(_Strict):
    """Opt-in SQL over the bill: a CUR 2.0 data export, Glue table, Athena workgroup, saved queries."""

    enabled: Annotated[
        bool,
        Field(description="create the export and its table, workgroup and saved queries (us-east-1 only)"),
    ] = False
    s3_prefix: Annotated[
        str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="key prefix of the export in its bucket")
    ] = "cur2"
    time_granularity: Annotated[
        Literal["DAILY", "HOURLY"], Field(description="granularity of the export's line items")
    ] = "DAILY"
    access_log_retention_days: Annotated[
        int, Field(ge=1, le=3650, description="days the bucket's server access logs are kept")
    ] = 365


class BedrockModelQuota(_Strict):
    """Bedrock's per-minute quotas of one model in a region (Service Quotas)."""

    requests_per_minute: Annotated[int | None, Field(ge=1, description="requests per minute")] = None
    tokens_per_minute: Annotated[int | None, Field(ge=1, description="tokens per minute")] = None


class PlatformConfig(_Strict):
    """The whole projects file."""

    region: Annotated[
        str,
        Field(
            description=(
                "home region: the default of each project's `region`; its platform stack is "
                "`<prefix>-platform`, other regions' `<prefix>-platform-<region>`"
            )
        ),
    ]
    account: Annotated[
        str | None,
        Field(
            description="12-digit account id every stack deploys to",
            json_schema_extra=_doc_default("deploying credentials' account"),
        ),
    ] = None
    name_prefix: Annotated[
        str,
        Field(
            pattern=r"^[a-z][a-z0-9-]{0,15}$",
            description="prefix of stack, profile, budget, topic, function and alarm names (1-16 of a-z, 0-9, -)",
        ),
    ] = "claude"
    cost_allocation_tag_key: Annotated[
        str, Field(description="tag key whose value is the project name (activate it for cost allocation)")
    ] = "project"
    inference_profile_quota: Annotated[
        int,
        Field(
            ge=1,
            description=(
                "Bedrock's application inference profile quota, per account and region: the profiles of "
                "each region's projects are checked against it"
            ),
        ),
    ] = 1000
    bedrock_quotas: Annotated[
        dict[str, BedrockModelQuota],
        Field(
            description=(
                "Bedrock's requests and tokens per minute quotas per model (catalog alias), as they "
                "stand in each region with projects (per account, region and model): a project's "
                "`requests_per_minute` / `tokens_per_minute` may not exceed them, nor may the limits "
                "of a region's projects allowing the model add up to more; projects without a limit "
                "are not bounded by this check"
            ),
            json_schema_extra=_doc_default("none stated: nothing checked"),
        ),
    ] = {}
    lambda_concurrency_quota: Annotated[
        int,
        Field(
            ge=100,
            description=(
                "Lambda's concurrent executions quota, per account and region: the `max_concurrency` of "
                "a region's projects must leave 100 of it unreserved"
            ),
        ),
    ] = 1000
    pricing: Annotated[
        dict[str, PriceOverrideConfig],
        Field(
            description=(
                "price overrides, USD per million tokens: `{<model>: {input, output, cache_write, "
                "cache_read, cache_write_1h?, tiers?: [{above_tokens, input, ...}]}}`; key `<geo>.<base id>` "
                "for one geography, used as given; a base id / alias key is the `global.` price, +10% at "
                "regional geographies for models with the premium; must give every long-context tier "
                "LiteLLM's map has for the model ([docs/pricing.md](docs/pricing.md))"
            )
        ),
    ] = {}
    guardrail_pricing: Annotated[
        GuardrailPricing,
        Field(
            description=(
                "guardrail price overrides, USD per 1,000 text units per policy (`content`, `topics`, "
                "`pii`, ...; docs/pricing.md)"
            ),
            json_schema_extra=_doc_default("the built-in table"),
        ),
    ] = GuardrailPricing()
    defaults: Annotated[
        ProjectDefaults,
        Field(
            description="any project field except `name`; a project's own value wins",
            json_schema_extra=_doc_default("`{}`"),
        ),
    ] = ProjectDefaults()
    projects: Annotated[list[ProjectConfig], Field(min_length=1, description="the projects (see below)")]
    # Finance and operations (docs/finance.md): both opt-in.
    activate_cost_tags_on_deploy: Annotated[
        bool,
        Field(
            description=(
                "activate the cost-allocation tag keys after deploy and retry daily (management or "
                "standalone account; docs/finance.md)"
            )
        ),
    ] = False
    cur_export: Annotated[
        CurExportConfig,
        Field(
            description="CUR 2.0 export, Glue table, Athena workgroup and saved queries (see `cur_export` below)",
            json_schema_extra=_doc_default("`{enabled: false}`"),
        ),
    ] = CurExportConfig()
    operations_emails: Annotated[
        list[str],
        Field(
            max_length=MAX_OPERATIONS_EMAILS,
            description=(
                f"up to {MAX_OPERATIONS_EMAILS} addresses subscribed to each region's operations topic "
                "`<prefix>-operations` (each confirms by email): alarms about the alerting itself, "
                "i.e. alert e-mails SNS failed to deliver and alert subscriptions left unconfirmed"
            ),
        ),
    ] = []

    @field_validator("operations_emails")
    @classmethod
    def _operations_emails(cls, value: list[str]) -> list[str]:
        return check_emails(value)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not REGION_RE.match(value):
            raise ValueError(f"{value!r} is not an AWS region name like us-east-1")
        return value

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not ACCOUNT_RE.match(value):
            raise ValueError(f"{value!r} is not a 12-digit AWS account id")
        return value

    @field_validator("cost_allocation_tag_key")
    @classmethod
    def _tag_key(cls, value: str) -> str:
        if not TAG_KEY_RE.match(value) or value.lower().startswith("aws:"):
            raise ValueError(f"{value!r} is not a valid tag key")
        return value

    @model_validator(mode="after")
    def _cur_export_region(self) -> PlatformConfig:
        if self.cur_export.enabled and self.region != CUR_EXPORT_REGION:
            raise ValueError(
                f"cur_export.enabled: Data Exports (AWS::BCMDataExports::Export) is created in {CUR_EXPORT_REGION}, "
                f"the billing region; this config deploys to {self.region}"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        """Each project starts from `defaults`; a project's own fields win.

        Mapping fields (`tags`, `alarms`) merge key by key, so a project adding one tag keeps the
        default tags (and one alarm threshold keeps the other defaults); lists and `guardrail` replace.
        """
        if not isinstance(data, Mapping):
            return data
        defaults = data.get("defaults") or {}
        projects = data.get("projects")
        if not isinstance(defaults, Mapping) or not isinstance(projects, list):
            return data
        known = {k: v for k, v in defaults.items() if k in ProjectSettings.model_fields}
        merged = [_merge_project_defaults(known, p) if isinstance(p, Mapping) else p for p in projects]
        return {**data, "projects": merged}


def _merge_project_defaults(defaults: Mapping[str, Any], project: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**defaults, **project}
    for key, value in project.items():
        default = defaults.get(key)
        if key == "guardrail":  # a project's guardrail replaces the default one, never mixes with it
            continue
        if isinstance(default, Mapping) and isinstance(value, Mapping):
            merged[key] = {**default, **value}
    return merged
