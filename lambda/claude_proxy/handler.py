"""Lambda entry point: parse the event, call the core, shape the response, log and emit metrics."""

from __future__ import annotations

import contextlib
import os
import random
import time
from typing import TYPE_CHECKING, Any, Protocol

from claude_proxy import snapstart
from claude_proxy.core import InvokeResult, SpendLedger, invoke
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.llm import LiteLLMClient
from claude_proxy.observability import emit_metrics, log_outcome, logger
from claude_proxy.request import ClaudeRequest, parse_request
from claude_proxy.settings import DEFAULT_METRICS_NAMESPACE, Settings, SettingsError, load_settings
from claude_proxy.spend_wiring import ledger_for

if TYPE_CHECKING:  # imported lazily: only projects that turn tracing on load them
    from claude_proxy.tracing import CallTracer
    from claude_proxy.xray import XRay


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
_TRACING: dict[str, Any] = {}  # per container: the CallTracer and XRay of the project, if it has them


def _call_tracer(settings: Settings) -> CallTracer | None:
    """The project's per-call tracer (Langfuse/OTLP), built once; None when tracing is off."""
    tracing = settings.project.tracing
    if tracing is None or tracing.backend is None:
        return None
    key = f"calls:{tracing.model_dump_json()}:{settings.project.log_prompts}"
    if key not in _TRACING:
        from claude_proxy.tracing import CallTracer

        _TRACING[key] = CallTracer(
            tracing, project=settings.project.project, log_prompts=settings.project.log_prompts
        )
    return _TRACING[key]


def _xray(settings: Settings | None) -> XRay | None:
    """Powertools Tracer when the project turns X-Ray on; None otherwise."""
    if settings is None or settings.project.tracing is None or not settings.project.tracing.xray:
        return None
    if "xray" not in _TRACING:
        from claude_proxy.xray import XRay

        _TRACING["xray"] = XRay(settings.service_name)
    return _TRACING["xray"]


def _preload(environ: Any) -> None:
    """At init (and into a SnapStart snapshot): build what a traced project needs, off the call path."""
    try:
        settings = load_settings(environ)
    except SettingsError:
        return  # reported by the first invocation
    _xray(settings)  # Powertools Tracer and the X-Ray SDK
    _call_tracer(settings)  # the OTel SDK, the OTLP exporter and LiteLLM's callbacks (no network yet)


_preload(os.environ)


def _prepare_ledger() -> None:
    """Build the spend ledger's clients at init too; a bad configuration is reported per invocation."""
    with contextlib.suppress(Exception):  # the first invocation reports it as configuration_error
        ledger_for(load_settings(os.environ))


_prepare_ledger()


def _init_snapstart() -> dict[str, Any]:
    """Prime the first call's work and register SnapStart hooks; never fails init."""
    try:
        try:
            settings = load_settings(os.environ)
            model = settings.project.find_model(settings.project.default_model)
        except SettingsError:
            model = None  # reported on each invocation instead
        return snapstart.init(_LLM, model, resets=(ledger_for.cache_clear,))
    except Exception:
        logger.exception("priming failed (the first call will do the work)")
        return {"primed_s": None, "hooks": False}


_SNAPSTART = _init_snapstart()


def _failure(error: ProxyError, started: float, settings: Settings | None, request_id: str) -> InvokeResult:
    return InvokeResult(
        project=settings.project.project if settings else "",
        model=None,
        attempts=0,
        latency_ms=round((time.monotonic() - started) * 1000, 3),
        error=error,
        request_id=request_id,
    )


def _invoke(
    request: ClaudeRequest, settings: Settings, context: LambdaContext, request_id: str, ledger: SpendLedger
) -> InvokeResult:
    """The core call, with X-Ray subsegments around the ledger and each Bedrock attempt if enabled."""
    xray = _xray(settings)
    llm: Any = xray.llm(_LLM) if xray else _LLM
    ledger = xray.ledger(ledger) if xray else ledger
    with xray.subsegment("invoke") if xray else contextlib.nullcontext() as sub:
        result = invoke(
            request,
            settings=settings,
            llm=llm,
            clock=_CLOCK,
            remaining_ms=context.get_remaining_time_in_millis,
            rng=_RNG,
            request_id=request_id,
            ledger=ledger,
        )
        if xray is not None:
            xray.annotate(sub, result)
    return result


def _finish_trace(
    tracer: CallTracer,
    token: Any,
    result: InvokeResult,
    *,
    request: ClaudeRequest | None,
    request_id: str,
    settings: Settings | None,
) -> None:
    """Send the call's trace (bounded by flush_timeout_ms); a failure only logs and counts."""
    from claude_proxy.tracing import record_outcome

    try:
        xray = _xray(settings)
        if xray is None:
            outcome = tracer.finish(token, result, request=request, request_id=request_id)
        else:
            with xray.subsegment("trace_flush"):
                outcome = tracer.finish(token, result, request=request, request_id=request_id)
        record_outcome(
            tracer,
            outcome,
            request_id=request_id,
            namespace=settings.metrics_namespace if settings else DEFAULT_METRICS_NAMESPACE,
        )
    except Exception:
        logger.exception("could not send the trace", extra={"request_id": request_id})


def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Invoke Claude for one request; always returns the success or failure shape."""
    started = time.monotonic()
    request_id = str(getattr(context, "aws_request_id", "") or "")
    settings: Settings | None = None
    request: ClaudeRequest | None = None
    ledger = None
    tracer: CallTracer | None = None
    trace_token: Any = None
    try:
        settings = load_settings(os.environ)
        tracer = _call_tracer(settings)
        trace_token = tracer.begin() if tracer is not None else None
        request = parse_request(event)
        ledger = ledger_for(settings)
        ledger.errors = 0
        result = _invoke(request, settings, context, request_id, ledger)
    except SettingsError as exc:
        logger.error(
            "invalid function configuration", extra={"request_id": request_id, "error_message": str(exc)}
        )
        error = ProxyError(ErrorType.CONFIGURATION_ERROR, str(exc), retryable=False)
        result = _failure(error, started, None, request_id)
    except ProxyError as err:
        result = _failure(err, started, settings, request_id)
    except Exception:
        logger.exception("unexpected error", extra={"request_id": request_id})
        error = ProxyError(
            ErrorType.INTERNAL_ERROR, f"internal error (request id {request_id})", retryable=False
        )
        result = _failure(error, started, settings, request_id)
    if tracer is not None:
        _finish_trace(tracer, trace_token, result, request=request, request_id=request_id, settings=settings)
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
