"""`POST /v1/chat/completions`: the OpenAI Chat Completions API over the same core, ledger and streaming
session as `POST /v1/messages`; errors in OpenAI's shape.

The body is translated to a Messages API body (claude_proxy.web.openai_compat), then goes through the
gateway's normalizers and the one request model. `stream: true` answers with OpenAI's
`chat.completion.chunk` events and `data: [DONE]`; with `stream_options.include_usage` the last
chunk carries `usage`.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.request import ClaudeRequest
from claude_proxy.web.anthropic_api import read_json
from claude_proxy.web.app import GatewayRef, endpoint
from claude_proxy.web.compat import adjusted_header
from claude_proxy.web.errors import http_error
from claude_proxy.web.gateway import Gateway, RequestContext
from claude_proxy.web.openai_compat import (
    ChunkTranslator,
    chat_completion,
    openai_error_body,
    openai_error_headers,
    to_messages_body,
)
from claude_proxy.web.sse import _END, PING_INTERVAL_S, _Channel, _produce

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"


def openai_error(error: ProxyError, request_id: str) -> Response:
    """An error in the OpenAI API's shape, with the Messages API's status and retry headers."""
    return JSONResponse(
        openai_error_body(error, request_id),
        status_code=http_error(error).status,
        headers=openai_error_headers(error, request_id),
    )


def _data(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload, separators=(',', ':'), ensure_ascii=False)}\n\n".encode()


class ChunkStreamResponse(Response):
    """OpenAI's SSE stream from the streaming session's Anthropic events; stops the worker on disconnect."""

    media_type = "text/event-stream"

    def __init__(
        self, channel: _Channel, first: dict[str, Any], ctx: RequestContext, chunks: ChunkTranslator
    ) -> None:
        super().__init__(
            headers={"cache-control": "no-cache", "x-request-id": ctx.request_id, "x-accel-buffering": "no"},
            media_type=self.media_type,
        )
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self._channel, self._first, self._ctx, self._chunks = channel, first, ctx, chunks

    def _frames(self, kind: str, value: Any) -> bytes:
        if kind == "refused" or (isinstance(value, dict) and value.get("type") == "error"):
            error = value if kind == "refused" else value.get("error")
            if not isinstance(error, ProxyError):
                error = ProxyError(ErrorType.UPSTREAM_ERROR, "the stream failed", retryable=True)
            return _data(openai_error_body(error, self._ctx.request_id))
        if value.get("type") == "ping":
            return b": ping\n\n"
        out = b"".join(_data(chunk) for chunk in self._chunks.translate(value))
        if value.get("type") == "message_stop":
            out += b"data: [DONE]\n\n"
        return out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI: headers, then the chunks, until the end or a disconnect."""
        channel = self._channel

        async def listen() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            channel.abort.set()

        listener = asyncio.create_task(listen())
        item: tuple[str, Any] = ("event", self._first)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            while item != _END and not channel.abort.is_set():
                frames = self._frames(*item)
                if frames:
                    await send({"type": "http.response.body", "body": frames, "more_body": True})
                try:
                    item = await asyncio.wait_for(channel.queue.get(), timeout=PING_INTERVAL_S)
                except TimeoutError:
                    item = ("event", {"type": "ping"})
            if not channel.abort.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            channel.abort.set()
        finally:
            if item != _END:
                channel.abort.set()
            listener.cancel()


async def _stream(
    gateway: Gateway, request: ClaudeRequest, ctx: RequestContext, model: str, include_usage: bool
) -> Response:
    if gateway.stream_llm is None:
        raise ProxyError(ErrorType.CONFIGURATION_ERROR, "streaming is not configured", retryable=False)
    channel = _Channel(asyncio.get_running_loop())
    worker = threading.Thread(
        target=_produce, args=(gateway, request, ctx, model, channel), name="openai-stream", daemon=True
    )
    worker.start()
    kind, value = await channel.queue.get()
    if kind == "refused":
        return openai_error(value, ctx.request_id)
    chunks = ChunkTranslator(model=model, request_id=ctx.request_id, include_usage=include_usage)
    response = ChunkStreamResponse(channel, value, ctx, chunks)
    for name, header in adjusted_header(ctx).items():
        response.headers[name] = header
    return response


async def chat_completions(request: Request, gateway: Gateway, ctx: RequestContext) -> Response:
    """POST /v1/chat/completions."""
    body, stream, include_usage = to_messages_body(await read_json(request))
    claude_request = gateway.parse(body, ctx)
    model = ctx.extra.get("requested_model") or claude_request.model or ctx.settings.project.default_model
    if stream:
        return await _stream(gateway, claude_request, ctx, model, include_usage)
    result = await run_in_threadpool(gateway.serve, claude_request, ctx)
    if result.error is not None:
        return openai_error(result.error, ctx.request_id)
    answer = chat_completion(
        list(result.content_blocks), result.stop_reason, result.usage, model=model, request_id=ctx.request_id
    )
    return JSONResponse(answer, headers={"x-request-id": ctx.request_id, **adjusted_header(ctx)})


def routes(ref: GatewayRef) -> list[BaseRoute]:
    """The Chat Completions route."""
    return [Route(CHAT_COMPLETIONS_PATH, endpoint(ref, chat_completions, openai_error), methods=["POST"])]
