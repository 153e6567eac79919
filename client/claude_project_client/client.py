"""ProjectClient: `messages.create(...)` over a synchronous Lambda invoke of the project's gateway function."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from claude_project_client.errors import (
    BudgetUnavailable,
    ClaudeGatewayError,
    FunctionCrashed,
    GatewayError,
    InvokeTimedOut,
    LambdaInvokeError,
    LambdaThrottled,
    PayloadTooLarge,
    Throttled,
    from_response,
)

LAMBDA_PAYLOAD_MAX_BYTES = 6 * 1024 * 1024  # synchronous invoke, request and response each
# Lambda's maximum function timeout (and the platform's `lambda_timeout_seconds` upper bound): by
# default the client waits as long as any project's function can run, so a long call that is still
# generating (and billed) is never abandoned. Pass the project's timeout to fail sooner.
DEFAULT_FUNCTION_TIMEOUT_S = 900
READ_TIMEOUT_MARGIN_S = 15
RETRYABLE = (Throttled, BudgetUnavailable, LambdaThrottled)


@dataclass(frozen=True)
class InvokeResponse:
    """What a Lambda invoke returned."""

    status_code: int
    payload: bytes
    function_error: str | None = None


class Transport(Protocol):
    """Sends one payload to the function; raises LambdaInvokeError subclasses for Lambda-level failures."""

    def __call__(self, payload: bytes) -> InvokeResponse:
        """Invoke once (no retries)."""
        ...


class BotoLambdaTransport:
    """Lambda `Invoke` (RequestResponse) with a read timeout above the function's and no automatic retries.

    boto3's defaults (60 s read timeout, retried) would abandon a long generation and start it again:
    each retry of a timed-out invoke can be a second billed generation.
    """

    def __init__(
        self,
        function_name: str,
        *,
        region: str | None = None,
        qualifier: str | None = None,
        function_timeout_s: float = DEFAULT_FUNCTION_TIMEOUT_S,
        lambda_client: Any = None,
        session: Any = None,
    ) -> None:
        self.function_name = function_name
        self.qualifier = qualifier
        if lambda_client is None:
            import boto3
            from botocore.config import Config

            config = Config(
                read_timeout=function_timeout_s + READ_TIMEOUT_MARGIN_S,
                connect_timeout=10,
                retries={"total_max_attempts": 1, "mode": "standard"},
                tcp_keepalive=True,
            )
            lambda_client = (session or boto3.session.Session()).client(
                "lambda", region_name=region, config=config
            )
        self.lambda_client = lambda_client

    def __call__(self, payload: bytes) -> InvokeResponse:
        """One invoke; Lambda-level failures become typed exceptions."""
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            ReadTimeoutError,
        )

        params: dict[str, Any] = {
            "FunctionName": self.function_name,
            "InvocationType": "RequestResponse",
            "Payload": payload,
        }
        if self.qualifier:
            params["Qualifier"] = self.qualifier
        try:
            response = self.lambda_client.invoke(**params)
        except ReadTimeoutError as exc:
            raise InvokeTimedOut(
                f"no answer from {self.function_name} within the read timeout; not retried, since the "
                f"call may still be running (and billed): {exc}"
            ) from exc
        except (ConnectTimeoutError, EndpointConnectionError) as exc:
            raise LambdaInvokeError(f"could not reach Lambda: {exc}") from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", str(exc))
            if code == "TooManyRequestsException":
                raise LambdaThrottled(f"Lambda throttled the invoke: {message}") from exc
            if code == "RequestTooLargeException":
                raise PayloadTooLarge(f"the request is over Lambda's payload limit: {message}") from exc
            raise LambdaInvokeError(f"Lambda Invoke failed ({code}): {message}") from exc
        body = response["Payload"].read()
        return InvokeResponse(
            status_code=int(response.get("StatusCode", 0)),
            payload=body,
            function_error=response.get("FunctionError"),
        )


class Block(dict):
    """A content block: a dict (JSON, sendable back unchanged) with attribute access like the SDK's blocks."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class Usage:
    """Token counts as Bedrock bills them (input excludes cache reads and writes)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    cache_write_1h_input_tokens: int = 0

    @property
    def cache_creation_input_tokens(self) -> int:
        """The Anthropic SDK's name for cache writes."""
        return self.cache_write_input_tokens


@dataclass(frozen=True)
class Message:
    """The answer, shaped like the Anthropic SDK's Message, plus cost, budget and the raw response."""

    id: str
    content: list[Block]
    model: str | None
    stop_reason: str | None
    usage: Usage
    cost_usd: float
    budget: dict[str, Any] | None
    project: str | None
    inference_profile_arn: str | None
    raw: dict[str, Any] = field(repr=False)
    role: str = "assistant"
    type: str = "message"

    @property
    def text(self) -> str:
        """The text blocks joined."""
        return "".join(b["text"] for b in self.content if b.get("type") == "text")

    def to_param(self) -> dict[str, Any]:
        """This answer as the assistant turn of the next request."""
        return {"role": "assistant", "content": [dict(b) for b in self.content]}

    @classmethod
    def from_response(cls, response: dict[str, Any]) -> Message:
        """Parse a success response."""
        blocks = response.get("content_blocks")
        if blocks is None:
            blocks = [{"type": "text", "text": response.get("content", "")}]
        usage = response.get("usage") or {}
        return cls(
            id=str(response.get("request_id") or ""),
            content=[Block(b) for b in blocks],
            model=response.get("model"),
            stop_reason=response.get("stop_reason"),
            usage=Usage(**{k: int(v) for k, v in usage.items() if k in Usage.__dataclass_fields__}),
            cost_usd=float(response.get("cost_usd") or 0.0),
            budget=response.get("budget"),
            project=response.get("project"),
            inference_profile_arn=response.get("inference_profile_arn"),
            raw=response,
        )


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):  # Anthropic SDK objects
        return value.model_dump(exclude_none=True)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@dataclass
class RetryPolicy:
    """Backoff for throttling (gateway or Lambda) and an unavailable budget ledger: full jitter."""

    max_retries: int = 3
    base_delay_s: float = 1.0
    max_delay_s: float = 20.0


class Messages:
    """`client.messages`."""

    def __init__(self, client: ProjectClient) -> None:
        self._client = client

    def create(
        self,
        *,
        messages: list[Any],
        max_tokens: int | None = None,
        model: str | None = None,
        system: str | list[Any] | None = None,
        stop_sequences: list[str] | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        tools: list[Any] | None = None,
        tool_choice: dict[str, Any] | None = None,
        thinking: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        stream: bool = False,
    ) -> Message:
        """Like the Anthropic SDK's `messages.create`; `tags` attribute the call (metadata.user_id -> tag user_id)."""
        if stream:
            raise TypeError("stream=True is not supported: the gateway answers in one response")
        event: dict[str, Any] = {"messages": messages}
        optional = {
            "max_tokens": max_tokens,
            "model": model,
            "system": system,
            "stop_sequences": stop_sequences,
            "temperature": temperature,
            "top_p": top_p,
            "top_k": top_k,
            "tools": tools,
            "tool_choice": tool_choice,
            "thinking": thinking,
        }
        event.update({k: v for k, v in optional.items() if v is not None})
        all_tags = dict(tags or {})
        if metadata and metadata.get("user_id") is not None:
            all_tags.setdefault("user_id", str(metadata["user_id"]))
        if all_tags:
            event["tags"] = all_tags
        return self._client.invoke(event)


class ProjectClient:
    """Client for one project's gateway function."""

    def __init__(
        self,
        function_name: str,
        *,
        region: str | None = None,
        qualifier: str | None = None,
        function_timeout_s: float = DEFAULT_FUNCTION_TIMEOUT_S,
        transport: Transport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        lambda_client: Any = None,
    ) -> None:
        self.function_name = function_name
        self.transport: Transport = transport or BotoLambdaTransport(
            function_name,
            region=region,
            qualifier=qualifier,
            function_timeout_s=function_timeout_s,
            lambda_client=lambda_client,
        )
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.messages = Messages(self)

    def invoke(self, event: dict[str, Any]) -> Message:
        """Send one request event; retries throttling with backoff; raises typed errors."""
        payload = json.dumps(event, default=_jsonable, ensure_ascii=False).encode("utf-8")
        if len(payload) > LAMBDA_PAYLOAD_MAX_BYTES:
            raise PayloadTooLarge(
                f"the request is {len(payload)} bytes, over Lambda's synchronous payload limit of "
                f"{LAMBDA_PAYLOAD_MAX_BYTES} bytes (images and documents count base64-encoded)"
            )
        attempt = 0
        while True:
            try:
                return self._invoke_once(payload)
            except RETRYABLE as exc:
                if attempt >= self.retry.max_retries:
                    raise
                attempt += 1
                ceiling = min(self.retry.max_delay_s, self.retry.base_delay_s * 2 ** (attempt - 1))
                self._sleep(self._rng.uniform(0.0, ceiling))
                del exc

    def _invoke_once(self, payload: bytes) -> Message:
        result = self.transport(payload)
        if result.function_error:
            detail = _parse(result.payload)
            error_type = str(detail.get("errorType") or "") if isinstance(detail, dict) else ""
            message = str(detail.get("errorMessage") or "") if isinstance(detail, dict) else ""
            if "ResponseSizeTooLarge" in error_type or "payload size exceeded" in message.lower():
                raise PayloadTooLarge(f"the answer is over Lambda's payload limit: {message or error_type}")
            raise FunctionCrashed(
                f"{self.function_name} failed ({result.function_error}: {error_type or 'unknown'}): "
                f"{message or result.payload[:300]!r}",
                error_type=error_type or None,
            )
        response = _parse(result.payload)
        if not isinstance(response, dict) or "ok" not in response:
            raise ClaudeGatewayError(f"unexpected answer from {self.function_name}: {result.payload[:300]!r}")
        if response["ok"] is not True:
            raise from_response(response)
        return Message.from_response(response)


def _parse(payload: bytes) -> Any:
    try:
        return json.loads(payload or b"null")
    except ValueError:
        return None


__all__ = [
    "BotoLambdaTransport",
    "GatewayError",
    "InvokeResponse",
    "Message",
    "ProjectClient",
    "RetryPolicy",
    "Usage",
]
