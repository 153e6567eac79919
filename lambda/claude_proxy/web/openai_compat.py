"""OpenAI Chat Completions <-> the Anthropic Messages shape the gateway serves (pure translation).

Requests become Messages API bodies (then the same normalization and request model as
`POST /v1/messages`); answers and stream events go back in OpenAI's shapes. Fields OpenAI clients
send that have no Bedrock meaning are listed in IGNORED_FIELDS; any other field not translated
here is refused by name (docs/clients.md).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from claude_platform.prices import TokenUsage
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.web.errors import error_headers, http_error

TRANSLATED_FIELDS = (
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "tools",
    "tool_choice",
    "stream",
    "stream_options",
)
# Accepted and not passed on: `user` (the caller is its API key), `n` (only 1), `parallel_tool_calls`
# (Claude may always call several tools), `store`.
IGNORED_FIELDS = ("user", "n", "parallel_tool_calls", "store")
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
_DATA_URL = re.compile(r"^data:(image/(?:png|jpeg|gif|webp));base64,(.*)$", re.S)
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}


def _invalid(message: str) -> ProxyError:
    return ProxyError(ErrorType.INVALID_REQUEST, message)


def _text_of(content: Any, where: str) -> str:
    """A system/tool message's content as text (a string or text parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for i, part in enumerate(content):
            if (
                not isinstance(part, dict)
                or part.get("type") != "text"
                or not isinstance(part.get("text"), str)
            ):
                raise _invalid(f"{where}[{i}]: only text parts are accepted here")
            texts.append(part["text"])
        return "".join(texts)
    raise _invalid(f"{where}: must be a string or a list of text parts")


def _user_blocks(content: Any, where: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list) or not content:
        raise _invalid(f"{where}: must be a string or a non-empty list of content parts")
    blocks: list[dict[str, Any]] = []
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            blocks.append({"type": "text", "text": part.get("text")})
        elif kind == "image_url":
            url = (
                (part.get("image_url") or {}).get("url") if isinstance(part.get("image_url"), dict) else None
            )
            match = _DATA_URL.match(url or "")
            if not match:
                raise _invalid(
                    f"{where}[{i}].image_url.url: only base64 data URLs (data:image/png;base64,...) are "
                    "accepted: Bedrock does not fetch URLs"
                )
            blocks.append(
                {"type": "image", "source": {"type": "base64", "media_type": match[1], "data": match[2]}}
            )
        else:
            raise _invalid(f"{where}[{i}].type: must be text or image_url")
    return blocks


def _tool_calls(calls: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(calls, list):
        raise _invalid(f"{where}: must be a list")
    blocks = []
    for i, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or call.get("type", "function") != "function":
            raise _invalid(f"{where}[{i}]: must be a function call")
        raw = function.get("arguments") or "{}"
        try:
            arguments = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise _invalid(f"{where}[{i}].function.arguments: not valid JSON") from None
        if not isinstance(arguments, dict):
            raise _invalid(f"{where}[{i}].function.arguments: must be a JSON object")
        blocks.append(
            {"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": arguments}
        )
    return blocks


def _messages(messages: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, Anthropic messages); consecutive tool results become one user turn."""
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages: must be a non-empty list")
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _invalid(f"{where}: must be an object")
        role, content = message.get("role"), message.get("content")
        if role in ("system", "developer"):
            system.append({"type": "text", "text": _text_of(content, f"{where}.content")})
        elif role == "user":
            out.append({"role": "user", "content": _user_blocks(content, f"{where}.content")})
        elif role == "assistant":
            blocks: list[dict[str, Any]] = []
            if content:
                blocks.append({"type": "text", "text": _text_of(content, f"{where}.content")})
            if message.get("tool_calls"):
                blocks += _tool_calls(message["tool_calls"], f"{where}.tool_calls")
            if not blocks:
                raise _invalid(f"{where}: an assistant message needs content or tool_calls")
            out.append({"role": "assistant", "content": blocks})
        elif role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id"),
                "content": _text_of(content, f"{where}.content") or "(empty)",
            }
            last = out[-1] if out else None
            if (
                last
                and last["role"] == "user"
                and isinstance(last["content"], list)
                and all(b.get("type") == "tool_result" for b in last["content"])
            ):
                last["content"].append(result)
            else:
                out.append({"role": "user", "content": [result]})
        else:
            raise _invalid(f"{where}.role: must be system, developer, user, assistant or tool")
    return system, out


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise _invalid("tools: must be a list")
    out = []
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or tool.get("type") != "function":
            raise _invalid(f"tools[{i}]: must be {{'type': 'function', 'function': {{...}}}}")
        entry = {
            "name": function.get("name"),
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description"):
            entry["description"] = function["description"]
        out.append(entry)
    return out


def _tool_choice(choice: Any) -> dict[str, Any]:
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    raise _invalid(
        "tool_choice: must be auto, none, required or {'type': 'function', 'function': {'name': ...}}"
    )


def to_messages_body(body: Any) -> tuple[dict[str, Any], bool, bool]:
    """(Messages API body, stream, include_usage) for a Chat Completions request body."""
    if not isinstance(body, dict):
        raise _invalid("the request body must be a JSON object")
    unknown = [k for k in body if k not in TRANSLATED_FIELDS and k not in IGNORED_FIELDS]
    if unknown:
        raise _invalid(f"{unknown[0]}: not supported on this endpoint")
    if body.get("n", 1) != 1:
        raise _invalid("n: only 1 is supported")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _invalid("stream: must be true or false")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise _invalid("stream_options: must be an object")
    include_usage = options.get("include_usage") is True
    system, messages = _messages(body.get("messages"))
    out: dict[str, Any] = {"messages": messages}
    if system:
        out["system"] = system
    for name in ("model", "temperature", "top_p"):
        if body.get(name) is not None:
            out[name] = body[name]
    if "max_tokens" in body and "max_completion_tokens" in body:
        raise _invalid("max_completion_tokens: give either max_tokens or max_completion_tokens")
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None:
        out["max_tokens"] = limit
    stop = body.get("stop")
    if stop is not None:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else stop
    if body.get("tools"):
        out["tools"] = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        choice = _tool_choice(body["tool_choice"])
        if choice["type"] == "none" and "tools" in out and not _has_tool_blocks(messages):
            out.pop("tools")  # the model may not call tools: send none
        elif "tools" in out:
            out["tool_choice"] = choice
    return out, stream, include_usage


def _has_tool_blocks(messages: list[dict[str, Any]]) -> bool:
    return any(
        isinstance(m["content"], list)
        and any(b.get("type") in ("tool_use", "tool_result") for b in m["content"])
        for m in messages
    )


def openai_usage(usage: TokenUsage) -> dict[str, Any]:
    """Bedrock's counts as OpenAI's `usage`: prompt tokens include cache reads and writes."""
    prompt = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_write_input_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_input_tokens},
    }


def completion_id(request_id: str) -> str:
    """An OpenAI-style completion id from our request id."""
    return "chatcmpl-" + request_id.replace("-", "")


def chat_completion(
    content_blocks: list[dict[str, Any]],
    stop_reason: str | None,
    usage: TokenUsage,
    *,
    model: str,
    request_id: str,
) -> dict[str, Any]:
    """A finished call as an OpenAI `chat.completion` (thinking is not part of OpenAI's message)."""
    text = "".join(b.get("text", "") for b in content_blocks if b.get("type") == "text")
    calls = [
        {
            "id": b["id"],
            "type": "function",
            "function": {"name": b["name"], "arguments": json.dumps(b.get("input") or {})},
        }
        for b in content_blocks
        if b.get("type") == "tool_use"
    ]
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": completion_id(request_id),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": FINISH_REASONS.get(stop_reason or "", "stop")}
        ],
        "usage": openai_usage(usage),
    }


def openai_error_body(error: ProxyError, request_id: str) -> dict[str, Any]:
    """`{"error": {"message", "type", "param", "code"}}` with our own type as `code`."""
    status = http_error(error).status
    return {
        "error": {
            "message": error.message,
            "type": _OPENAI_TYPES.get(status, "api_error"),
            "param": None,
            "code": "model_not_found"
            if error.error_type is ErrorType.MODEL_NOT_ALLOWED
            else error.error_type.value,
            "retryable": error.retryable,
            "request_id": request_id,
        }
    }


def openai_error_headers(error: ProxyError, request_id: str) -> dict[str, str]:
    """The same headers as the Messages API (x-should-retry, retry-after; the OpenAI SDKs obey both)."""
    return {**error_headers(error, request_id), "x-request-id": request_id}


class ChunkTranslator:
    """Anthropic stream events -> OpenAI `chat.completion.chunk` objects (None: nothing to send)."""

    def __init__(self, *, model: str, request_id: str, include_usage: bool) -> None:
        self._base = {
            "id": completion_id(request_id),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        self._include_usage = include_usage
        self._tool_index: dict[int, int] = {}
        self._usage: dict[str, Any] | None = None

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**self._base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def translate(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """The chunks for one Anthropic event."""
        kind = event.get("type")
        if kind == "message_start":
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = self._tool_index.setdefault(event["index"], len(self._tool_index))
                call = {
                    "index": index,
                    "id": block["id"],
                    "type": "function",
                    "function": {"name": block["name"], "arguments": ""},
                }
                return [self._chunk({"tool_calls": [call]})]
            return []
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta":
                return [self._chunk({"content": delta["text"]})]
            if delta.get("type") == "input_json_delta" and event.get("index") in self._tool_index:
                call = {
                    "index": self._tool_index[event["index"]],
                    "function": {"arguments": delta["partial_json"]},
                }
                return [self._chunk({"tool_calls": [call]})]
            return []  # thinking and signatures are not part of OpenAI's stream
        if kind == "message_delta":
            usage = event.get("usage") or {}
            self._usage = openai_usage(
                TokenUsage(
                    usage.get("input_tokens", 0),
                    usage.get("output_tokens", 0),
                    usage.get("cache_read_input_tokens", 0),
                    usage.get("cache_creation_input_tokens", 0),
                )
            )
            reason = FINISH_REASONS.get((event.get("delta") or {}).get("stop_reason") or "", "stop")
            return [self._chunk({}, reason)]
        if kind == "message_stop":
            if self._include_usage and self._usage is not None:
                return [{**self._base, "choices": [], "usage": self._usage}]
            return []
        return []
