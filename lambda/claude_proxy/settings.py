"""The Lambda's configuration: PROJECT_SETTINGS (claude_platform.function_settings) plus AWS/Powertools env vars."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from claude_platform.function_settings import PROJECT_SETTINGS_ENV, FunctionSettings

DEFAULT_METRICS_NAMESPACE = "ClaudePlatform"
DEFAULT_SERVICE_NAME = "claude_proxy"
# Endpoint overrides, highest precedence first. LiteLLM itself reads only the first one.
ENDPOINT_ENV_VARS = ("AWS_BEDROCK_RUNTIME_ENDPOINT", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL")


class SettingsError(ValueError):
    """The function's configuration is missing or invalid (a deployment problem, not the caller's)."""


class Settings(BaseModel):
    """Everything the function needs from its environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project: FunctionSettings
    region: str = Field(min_length=1)
    bedrock_endpoint: str | None = None
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE
    service_name: str = DEFAULT_SERVICE_NAME


def resolve_bedrock_endpoint(environ: Mapping[str, str]) -> str | None:
    """Bedrock runtime endpoint override: AWS_BEDROCK_RUNTIME_ENDPOINT > ..._BEDROCK_RUNTIME > AWS_ENDPOINT_URL."""
    for name in ENDPOINT_ENV_VARS:
        value = (environ.get(name) or "").strip()
        if value:
            return value
    return None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else str(err["msg"]))
    return "; ".join(parts)


@lru_cache(maxsize=8)
def _parse(raw: str | None, region: str, endpoint: str | None, namespace: str, service: str) -> Settings:
    if not raw:
        raise SettingsError(f"{PROJECT_SETTINGS_ENV} is not set")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise SettingsError(f"{PROJECT_SETTINGS_ENV} is not valid JSON: {exc}") from None
    if not region:
        raise SettingsError("AWS_REGION is not set")
    try:
        return Settings(
            project=FunctionSettings.model_validate(data),
            region=region,
            bedrock_endpoint=endpoint,
            metrics_namespace=namespace,
            service_name=service,
        )
    except ValidationError as exc:
        raise SettingsError(f"{PROJECT_SETTINGS_ENV} is invalid: {_describe(exc)}") from None


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Settings from an environment mapping; parsed once per distinct environment. Raises SettingsError."""
    return _parse(
        environ.get(PROJECT_SETTINGS_ENV),
        environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "",
        resolve_bedrock_endpoint(environ),
        environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE,
        environ.get("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE_NAME,
    )
