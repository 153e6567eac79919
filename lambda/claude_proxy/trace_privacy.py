"""What of a span may leave the function: an allowlist of attribute keys, applied to every exported span.

Without `log_prompts`, a span keeps only the attributes named here (ours, and the LiteLLM ones
that carry ids, model names, token counts, cost and error classes); everything else is dropped,
whatever LiteLLM adds in a later version: messages, system, tool definitions and schemas
(`llm.tools.*`), tool inputs and results, `llm.invocation_parameters` (stop sequences, tools),
LiteLLM's `metadata` and `hidden_params`, error messages (Bedrock's can quote the request) and
stack traces (file paths). Events keep only an exception's type; an error status keeps only a
class name. With `log_prompts` the span goes out as LiteLLM and the root wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Status

OURS = "claude_proxy."
ALLOWED_KEYS = frozenset(
    {
        # the root span (claude_proxy.tracing)
        *(
            OURS + k
            for k in (
                "project",
                "model",
                "profile_arn",
                "request_id",
                "bedrock_request_id",
                "attempts",
                "latency_ms",
                "ok",
                "error_type",
                "cost_usd",
                "estimated_charge_usd",
                "input_tokens",
                "output_tokens",
                "cache_read_input_tokens",
                "cache_write_input_tokens",
                "stop_reason",
                "attempt",
                "attempt_cost_usd",
                "attempt_estimated",
            )
        ),
        "langfuse.trace.name",
        "langfuse.trace.tags",
        "langfuse.observation.type",
        "langfuse.observation.level",
        "langfuse.observation.cost_details",
        "langfuse.observation.usage_details",
        "langfuse.observation.completion_start_time",
        "user.id",
        "session.id",
        # OpenTelemetry GenAI conventions (LiteLLM's `otel` spans and our root)
        "gen_ai.system",
        "gen_ai.operation.name",
        "gen_ai.request.model",
        "gen_ai.request.max_tokens",
        "gen_ai.request.temperature",
        "gen_ai.request.top_p",
        "gen_ai.response.model",
        "gen_ai.response.id",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.total_tokens",
        "gen_ai.usage.cost",
        "gen_ai.cost.total_cost",
        # OpenInference keys of LiteLLM's `langfuse_otel` spans
        "openinference.span.kind",
        "llm.model_name",
        "llm.provider",
        "llm.is_streaming",
        "llm.request.type",
        "llm.request.max_tokens",
        "llm.response.id",
        "llm.response.model",
        "llm.cost.total",
        "llm.response.cost",
        "llm.token_count.prompt",
        "llm.token_count.completion",
        "llm.token_count.total",
        "llm.token_count.prompt_details.cache_read",
        "llm.token_count.prompt_details.cache_write",
        # LiteLLM's ids and error classes
        "litellm.call_id",
        "litellm.trace_id",
        "litellm.cache_hit",
        "litellm.provider.model",
        "error.type",
        "error.code",
        "error.llm_provider",
        "http.response.status_code",
    }
)
ALLOWED_PREFIXES = (
    OURS + "tag.",  # the caller's tags: metadata they chose to send, validated as such
    "langfuse.trace.metadata.",  # ours and the caller's tags (claude_proxy.tracing)
)
ALLOWED_EVENT_ATTRIBUTES = {"exception": frozenset({"exception.type"})}
_CLASS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$")


def allowed(key: str) -> bool:
    """Whether an attribute key may be exported without log_prompts."""
    return key in ALLOWED_KEYS or key.startswith(ALLOWED_PREFIXES)


def filter_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Only the allowlisted attributes."""
    return {k: v for k, v in (attributes or {}).items() if allowed(k)}


def _status(span: ReadableSpan, attributes: Mapping[str, Any]) -> Status:
    """An error status keeps a class name (ours: the error type), never a message."""
    status = span.status
    description = status.description or ""
    if not description or _CLASS_NAME.match(description):
        return status
    return Status(status.status_code, str(attributes.get("error.type") or "error"))


def _events(span: ReadableSpan) -> tuple[Event, ...]:
    kept = []
    for event in span.events:
        keys = ALLOWED_EVENT_ATTRIBUTES.get(event.name)
        if keys is None:
            continue
        attributes = {k: v for k, v in (event.attributes or {}).items() if k in keys}
        kept.append(Event(event.name, attributes=attributes, timestamp=event.timestamp))
    return tuple(kept)


def exported_span(
    span: ReadableSpan, *, log_prompts: bool, extra: Mapping[str, Any] | None = None
) -> ReadableSpan:
    """The span as it may leave: `extra` attributes set, and without log_prompts only allowlisted data."""
    attributes = {**(span.attributes or {}), **(extra or {})}
    events: tuple[Event, ...] = tuple(span.events)
    status = span.status
    if not log_prompts:
        attributes = filter_attributes(attributes)
        events = _events(span)
        status = _status(span, attributes)
    elif not extra:
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
