"""Lambda entry point: parse the event, call the core, shape the response, log and emit metrics."""

from __future__ import annotations

import os
import random
import time
from typing import Any, Protocol

from claude_proxy.core import InvokeResult, NullLedger, invoke
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.llm import LiteLLMClient
from claude_proxy.observability import emit_metrics, log_outcome, logger
from claude_proxy.request import ClaudeRequest, parse_request
from claude_proxy.settings import DEFAULT_METRICS_NAMESPACE, Settings, SettingsError, load_settings


class LambdaContext(Protocol):
    """The parts of the Lambda context object we use."""

    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds before the invocation times out."""
        ...


class SystemClock:
    """Real time."""

    def monotonic(self) -> float:
        """time.monotonic()."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """time.sleep()."""
        time.sleep(seconds)


_CLOCK = SystemClock()
_RNG = random.SystemRandom()
_LEDGER = NullLedger()
_LLM = LiteLLMClient()


def _handle(
    event: Any, context: LambdaContext, started: float
) -> tuple[InvokeResult, Settings | None, ClaudeRequest | None]:
    def failed(error: ProxyError, project: str = "", model: str | None = None) -> InvokeResult:
        latency_ms = round((time.monotonic() - started) * 1000, 3)
        return InvokeResult(project=project, model=model, attempts=0, latency_ms=latency_ms, error=error)

    try:
        settings = load_settings(os.environ)
    except SettingsError as exc:
        logger.error(
            "configuration error",
            extra={"error_type": ErrorType.CONFIGURATION_ERROR.value, "error_message": str(exc)},
        )
        return failed(ProxyError(ErrorType.CONFIGURATION_ERROR, str(exc), retryable=False)), None, None
    try:
        request = parse_request(event)
    except ProxyError as err:
        return failed(err, settings.project.project), settings, None
    result = invoke(
        request,
        settings=settings,
        llm=_LLM,
        clock=_CLOCK,
        remaining_ms=context.get_remaining_time_in_millis,
        rng=_RNG,
        request_id=context.aws_request_id,
        ledger=_LEDGER,
    )
    return result, settings, request


def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Invoke Claude for one request; always returns the success or failure shape."""
    started = time.monotonic()
    request_id = str(getattr(context, "aws_request_id", ""))
    settings: Settings | None = None
    request: ClaudeRequest | None = None
    try:
        result, settings, request = _handle(event, context, started)
    except Exception:
        logger.exception(
            "unexpected error", extra={"request_id": request_id, "error_type": ErrorType.INTERNAL_ERROR.value}
        )
        error = ProxyError(
            ErrorType.INTERNAL_ERROR, f"internal error (request id {request_id})", retryable=False
        )
        project = settings.project.project if settings else ""
        result = InvokeResult(
            project=project,
            model=None,
            attempts=0,
            latency_ms=(time.monotonic() - started) * 1000,
            error=error,
        )
    try:
        log_outcome(
            result,
            request=request,
            request_id=request_id,
            log_prompts=bool(settings and settings.project.log_prompts),
        )
        emit_metrics(
            result,
            namespace=settings.metrics_namespace
            if settings
            else os.environ.get("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_METRICS_NAMESPACE),
        )
    except Exception:
        logger.exception("could not record the outcome", extra={"request_id": request_id})
    return result.to_response()
