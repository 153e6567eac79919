"""`stream: true`: a streaming session's Anthropic events as Server-Sent Events.

A worker thread (the core, LiteLLM and the ledger are blocking) runs the session and hands each
event to the event loop; the HTTP response starts only once Bedrock's first event has arrived, so
anything refused or failed before that is a plain HTTP error with its status and `retry-after`.
While streaming, a disconnect (the ASGI `http.disconnect` message, or a failed send) stops the
worker at its next event, which closes Bedrock's stream and charges the worst case (the session's
rule). A `ping` goes out when nothing else did for PING_INTERVAL_S, so idle proxies keep the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from claude_proxy.core import InvokeResult
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.observability import logger
from claude_proxy.request import ClaudeRequest
from claude_proxy.streaming import open_stream
from claude_proxy.web.app import anthropic_error
from claude_proxy.web.compat import adjusted_header
from claude_proxy.web.errors import anthropic_error_body
from claude_proxy.web.gateway import Gateway, RequestContext, failed

PING_INTERVAL_S = 10.0
_END = ("end", None)


def sse_frame(event: dict[str, Any], request_id: str) -> bytes:
    """One SSE frame: `event: <type>` and the JSON data (an error event in Anthropic's error shape)."""
    if event.get("type") == "error" and isinstance(event.get("error"), ProxyError):
        event = anthropic_error_body(event["error"], request_id)
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


class _Channel:
    """Events from the worker thread to the event loop, and the abort flag back."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.abort = threading.Event()

    def put(self, kind: str, value: Any) -> None:
        """Hand an item to the loop (from any thread)."""
        with contextlib.suppress(RuntimeError):  # the loop is gone (server shutting down)
            self._loop.call_soon_threadsafe(self.queue.put_nowait, (kind, value))


def _produce(
    gateway: Gateway, request: ClaudeRequest, ctx: RequestContext, model_name: str, channel: _Channel
) -> None:
    """The worker: open the stream, pass on its events until it ends or the client is gone, record it."""
    from claude_proxy.web.anthropic_api import message_id

    token = gateway.recorder.begin(ctx.settings)
    ledger: Any = None
    result: InvokeResult | None = None
    try:
        ledger = gateway.ledger_for(ctx.settings)
        if hasattr(ledger, "errors"):
            ledger.errors = 0
        opened = open_stream(
            request,
            settings=ctx.settings,
            llm=gateway.stream_llm,
            clock=gateway.clock,
            remaining_ms=ctx.remaining_ms,
            rng=gateway.rng,
            request_id=ctx.request_id,
            message_id=message_id(ctx.request_id),
            model_name=model_name,
            ledger=ledger,
            policy=gateway.policy,
            caller=ctx.caller,
        )
        if isinstance(opened, InvokeResult):
            result = opened
            channel.put("refused", opened.error)
            return
        events = opened.events()
        try:
            for event in events:
                channel.put("event", event)
                if channel.abort.is_set():
                    break
        finally:
            events.close()  # early: the session charges the worst case
        result = opened.result
    except Exception:
        logger.exception("the stream failed", extra={"request_id": ctx.request_id})
        error = ProxyError(
            ErrorType.INTERNAL_ERROR, f"internal error (request id {ctx.request_id})", retryable=False
        )
        result = failed(ctx, error)
        channel.put("refused", error)
    finally:
        channel.put(*_END)
        if result is not None:
            errors = getattr(ledger, "errors", 0) or 0
            gateway.recorder.finish(token, result, request=request, ctx=ctx, ledger_errors=errors)


class SseResponse(Response):
    """Streams the channel's events; watches for the client going away."""

    media_type = "text/event-stream"

    def __init__(self, channel: _Channel, first: dict[str, Any], request_id: str) -> None:
        super().__init__(
            headers={"cache-control": "no-cache", "request-id": request_id, "x-accel-buffering": "no"},
            media_type=self.media_type,
        )
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self._channel = channel
        self._first = first
        self._request_id = request_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI: headers, then one frame per event, until the end or a disconnect."""
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
                kind, value = item
                event = {"type": "error", "error": value} if kind == "refused" else value
                frame = sse_frame(event, self._request_id)
                await send({"type": "http.response.body", "body": frame, "more_body": True})
                try:
                    item = await asyncio.wait_for(channel.queue.get(), timeout=PING_INTERVAL_S)
                except TimeoutError:
                    item = ("event", {"type": "ping"})
            if not channel.abort.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the server could not send: the client is gone
            channel.abort.set()
        finally:
            if item != _END:
                channel.abort.set()
            listener.cancel()


async def stream_messages(
    gateway: Gateway, request: ClaudeRequest, ctx: RequestContext, model_name: str
) -> Response:
    """The SSE response, or an HTTP error when the call was refused or failed before streaming."""
    if gateway.stream_llm is None:
        raise ProxyError(ErrorType.CONFIGURATION_ERROR, "streaming is not configured", retryable=False)
    channel = _Channel(asyncio.get_running_loop())
    worker = threading.Thread(
        target=_produce, args=(gateway, request, ctx, model_name, channel), name="sse-stream", daemon=True
    )
    worker.start()
    kind, value = await channel.queue.get()
    if kind == "refused":
        return anthropic_error(value, ctx.request_id)
    if kind != "event":  # pragma: no cover - the worker always sends a first item before the end
        raise ProxyError(ErrorType.INTERNAL_ERROR, "the stream ended before it began", retryable=False)
    response = SseResponse(channel, value, ctx.request_id)
    for name, header in adjusted_header(ctx).items():
        response.headers[name] = header
    return response
