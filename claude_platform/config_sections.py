"""Parts of the platform config: AWS limits and formats it is checked against, and the sections a
project or the platform may carry (alarm thresholds, tracing, the HTTPS gateway)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
# What `alert_thresholds` are percent of, said once (config reference, README, errors).
ALERT_THRESHOLDS_MEANING = (
    "percent: the ledger's real-time alerts to the project's topic are percent of the cap "
    "(`spend_cap_usd`, else `monthly_budget_usd`), the AWS Budget's ACTUAL alerts the same numbers "
    "as percent of `monthly_budget_usd`"
)
MAX_BUDGET_EMAIL_SUBSCRIBERS = 10  # AWS Budgets: email subscribers per notification
MAX_OPERATIONS_EMAILS = 10  # ours: the operations topic is for the few people who run the platform
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
KMS_KEY_ARN_RE = re.compile(
    r"^arn:aws(-cn|-us-gov)?:kms:[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:key/"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$"
)


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
    secrets_kms_key_arn: Annotated[
        str | None,
        Field(
            description=(
                "key ARN (`arn:aws:kms:<region>:<account>:key/<id>`, not an alias) of the customer-managed "
                "KMS key the trace secret is encrypted with; the function may then decrypt with it only "
                "through Secrets Manager, only for its trace secrets. Without it, such a secret cannot be read"
            ),
            json_schema_extra=_doc_default("none (the secrets use `aws/secretsmanager`)"),
        ),
    ] = None

    @field_validator("secrets_kms_key_arn")
    @classmethod
    def _key_arn(cls, value: str | None) -> str | None:
        if value is not None and not KMS_KEY_ARN_RE.match(value):
            raise ValueError(
                f"{value!r} is not a KMS key ARN (arn:aws:kms:<region>:<12-digit account>:key/<key id>; "
                "IAM cannot grant decrypt on an alias)"
            )
        return value

    @model_validator(mode="after")
    def _key_with_its_secrets(self) -> TracingConfig:
        key = self.secrets_kms_key_arn
        if key is None:
            return self
        if not self.secret_arns:
            raise ValueError(
                "secrets_kms_key_arn is set but no trace secret is: remove it or name the secret"
            )
        key_region = key.split(":")[3]
        for arn in self.secret_arns:
            if arn.split(":")[3] != key_region:
                raise ValueError(
                    f"secrets_kms_key_arn is in {key_region} but the secret {arn!r} is not: a secret is "
                    "encrypted with a key of its own region"
                )
        return self

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
