"""The LiteLLM client: the one module that imports litellm (heavy: seconds at cold start).

LiteLLM decides route, request format and its own price from `model`; `model_id` (the application
inference profile ARN) only replaces the model in the URL. We price calls ourselves, so LiteLLM's
per-call bookkeeping that only feeds its callbacks and cost tracking is switched off in `tune()`.
"""

from __future__ import annotations

import os

# Before importing litellm: otherwise it fetches a price map from the internet at import.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import concurrent.futures
import gc
from collections.abc import Callable
from typing import Any

from claude_platform.prices import TokenUsage
from claude_proxy.core import LlmCall, LlmError, LlmResult
from claude_proxy.errors import ErrorType

# `import litellm` creates thousands of pydantic models and TypedDicts; collecting garbage while
# it runs costs ~0.6 s of cold start (bench/FINDINGS-cold-start.md). Nothing it creates is garbage
# worth collecting, so the collector waits, and what the import built is frozen out of later passes.
_gc_was_enabled = gc.isenabled()
gc.disable()
try:
    import litellm
    from litellm import utils as litellm_utils
finally:
    if _gc_was_enabled:
        gc.enable()
gc.freeze()

FAST_PATH_ENV = "CLAUDE_PROXY_LITELLM_FAST_PATH"  # "0" keeps LiteLLM's per-call logging and cost work
_REQUEST_ID_HEADER = "llm_provider-x-amzn-requestid"


class _DiscardingExecutor:
    """Stands in for LiteLLM's logging thread pool: the success handler only feeds callbacks we don't use."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        """Drop the task; return an already-cancelled future."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.cancel()
        return future


def _update_response_metadata_without_cost(**kwargs: Any) -> None:
    """LiteLLM's response metadata step is mostly its own cost calculation: skipped (we price calls)."""


_tuned: dict[str, bool] = {}


def tune() -> dict[str, bool]:
    """Turn off LiteLLM work we never use. Idempotent; returns which switches applied.

    Always: no debug banners on stdout, no telemetry, no message logging, no callbacks.
    Unless CLAUDE_PROXY_LITELLM_FAST_PATH=0: no background success-logging task per call and no
    per-call cost calculation (together ~5-8 ms per call here). Both are module attributes of
    litellm 1.110.2's `litellm.utils`; tests assert they still exist, so an upgrade that moves them fails.
    """
    if _tuned:
        return _tuned
    litellm.suppress_debug_info = True
    litellm.telemetry = False
    litellm.turn_off_message_logging = True
    litellm.set_verbose = False
    for name in ("callbacks", "success_callback", "failure_callback", "input_callback"):
        setattr(litellm, name, [])
    fast = os.environ.get(FAST_PATH_ENV, "1") != "0"
    utils = litellm_utils
    _tuned["executor"] = fast and hasattr(utils, "executor")
    if _tuned["executor"]:
        utils.executor = _DiscardingExecutor()
    _tuned["response_metadata"] = fast and hasattr(utils, "update_response_metadata")
    if _tuned["response_metadata"]:
        utils.update_response_metadata = _update_response_metadata_without_cost
    return _tuned


def usage_from_litellm(usage: Any) -> TokenUsage:
    """Bedrock's counts from LiteLLM's usage.

    LiteLLM 1.110.2 reports prompt_tokens = inputTokens + cacheReadInputTokens + cacheWriteInputTokens
    and the cache counts as cache_read_input_tokens / cache_creation_input_tokens.
    """
    if usage is None:
        raise ValueError("the response carries no usage")
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    output = int(getattr(usage, "completion_tokens", 0) or 0)
    cache_read = int(getattr(usage, "cache_read_input_tokens", 0) or 0)
    cache_write = int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
    input_tokens = prompt - cache_read - cache_write
    if input_tokens < 0:
        raise ValueError(
            f"inconsistent usage: prompt_tokens={prompt} < cache_read={cache_read} + cache_write={cache_write}"
        )
    return TokenUsage(
        input_tokens=input_tokens,
        output_tokens=output,
        cache_read_input_tokens=cache_read,
        cache_write_input_tokens=cache_write,
    )


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).replace("litellm.", "").strip()
    return text if len(text) <= limit else text[:limit] + "..."


def classify(exc: BaseException) -> LlmError:
    """Map a LiteLLM exception to our error type and retryability (order matters: subclasses first)."""
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    detail = _short(exc)
    if isinstance(exc, litellm.Timeout):
        return LlmError(
            ErrorType.TIMEOUT,
            f"Bedrock did not answer in time: {detail}",
            retryable=True,
            outcome_unknown=True,
        )
    if isinstance(exc, litellm.RateLimitError):
        return LlmError(
            ErrorType.THROTTLED, f"Bedrock throttled the request: {detail}", retryable=True, status_code=429
        )
    if isinstance(exc, litellm.ServiceUnavailableError | litellm.InternalServerError):
        # ServiceUnavailableException is Bedrock refusing to serve (no work). LiteLLM reports a 500
        # as a 503 too, so Bedrock's own error type decides; any other 5xx may come after the model
        # did (billed) work, and so does one we cannot identify.
        return LlmError(
            ErrorType.UPSTREAM_ERROR,
            f"Bedrock server error: {detail}",
            retryable=True,
            status_code=status,
            outcome_unknown=bedrock_error_type(exc) not in _NO_WORK_ERROR_TYPES,
        )
    if isinstance(exc, litellm.PermissionDeniedError | litellm.AuthenticationError):
        return LlmError(
            ErrorType.ACCESS_DENIED, f"Bedrock denied access: {detail}", retryable=False, status_code=status
        )
    if isinstance(exc, litellm.NotFoundError):
        return LlmError(
            ErrorType.UPSTREAM_ERROR,
            f"Bedrock could not find the model or inference profile: {detail}",
            retryable=False,
            status_code=status,
        )
    if isinstance(exc, litellm.BadRequestError):
        return LlmError(
            ErrorType.INVALID_REQUEST,
            f"Bedrock rejected the request: {detail}",
            retryable=False,
            status_code=status,
        )
    if isinstance(exc, litellm.APIConnectionError):
        # Refused before a byte was sent: Bedrock did no work. Broken mid-request: it may have.
        return LlmError(
            ErrorType.UPSTREAM_ERROR,
            f"could not reach Bedrock: {detail}",
            retryable=False,
            status_code=status,
            outcome_unknown=not _connection_never_established(exc),
        )
    if isinstance(exc, litellm.APIError) and status is not None:
        return LlmError(
            ErrorType.UPSTREAM_ERROR,
            f"Bedrock error {status}: {detail}",
            retryable=status >= 500,
            status_code=status,
            outcome_unknown=status >= 500 and status != 503,
        )
    return LlmError(
        ErrorType.UPSTREAM_ERROR,
        f"unexpected LLM client error: {type(exc).__name__}: {detail}",
        retryable=False,
        outcome_unknown=True,
    )


_NO_WORK_ERROR_TYPES = frozenset({"ServiceUnavailableException", "ThrottlingException"})


def bedrock_error_type(exc: BaseException) -> str | None:
    """Bedrock's own error type (`x-amzn-ErrorType`, e.g. InternalServerException), if LiteLLM kept it."""
    headers = getattr(exc, "litellm_response_headers", None)
    try:
        value = headers.get("x-amzn-errortype") if headers is not None else None
    except AttributeError:
        return None
    return str(value).split(":", 1)[0] or None if value else None


_NEVER_CONNECTED = (
    "connection refused",
    "name or service not known",
    "nodename nor servname",
    "connecterror",
)


def _connection_never_established(exc: BaseException) -> bool:
    """Whether the request never reached a server (refused, DNS failure): then nothing can be billed."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError) or type(current).__name__ == "ConnectError":
            return True
        if any(marker in str(current).lower() for marker in _NEVER_CONNECTED):
            return True
        current = current.__cause__ or current.__context__
    return False


class LiteLLMClient:
    """LlmClient over litellm.completion (Bedrock Converse, SigV4)."""

    def __init__(self) -> None:
        tune()

    def complete(self, call: LlmCall) -> LlmResult:
        """One Converse call through the profile; raises LlmError."""
        kwargs: dict[str, Any] = {
            "model": call.litellm_model,
            "model_id": call.profile_arn,
            "messages": call.messages,
            "max_tokens": call.max_tokens,
            "aws_region_name": call.region,
            "timeout": call.timeout_s,
        }
        if call.temperature is not None:
            kwargs["temperature"] = call.temperature
        if call.request_metadata:
            kwargs["requestMetadata"] = call.request_metadata
        if call.endpoint:
            kwargs["aws_bedrock_runtime_endpoint"] = call.endpoint
        try:
            response = litellm.completion(**kwargs)
        except Exception as exc:
            raise classify(exc) from exc
        try:
            choice = response.choices[0]
            text = choice.message.content or ""
            usage = usage_from_litellm(getattr(response, "usage", None))
        except (AttributeError, IndexError, ValueError) as exc:
            raise LlmError(
                ErrorType.UPSTREAM_ERROR, f"unexpected response shape: {exc}", retryable=False
            ) from exc
        hidden = getattr(response, "_hidden_params", None) or {}
        headers = hidden.get("additional_headers") or {}
        return LlmResult(
            text=text,
            stop_reason=str(choice.finish_reason or ""),
            usage=usage,
            upstream_request_id=headers.get(_REQUEST_ID_HEADER),
        )
