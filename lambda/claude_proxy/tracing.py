"""Per-call traces to Langfuse or any OTLP/HTTP backend, through LiteLLM's own OpenTelemetry callbacks.

Imported only when the project sets `tracing.langfuse` or `tracing.otlp` (the handler imports it
lazily), so projects without traces load none of it.

Per invocation: a root span `claude_proxy.invoke` carries what only we know (project, model alias,
profile ARN, caller tags, our cost, tokens, attempts, error type, latency); LiteLLM's callback
(`LangfuseOtelLogger` for Langfuse, `OpenTelemetry` for OTLP) records each Bedrock attempt as a
child generation span from LiteLLM's own logging payload, with the cost replaced by ours (LiteLLM's
price lookup does not know profile ARNs, regional premiums or config overrides). LiteLLM hands its
success logging to a thread pool; here that pool defers the task until our cost is known, then it
runs in the handler's thread. Spans are exported by a BatchSpanProcessor and flushed before the
handler returns (Lambda freezes the process afterwards), bounded by `flush_timeout_ms`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import litellm
from litellm import utils as litellm_utils
from litellm.integrations.langfuse.langfuse_otel import LangfuseOtelLogger
from litellm.integrations.opentelemetry import OpenTelemetry, OpenTelemetryConfig
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Span, Status, StatusCode

from claude_platform.function_settings import TracingSettings
from claude_proxy.core import InvokeResult
from claude_proxy.request import ClaudeRequest
from claude_proxy.trace_privacy import exported_span

ROOT_SPAN_NAME = "claude_proxy.invoke"
SERVICE_NAME = "claude-proxy"
PREFIX = "claude_proxy."
# LiteLLM's callback registries: `callbacks` is spread into the others on the first call.
CALLBACK_LISTS = (
    "callbacks",
    "success_callback",
    "failure_callback",
    "input_callback",
    "_async_success_callback",
    "_async_failure_callback",
    "_async_input_callback",
)
SECRET_RETRY_S = 300.0  # a secret that could not be read is retried after this long, not per call

_log = logging.getLogger(__name__)
# The exporter logs every retry and failure; a lost trace gets one warning of ours instead
# (record_outcome), so a dead backend does not flood the function's logs.
for _name in (
    "opentelemetry.exporter",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.sdk._shared_internal",
):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# --- secrets ----------------------------------------------------------------------------------


class SecretReader(Protocol):
    """Reads a secret's string value."""

    def __call__(self, arn: str) -> str:
        """SecretString of `arn`."""
        ...


def read_secret(arn: str) -> str:
    """SecretString from Secrets Manager, in the secret's own region."""
    import boto3  # the Lambda runtime's; only traced projects get here

    region = arn.split(":")[3]
    client = boto3.client("secretsmanager", region_name=region)
    value = client.get_secret_value(SecretId=arn).get("SecretString")
    if not isinstance(value, str) or not value:
        raise ValueError("the secret has no SecretString")
    return value


def _secret_field(raw: str, key: str) -> str:
    """A plain-string secret, or `key` of a JSON-object secret."""
    text = raw.strip()
    if text.startswith("{"):
        data = json.loads(text)
        value = data.get(key) if isinstance(data, dict) else None
        if not isinstance(value, str) or not value:
            raise ValueError(f"the secret is a JSON object without a string {key!r}")
        return value
    return text


def _secret_headers(raw: str) -> dict[str, str]:
    """OTLP headers: a JSON object of strings, or `k=v,k2=v2` (OTEL_EXPORTER_OTLP_HEADERS style)."""
    text = raw.strip()
    if text.startswith("{"):
        data = json.loads(text)
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise ValueError("the headers secret must be a JSON object of strings")
        return dict(data)
    return OpenTelemetry._get_headers_dictionary(text)


# --- LiteLLM plumbing -------------------------------------------------------------------------


@dataclass
class _Invocation:
    """What one traced invocation collects."""

    root: Span
    deferred: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    cost_usd: float | None = None
    ended: list[ReadableSpan] = field(default_factory=list)  # held until the attempts' charges are known


_ACTIVE: contextvars.ContextVar[_Invocation | None] = contextvars.ContextVar(
    "claude_proxy_trace", default=None
)


class _DeferringExecutor:
    """Stands in for LiteLLM's logging thread pool: keeps a traced invocation's success logging
    until our cost is known (it runs in the handler's thread); drops it otherwise (as llm.tune does)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        """Defer the task to the active invocation, or drop it."""
        invocation = _ACTIVE.get()
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        if invocation is not None:
            invocation.deferred.append((fn, args, kwargs))
        future.cancel()
        return future


def _with_our_cost(kwargs: dict[str, Any], invocation: _Invocation) -> None:
    """Hang LiteLLM's span under our root span and replace LiteLLM's price with ours."""
    params = kwargs.get("litellm_params")
    if isinstance(params, dict):
        params["metadata"] = {**(params.get("metadata") or {}), "litellm_parent_otel_span": invocation.root}
    if invocation.cost_usd is None:
        return
    kwargs["response_cost"] = invocation.cost_usd
    payload = kwargs.get("standard_logging_object")
    if isinstance(payload, dict):
        payload["response_cost"] = invocation.cost_usd
        payload["response_cost_failure_debug_info"] = None
        payload["cost_breakdown"] = {"total_cost": invocation.cost_usd}
        hidden = payload.get("hidden_params")
        if isinstance(hidden, dict):
            payload["hidden_params"] = {**hidden, "response_cost": invocation.cost_usd}


def _preset_cost(args: tuple[Any, ...], cost: float) -> None:
    """LiteLLM's success logging takes `_hidden_params["response_cost"]` of the response when set,
    instead of looking up its own price (ms per call): the response is among the task's arguments."""
    for arg in args:
        hidden = getattr(arg, "_hidden_params", None)
        if isinstance(hidden, dict):
            hidden["response_cost"] = cost


class _OurCost:
    """Mixin for LiteLLM's OTel loggers: events of a traced invocation only, with our cost."""

    def log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        invocation = _ACTIVE.get()
        if invocation is None:
            return
        _with_our_cost(kwargs, invocation)
        super().log_success_event(kwargs, response_obj, start_time, end_time)  # type: ignore[misc]

    def log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        invocation = _ACTIVE.get()
        if invocation is None:
            return
        _with_our_cost(kwargs, invocation)
        super().log_failure_event(kwargs, response_obj, start_time, end_time)  # type: ignore[misc]


class _LangfuseLogger(_OurCost, LangfuseOtelLogger):
    """LiteLLM's `langfuse_otel` callback, fed per invocation."""


class _OtlpLogger(_OurCost, OpenTelemetry):
    """LiteLLM's `otel` callback, fed per invocation."""


class _RecordingExporter(SpanExporter):
    """Delegates to the OTLP exporter; remembers whether the last export failed."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.failures = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception:
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self.failures += 1
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


class _SpanGate(SpanProcessor):
    """Holds a traced invocation's ended spans until `release` (its charges known, text filtered);
    any other span is filtered and passed on at once. In front of the BatchSpanProcessor."""

    def __init__(self, batch: BatchSpanProcessor, *, log_prompts: bool) -> None:
        self.batch = batch
        self.log_prompts = log_prompts

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.batch.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        invocation = _ACTIVE.get()
        if invocation is not None:
            invocation.ended.append(span)
            return
        self.batch.on_end(exported_span(span, log_prompts=self.log_prompts))

    def release(self, spans: Sequence[ReadableSpan]) -> None:
        """Pass the invocation's spans on to the exporter."""
        for span in spans:
            self.batch.on_end(span)

    def shutdown(self) -> None:
        self.batch.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.batch.force_flush(timeout_millis)


# --- the per-container tracer -----------------------------------------------------------------


@dataclass(frozen=True)
class FlushOutcome:
    """How sending one invocation's trace went."""

    sent: bool
    problem: str | None  # None, "timeout", "export_failed" or "setup_failed"
    flush_ms: float


class CallTracer:
    """Builds the export pipeline once per container (secrets read once) and traces invocations."""

    def __init__(
        self,
        settings: TracingSettings,
        *,
        project: str,
        log_prompts: bool,
        secrets: SecretReader | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if settings.backend is None:
            raise ValueError("tracing has no backend (langfuse or otlp)")
        self.settings = settings
        self.project = project
        self.log_prompts = log_prompts
        self._secrets = secrets or read_secret
        self._clock = clock
        self._lock = threading.Lock()
        self._provider: TracerProvider | None = None
        self._exporter: _RecordingExporter | None = None
        self._setup_failed_at: float | None = None
        self.setup_error: str | None = None
        self._tracer: Any = None
        self._gate: _SpanGate | None = None

    # setup ---------------------------------------------------------------------------------
    def _endpoint_and_headers(self) -> tuple[str, dict[str, str]]:
        settings = self.settings
        if settings.langfuse is not None:
            lf = settings.langfuse
            secret_key = _secret_field(self._secrets(lf.secret_key_secret_arn), "secret_key")
            config = LangfuseOtelLogger._build_langfuse_otel_config(
                public_key=lf.public_key, secret_key=secret_key, langfuse_host=lf.host
            )
            headers = OpenTelemetry._get_headers_dictionary(config.headers)
            return f"{config.endpoint}/v1/traces", headers
        assert settings.otlp is not None
        otlp = settings.otlp
        headers = _secret_headers(self._secrets(otlp.headers_secret_arn)) if otlp.headers_secret_arn else {}
        return otlp.endpoint, headers

    def _ensure_pipeline(self) -> TracerProvider | None:
        with self._lock:
            if self._provider is not None:
                return self._provider
            if self._setup_failed_at is not None and self._clock() - self._setup_failed_at < SECRET_RETRY_S:
                return None
            try:  # a secret that cannot be read (or any setup problem) must not fail calls
                self._provider = self._build_pipeline()
            except Exception as exc:
                self._setup_failed_at = self._clock()
                self.setup_error = f"{type(exc).__name__}: {str(exc)[:200]}"
            return self._provider

    def _build_pipeline(self) -> TracerProvider:
        endpoint, headers = self._endpoint_and_headers()
        timeout_s = self.settings.flush_timeout_ms / 1000
        exporter = _RecordingExporter(OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=timeout_s))
        provider = TracerProvider(
            resource=Resource.create({"service.name": SERVICE_NAME, f"{PREFIX}project": self.project})
        )
        # Exported on flush (end of each invocation) or in the background, never in the call path;
        # the gate holds an invocation's spans until its charges are known and filters their text.
        batch = BatchSpanProcessor(
            exporter, schedule_delay_millis=60_000, export_timeout_millis=self.settings.flush_timeout_ms
        )
        self._gate = _SpanGate(batch, log_prompts=self.log_prompts)
        provider.add_span_processor(self._gate)
        config = OpenTelemetryConfig(
            exporter=exporter,
            skip_set_global=True,
            capture_message_content="SPAN_ONLY" if self.log_prompts else "NO_CONTENT",
        )
        with _quiet(logging.getLogger("LiteLLM")):  # "Proxy Server is not installed": expected here
            if self.settings.langfuse is not None:
                logger: OpenTelemetry = _LangfuseLogger(
                    config=config, callback_name="langfuse_otel", tracer_provider=provider
                )
            else:
                logger = _OtlpLogger(config=config, tracer_provider=provider)
        # llm.tune() emptied LiteLLM's callbacks and set its logging pool aside; a traced project
        # gets this one callback, its success logging deferred (see _DeferringExecutor).
        for name in CALLBACK_LISTS:
            setattr(litellm, name, [])
        litellm.callbacks = [logger]
        litellm.turn_off_message_logging = not self.log_prompts
        litellm_utils.executor = _DeferringExecutor()
        self._exporter = exporter
        self._tracer = provider.get_tracer("claude_proxy")
        return provider

    # per invocation --------------------------------------------------------------------------
    def begin(self) -> contextvars.Token[_Invocation | None] | None:
        """Start the root span for this invocation; None if the pipeline is unavailable."""
        provider = self._ensure_pipeline()
        if provider is None:
            return None
        root = self._tracer.start_span(ROOT_SPAN_NAME)
        return _ACTIVE.set(_Invocation(root=root))

    def finish(
        self,
        token: contextvars.Token[_Invocation | None] | None,
        result: InvokeResult,
        *,
        request: ClaudeRequest | None,
        request_id: str,
    ) -> FlushOutcome:
        """Run LiteLLM's deferred logging with our cost, finish the root span, flush (bounded)."""
        if token is None:
            return FlushOutcome(sent=False, problem="setup_failed", flush_ms=0.0)
        invocation = _ACTIVE.get()
        try:
            assert invocation is not None
            invocation.cost_usd = result.cost_usd if result.ok else None
            for fn, args, kwargs in invocation.deferred:
                if invocation.cost_usd is not None:
                    _preset_cost(args, invocation.cost_usd)
                try:
                    fn(*args, **kwargs)
                except Exception:
                    _log.debug("LiteLLM success logging failed", exc_info=True)
            invocation.deferred.clear()
            root = invocation.root
            root.set_attributes(self._root_attributes(result, request, request_id))
            if result.error is not None:
                root.set_status(Status(StatusCode.ERROR, result.error.error_type.value))
            else:
                root.set_status(Status(StatusCode.OK))
            root.end()
            assert self._gate is not None
            self._gate.release(self._exported(invocation, result))
        finally:
            _ACTIVE.reset(token)
        return self.flush()

    def _exported(self, invocation: _Invocation, result: InvokeResult) -> list[ReadableSpan]:
        """The invocation's spans as exported: each attempt with its own charge, text filtered."""
        root_id = invocation.root.get_span_context().span_id
        attempts = sorted(
            (s for s in invocation.ended if s.parent is not None and s.parent.span_id == root_id),
            key=lambda s: s.start_time or 0,
        )
        charges = attempt_charges(result, len(attempts))
        extra = {
            id(span): attempt_attributes(
                number, charge, estimated=estimated, langfuse=self.settings.langfuse is not None
            )
            for number, (span, (charge, estimated)) in enumerate(zip(attempts, charges, strict=True), 1)
        }
        return [
            exported_span(span, log_prompts=self.log_prompts, extra=extra.get(id(span)))
            for span in invocation.ended
        ]

    def flush(self) -> FlushOutcome:
        """Export what is queued; waits at most flush_timeout_ms."""
        assert self._provider is not None and self._exporter is not None
        failures_before = self._exporter.failures
        started = time.perf_counter()
        done = self._provider.force_flush(self.settings.flush_timeout_ms)
        flush_ms = round((time.perf_counter() - started) * 1000, 3)
        if not done:
            return FlushOutcome(sent=False, problem="timeout", flush_ms=flush_ms)
        if self._exporter.failures != failures_before:
            return FlushOutcome(sent=False, problem="export_failed", flush_ms=flush_ms)
        return FlushOutcome(sent=True, problem=None, flush_ms=flush_ms)

    # attributes ------------------------------------------------------------------------------
    def _root_attributes(
        self, result: InvokeResult, request: ClaudeRequest | None, request_id: str
    ) -> dict[str, Any]:
        tags: Mapping[str, str] = dict(request.tags) if request is not None else {}
        usage = result.usage
        ours: dict[str, Any] = {
            "project": result.project or self.project,
            "model": result.model or "unknown",
            "profile_arn": result.profile_arn or "",
            "request_id": request_id,
            "attempts": result.attempts,
            "latency_ms": result.latency_ms,
            "ok": result.ok,
        }
        if result.ok:
            ours |= {
                "cost_usd": result.cost_usd,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cache_read_input_tokens": usage.cache_read_input_tokens,
                "cache_write_input_tokens": usage.cache_write_input_tokens,
                "stop_reason": result.stop_reason,
                "bedrock_request_id": result.upstream_request_id or "",
            }
        else:
            assert result.error is not None
            ours["error_type"] = result.error.error_type.value
        if result.estimated_charge_usd:
            ours["estimated_charge_usd"] = result.estimated_charge_usd
        attributes: dict[str, Any] = {f"{PREFIX}{k}": v for k, v in ours.items()}
        attributes |= {f"{PREFIX}tag.{k}": v for k, v in tags.items()}
        # Langfuse types the root a plain span, never a generation; the attempts are the generations.
        attributes["langfuse.observation.type"] = "span"
        if self.settings.langfuse is not None:
            # No model name, usage or cost on the root: Langfuse would price it (as a second
            # generation, or as a span with a model) and the trace's cost would not be ours.
            attributes |= self._langfuse_trace_attributes(ours, tags, result, request)
            return attributes
        attributes |= {
            "gen_ai.system": "aws.bedrock",
            "gen_ai.request.model": ours["model"],
        }
        if result.ok:
            attributes |= {
                "gen_ai.usage.input_tokens": usage.input_tokens
                + usage.cache_read_input_tokens
                + usage.cache_write_input_tokens,
                "gen_ai.usage.output_tokens": usage.output_tokens,
            }
        if self.log_prompts and request is not None:
            attributes[f"{PREFIX}prompt"] = _prompt_json(request)
            if result.ok:
                attributes[f"{PREFIX}completion"] = result.content
        return attributes

    def _langfuse_trace_attributes(
        self,
        ours: Mapping[str, Any],
        tags: Mapping[str, str],
        result: InvokeResult,
        request: ClaudeRequest | None,
    ) -> dict[str, Any]:
        """The trace's name, tags, user/session and metadata (and I/O only with log_prompts)."""
        attributes: dict[str, Any] = {
            "langfuse.trace.name": f"{ours['project']}/{ours['model']}",
            "langfuse.trace.tags": [f"project:{ours['project']}", f"model:{ours['model']}"]
            + [f"{k}:{v}" for k, v in tags.items()],
        }
        attributes |= {f"langfuse.trace.metadata.{k}": v for k, v in ours.items()}
        attributes |= {f"langfuse.trace.metadata.tag_{k}": v for k, v in tags.items()}
        if "user" in tags:
            attributes["user.id"] = tags["user"]
        if "session" in tags:
            attributes["session.id"] = tags["session"]
        if not result.ok:
            attributes["langfuse.observation.level"] = "ERROR"
        if self.log_prompts and request is not None:
            attributes["langfuse.trace.input"] = _prompt_json(request)
            if result.ok:
                attributes["langfuse.trace.output"] = result.content
        return attributes


def _prompt_json(request: ClaudeRequest) -> str:
    """System (a string or blocks), messages and tools as JSON (only with log_prompts)."""
    return json.dumps(
        request.model_dump(mode="json", include={"system", "messages", "tools"}, exclude_none=True),
        ensure_ascii=False,
    )


def attempt_charges(result: InvokeResult, attempts: int) -> list[tuple[float, bool]]:
    """(charge, estimated) per attempt span, summing to what the ledger charged for the call.

    From the call's own record when it has one per attempt; otherwise the whole charge goes on
    the last attempt, so the sum still holds.
    """
    if attempts == 0:
        return []
    answered = result.cost_usd if result.ok else 0.0
    charges = result.attempt_charges_usd
    if len(charges) == attempts:
        last = len(charges) - 1
        return [(charge, not (i == last and result.ok) and charge > 0) for i, charge in enumerate(charges)]
    total = answered + result.estimated_charge_usd
    return [(0.0, False)] * (attempts - 1) + [(total, result.estimated_charge_usd > 0)]


def attempt_attributes(number: int, charge: float, *, estimated: bool, langfuse: bool) -> dict[str, Any]:
    """What an attempt span says about its charge, in every key a backend reads cost from."""
    attributes: dict[str, Any] = {
        f"{PREFIX}attempt": number,
        f"{PREFIX}attempt_cost_usd": charge,
        f"{PREFIX}attempt_estimated": estimated,
        "gen_ai.usage.cost": charge,
        # LiteLLM's own cost keys, overwritten so no span carries another attempt's cost.
        "gen_ai.cost.total_cost": charge,
        "llm.cost.total": charge,
        "llm.response.cost": charge,
    }
    if langfuse:
        attributes |= {
            "langfuse.observation.type": "generation",
            "langfuse.observation.cost_details": json.dumps({"total": charge}),
        }
    return attributes


def record_outcome(tracer: CallTracer, outcome: FlushOutcome, *, request_id: str, namespace: str) -> None:
    """EMF `TraceFlushMs` and `TraceExportErrors` (by project); one warning per call whose trace was lost."""
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    from claude_proxy.observability import logger

    metrics = EphemeralMetrics(namespace=namespace, service="")
    metrics.add_dimension(name="project", value=tracer.project)
    metrics.add_metric(name="TraceExportErrors", unit=MetricUnit.Count, value=0 if outcome.sent else 1)
    metrics.add_metric(name="TraceFlushMs", unit=MetricUnit.Milliseconds, value=outcome.flush_ms)
    metrics.flush_metrics()
    if outcome.problem is not None:
        logger.warning(
            "trace not sent",
            extra={
                "request_id": request_id,
                "project": tracer.project,
                "trace_backend": tracer.settings.backend,
                "trace_problem": outcome.problem,
                "trace_flush_ms": outcome.flush_ms,
                **({"trace_setup_error": tracer.setup_error} if outcome.problem == "setup_failed" else {}),
            },
        )
