"""The LiteLLM client: the one module that imports litellm (heavy: seconds at cold start).

LiteLLM decides route, request format and its own price from `model`; `model_id` (the application
inference profile ARN) only replaces the model in the URL. We price calls ourselves, so LiteLLM's
per-call bookkeeping that only feeds its callbacks and cost tracking is switched off in `tune()`.

LiteLLM builds, signs and sends the Converse request over our own HTTP handler (its `client=`
parameter), which keeps the raw Converse answer: the answer is read from it, so Bedrock's own
`stopReason`, the order of text / toolUse / reasoningContent blocks, thinking signatures and the
per-TTL cache-write split (`usage.cacheDetails`) all survive; LiteLLM's OpenAI-shaped view of the
answer would flatten them.
"""

from __future__ import annotations

import os

# Before importing litellm: otherwise it fetches a price map from the internet at import.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import base64
import concurrent.futures
import contextlib
import gc
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from claude_platform.prices import TokenUsage
from claude_proxy.core import LlmCall, LlmError, LlmResult
from claude_proxy.errors import ErrorType
from claude_proxy.guardrail import outcome_from_trace

# `import litellm` creates thousands of pydantic models and TypedDicts; collecting garbage while
# it runs costs ~0.6 s of cold start (bench/FINDINGS-cold-start.md). Nothing it creates is garbage
# worth collecting, so the collector waits, and what the import built is frozen out of later passes.
_gc_was_enabled = gc.isenabled()
gc.disable()
try:
    import litellm
    from litellm import utils as litellm_utils
    from litellm.litellm_core_utils.prompt_templates import factory as litellm_factory
    from litellm.llms.bedrock.base_aws_llm import BaseAWSLLM
    from litellm.llms.bedrock.chat.converse_transformation import AmazonConverseConfig
    from litellm.llms.custom_httpx.http_handler import HTTPHandler
finally:
    if _gc_was_enabled:
        gc.enable()
gc.freeze()

FAST_PATH_ENV = "CLAUDE_PROXY_LITELLM_FAST_PATH"  # "0" keeps LiteLLM's per-call logging and cost work
_REQUEST_ID_HEADER = "llm_provider-x-amzn-requestid"
_CANNED_HEADERS = {"content-type": "application/json", "x-amzn-requestid": "primed"}
# Static dummy keys for priming: LiteLLM signs with them and never looks credentials up.
_PRIME_CREDENTIALS = {"aws_access_key_id": "AKIAPRIMEPRIMEPRIME0", "aws_secret_access_key": "prime"}


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
    _tuned["tool_result_status"] = _patch_tool_result_status()
    _tuned["guard_whole_prompt"] = _patch_guard_whole_prompt()
    return _tuned


def _patch_guard_whole_prompt() -> bool:
    """Let the project's guardrail evaluate the whole prompt, not only the last user turn.

    With `guardrailConfig`, LiteLLM 1.110.2 wraps the trailing user messages (and, with no `tools`,
    tool results) in Converse `guardContent` blocks, and Bedrock then evaluates only those: earlier
    turns, which a caller writes as freely as the last, would pass unchecked. Both steps are
    `AmazonConverseConfig` static methods; the wrappers leave the messages as they are. A test
    asserts the request body carries no `guardContent`, so an upgrade that moves them fails loudly.
    """
    convert = getattr(AmazonConverseConfig, "_convert_consecutive_user_messages_to_guarded_text", None)
    neutralize = getattr(AmazonConverseConfig, "_neutralize_orphaned_tool_blocks", None)
    if convert is None or neutralize is None:
        return False
    if getattr(neutralize, "_claude_proxy_wrapped", False):
        return True

    def unguarded(messages: Any, optional_params: Any, keeps_cache_marks: bool = False) -> Any:
        return messages

    def neutralize_unguarded(messages: Any, optional_params: dict[str, Any]) -> Any:
        return neutralize(messages, {k: v for k, v in optional_params.items() if k != "guardrailConfig"})

    neutralize_unguarded._claude_proxy_wrapped = True  # type: ignore[attr-defined]
    AmazonConverseConfig._convert_consecutive_user_messages_to_guarded_text = staticmethod(unguarded)  # type: ignore[method-assign]
    AmazonConverseConfig._neutralize_orphaned_tool_blocks = staticmethod(neutralize_unguarded)  # type: ignore[method-assign]
    return True


def _patch_tool_result_status() -> bool:
    """Carry a tool result's `is_error` to Converse's `toolResult.status: "error"`.

    LiteLLM 1.110.2's chat format has no error flag for tool messages, so its Converse conversion
    (`factory._convert_to_bedrock_tool_call_result`, looked up as a module global) never sets the
    status. The wrapper adds it for messages carrying `is_error: true`. A test asserts the function
    still exists and the status reaches the wire, so an upgrade that moves it fails loudly.
    """
    original = getattr(litellm_factory, "_convert_to_bedrock_tool_call_result", None)
    if original is None:
        return False
    if getattr(original, "_claude_proxy_wrapped", False):
        return True

    def with_error_status(message: Any) -> Any:
        block = original(message)
        if isinstance(message, Mapping) and message.get("is_error") is True:
            block["toolResult"]["status"] = "error"
        return block

    with_error_status._claude_proxy_wrapped = True  # type: ignore[attr-defined]
    litellm_factory._convert_to_bedrock_tool_call_result = with_error_status
    return True


class CapturingHttpHandler(HTTPHandler):
    """LiteLLM's sync HTTP handler with one pooled connection set, a per-call timeout and the raw answer kept.

    Per thread: the timeout for the next call, whether the call's HTTP request was handed to the
    connection (`request_sent`: the proof that a failure before it cost nothing), and the JSON body
    of the last response.
    """

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def begin(self, timeout_s: float, canned: bytes | None = None) -> None:
        """Arm for one call; with `canned`, answer with that JSON body instead of sending (priming)."""
        self._local.timeout_s = timeout_s
        self._local.body = None
        self._local.canned = canned
        self._local.sent = False
        self._local.status = None

    def answered_ok(self) -> bool:
        """Whether the armed call's HTTP request was answered with a 200 (Bedrock did the work)."""
        return getattr(self._local, "status", None) == 200

    def request_sent(self) -> bool:
        """Whether the armed call got as far as sending its HTTP request (or the canned answer)."""
        return bool(getattr(self._local, "sent", False))

    def last_body(self) -> dict[str, Any] | None:
        """The parsed JSON of the last response, if it was one."""
        return getattr(self._local, "body", None)

    def post(self, url: str, *args: Any, **kwargs: Any) -> Any:
        """HTTPHandler.post with this call's timeout; keeps the parsed body."""
        timeout_s = getattr(self._local, "timeout_s", None)
        if timeout_s is not None and kwargs.get("timeout") is None:
            kwargs["timeout"] = timeout_s
        canned = getattr(self._local, "canned", None)
        self._local.sent = True  # from here on Bedrock may have received the request
        if canned is not None:
            self._local.canned = None
            request = httpx.Request("POST", url, headers=kwargs.get("headers"))
            response = httpx.Response(200, content=canned, headers=_CANNED_HEADERS, request=request)
        else:
            response = super().post(url, *args, **kwargs)
        self._local.status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        self._local.body = body if isinstance(body, dict) else None
        return response

    def reset(self) -> None:
        """Close pooled connections (after a SnapStart restore: they belong to the snapshot's past)."""
        self.client.close()


def content_blocks_from_converse(message: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Converse `output.message.content` as Anthropic content blocks, in order."""
    blocks: list[dict[str, Any]] = []
    for item in (message or {}).get("content") or []:
        if "text" in item:
            blocks.append({"type": "text", "text": item["text"]})
        elif "toolUse" in item:
            use = item["toolUse"]
            blocks.append(
                {
                    "type": "tool_use",
                    "id": use["toolUseId"],
                    "name": use["name"],
                    "input": use.get("input") or {},
                }
            )
        elif "reasoningContent" in item:
            reasoning = item["reasoningContent"]
            if "reasoningText" in reasoning:
                text = reasoning["reasoningText"]
                blocks.append(
                    {
                        "type": "thinking",
                        "thinking": text.get("text", ""),
                        "signature": text.get("signature", ""),
                    }
                )
            elif "redactedContent" in reasoning:
                data = reasoning["redactedContent"]
                if isinstance(data, bytes):
                    data = base64.b64encode(data).decode("ascii")
                blocks.append({"type": "redacted_thinking", "data": data})
    return blocks


def usage_from_converse(usage: Mapping[str, Any] | None, *, ttl_1h_requested: bool) -> TokenUsage:
    """Bedrock's Converse usage; cache writes split by TTL from `cacheDetails`.

    If Bedrock does not split the writes (or the split does not add up) and the request asked for
    a 1-hour cache point, every write is counted at the 1-hour price: money is never under-counted.
    """
    if not isinstance(usage, Mapping):
        raise ValueError("the response carries no usage")

    def count(key: str) -> int:
        value = usage.get(key, 0) or 0
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"usage.{key} is not a non-negative integer: {value!r}")
        return value

    writes = count("cacheWriteInputTokens")
    details = usage.get("cacheDetails")
    writes_1h = writes if ttl_1h_requested else 0
    if isinstance(details, list) and details:
        try:
            by_ttl = {
                ttl: sum(int(d["inputTokens"]) for d in details if d.get("ttl") == ttl)
                for ttl in ("5m", "1h")
            }
        except (KeyError, TypeError, ValueError):
            by_ttl = {}
        if by_ttl and by_ttl["5m"] + by_ttl["1h"] == writes:
            writes_1h = by_ttl["1h"]
    return TokenUsage(
        input_tokens=count("inputTokens"),
        output_tokens=count("outputTokens"),
        cache_read_input_tokens=count("cacheReadInputTokens"),
        cache_write_input_tokens=writes,
        cache_write_1h_input_tokens=writes_1h,
    )


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


_TRACEBACK = re.compile(r"\s*Traceback \(most recent call last\).*", re.DOTALL)
_FILE_LINE = re.compile(r'File "[^"]*"(, line \d+)?(, in \S+)?')
# A file path: a slash-separated run not preceded by a word character, colon, dot or slash (so a
# URL's path, which follows its host, is kept).
_FILE_PATH = re.compile(r"(?<![\w:/.])(?:[A-Za-z]:)?[/\\](?:[\w.\-]+[/\\])+[\w.\-]+")


def caller_safe(text: str, limit: int = 300) -> str:
    """An error text fit for a caller: no traceback, no file paths, at most `limit` characters."""
    text = _TRACEBACK.sub("", text)
    text = _FILE_LINE.sub("<file>", text)
    text = _FILE_PATH.sub("<path>", text).replace("litellm.", "").strip()
    return text if len(text) <= limit else text[:limit] + "..."


def _short(exc: BaseException, limit: int = 300) -> str:
    return caller_safe(str(exc), limit)


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    current = exc
    while id(current) not in seen:
        seen.add(id(current))
        nxt = current.__cause__ or current.__context__
        if nxt is None:
            break
        current = nxt
    return current


def classify_unsent(exc: BaseException) -> LlmError:
    """A failure raised before the HTTP request was sent: nothing reached Bedrock, nothing is billed.

    LiteLLM's own request checks (BadRequestError) are the caller's fault (invalid_request);
    anything else while building or signing the request is ours (internal_error). Neither is retried.
    """
    if isinstance(exc, litellm.BadRequestError):
        return LlmError(
            ErrorType.INVALID_REQUEST,
            f"the request could not be prepared for Bedrock (nothing was sent): {_short(exc)}",
            retryable=False,
            upstream_detail=_short(exc),
        )
    cause = type(_root_cause(exc)).__name__
    return LlmError(
        ErrorType.INTERNAL_ERROR,
        f"the request could not be prepared for Bedrock ({cause}); nothing was sent or charged",
        retryable=False,
    )


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
            upstream_detail=detail,
        )
    if isinstance(exc, litellm.RateLimitError):
        return LlmError(
            ErrorType.THROTTLED,
            f"Bedrock throttled the request: {detail}",
            retryable=True,
            status_code=429,
            upstream_detail=detail,
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
            upstream_detail=detail,
        )
    if isinstance(exc, litellm.PermissionDeniedError | litellm.AuthenticationError):
        return LlmError(
            ErrorType.ACCESS_DENIED,
            f"Bedrock denied access: {detail}",
            retryable=False,
            status_code=status,
            upstream_detail=detail,
        )
    if isinstance(exc, litellm.NotFoundError):
        return LlmError(
            ErrorType.UPSTREAM_ERROR,
            f"Bedrock could not find the model or inference profile: {detail}",
            retryable=False,
            status_code=status,
            upstream_detail=detail,
        )
    if status == 424 or bedrock_error_type(exc) == "ModelErrorException":
        # ModelErrorException: the model failed while processing the request, after Bedrock took
        # it (LiteLLM reports it as a BadRequestError). It may have been billed: outcome unknown.
        return LlmError(
            ErrorType.UPSTREAM_ERROR,
            f"the model failed while processing the request: {detail}",
            retryable=False,
            status_code=status,
            outcome_unknown=True,
            upstream_detail=detail,
        )
    if isinstance(exc, litellm.BadRequestError):
        return LlmError(
            ErrorType.INVALID_REQUEST,
            f"Bedrock rejected the request: {detail}",
            retryable=False,
            status_code=status,
            upstream_detail=detail,
        )
    if isinstance(exc, litellm.APIConnectionError):
        # Refused before a byte was sent: Bedrock did no work. Broken mid-request: it may have.
        return LlmError(
            ErrorType.UPSTREAM_ERROR,
            f"could not reach Bedrock: {detail}",
            retryable=False,
            status_code=status,
            outcome_unknown=not _connection_never_established(exc),
            upstream_detail=detail,
        )
    if isinstance(exc, litellm.APIError) and status is not None:
        return LlmError(
            ErrorType.UPSTREAM_ERROR,
            f"Bedrock error {status}: {detail}",
            retryable=status >= 500,
            status_code=status,
            outcome_unknown=status >= 500 and status != 503,
            upstream_detail=detail,
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


def _unreadable(exc: BaseException) -> LlmError:
    """Bedrock answered 200, so it did (billed) work we cannot price: charged at worst case, estimated."""
    return LlmError(
        ErrorType.UPSTREAM_ERROR,
        f"Bedrock's answer could not be read: {_short(exc)}",
        retryable=False,
        outcome_unknown=True,
    )


class LiteLLMClient:
    """LlmClient over litellm.completion (Bedrock Converse, SigV4), reading Bedrock's own answer."""

    def __init__(self) -> None:
        tune()
        self.http = CapturingHttpHandler()

    def complete(self, call: LlmCall) -> LlmResult:
        """One Converse call through the profile; raises LlmError."""
        self.http.begin(call.timeout_s)
        return self._send(self._kwargs(call), call)

    def complete_offline(self, call: LlmCall, canned_answer: bytes) -> LlmResult:
        """The whole call path with a canned Converse answer: no network, no credential lookup (priming).

        LiteLLM's callbacks (a traced project's OpenTelemetry logger) and its logging pool are set
        aside meanwhile, so the primed call reaches no trace backend, now or deferred.
        """
        with _callbacks_set_aside():
            self.http.begin(call.timeout_s, canned=canned_answer)
            return self._send(self._kwargs(call) | _PRIME_CREDENTIALS, call)

    def _kwargs(self, call: LlmCall) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": call.litellm_model,
            "model_id": call.profile_arn,
            "messages": call.messages,
            "max_tokens": call.max_tokens,
            "aws_region_name": call.region,
            "timeout": call.timeout_s,
            "client": self.http,
        }
        optional = {
            "temperature": call.temperature,
            "top_p": call.top_p,
            "top_k": call.top_k,
            "stop": call.stop_sequences,
            "tools": call.tools,
            "tool_choice": call.tool_choice,
            "thinking": call.thinking,
            "requestMetadata": call.request_metadata or None,
            "aws_bedrock_runtime_endpoint": call.endpoint or None,
            # Converse takes no streamProcessingMode (the stream client adds it back).
            "guardrailConfig": {k: v for k, v in call.guardrail.items() if k != "streamProcessingMode"}
            if call.guardrail
            else None,
        }
        kwargs.update({k: v for k, v in optional.items() if v is not None})
        return kwargs

    def _send(self, kwargs: dict[str, Any], call: LlmCall) -> LlmResult:
        try:
            response = litellm.completion(**kwargs)
        except Exception as exc:
            if not self.http.request_sent():
                raise classify_unsent(exc) from exc
            if self.http.answered_ok():  # LiteLLM could not read Bedrock's 200 answer
                raise _unreadable(exc) from exc
            raise classify(exc) from exc
        raw = self.http.last_body()
        try:
            if raw is not None:
                message = (raw.get("output") or {}).get("message")
                blocks = content_blocks_from_converse(message)
                text = "".join(b["text"] for b in blocks if b["type"] == "text")
                stop_reason = str(raw.get("stopReason") or "")
                usage = usage_from_converse(raw.get("usage"), ttl_1h_requested=call.cache_ttl_1h)
                guardrail = outcome_from_trace(raw.get("trace"), stop_reason) if call.guardrail else None
            else:  # not a JSON answer we could read: LiteLLM's view (never expected on Converse)
                choice = response.choices[0]
                text = choice.message.content or ""
                blocks = [{"type": "text", "text": text}]
                stop_reason = str(choice.finish_reason or "")
                usage = usage_from_litellm(getattr(response, "usage", None))
                guardrail = (
                    outcome_from_trace(getattr(response, "trace", None), stop_reason)
                    if call.guardrail
                    else None
                )
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            raise _unreadable(exc) from exc
        hidden = getattr(response, "_hidden_params", None) or {}
        headers = hidden.get("additional_headers") or {}
        return LlmResult(
            text=text,
            stop_reason=stop_reason,
            usage=usage,
            upstream_request_id=headers.get(_REQUEST_ID_HEADER),
            content_blocks=blocks,
            guardrail=guardrail,
        )


_CALLBACK_LISTS = (
    "callbacks",
    "success_callback",
    "failure_callback",
    "input_callback",
    "_async_success_callback",
    "_async_failure_callback",
    "_async_input_callback",
)


@contextlib.contextmanager
def _callbacks_set_aside() -> Iterator[None]:
    """Empty LiteLLM's callback lists and discard its logging tasks; restore both afterwards."""
    saved = {name: getattr(litellm, name) for name in _CALLBACK_LISTS if hasattr(litellm, name)}
    executor = getattr(litellm_utils, "executor", None)
    try:
        for name in saved:
            setattr(litellm, name, [])
        if executor is not None:
            litellm_utils.executor = _DiscardingExecutor()
        yield
    finally:
        for name, value in saved.items():
            setattr(litellm, name, value)
        if executor is not None:
            litellm_utils.executor = executor


def forget_credentials() -> None:
    """Drop AWS credentials LiteLLM cached process-wide (they must not outlive a SnapStart snapshot)."""
    cache = getattr(BaseAWSLLM, "_shared_iam_cache", None)
    if cache is not None:
        cache.flush_cache()
