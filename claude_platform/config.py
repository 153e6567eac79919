"""The platform config: one typed, validated model of the projects file.

`load_config(raw)` validates everything before anything is built and raises ConfigError with one
line per problem, each naming the project and field. Nothing here reads files or the environment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from claude_platform.catalog import (
    ClaudeModel,
    Geography,
    MissingPriceError,
    PriceOverride,
    UnknownModelError,
    geography_serves_region,
    max_output_tokens,
    model_prices,
    override_problems,
    resolve_model,
)
from claude_platform.function_settings import FunctionSettings
from claude_platform.limits import (
    FUNCTION_SAFETY_MARGIN_S,
    PLAUSIBLE_FIRST_TOKEN_S,
    PLAUSIBLE_OUTPUT_TOKENS_PER_S,
)
from claude_platform.naming import PROFILE_NAME_MAX, inference_profile_name
from claude_platform.prices import ModelPrices, PriceTier, RateCard

# AWS limits and formats the config is checked against.
PROFILE_NAME_RE = re.compile(r"^([0-9a-zA-Z][ _-]?)+$")  # AWS::Bedrock::ApplicationInferenceProfile
LAMBDA_UNRESERVED_MIN = 100  # Lambda keeps at least this much of the account's concurrency unreserved
PROJECT_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
PROJECT_NAME_MAX = 32
TAG_KEY_RE = re.compile(r"^[\w\s.:/=+\-@]{1,128}$")
TAG_VALUE_RE = re.compile(r"^[\w\s.:/=+\-@]{0,256}$")
MAX_USER_TAGS = 40  # 50 per resource, minus room for the cost tag and CDK/CloudFormation's own
EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
PRINCIPAL_ARN_RE = re.compile(
    r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:(root|role/[\w+=,.@/-]{1,512}|user/[\w+=,.@/-]{1,512})$"
)
REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
ACCOUNT_RE = re.compile(r"^\d{12}$")
CUR_EXPORT_REGION = "us-east-1"  # Billing and Cost Management Data Exports lives there
MAX_BUDGET_NOTIFICATIONS = 10  # AWS Budgets: notifications per budget
MAX_BUDGET_EMAIL_SUBSCRIBERS = 10  # AWS Budgets: email subscribers per notification
MAX_MODELS_PER_PROJECT = 8  # keeps the Lambda environment (4 KB) and the role policy small
# PROJECT_SETTINGS at its longest (profile ARNs resolved): with the function's other variables and
# a 200-byte margin it stays within Lambda's 4 KB for all environment variables together.
PROJECT_SETTINGS_MAX_BYTES = 3700
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _doc_default(text: str) -> dict[str, Any]:
    """`json_schema_extra` for a field whose default the config reference describes in words."""
    return {"doc_default": text}


class AlarmThresholds(_Strict):
    """Counts per 5-minute period, per inference profile, that page the project's alert topic."""

    throttles: Annotated[int, Field(ge=1, description="InvocationThrottles per profile")] = 10
    server_errors: Annotated[int, Field(ge=1, description="InvocationServerErrors per profile")] = 5
    client_errors: Annotated[int, Field(ge=1, description="InvocationClientErrors per profile")] = 25


URL_MAX = 128  # tracing URLs travel in the function's 4 KB environment
HTTPS_URL_RE = re.compile(r"^https://[A-Za-z0-9.-]+(:\d{1,5})?(/[\w.~%/-]*)?$")
LOCAL_HTTP_URL_RE = re.compile(r"^http://(127\.0\.0\.1|localhost)(:\d{1,5})?(/[\w.~%/-]*)?$")
# Full ARN, with the 6-character suffix Secrets Manager appends: IAM grants exactly that secret.
SECRET_ARN_RE = re.compile(
    r"^arn:aws(-cn|-us-gov)?:secretsmanager:[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,128}-[A-Za-z0-9]{6}$"
)
LANGFUSE_PUBLIC_KEY_RE = re.compile(r"^pk-[A-Za-z0-9_-]{1,61}$")


def _check_url(value: str) -> str:
    if len(value) > URL_MAX:
        raise ValueError(f"URL is longer than {URL_MAX} characters")
    if not (HTTPS_URL_RE.match(value) or LOCAL_HTTP_URL_RE.match(value)):
        raise ValueError(
            f"{value!r} must be an https:// URL without query or credentials (http:// only for localhost)"
        )
    return value


def _check_secret_arn(value: str) -> str:
    if not SECRET_ARN_RE.match(value):
        raise ValueError(
            f"{value!r} is not a full Secrets Manager secret ARN "
            "(arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6-char suffix>)"
        )
    return value


class LangfuseTracing(_Strict):
    """Langfuse (cloud or self-hosted): its OTLP ingestion endpoint, Basic auth with the key pair."""

    host: Annotated[
        str,
        Field(
            description="`https://` URL of the Langfuse server (`http://` only for localhost), at most 128 characters"
        ),
    ]
    public_key: Annotated[
        str, Field(description="the project's Langfuse public key (`pk-...`, not a secret)")
    ]
    secret_key_secret_arn: Annotated[
        str,
        Field(
            description=(
                "full ARN (with its 6-character suffix) of the Secrets Manager secret holding the Langfuse "
                'secret key: a plain string or `{"secret_key": "..."}`'
            )
        ),
    ]

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return _check_url(value.rstrip("/"))

    @field_validator("secret_key_secret_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        return _check_secret_arn(value)

    @field_validator("public_key")
    @classmethod
    def _public_key(cls, value: str) -> str:
        if not LANGFUSE_PUBLIC_KEY_RE.match(value):
            raise ValueError(f"{value!r} is not a Langfuse public key (pk-...)")
        return value


class OtlpTracing(_Strict):
    """Any OpenTelemetry backend over OTLP/HTTP (protobuf): the full traces URL, headers from a secret."""

    endpoint: Annotated[
        str, Field(description="full OTLP/HTTP traces URL, e.g. `https://collector:4318/v1/traces`")
    ]
    headers_secret_arn: Annotated[
        str | None,
        Field(
            description=(
                'full ARN of the secret holding the request headers: `{"x-api-key": "..."}` or `k=v,k2=v2`'
            ),
            json_schema_extra=_doc_default("none (no headers)"),
        ),
    ] = None

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return _check_url(value)

    @field_validator("headers_secret_arn")
    @classmethod
    def _arn(cls, value: str | None) -> str | None:
        return None if value is None else _check_secret_arn(value)


class TracingConfig(_Strict):
    """Opt-in per-call traces (one backend at most) and AWS X-Ray active tracing of the function."""

    langfuse: Annotated[
        LangfuseTracing | None,
        Field(
            description="send each call's trace to Langfuse (see `tracing.langfuse`)",
            json_schema_extra=_doc_default("off"),
        ),
    ] = None
    otlp: Annotated[
        OtlpTracing | None,
        Field(
            description="send each call's trace to an OTLP/HTTP endpoint (see `tracing.otlp`); not with `langfuse`",
            json_schema_extra=_doc_default("off"),
        ),
    ] = None
    xray: Annotated[
        bool,
        Field(
            description="AWS X-Ray active tracing, with subsegments for the ledger, Bedrock and the trace flush"
        ),
    ] = False
    flush_timeout_ms: Annotated[
        int, Field(ge=100, le=5000, description="the most a call waits for its trace to be sent (100-5000)")
    ] = 1000

    @model_validator(mode="after")
    def _one_backend(self) -> TracingConfig:
        if self.langfuse is not None and self.otlp is not None:
            raise ValueError("set either langfuse or otlp, not both (one trace backend per project)")
        return self

    @property
    def backend(self) -> str | None:
        """'langfuse', 'otlp' or None (no per-call traces)."""
        return "langfuse" if self.langfuse else "otlp" if self.otlp else None

    @property
    def secret_arns(self) -> tuple[str, ...]:
        """The secrets the function may read (and only these)."""
        arns = [self.langfuse.secret_key_secret_arn] if self.langfuse else []
        if self.otlp and self.otlp.headers_secret_arn:
            arns.append(self.otlp.headers_secret_arn)
        return tuple(arns)


MODEL_ALIAS_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$")
MAX_GATEWAY_MODEL_ALIASES = 16  # they travel in the function's 4 KB environment


class GatewayConfig(_Strict):
    """Opt-in HTTPS endpoint of a project: Messages and Chat Completions APIs, per-caller API keys."""

    enabled: Annotated[
        bool,
        Field(
            description=(
                "a second function behind a Lambda function URL (response streaming, Lambda Web Adapter) "
                "serving the Anthropic Messages and OpenAI Chat Completions APIs to callers with an API "
                "key (`claude-finops keys create`); see docs/deploy.md"
            )
        ),
    ] = False
    model_aliases: Annotated[
        dict[str, str],
        Field(
            description=(
                f"client model names (e.g. a client's default model) mapped to one of the project's "
                f"models (alias or base id), at most {MAX_GATEWAY_MODEL_ALIASES}"
            )
        ),
    ] = {}
    auth_failure_alarm_threshold: Annotated[
        int,
        Field(
            ge=1,
            description="refused API keys (missing, unknown, revoked) per 5 minutes that page the alert topic",
        ),
    ] = 20

    @field_validator("model_aliases")
    @classmethod
    def _aliases(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_GATEWAY_MODEL_ALIASES:
            raise ValueError(f"{len(value)} aliases, at most {MAX_GATEWAY_MODEL_ALIASES}")
        for name in value:
            if not MODEL_ALIAS_NAME_RE.match(name):
                raise ValueError(
                    f"{name!r} is not a model name (1-128 letters, digits and ._:/@-, starting with a letter or digit)"
                )
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
                "percent of the budget, each in (0, 1000], at most "
                f"{MAX_BUDGET_NOTIFICATIONS - 1} (plus the forecast alert at 100%: Budgets allows "
                f"{MAX_BUDGET_NOTIFICATIONS}); a change replaces the budget (new name)"
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
        Field(description="IAM principal ARNs (role, user, account root) allowed to invoke the function"),
    ] = []
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
            description="function timeout; must fit `max_tokens_limit` at 100 tokens/s (2 s + limit / 100 + 1 s)",
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
                "projects of a region together leave 100 of `lambda_concurrency_quota` unreserved"
            ),
            json_schema_extra=_doc_default("none (shares the unreserved pool)"),
        ),
    ] = None
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

    @field_validator("alert_thresholds")
    @classmethod
    def _thresholds(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("give at least one threshold (percent of the monthly budget)")
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
        for i, email in enumerate(value):
            if not EMAIL_RE.match(email):
                raise ValueError(f"[{i}] {email!r} is not an email address")
        if len(set(value)) != len(value):
            raise ValueError("emails must be distinct")
        return value

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
        # (lambda/claude_proxy/core.py RetryPolicy); a limit no request could use is a config error.
        seconds = PLAUSIBLE_FIRST_TOKEN_S + self.max_tokens_limit / PLAUSIBLE_OUTPUT_TOKENS_PER_S
        budget = self.lambda_timeout_seconds - FUNCTION_SAFETY_MARGIN_S
        if seconds > budget:
            fits = int((budget - PLAUSIBLE_FIRST_TOKEN_S) * PLAUSIBLE_OUTPUT_TOKENS_PER_S)
            need = int(seconds + FUNCTION_SAFETY_MARGIN_S + 0.999)
            raise ValueError(
                f"max_tokens_limit ({self.max_tokens_limit}) cannot plausibly be generated within "
                f"lambda_timeout_seconds ({self.lambda_timeout_seconds}) even at "
                f"{PLAUSIBLE_OUTPUT_TOKENS_PER_S:g} tokens/s; lower it to {fits} or raise the timeout to {need}"
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
        default tags (and one alarm threshold keeps the other defaults); lists replace.
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
        if isinstance(default, Mapping) and isinstance(value, Mapping):
            merged[key] = {**default, **value}
    return merged


# ---------------------------------------------------------------------------------------------
# What synthesis builds from: every model resolved to catalog entry, geography and price.


@dataclass(frozen=True)
class ProjectModel:
    """One allowed model of a project, resolved."""

    model: ClaudeModel
    geography: Geography
    prices: ModelPrices
    profile_name: str
    max_output_tokens: int | None

    @property
    def alias(self) -> str:
        """Short name used in resource names and requests."""
        return self.model.alias


@dataclass(frozen=True)
class Project:
    """A validated project with resolved models; what the project stack is built from."""

    config: ProjectConfig
    models: tuple[ProjectModel, ...]
    region: str

    @property
    def name(self) -> str:
        """The project name, also the cost-allocation tag value."""
        return self.config.name


@dataclass(frozen=True)
class Platform:
    """A validated config ready for synthesis."""

    config: PlatformConfig
    projects: tuple[Project, ...]

    @property
    def tag_key(self) -> str:
        """The cost-allocation tag key."""
        return self.config.cost_allocation_tag_key

    @property
    def home_region(self) -> str:
        """The top-level `region`: every project's default, and unsuffixed in names."""
        return self.config.region

    @property
    def regions(self) -> tuple[str, ...]:
        """Regions with at least one project, the home region first, then in order of appearance."""
        found = dict.fromkeys(p.region for p in self.projects)
        return tuple(sorted(found, key=lambda r: r != self.home_region))

    def projects_in(self, region: str) -> tuple[Project, ...]:
        """The projects deployed to `region`."""
        return tuple(p for p in self.projects if p.region == region)


class ConfigError(ValueError):
    """The config file has problems; `problems` holds one line per problem."""

    def __init__(self, problems: list[str], *, source: str = "config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(f"  - {p}" for p in problems))


def _location(loc: tuple[int | str, ...], raw: Mapping[str, Any]) -> str:
    """`projects[2] (name "foo").alert_emails` from a pydantic error location."""
    parts: list[str] = []
    i = 0
    while i < len(loc):
        part = loc[i]
        if part == "projects" and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            index = int(loc[i + 1])
            name = None
            projects = raw.get("projects")
            if isinstance(projects, list) and index < len(projects) and isinstance(projects[index], Mapping):
                name = projects[index].get("name")
            parts.append(f"projects[{index}]" + (f" ({name})" if isinstance(name, str) else ""))
            i += 2
            continue
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
        else:
            parts.append(str(part))
        i += 1
    return ".".join(parts) or "(top level)"


def _pydantic_problems(error: ValidationError, raw: Mapping[str, Any]) -> list[str]:
    problems = []
    for e in error.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see README 'Config reference')"
        elif e["type"] == "missing":
            message = "required field is missing"
        problems.append(f"{_location(loc, raw)}: {message}")
    return problems


def price_overrides(config: PlatformConfig) -> dict[str, PriceOverride]:
    """The config's `pricing` as catalog overrides: what synthesis prices with (the CLI's estimate too)."""
    return _price_overrides(config)


def _price_overrides(config: PlatformConfig) -> dict[str, PriceOverride]:
    def card(c: PriceOverrideConfig | PriceTierConfig) -> RateCard:
        return RateCard(c.input, c.output, c.cache_write, c.cache_read, c.cache_write_1h)

    return {
        key: PriceOverride(
            v.input,
            v.output,
            v.cache_write,
            v.cache_read,
            v.cache_write_1h,
            tiers=tuple(PriceTier(t.above_tokens, card(t)) for t in v.tiers),
        )
        for key, v in config.pricing.items()
    }


def _check_pricing_keys(config: PlatformConfig, overrides: Mapping[str, PriceOverride]) -> list[str]:
    """Each key names a catalog model (`<geo>.<base id>`, base id or alias) once, and prices its tiers."""
    problems = []
    geographies = {g.value for g in Geography if g is not Geography.NONE}
    all_geos: dict[str, str] = {}
    for key in config.pricing:
        prefix, _, rest = key.partition(".")
        per_geography = prefix in geographies and bool(rest)
        try:
            model = resolve_model(rest if per_geography else key)
        except UnknownModelError as e:
            problems.append(f"pricing.{key}: {e}")
            continue
        if per_geography:
            if rest != model.base_id:
                problems.append(
                    f"pricing.{key}: a per-geography key uses the base id: {prefix}.{model.base_id}"
                )
                continue
            if Geography(prefix) not in model.geographies:
                offered = ", ".join(sorted(g.value for g in model.geographies))
                problems.append(
                    f"pricing.{key}: {model.alias} is not offered in {prefix!r} (offered: {offered})"
                )
                continue
        elif model.base_id in all_geos:
            problems.append(
                f"pricing.{key}: {all_geos[model.base_id]!r} already prices {model.alias} for every geography"
            )
            continue
        else:
            all_geos[model.base_id] = key
        problems += [f"pricing.{key}: {p}" for p in override_problems(model, overrides[key])]
    return problems


def _resolve_project(
    index: int, project: ProjectConfig, config: PlatformConfig, overrides: dict[str, PriceOverride]
) -> tuple[Project | None, list[str]]:
    where = f"projects[{index}] ({project.name})"
    problems: list[str] = []
    region = project.region or config.region
    if not geography_serves_region(project.geography, region):
        problems.append(
            f"{where}.geography: {project.geography.value!r} profiles cannot be called from region {region}"
            + ("" if project.region else " (the top-level region; set the project's `region`)")
        )
    resolved: list[ProjectModel] = []
    seen: dict[str, int] = {}
    for j, ref in enumerate(project.models):
        field = f"{where}.models[{j}]"
        try:
            model = resolve_model(ref)
        except UnknownModelError as e:
            problems.append(f"{field}: {e}")
            continue
        if model.base_id in seen:
            problems.append(f"{field}: {ref!r} repeats models[{seen[model.base_id]}]")
            continue
        seen[model.base_id] = j
        if project.geography not in model.geographies:
            offered = ", ".join(sorted(g.value for g in model.geographies))
            problems.append(
                f"{field}: {model.alias} is not offered in geography {project.geography.value!r} (offered: {offered})"
            )
            continue
        try:
            prices = model_prices(model, project.geography, overrides)
        except MissingPriceError as e:
            problems.append(f"{field}: {e}")
            continue
        profile_name = inference_profile_name(config.name_prefix, project.name, model, project.geography)
        if len(profile_name) > PROFILE_NAME_MAX or not PROFILE_NAME_RE.match(profile_name):
            problems.append(
                f"{field}: profile name {profile_name!r} is not a valid inference profile name (<= {PROFILE_NAME_MAX} chars)"
            )
            continue
        limit = max_output_tokens(model)
        if limit is not None and project.max_tokens_limit > limit:
            problems.append(
                f"{where}.max_tokens_limit: {project.max_tokens_limit} exceeds {model.alias}'s output limit of {limit} tokens"
            )
        resolved.append(ProjectModel(model, project.geography, prices, profile_name, limit))
    names = {name for m in resolved for name in (m.alias, m.model.base_id)}
    for alias, target in project.gateway.model_aliases.items():
        field = f"{where}.gateway.model_aliases.{alias}"
        if alias in names:
            problems.append(f"{field}: {alias!r} is already one of the project's models; drop the alias")
        elif resolved and target not in names:
            problems.append(
                f"{field}: {target!r} is not one of the project's models ({', '.join(m.alias for m in resolved)})"
            )
    if config.cost_allocation_tag_key in project.tags:
        problems.append(
            f"{where}.tags: {config.cost_allocation_tag_key!r} is the cost-allocation tag key; it is set to the project name"
        )
    if not problems:
        size = settings_size_bytes(Project(project, tuple(resolved), region), region, config.name_prefix)
        if size > PROJECT_SETTINGS_MAX_BYTES:
            field = f"{where}.tracing" if _traced(project.tracing) else f"{where}.models"
            problems.append(
                f"{field}: the function's settings would take {size} bytes, over the {PROJECT_SETTINGS_MAX_BYTES} "
                "that fit Lambda's 4 KB environment; allow fewer models or gateway.model_aliases, or use shorter tracing URLs, keys or secret names"
            )
    return (Project(project, tuple(resolved), region) if not problems else None), problems


def _check_regional_quotas(config: PlatformConfig) -> list[str]:
    """Bedrock's profile quota and Lambda's concurrency are per account and region: check each region."""
    profiles: dict[str, int] = {}
    reserved: dict[str, int] = {}
    doubled: set[str] = set()
    for project in config.projects:
        region = project.region or config.region
        profiles[region] = profiles.get(region, 0) + len(project.models)
        # A project with the gateway has two functions, each reserving max_concurrency.
        functions = 2 if project.gateway.enabled else 1
        if project.gateway.enabled and project.max_concurrency:
            doubled.add(region)
        reserved[region] = reserved.get(region, 0) + (project.max_concurrency or 0) * functions
    problems = [
        f"projects: {count} inference profiles in {region} exceed inference_profile_quota "
        f"({config.inference_profile_quota}, per region); raise the Bedrock quota there first, then this setting"
        for region, count in profiles.items()
        if count > config.inference_profile_quota
    ]
    available = config.lambda_concurrency_quota - LAMBDA_UNRESERVED_MIN
    problems += [
        f"projects: max_concurrency of the projects in {region} "
        + ("(twice for a project with the gateway) " if region in doubled else "")
        + f"adds up to {total}, above "
        f"{available} (lambda_concurrency_quota {config.lambda_concurrency_quota} minus the "
        f"{LAMBDA_UNRESERVED_MIN} Lambda keeps unreserved); lower it or raise the Lambda quota, then "
        "lambda_concurrency_quota"
        for region, total in reserved.items()
        if total > available
    ]
    return problems


def load_config(raw: Any, *, source: str = "config") -> Platform:
    """Validate a parsed projects file; raise ConfigError listing every problem."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            [f"(top level): expected a mapping with region and projects, got {type(raw).__name__}"],
            source=source,
        )
    try:
        config = PlatformConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_pydantic_problems(e, raw), source=source) from None
    overrides = _price_overrides(config)
    problems = _check_pricing_keys(config, overrides)
    names: dict[str, int] = {}
    projects: list[Project] = []
    for i, project in enumerate(config.projects):
        if project.name in names:
            problems.append(
                f"projects[{i}] ({project.name}).name: duplicate of projects[{names[project.name]}]"
            )
            continue
        names[project.name] = i
        resolved, project_problems = _resolve_project(i, project, config, overrides)
        problems += project_problems
        if resolved:
            projects.append(resolved)
    problems += _check_regional_quotas(config)
    if problems:
        raise ConfigError(problems, source=source)
    return Platform(config, tuple(projects))


def _settings_prices(prices: ModelPrices) -> dict[str, Any]:
    """`prices.to_dict()`: the compact rate-list form, which `ModelPrices.from_dict` restores.

    8 models must fit Lambda's 4 KB environment (tests/infra checks the worst case).
    """
    return prices.to_dict()


def _traced(tracing: TracingConfig) -> bool:
    return tracing.backend is not None or tracing.xray


def _settings_tracing(tracing: TracingConfig) -> dict[str, Any]:
    """The function's `tracing` settings: only what is set (the 4 KB environment)."""
    return tracing.model_dump(mode="json", exclude_none=True)


def _partition(region: str) -> str:
    return "aws-us-gov" if region.startswith("us-gov-") else "aws-cn" if region.startswith("cn-") else "aws"


def settings_size_bytes(project: Project, region: str, name_prefix: str) -> int:
    """Bytes of PROJECT_SETTINGS once deployed: profile ARNs at their longest (12-character id), the
    ledger table and the alert topic ARN as synthesis names them (12-digit account)."""
    from claude_platform import naming  # naming imports this module

    partition = _partition(region)
    longest_arn = f"arn:{partition}:bedrock:{region}:123456789012:application-inference-profile/{'x' * 12}"
    topic = naming.alert_topic_name(name_prefix, project.name)
    settings = runtime_settings(
        project,
        {m.alias: longest_arn for m in project.models},
        ledger_table=naming.ledger_table_name(name_prefix),
        alert_topic_arn=f"arn:{partition}:sns:{region}:123456789012:{topic}",
    )
    return len(json.dumps(settings, separators=(",", ":")).encode())


def runtime_settings(
    project: Project,
    profile_arns: Mapping[str, str],
    *,
    ledger_table: str | None = None,
    alert_topic_arn: str | None = None,
) -> dict[str, Any]:
    """The project Lambda's PROJECT_SETTINGS (JSON): models with profile ARNs and prices, spend control.

    `profile_arns` maps model alias to the application inference profile ARN (a token at synthesis);
    `ledger_table` and `alert_topic_arn` may be tokens too.
    Each model's `prices` is `ModelPrices.to_dict()`: parse it with `ModelPrices.from_dict`.
    """
    config = project.config
    document = {
        "project": project.name,
        "default_model": project.models[0].alias,
        "max_tokens_default": config.max_tokens_default,
        "max_tokens_limit": config.max_tokens_limit,
        "log_prompts": config.log_prompts,
        **({"tracing": _settings_tracing(config.tracing)} if _traced(config.tracing) else {}),
        **(
            {
                "gateway": {
                    "model_aliases": dict(config.gateway.model_aliases),
                    **({"keys_table": ledger_table} if ledger_table else {}),
                }
            }
            if config.gateway.enabled
            else {}
        ),
        "models": [
            {
                "alias": m.alias,
                "base_id": m.model.base_id,
                "geography": m.geography.value,
                "profile_arn": profile_arns[m.alias],
                "prices": _settings_prices(m.prices),
            }
            for m in project.models
        ],
        "spend": {
            "enforcement": config.enforcement,
            "cap_usd": config.cap_usd,
            "alert_thresholds": list(config.alert_thresholds),
            **({"ledger_table": ledger_table} if ledger_table and config.enforcement != "off" else {}),
            **(
                {"stale_after_s": config.lambda_timeout_seconds + STALE_HOLD_GRACE_S}
                if config.enforcement != "off"
                else {}
            ),
            **(
                {"alert_topic_arn": alert_topic_arn}
                if alert_topic_arn and config.enforcement != "off"
                else {}
            ),
        },
    }
    _check_function_settings(document)
    return document


# A hold older than the function's timeout plus this cannot belong to a running invocation.
STALE_HOLD_GRACE_S = 60

# Values that may be CDK tokens at synthesis, and a stand-in of the right shape for each.
_TOKEN_STAND_INS = {
    "profile_arn": "arn:aws:bedrock:us-east-1:000000000000:application-inference-profile/synthesis",
    "alert_topic_arn": "arn:aws:sns:us-east-1:000000000000:synthesis",
}


def _with_token_stand_ins(value: Any, key: str | None = None) -> Any:
    if isinstance(value, Mapping):
        return {k: _with_token_stand_ins(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_token_stand_ins(v) for v in value]
    if isinstance(value, str) and "${Token[" in value and key in _TOKEN_STAND_INS:
        return _TOKEN_STAND_INS[key]
    return value


def _check_function_settings(document: Mapping[str, Any]) -> None:
    """What the stack writes must be what the function accepts: validate it with the function's model."""
    try:
        FunctionSettings.model_validate(json.loads(json.dumps(_with_token_stand_ins(document))))
    except ValidationError as exc:
        raise ValueError(
            f"PROJECT_SETTINGS for {document.get('project')!r} would be refused by the function: {exc}"
        ) from None
