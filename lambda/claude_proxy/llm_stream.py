"""ConverseStream through LiteLLM and the profile ARN, reading Bedrock's own event stream.

LiteLLM 1.110.2 (`litellm.completion(stream=True)`, Converse route) builds and SigV4-signs the
`/model/<profile ARN>/converse-stream` request and sends it through our `client=` handler with
`stream=True`; it reads nothing of the body before returning its stream wrapper (its event decoder
is a lazy generator). The handler keeps the unread HTTP response, and this module decodes the AWS
event-stream frames itself (botocore's EventStreamBuffer), so thinking signatures, tool input JSON
deltas, Bedrock's stop reason and the final `metadata` usage (with the 5m/1h cache split) arrive as
Bedrock sent them; LiteLLM's OpenAI-shaped chunks would flatten them. LiteLLM's own wrapper is
never iterated. An error status before the stream starts is raised by LiteLLM and classified as on
the non-streaming path (`claude_proxy.llm.classify`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
from botocore.eventstream import EventStreamBuffer, ParserError
from litellm.llms.custom_httpx.http_handler import HTTPHandler

from claude_proxy.core import LlmCall, LlmError
from claude_proxy.errors import ErrorType
from claude_proxy.llm import LiteLLMClient, classify, litellm, usage_from_converse
from claude_proxy.streaming import ConverseEvent

# Exceptions Bedrock sends inside a ConverseStream (`:message-type: exception`): type, retryable,
# and whether the model may already have done (billed) work.
_STREAM_EXCEPTIONS: dict[str, tuple[ErrorType, bool, bool]] = {
    "throttlingException": (ErrorType.THROTTLED, True, False),
    "serviceUnavailableException": (ErrorType.UPSTREAM_ERROR, True, False),
    "validationException": (ErrorType.INVALID_REQUEST, False, False),
    "internalServerException": (ErrorType.UPSTREAM_ERROR, True, True),
    "modelStreamErrorException": (ErrorType.UPSTREAM_ERROR, True, True),
}


def stream_exception(kind: str, payload: bytes) -> LlmError:
    """An exception frame as a classified LlmError (unknown kinds: outcome unknown, not retryable)."""
    try:
        message = str(json.loads(payload or b"{}").get("message") or kind)
    except (ValueError, AttributeError):
        message = kind
    error_type, retryable, unknown = _STREAM_EXCEPTIONS.get(kind, (ErrorType.UPSTREAM_ERROR, False, True))
    return LlmError(
        error_type,
        f"Bedrock ended the stream with {kind}: {message[:300]}",
        retryable=retryable,
        status_code=429 if error_type is ErrorType.THROTTLED else None,
        outcome_unknown=unknown,
        upstream_detail=message[:300],
    )


class StreamingHttpHandler(HTTPHandler):
    """LiteLLM's sync HTTP handler that hands back the unread streaming response (per thread)."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def begin(self, timeout_s: float) -> None:
        """Arm for one call: `timeout_s` bounds connecting and each read."""
        self._local.timeout_s = timeout_s
        self._local.response = None

    def take_response(self) -> httpx.Response | None:
        """The streaming response of the last call (once)."""
        response, self._local.response = getattr(self._local, "response", None), None
        return response

    def post(self, url: str, *args: Any, **kwargs: Any) -> Any:
        """HTTPHandler.post with this call's timeout; keeps the streaming response."""
        timeout_s = getattr(self._local, "timeout_s", None)
        if timeout_s is not None and kwargs.get("timeout") is None:
            kwargs["timeout"] = timeout_s
        response = super().post(url, *args, **kwargs)
        if kwargs.get("stream"):
            self._local.response = response
        return response

    def reset(self) -> None:
        """Close pooled connections (after a SnapStart restore)."""
        self.client.close()


class ConverseEventStream:
    """Bedrock's ConverseStream events from one open HTTP response; raises LlmError on failure."""

    def __init__(self, response: httpx.Response, call: LlmCall) -> None:
        self._response = response
        self._call = call
        self.upstream_request_id: str | None = response.headers.get("x-amzn-requestid")

    def events(self) -> Iterator[ConverseEvent]:
        """Each event in order; the `metadata` event with its usage parsed.

        Each read waits at most the call's timeout; the session bounds the whole stream by the
        invocation's deadline.
        """
        buffer = EventStreamBuffer()
        try:
            for chunk in self._response.iter_raw():  # as received: a chunk size would wait to fill it
                buffer.add_data(chunk)
                for message in buffer:
                    yield self._event(message.headers, message.payload)
        except LlmError:
            raise
        except (httpx.HTTPError, ParserError, ValueError, OSError) as exc:
            kind = ErrorType.TIMEOUT if isinstance(exc, httpx.TimeoutException) else ErrorType.UPSTREAM_ERROR
            raise LlmError(
                kind,
                f"Bedrock's stream broke: {type(exc).__name__}",
                retryable=False,
                outcome_unknown=True,
            ) from exc

    def _event(self, headers: dict[str, Any], payload: bytes) -> ConverseEvent:
        message_type = headers.get(":message-type")
        if message_type == "exception":
            raise stream_exception(str(headers.get(":exception-type") or "exception"), payload)
        if message_type != "event":
            raise stream_exception(str(headers.get(":error-code") or "error"), payload)
        kind = str(headers.get(":event-type") or "")
        try:
            body = json.loads(payload) if payload else {}
        except ValueError as exc:
            raise LlmError(
                ErrorType.UPSTREAM_ERROR,
                f"Bedrock sent an unreadable {kind} event",
                retryable=False,
                outcome_unknown=True,
            ) from exc
        usage = None
        if kind == "metadata":
            try:
                usage = usage_from_converse(body.get("usage"), ttl_1h_requested=self._call.cache_ttl_1h)
            except ValueError as exc:
                raise LlmError(
                    ErrorType.UPSTREAM_ERROR,
                    f"Bedrock's final usage is unreadable: {exc}",
                    retryable=False,
                    outcome_unknown=True,
                ) from exc
        return ConverseEvent(kind=kind, body=body, usage=usage)

    def close(self) -> None:
        """Close the HTTP response (stops reading; the connection is not reused)."""
        self._response.close()


class LiteLLMStreamClient:
    """StreamingLlmClient over litellm.completion(stream=True) with the profile ARN."""

    def __init__(self, base: LiteLLMClient | None = None) -> None:
        self._base = base or LiteLLMClient()  # tunes LiteLLM; builds the same request kwargs
        self.http = StreamingHttpHandler()

    def open(self, call: LlmCall) -> ConverseEventStream:
        """Send the ConverseStream request; the open stream, or LlmError (nothing was streamed)."""
        self.http.begin(call.timeout_s)
        kwargs = self._base._kwargs(call) | {"stream": True, "client": self.http}
        if call.guardrail:  # ConverseStream's guardrailConfig also takes streamProcessingMode
            kwargs["guardrailConfig"] = dict(call.guardrail)
        try:
            wrapper = litellm.completion(**kwargs)
        except Exception as exc:
            raise classify(exc) from exc
        response = self.http.take_response()
        if response is None:  # LiteLLM faked the stream (never for Claude on Converse)
            close = getattr(wrapper, "close", None)
            if callable(close):
                close()
            raise LlmError(
                ErrorType.UPSTREAM_ERROR,
                "LiteLLM did not stream this model over ConverseStream",
                retryable=False,
                outcome_unknown=True,
            )
        return ConverseEventStream(response, call)

    def reset(self) -> None:
        """Close pooled connections."""
        self.http.reset()
