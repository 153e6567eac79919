"""Structured logs and EMF metrics for one invocation. Prompt and completion text only if log_prompts."""

from __future__ import annotations

import os
import sys
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from claude_proxy.core import InvokeResult
from claude_proxy.errors import ErrorType
from claude_proxy.request import ClaudeRequest
from claude_proxy.settings import DEFAULT_METRICS_NAMESPACE, DEFAULT_SERVICE_NAME

UNKNOWN = "unknown"


class _Stdout:
    """sys.stdout looked up at each write (so test capture and Lambda both see the lines)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE_NAME, stream=_Stdout())


def _without_media(value: Any) -> Any:
    """A dumped request with base64 image/PDF data replaced by its size (logs stay small)."""
    if isinstance(value, dict):
        if value.get("type") == "base64" and isinstance(value.get("data"), str):
            return {**value, "data": f"<{len(value['data']) * 3 // 4} bytes>"}
        return {k: _without_media(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_media(v) for v in value]
    return value


def _prompt_fields(request: ClaudeRequest | None) -> dict[str, Any]:
    if request is None:
        return {}
    dumped = request.model_dump(mode="json", include={"system", "messages", "tools"}, exclude_none=True)
    return {
        "system": dumped.get("system"),
        "messages": _without_media(dumped["messages"]),
        **({"tools": dumped["tools"]} if "tools" in dumped else {}),
    }


def log_outcome(
    result: InvokeResult,
    *,
    request: ClaudeRequest | None,
    request_id: str,
    log_prompts: bool,
    caller: str | None = None,
) -> None:
    """One structured line per invocation (`caller`: the API key's name on the HTTPS endpoint)."""
    fields: dict[str, Any] = {
        "project": result.project,
        "model": result.model,
        "request_id": request_id,
        "attempts": result.attempts,
        "latency_ms": result.latency_ms,
        "caller_tags": dict(request.tags) if request is not None else {},
        "budget": result.budget,
    }
    if caller is not None:
        fields["caller"] = caller
    if result.estimated_charge_usd:
        fields["estimated_charge_usd"] = result.estimated_charge_usd
    if result.error is None:
        fields |= {
            "input_tokens": result.usage.input_tokens,
            "output_tokens": result.usage.output_tokens,
            "cache_read_input_tokens": result.usage.cache_read_input_tokens,
            "cache_write_input_tokens": result.usage.cache_write_input_tokens,
            "cost_usd": result.cost_usd,
            "stop_reason": result.stop_reason,
            "bedrock_request_id": result.upstream_request_id,
        }
        if result.guardrail is not None:  # action, policy types, units, cost: never the matched text
            fields["guardrail"] = result.guardrail
    else:
        fields |= {
            "error_type": result.error.error_type.value,
            "error_message": result.error.log_message(log_prompts=log_prompts),
            "retryable": result.error.retryable,
        }
    if log_prompts:
        fields |= _prompt_fields(request)
        if result.error is None:
            fields["completion"] = result.content
            fields["completion_blocks"] = result.content_blocks
    if result.error is None:
        logger.info("claude request served", extra=fields)
    else:
        logger.warning("claude request failed", extra=fields)


def emit_metrics(
    result: InvokeResult,
    *,
    namespace: str = DEFAULT_METRICS_NAMESPACE,
    ledger_errors: int = 0,
    caller: str | None = None,
) -> None:
    """EMF, dimension sets [project, model] and [project]; per-error-type Errors in its own blob.

    The error blob has sets [project, model, error_type] and [project, error_type] (alarm on the latter:
    errors before model resolution carry model "unknown"). With `caller` (an API key's name), one more
    blob with [project, api_key]: Requests, Errors, CostUSD, EstimatedCostUSD and SpendUSD per key.

    `SpendUSD` is CostUSD plus EstimatedCostUSD of the same call (what the ledger counts), so one
    metric ranks projects and keys by spend (the region dashboard's Metrics Insights queries).
    """
    model = result.model or UNKNOWN
    project = result.project or UNKNOWN
    metrics = EphemeralMetrics(namespace=namespace, service="")
    metrics.add_dimension(name="project", value=project)
    metrics.add_dimension(name="model", value=model)
    metrics.add_dimensions(project=project)
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=0 if result.ok else 1)
    metrics.add_metric(name="LatencyMs", unit=MetricUnit.Milliseconds, value=result.latency_ms)
    refused = result.error is not None and result.error.error_type is ErrorType.BUDGET_EXCEEDED
    metrics.add_metric(name="BudgetRefusals", unit=MetricUnit.Count, value=1 if refused else 0)
    metrics.add_metric(name="LedgerErrors", unit=MetricUnit.Count, value=ledger_errors)
    if result.estimated_charge_usd:
        metrics.add_metric(name="EstimatedCostUSD", unit=MetricUnit.NoUnit, value=result.estimated_charge_usd)
    metrics.add_metric(name="SpendUSD", unit=MetricUnit.NoUnit, value=_spend(result))
    if result.ok:
        usage = result.usage
        metrics.add_metric(name="CostUSD", unit=MetricUnit.NoUnit, value=result.cost_usd)
        metrics.add_metric(name="InputTokens", unit=MetricUnit.Count, value=usage.input_tokens)
        metrics.add_metric(name="OutputTokens", unit=MetricUnit.Count, value=usage.output_tokens)
        metrics.add_metric(
            name="CacheReadInputTokens", unit=MetricUnit.Count, value=usage.cache_read_input_tokens
        )
        metrics.add_metric(
            name="CacheWriteInputTokens", unit=MetricUnit.Count, value=usage.cache_write_input_tokens
        )
    metrics.flush_metrics()
    if result.error is not None:
        per_type = EphemeralMetrics(namespace=namespace, service="")
        per_type.add_dimension(name="project", value=project)
        per_type.add_dimension(name="model", value=model)
        per_type.add_dimension(name="error_type", value=result.error.error_type.value)
        per_type.add_dimensions(project=project, error_type=result.error.error_type.value)
        per_type.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
        per_type.flush_metrics()
    if caller is not None:
        _emit_caller_metrics(result, namespace=namespace, project=project, caller=caller)
    if result.guardrail is not None:
        _emit_guardrail_metrics(result.guardrail, namespace=namespace, project=project)


def _emit_guardrail_metrics(guardrail: dict[str, Any], *, namespace: str, project: str) -> None:
    """GuardrailCostUSD per project; GuardrailInterventions per [project] and [project, policy] (policy type that acted)."""
    totals = EphemeralMetrics(namespace=namespace, service="")
    totals.add_dimension(name="project", value=project)
    totals.add_metric(
        name="GuardrailCostUSD", unit=MetricUnit.NoUnit, value=float(guardrail.get("cost_usd") or 0.0)
    )
    totals.add_metric(
        name="GuardrailInterventions", unit=MetricUnit.Count, value=1 if guardrail.get("intervened") else 0
    )
    totals.flush_metrics()
    if not guardrail.get("intervened"):
        return
    for policy in guardrail.get("policies") or [UNKNOWN]:
        per_policy = EphemeralMetrics(namespace=namespace, service="")
        per_policy.add_dimension(name="project", value=project)
        per_policy.add_dimension(name="policy", value=str(policy))
        per_policy.add_metric(name="GuardrailInterventions", unit=MetricUnit.Count, value=1)
        per_policy.flush_metrics()


def _emit_caller_metrics(result: InvokeResult, *, namespace: str, project: str, caller: str) -> None:
    per_key = EphemeralMetrics(namespace=namespace, service="")
    per_key.add_dimension(name="project", value=project)
    per_key.add_dimension(name="api_key", value=caller)
    per_key.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    per_key.add_metric(name="Errors", unit=MetricUnit.Count, value=0 if result.ok else 1)
    per_key.add_metric(name="CostUSD", unit=MetricUnit.NoUnit, value=result.cost_usd if result.ok else 0.0)
    if result.estimated_charge_usd:
        per_key.add_metric(name="EstimatedCostUSD", unit=MetricUnit.NoUnit, value=result.estimated_charge_usd)
    per_key.add_metric(name="SpendUSD", unit=MetricUnit.NoUnit, value=_spend(result))
    per_key.flush_metrics()


def _spend(result: InvokeResult) -> float:
    """Exact cost of a served call plus the worst-case charge of an unknown outcome."""
    return (result.cost_usd if result.ok else 0.0) + (result.estimated_charge_usd or 0.0)
