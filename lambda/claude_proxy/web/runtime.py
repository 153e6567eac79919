"""The deployed gateway: built from the function's environment, sharing the invoke handler's clients.

Importing `claude_proxy.handler` gives the web app the same LiteLLM client (primed at init, with its
SnapStart hooks), ledger wiring, tracer and clock as the `lambda invoke` path. The authenticator is
`claude_proxy.auth.authenticator_for(settings)` when that exists (the API-key store); without it every
call is refused (fail closed).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from claude_proxy import auth, handler, snapstart
from claude_proxy.auth import Authenticator
from claude_proxy.core import InvokeResult
from claude_proxy.errors import ProxyError
from claude_proxy.llm_stream import LiteLLMStreamClient
from claude_proxy.observability import emit_metrics, log_outcome, logger
from claude_proxy.request import ClaudeRequest
from claude_proxy.settings import DEFAULT_METRICS_NAMESPACE, Settings, SettingsError, load_settings
from claude_proxy.spend_wiring import ledger_for
from claude_proxy.token_count import BedrockTokenCounter, bedrock_token_counter
from claude_proxy.web.compat import normalize_messages
from claude_proxy.web.gateway import Gateway, RefuseAll, RequestContext

_REFUSE_ALL = RefuseAll()


def authenticator(settings: Settings) -> Authenticator:
    """The project's key store (one per settings and container), or RefuseAll when none is configured."""
    gateway = settings.project.gateway
    if gateway is None or not gateway.keys_table:
        return _REFUSE_ALL  # no key store configured: fail closed
    return auth.authenticator_for(settings)  # cached per settings; cleared by the SnapStart hooks


@lru_cache(maxsize=4)
def token_counter(settings: Settings) -> BedrockTokenCounter:
    """The region's CountTokens client (one per container)."""
    return bedrock_token_counter(settings.region)


class HandlerRecorder:
    """Traces through the handler's tracer; the handler's log line and metrics, with the caller added."""

    def begin(self, settings: Settings) -> Any:
        """The project's tracer (or None) and its token."""
        tracer = handler._call_tracer(settings)
        return tracer, tracer.begin() if tracer is not None else None

    def finish(
        self,
        token: Any,
        result: InvokeResult,
        *,
        request: ClaudeRequest | None,
        ctx: RequestContext,
        ledger_errors: int,
    ) -> None:
        """Trace, log line, metrics; failures are logged, never raised."""
        tracer, trace_token = token
        settings = ctx.settings
        if tracer is not None:
            handler._finish_trace(
                tracer, trace_token, result, request=request, request_id=ctx.request_id, settings=settings
            )
        try:
            caller = ctx.caller.key_name
            log_outcome(
                result,
                request=request,
                request_id=ctx.request_id,
                log_prompts=settings.project.log_prompts,
                caller=caller,
            )
            emit_metrics(
                result, namespace=settings.metrics_namespace, ledger_errors=ledger_errors, caller=caller
            )
        except Exception:
            logger.exception("could not record the outcome", extra={"request_id": ctx.request_id})

    def refused(self, error: ProxyError, request_id: str) -> None:
        """A refusal before the call had a context: one log line and the per-error-type metrics."""
        try:
            try:
                settings: Settings | None = load_settings(os.environ)
            except SettingsError:
                settings = None
            result = InvokeResult(
                project=settings.project.project if settings else "",
                model=None,
                attempts=0,
                latency_ms=0.0,
                error=error,
                request_id=request_id,
            )
            log_outcome(result, request=None, request_id=request_id, log_prompts=False)
            namespace = settings.metrics_namespace if settings else DEFAULT_METRICS_NAMESPACE
            emit_metrics(result, namespace=namespace)
        except Exception:
            logger.exception("could not record the refusal", extra={"request_id": request_id})


def gateway_from_environment(keys: Authenticator | None = None) -> Gateway:
    """The gateway of the deployed function (or `make serve`): settings from os.environ.

    `keys` replaces the key store (tests use an in-memory one). The streaming client shares the
    invoke handler's LiteLLM set-up; its connections and the key stores are dropped by the SnapStart
    hooks, like the handler's.
    """
    stream_llm = LiteLLMStreamClient(handler._LLM)
    snapstart.register_hooks(
        stream_llm, resets=(auth.authenticator_for.cache_clear, token_counter.cache_clear)
    )  # type: ignore[arg-type]
    return Gateway(
        settings=lambda: load_settings(os.environ),
        authenticator=authenticator if keys is None else lambda settings: keys,
        llm=handler._LLM,
        ledger_for=ledger_for,
        clock=handler._CLOCK,
        rng=handler._RNG,
        recorder=HandlerRecorder(),
        stream_llm=stream_llm,
        normalizers=[normalize_messages],
        token_counter=token_counter,
    )
