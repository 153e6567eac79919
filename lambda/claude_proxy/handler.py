"""Lambda entry point: parse the event, call the core, shape the response, log and emit metrics."""

from __future__ import annotations

import contextlib
import os
import random
import time
from typing import Any, Protocol

from claude_proxy.core import InvokeResult, invoke
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.llm import LiteLLMClient
from claude_proxy.observability import emit_metrics, log_outcome, logger
from claude_proxy.request import ClaudeRequest, parse_request
from claude_proxy.settings import DEFAULT_METRICS_NAMESPACE, Settings, SettingsError, load_settings
from claude_proxy.spend_wiring import ledger_for


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
_LLM = LiteLLMClient()  # imports and tunes LiteLLM at init, outside the invocation's time budget


def _prepare_ledger() -> None:
    """Build the spend ledger's clients at init too; a bad configuration is reported per invocation."""
    with contextlib.suppress(Exception):  # the first invocation reports it as configuration_error
        ledger_for(load_settings(os.environ))


_prepare_ledger()


def _failure(error: ProxyError, started: float, settings: Settings | None) -> InvokeResult:
    return InvokeResult(
        project=settings.project.project if settings else "",
        model=None,
        attempts=0,
        latency_ms=round((time.monotonic() - started) * 1000, 3),
        error=error,
    )


def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Invoke Claude for one request; always returns the success or failure shape."""
    started = time.monotonic()
    request_id = str(getattr(context, "aws_request_id", "") or "")
    settings: Settings | None = None
    request: ClaudeRequest | None = None
    ledger = None
    try:
        settings = load_settings(os.environ)
        request = parse_request(event)
        ledger = ledger_for(settings)
        ledger.errors = 0
        result = invoke(
            request,
            settings=settings,
            llm=_LLM,
            clock=_CLOCK,
            remaining_ms=context.get_remaining_time_in_millis,
            rng=_RNG,
            request_id=request_id,
            ledger=ledger,
        )
    except SettingsError as exc:
        logger.error(
            "invalid function configuration", extra={"request_id": request_id, "error_message": str(exc)}
        )
        error = ProxyError(ErrorType.CONFIGURATION_ERROR, str(exc), retryable=False)
        result = _failure(error, started, None)
    except ProxyError as err:
        result = _failure(err, started, settings)
    except Exception:
        logger.exception("unexpected error", extra={"request_id": request_id})
        error = ProxyError(
            ErrorType.INTERNAL_ERROR, f"internal error (request id {request_id})", retryable=False
        )
        result = _failure(error, started, settings)
    try:
        log_outcome(
            result,
            request=request,
            request_id=request_id,
            log_prompts=bool(settings and settings.project.log_prompts),
        )
        namespace = (
            settings.metrics_namespace
            if settings
            else os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE
        )
        emit_metrics(result, namespace=namespace, ledger_errors=ledger.errors if ledger else 0)
    except Exception:
        logger.exception("could not record the outcome", extra={"request_id": request_id})
    return result.to_response()
