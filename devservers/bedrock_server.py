"""A local Bedrock-runtime stand-in that LiteLLM and boto3 really talk to over HTTP.

Serves `POST /model/{modelId}/converse` (and `/converse-stream`) on 127.0.0.1 at an ephemeral port,
records every request, and replays a scriptable queue of replies (throttles, 5xx, 4xx, slow answers).
Each response goes out in one write on a TCP_NODELAY socket, so the server adds no delay of its own
and benchmarks may measure against it.

    with BedrockServer() as server:
        server.enqueue(Reply.throttle(), Reply.ok(usage=Usage(input_tokens=10, output_tokens=5)))
        ... point AWS_ENDPOINT_URL_BEDROCK_RUNTIME (or api_base) at server.url ...
        assert server.requests[0].model_id == profile_arn
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from devservers import bedrock_guardrail
from devservers._http import LocalHttpServer, StandInHandler

MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_RECORDED_REQUESTS = 10_000
MAX_DELAY_S = 30.0
DEFAULT_TEXT = "Hello from the local Bedrock server."

_ERROR_TYPES: dict[int, str] = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


@dataclass(frozen=True)
class Usage:
    """Token counts the server reports, in Bedrock's sense (input excludes cache tokens)."""

    input_tokens: int = 12
    output_tokens: int = 7
    cache_read_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    cache_details: tuple[tuple[str, int], ...] | None = None  # (ttl, inputTokens): Converse cacheDetails

    @property
    def total_tokens(self) -> int:
        """Bedrock's totalTokens: every input, cache and output token."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_input_tokens
            + self.cache_write_input_tokens
        )

    def to_converse(self) -> dict[str, Any]:
        """The Converse `usage` object."""
        usage: dict[str, Any] = {
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "totalTokens": self.total_tokens,
            "cacheReadInputTokens": self.cache_read_input_tokens,
            "cacheWriteInputTokens": self.cache_write_input_tokens,
        }
        if self.cache_details is not None:
            usage["cacheDetails"] = [{"ttl": ttl, "inputTokens": n} for ttl, n in self.cache_details]
        return usage


@dataclass(frozen=True)
class Reply:
    """One scripted reply. status 200 answers Converse; anything else is an AWS-style error."""

    status: int = 200
    text: str | None = None
    usage: Usage | None = None
    stop_reason: str = "end_turn"
    delay_s: float = 0.0
    error_type: str | None = None
    message: str | None = None
    latency_ms: int = 42
    content: tuple[dict[str, Any], ...] | None = None  # raw Converse content blocks (overrides text)
    raw_usage: Any = None  # a raw Converse `usage` value (overrides usage), e.g. one that cannot be read
    # ConverseStream only: pause between frames; end with an exception frame (e.g.
    # "modelStreamErrorException") or drop the connection after this many frames.
    frame_delay_s: float = 0.0
    stream_error: str | None = None
    stream_error_after: int | None = None
    stream_cut_after: int | None = None

    @classmethod
    def ok(
        cls, text: str | None = None, usage: Usage | None = None, *, stop_reason: str = "end_turn"
    ) -> Reply:
        """A successful Converse answer (defaults from the server)."""
        return cls(text=text, usage=usage, stop_reason=stop_reason)

    @classmethod
    def blocks(
        cls, *content: dict[str, Any], usage: Usage | None = None, stop_reason: str = "end_turn"
    ) -> Reply:
        """An answer made of these Converse content blocks (see text_block, tool_use_block, thinking_block)."""
        return cls(content=tuple(content), usage=usage, stop_reason=stop_reason)

    @classmethod
    def tool_use(
        cls,
        name: str,
        tool_input: dict[str, Any],
        *,
        tool_use_id: str = "tooluse_1",
        text: str | None = None,
        thinking: str | None = None,
        usage: Usage | None = None,
    ) -> Reply:
        """A `stopReason: tool_use` answer: optional thinking and text, then one toolUse block."""
        content = [thinking_block(thinking)] if thinking is not None else []
        content += [text_block(text)] if text is not None else []
        content.append(tool_use_block(name, tool_input, tool_use_id=tool_use_id))
        return cls.blocks(*content, usage=usage, stop_reason="tool_use")

    @classmethod
    def error(cls, status: int, *, error_type: str | None = None, message: str | None = None) -> Reply:
        """An AWS JSON error with x-amzn-ErrorType."""
        return cls(status=status, error_type=error_type, message=message)

    @classmethod
    def unreadable_usage(cls, usage: Any = None) -> Reply:
        """A 200 answer whose `usage` cannot be read (default: a count that is not a number)."""
        return cls(raw_usage=usage if usage is not None else {"inputTokens": "many", "outputTokens": 3})

    @classmethod
    def throttle(cls) -> Reply:
        """429 ThrottlingException."""
        return cls.error(429, message="Too many requests, please wait before trying again.")

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        """500 InternalServerException or 503 ServiceUnavailableException."""
        return cls.error(status, message="The service encountered an internal error.")

    @classmethod
    def stream_failure(
        cls, error: str = "modelStreamErrorException", *, after_frames: int = 3, reply: Reply | None = None
    ) -> Reply:
        """A ConverseStream that sends `after_frames` frames, then an exception frame of type `error`."""
        return replace(reply or cls(), stream_error=error, stream_error_after=after_frames)

    @classmethod
    def stream_cut(cls, *, after_frames: int = 3, reply: Reply | None = None) -> Reply:
        """A ConverseStream whose connection drops after `after_frames` frames."""
        return replace(reply or cls(), stream_cut_after=after_frames)

    @classmethod
    def slow(cls, delay_s: float, reply: Reply | None = None) -> Reply:
        """`reply` (default: success) after sleeping `delay_s` seconds."""
        return replace(reply or cls(), delay_s=delay_s)


def stand_in_token_count(count_request: Any) -> int | None:
    """This server's CountTokens answer: one token per 4 UTF-8 bytes (rounded up) of the Messages
    body's text fields (system, text blocks, tool names, descriptions and schemas), plus 3 per
    message; None when `input.invokeModel.body` is not a Claude Messages body. A deterministic
    stand-in for the model's tokenizer, always below the request's upper bound."""
    try:
        raw = count_request["input"]["invokeModel"]["body"]
        body = json.loads(base64.b64decode(raw)) if isinstance(raw, str) else None
    except (KeyError, TypeError, ValueError):
        return None
    if not isinstance(body, dict) or body.get("anthropic_version") != "bedrock-2023-05-31":
        return None
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    texts: list[str] = []
    system = body.get("system")
    texts.extend([system] if isinstance(system, str) else [b.get("text", "") for b in system or []])
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            texts.append(content)
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "text":
                texts.append(block.get("text", ""))
    for tool in body.get("tools") or []:
        texts.append(json.dumps(tool, sort_keys=True))
    total_bytes = sum(len(t.encode()) for t in texts)
    return -(-total_bytes // 4) + 3 * len(messages)


def text_block(text: str) -> dict[str, Any]:
    """A Converse text content block."""
    return {"text": text}


def tool_use_block(
    name: str, tool_input: dict[str, Any], *, tool_use_id: str = "tooluse_1"
) -> dict[str, Any]:
    """A Converse toolUse content block."""
    return {"toolUse": {"toolUseId": tool_use_id, "name": name, "input": tool_input}}


def thinking_block(text: str, signature: str | None = None) -> dict[str, Any]:
    """A Converse reasoningContent block (signature derived from the text unless given)."""
    sig = signature or "sig-" + binascii.hexlify(text.encode()[:16]).decode()
    return {"reasoningContent": {"reasoningText": {"text": text, "signature": sig}}}


def redacted_thinking_block(data: str) -> dict[str, Any]:
    """A Converse reasoningContent block with redacted (encrypted) content, base64 on the wire."""
    return {"reasoningContent": {"redactedContent": data}}


@dataclass(frozen=True)
class RecordedRequest:
    """What the server received."""

    method: str
    raw_path: str
    model_id: str | None
    operation: str | None
    headers: dict[str, str]
    body: Any
    raw_body: bytes = field(repr=False)

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


def _event_stream_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message (string headers only)."""
    encoded = b"".join(
        bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v.encode())) + v.encode()
        for k, v in headers.items()
    )
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded + payload
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


def _event(event_type: str, body: dict[str, Any]) -> bytes:
    return _event_stream_frame(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
        json.dumps(body).encode(),
    )


class _Handler(StandInHandler):
    def _head(self, status: int, headers: dict[str, str], length: int) -> bytes:
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Unknown"
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {length}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send_all(self, status: int, headers: dict[str, str], body: bytes) -> None:
        """Status line, headers and body in one write."""
        self.write_all(self._head(status, headers, len(body)) + body)

    def send_head(self, status: int, headers: dict[str, str], length: int) -> None:
        """Status line and headers only (the body follows in later writes)."""
        self.write_all(self._head(status, headers, length))


class BedrockServer(LocalHttpServer):
    """Threaded local Bedrock-runtime server; a context manager."""

    handler_class = _Handler
    thread_name = "bedrock-server"

    def __init__(
        self,
        *,
        text: str = DEFAULT_TEXT,
        usage: Usage | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host=host)
        self.default_text = text
        self.default_usage = usage or Usage()
        self._queue: deque[Reply] = deque()
        self._requests: deque[RecordedRequest] = deque(maxlen=MAX_RECORDED_REQUESTS)

    # scripting -------------------------------------------------------------------------------
    def enqueue(self, *replies: Reply) -> None:
        """Replies for the next requests, in order; once empty, the server answers with success."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self, *, text: str = DEFAULT_TEXT, usage: Usage | None = None) -> None:
        """Forget requests and queued replies; restore defaults."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self.default_text = text
            self.default_usage = usage or Usage()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Requests received so far (oldest first)."""
        with self._lock:
            return list(self._requests)

    @property
    def pending_replies(self) -> int:
        """Scripted replies not yet used."""
        with self._lock:
            return len(self._queue)

    # internals -------------------------------------------------------------------------------
    def _next_reply(self) -> Reply:
        with self._lock:
            return self._queue.popleft() if self._queue else Reply()

    def handle(self, h: _Handler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            h.send_all(
                413, {"Content-Type": "application/json", "Connection": "close"}, b'{"message":"too big"}'
            )
            h.close_connection = True
            return
        raw_body = h.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = None
        raw_path = h.path
        model_id = operation = None
        parts = raw_path.split("?", 1)[0].split("/")
        if len(parts) == 4 and parts[0] == "" and parts[1] == "model":
            model_id, operation = unquote(parts[2]), parts[3]
        recorded = RecordedRequest(
            method=h.command,
            raw_path=raw_path,
            model_id=model_id,
            operation=operation,
            headers=dict(h.headers.items()),
            body=body,
            raw_body=raw_body,
        )
        with self._lock:
            self._requests.append(recorded)
        if h.command != "POST" or operation not in ("converse", "converse-stream", "count-tokens"):
            self._send_error(h, Reply.error(404, message=f"unknown operation {h.command} {raw_path}"))
            return
        reply = self._next_reply()
        if operation == "count-tokens":
            self._send_count(h, reply, body)
            return
        if reply.delay_s > 0 and self._stopping.wait(min(reply.delay_s, MAX_DELAY_S)):
            h.close_connection = True
            return
        if reply.status != 200:
            self._send_error(h, reply)
        elif operation == "converse":
            self._send_converse(h, reply, body)
        else:
            self._send_stream(h, reply, body)

    def _request_id_headers(self) -> dict[str, str]:
        return {"x-amzn-RequestId": str(uuid.uuid4()), "Date": formatdate(usegmt=True)}

    def _send_error(self, h: _Handler, reply: Reply) -> None:
        error_type = reply.error_type or _ERROR_TYPES.get(reply.status, "InternalServerException")
        body = json.dumps({"message": reply.message or error_type}).encode()
        headers = {
            "Content-Type": "application/json",
            "x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            **self._request_id_headers(),
        }
        h.send_all(reply.status, headers, body)

    def _send_count(self, h: _Handler, reply: Reply, body: Any) -> None:
        """CountTokens: an enqueued error, or the stand-in count of an InvokeModel Messages body."""
        if reply.status != 200:
            self._send_error(h, reply)
            return
        tokens = stand_in_token_count(body)
        if tokens is None:
            self._send_error(
                h, Reply.error(400, message="input.invokeModel.body must be a Claude Messages body")
            )
            return
        headers = {"Content-Type": "application/json", **self._request_id_headers()}
        h.send_all(200, headers, json.dumps({"inputTokens": tokens}).encode())

    def _answer(
        self, reply: Reply, body: Any
    ) -> tuple[list[dict[str, Any]], str, Usage, dict[str, Any] | None]:
        """Content, stop reason, usage and guardrail trace, after the request's guardrail if it has one."""
        usage = reply.usage or self.default_usage
        content = (
            list(reply.content) if reply.content is not None else [{"text": reply.text or self.default_text}]
        )
        config = body.get("guardrailConfig") if isinstance(body, dict) else None
        if not isinstance(config, dict):
            return content, reply.stop_reason, usage, None
        guarded = bedrock_guardrail.apply(config, body, content, reply.stop_reason)
        if not guarded.model_ran:  # the input was blocked: the model never ran, no tokens
            usage = Usage(input_tokens=0, output_tokens=0)
        return guarded.content, guarded.stop_reason, usage, guarded.trace

    def _send_converse(self, h: _Handler, reply: Reply, body: Any = None) -> None:
        content, stop_reason, usage, trace = self._answer(reply, body)
        payload = {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop_reason,
            "usage": usage.to_converse() if reply.raw_usage is None else reply.raw_usage,
            "metrics": {"latencyMs": reply.latency_ms},
            **({"trace": trace} if trace is not None else {}),
        }
        headers = {"Content-Type": "application/json", **self._request_id_headers()}
        h.send_all(200, headers, json.dumps(payload).encode())

    def _send_stream(self, h: _Handler, reply: Reply, body: Any = None) -> None:
        """ConverseStream frames: messageStart, each block (toolUse with contentBlockStart, input as
        JSON deltas; reasoning as text then signature deltas), messageStop, metadata (usage + metrics,
        and the guardrail trace when the request has a guardrail)."""
        content, stop_reason, usage, trace = self._answer(reply, body)
        frames = [_event("messageStart", {"role": "assistant"})]
        for index, block in enumerate(content):
            frames += _block_frames(index, block)
        frames.append(_event("messageStop", {"stopReason": stop_reason}))
        metadata: dict[str, Any] = {"usage": usage.to_converse(), "metrics": {"latencyMs": reply.latency_ms}}
        if trace is not None:
            metadata["trace"] = trace
        frames.append(_event("metadata", metadata))
        if reply.stream_error is not None:
            cut = min(reply.stream_error_after or 0, len(frames))
            frames = [*frames[:cut], _exception(reply.stream_error)]
        body_length = sum(len(f) for f in frames)
        if reply.stream_cut_after is not None:
            frames = frames[: reply.stream_cut_after]
        headers = {"Content-Type": "application/vnd.amazon.eventstream", **self._request_id_headers()}
        if reply.frame_delay_s <= 0 and reply.stream_cut_after is None:
            h.send_all(200, headers, b"".join(frames))
            return
        h.send_head(200, headers, body_length)
        for frame in frames:
            if self._stopping.wait(min(reply.frame_delay_s, MAX_DELAY_S)) or not h.write_all(frame):
                break
        h.close_connection = True


def _block_frames(index: int, block: dict[str, Any]) -> list[bytes]:
    """The delta frames of one Converse content block, as ConverseStream sends them."""
    frames: list[bytes] = []
    if "toolUse" in block:
        use = block["toolUse"]
        start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
        frames.append(_event("contentBlockStart", {"contentBlockIndex": index, "start": start}))
        raw = json.dumps(use.get("input") or {})
        for piece in _chunks(raw, 8):
            delta = {"toolUse": {"input": piece}}
            frames.append(_event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
    elif "reasoningContent" in block:
        reasoning = block["reasoningContent"]
        if "redactedContent" in reasoning:
            delta = {"reasoningContent": {"redactedContent": reasoning["redactedContent"]}}
            frames.append(_event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        else:
            text = reasoning["reasoningText"]
            for piece in _chunks(text.get("text", ""), 16):
                delta = {"reasoningContent": {"text": piece}}
                frames.append(_event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
            if text.get("signature"):
                delta = {"reasoningContent": {"signature": text["signature"]}}
                frames.append(_event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
    else:
        for piece in _chunks(block.get("text", ""), 16):
            frames.append(_event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}}))
    frames.append(_event("contentBlockStop", {"contentBlockIndex": index}))
    return frames


def _exception(exception_type: str) -> bytes:
    """An event-stream exception frame, as Bedrock ends a failed ConverseStream."""
    return _event_stream_frame(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps({"message": f"{exception_type} (local Bedrock server)"}).encode(),
    )


def _chunks(text: str, size: int) -> Iterator[str]:
    for i in range(0, max(len(text), 1), size):
        yield text[i : i + size]
