"""What every HTTP route shares: settings, authentication, the request context, and serving one call
through the same core, ledger, logs, metrics and traces as the `lambda invoke` path.

The collaborators (settings source, authenticator, LLM clients, ledger, clock) are passed in, so tests
build a Gateway with an in-memory authenticator and the deployed app builds it from the environment
(`claude_proxy.web.runtime`).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from claude_platform.function_settings import ModelSettings
from claude_proxy.auth import Authenticator, Caller
from claude_proxy.core import (
    DEFAULT_RETRY_POLICY,
    Clock,
    InvokeResult,
    LlmClient,
    RandomSource,
    RetryPolicy,
    SpendLedger,
    invoke,
)
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.request import ClaudeRequest, parse_request
from claude_proxy.settings import Settings, SettingsError
from claude_proxy.token_count import TokenCount

CALLER_TAG = "api_key"  # the requestMetadata / tag key carrying the caller's key name
DEFAULT_DEADLINE_S = 300.0  # when neither the adapter's context nor the settings say how long we have
LAMBDA_CONTEXT_HEADER = "x-amzn-lambda-context"  # Lambda Web Adapter: the invocation's context as JSON
_TAG_UNSAFE = re.compile(r"[^a-zA-Z0-9\s:_@$#=/+,.\-]")


class TokenCounter(Protocol):
    """Counts a request's input tokens on a model (claude_proxy.token_count.BedrockTokenCounter)."""

    def count(self, request: ClaudeRequest, model: ModelSettings, *, max_tokens: int) -> TokenCount:
        """The count, exact or the upper bound."""
        ...


class Normalizer(Protocol):
    """Turns a raw JSON body into what `parse_request` accepts (drop, rename, clamp); may raise ProxyError."""

    def __call__(self, body: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """The normalized body (a new dict or `body` changed in place)."""
        ...


class OutcomeRecorder(Protocol):
    """Logs, metrics and the trace of one finished call (the same records as the invoke path)."""

    def begin(self, settings: Settings) -> Any:
        """Start the call's trace in this thread; an opaque token for `finish`."""
        ...

    def finish(
        self,
        token: Any,
        result: InvokeResult,
        *,
        request: ClaudeRequest | None,
        ctx: RequestContext,
        ledger_errors: int,
    ) -> None:
        """Send the trace, write the log line and the metrics. Never raises."""
        ...

    def refused(self, error: ProxyError, request_id: str) -> None:
        """Log and count a request refused before it had a context (authentication, configuration)."""
        ...


@dataclass
class RequestContext:
    """One HTTP request: who calls, under which settings, its id and its deadline."""

    request_id: str
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    path: str
    settings: Settings
    caller: Caller
    deadline: float  # time.monotonic() by which the function must have answered
    extra: dict[str, Any] = field(default_factory=dict)  # for normalizers (e.g. what was dropped)

    def remaining_ms(self) -> int:
        """Milliseconds left before the deadline."""
        return int((self.deadline - time.monotonic()) * 1000)


class RefuseAll:
    """The authenticator when no key store is configured: every call is refused (fail closed)."""

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """Always raises authentication_failed."""
        raise ProxyError(
            ErrorType.AUTHENTICATION_FAILED,
            "this endpoint has no key store configured: every call is refused",
            retryable=False,
        )


def caller_tag_value(key_name: str) -> str:
    """The key name as a Bedrock requestMetadata value (its allowed characters, at most 256)."""
    return _TAG_UNSAFE.sub("_", key_name)[:256] or "_"


def deadline_from(headers: Mapping[str, str], settings: Settings, now: float) -> float:
    """When this invocation ends (monotonic): the adapter's Lambda context deadline, else the settings.

    Lambda Web Adapter passes the invocation's context (with `deadline`, epoch milliseconds) in the
    `x-amzn-lambda-context` header; without it (local `make serve`), the function timeout the stack
    wrote (`spend.stale_after_s` is the timeout plus a minute) or DEFAULT_DEADLINE_S.
    """
    raw = headers.get(LAMBDA_CONTEXT_HEADER)
    if raw:
        try:
            deadline_ms = json.loads(raw).get("deadline")
            if isinstance(deadline_ms, int | float) and not isinstance(deadline_ms, bool):
                return now + max(0.0, deadline_ms / 1000 - time.time())
        except (ValueError, AttributeError):
            pass
    stale = settings.project.spend.stale_after_s
    return now + (stale - 60 if stale else DEFAULT_DEADLINE_S)


@dataclass
class Gateway:
    """The collaborators of the web app and the steps every route shares."""

    settings: Callable[[], Settings]  # raises SettingsError
    authenticator: Callable[[Settings], Authenticator]
    llm: LlmClient
    ledger_for: Callable[[Settings], SpendLedger]
    clock: Clock
    rng: RandomSource
    recorder: OutcomeRecorder
    stream_llm: Any = None  # claude_proxy.streaming.StreamingLlmClient
    policy: RetryPolicy = DEFAULT_RETRY_POLICY
    # Raw body -> parse_request input, in order, for every Messages-API route (gwcompat adds Claude
    # Code compatibility here). Each may raise ProxyError(invalid_request).
    normalizers: list[Normalizer] = field(default_factory=list)
    # Settings -> the input-token counter of count_tokens (None: the request's upper bound only).
    token_counter: Callable[[Settings], TokenCounter] | None = None

    def context(
        self, headers: Mapping[str, str], query: Mapping[str, str], path: str, request_id: str | None = None
    ) -> RequestContext:
        """Settings and the authenticated caller; raises ProxyError before anything is reserved or sent."""
        request_id = request_id or str(uuid.uuid4())
        try:
            settings = self.settings()
        except SettingsError as exc:
            raise ProxyError(ErrorType.CONFIGURATION_ERROR, str(exc), retryable=False) from None
        caller = self.authenticator(settings).authenticate(headers)
        now = time.monotonic()
        return RequestContext(
            request_id=request_id,
            headers=headers,
            query=query,
            path=path,
            settings=settings,
            caller=caller,
            deadline=deadline_from(headers, settings, now),
        )

    def parse(self, body: Any, ctx: RequestContext) -> ClaudeRequest:
        """The validated request: normalizers, then the caller's key name as the `api_key` tag."""
        if not isinstance(body, dict):
            raise ProxyError(ErrorType.INVALID_REQUEST, "the request body must be a JSON object")
        for normalize in self.normalizers:
            body = normalize(body, ctx)
        if "tags" in body:
            raise ProxyError(ErrorType.INVALID_REQUEST, "tags: unknown field")
        body = {**body, "tags": {CALLER_TAG: caller_tag_value(ctx.caller.key_name)}}
        return parse_request(body)

    def count_tokens(
        self, settings: Settings, request: ClaudeRequest, model: ModelSettings, max_tokens: int
    ) -> TokenCount:
        """The request's input tokens on `model`: the counter's answer, or the upper bound without one."""
        if self.token_counter is None:
            return TokenCount(request.input_token_bound, "upper-bound", "no token counter configured")
        return self.token_counter(settings).count(request, model, max_tokens=max_tokens)

    def serve(self, request: ClaudeRequest, ctx: RequestContext) -> InvokeResult:
        """One non-streaming call through the core, recorded like the invoke path (blocking: run in a thread)."""
        token = self.recorder.begin(ctx.settings)
        ledger: Any = None
        try:
            ledger = self.ledger_for(ctx.settings)
            if hasattr(ledger, "errors"):
                ledger.errors = 0
            result = invoke(
                request,
                settings=ctx.settings,
                llm=self.llm,
                clock=self.clock,
                remaining_ms=ctx.remaining_ms,
                rng=self.rng,
                request_id=ctx.request_id,
                ledger=ledger,
                policy=self.policy,
                caller=ctx.caller,
            )
        except ProxyError as err:
            result = failed(ctx, err)
        except Exception:
            error = ProxyError(
                ErrorType.INTERNAL_ERROR, f"internal error (request id {ctx.request_id})", retryable=False
            )
            result = failed(ctx, error)
            self.recorder.finish(token, result, request=request, ctx=ctx, ledger_errors=0)
            raise
        self.recorder.finish(
            token, result, request=request, ctx=ctx, ledger_errors=getattr(ledger, "errors", 0) or 0
        )
        return result


def failed(ctx: RequestContext, error: ProxyError, model: str | None = None) -> InvokeResult:
    """An InvokeResult for a call refused before the core ran."""
    return InvokeResult(
        project=ctx.settings.project.project,
        model=model,
        attempts=0,
        latency_ms=0.0,
        error=error,
        request_id=ctx.request_id,
    )
