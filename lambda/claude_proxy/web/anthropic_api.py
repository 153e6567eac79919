"""`POST /v1/messages`: the Anthropic Messages API over the core, answered in Anthropic's exact shape.

The body goes through the gateway's normalizers to `parse_request` (the one request model); `stream`
is taken off first. Non-streaming calls run `core.invoke` in a worker thread; `stream: true` answers
with Server-Sent Events (claude_proxy.web.sse) from a streaming session (claude_proxy.streaming).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from claude_platform.prices import TokenUsage
from claude_proxy.core import InvokeResult
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.streaming import anthropic_stop_reason
from claude_proxy.web.app import GatewayRef, anthropic_error, endpoint
from claude_proxy.web.compat import adjusted_header
from claude_proxy.web.gateway import Gateway, RequestContext

MESSAGES_PATH = "/v1/messages"
MAX_BODY_BYTES = 20 * 1024 * 1024  # Lambda function URLs take at most 6 MB buffered; this bounds make serve


def anthropic_usage(usage: TokenUsage) -> dict[str, Any]:
    """Bedrock's counts as Anthropic's `usage` (cache writes split 5m/1h)."""
    writes_1h = usage.cache_write_1h_input_tokens
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_write_input_tokens - writes_1h,
            "ephemeral_1h_input_tokens": writes_1h,
        },
    }


def message_id(request_id: str) -> str:
    """An Anthropic-style message id derived from our request id."""
    return "msg_" + request_id.replace("-", "")


def anthropic_message(result: InvokeResult, model_name: str) -> dict[str, Any]:
    """A successful InvokeResult as an Anthropic Messages API response."""
    return {
        "id": message_id(result.request_id),
        "type": "message",
        "role": "assistant",
        "model": model_name,
        "content": list(result.content_blocks),
        "stop_reason": anthropic_stop_reason(result.stop_reason) if result.stop_reason else None,
        "stop_sequence": None,
        "usage": anthropic_usage(result.usage),
        # stop_reason "refusal" is Anthropic's value; `guardrail` says which policies acted and what they cost.
        **({"guardrail": result.guardrail} if result.guardrail is not None else {}),
    }


async def read_json(request: Request) -> Any:
    """The request body as JSON; invalid_request when it is not."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise ProxyError(ErrorType.INVALID_REQUEST, f"request body is over {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(raw)
    except ValueError:
        raise ProxyError(ErrorType.INVALID_REQUEST, "the request body is not valid JSON") from None


def take_stream_flag(body: Any) -> tuple[Any, bool]:
    """(body without `stream`, whether it asked to stream); `stream` must be a boolean."""
    if not isinstance(body, dict) or "stream" not in body:
        return body, False
    body = dict(body)
    stream = body.pop("stream")
    if not isinstance(stream, bool):
        raise ProxyError(ErrorType.INVALID_REQUEST, "stream: must be true or false")
    return body, stream


async def messages(request: Request, gateway: Gateway, ctx: RequestContext) -> Response:
    """POST /v1/messages."""
    body, stream = take_stream_flag(await read_json(request))
    asked = body.get("model") if isinstance(body, dict) else None  # before any name mapping
    claude_request = gateway.parse(body, ctx)
    model_name = asked if isinstance(asked, str) and asked else ctx.settings.project.default_model
    if stream:
        from claude_proxy.web.sse import stream_messages

        return await stream_messages(gateway, claude_request, ctx, model_name)
    result = await run_in_threadpool(gateway.serve, claude_request, ctx)
    if result.error is not None:
        return anthropic_error(result.error, ctx.request_id)
    headers = {"request-id": ctx.request_id, **adjusted_header(ctx)}
    return JSONResponse(anthropic_message(result, model_name), headers=headers)


def routes(ref: GatewayRef) -> list[BaseRoute]:
    """The Messages API routes."""
    return [Route(MESSAGES_PATH, endpoint(ref, messages), methods=["POST"])]
