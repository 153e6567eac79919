"""The request as LiteLLM (OpenAI-shaped) chat messages and call fields, losing nothing Converse carries.

Pure: no LiteLLM import. LiteLLM turns these into the Converse request.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from claude_proxy.content_blocks import (
    Base64PdfSource,
    DocumentBlock,
    ImageBlock,
    PlainTextSource,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
)
from claude_proxy.request import (
    ClaudeRequest,
    ThinkingAdaptive,
    ThinkingEnabled,
    ToolChoiceAny,
    ToolChoiceNone,
    ToolChoiceTool,
)


def _cache(block: Any) -> dict[str, Any]:
    control = getattr(block, "cache_control", None)
    return {"cache_control": control.model_dump(exclude_none=True)} if control is not None else {}


def _data_url(media_type: str, data: str) -> str:
    return f"data:{media_type};base64,{data}"


def _user_part(block: Any) -> dict[str, Any]:
    """A user content block as a LiteLLM (OpenAI) content part; LiteLLM turns it into a Converse block."""
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text, **_cache(block)}
    if isinstance(block, ImageBlock):
        url = _data_url(block.source.media_type, block.source.data)
        return {"type": "image_url", "image_url": {"url": url}, **_cache(block)}
    if isinstance(block, DocumentBlock):
        source = block.source
        if isinstance(source, Base64PdfSource):
            url = _data_url("application/pdf", source.data)
        else:
            assert isinstance(source, PlainTextSource)
            url = _data_url("text/plain", base64.b64encode(source.data.encode("utf-8")).decode("ascii"))
        return {"type": "file", "file": {"file_data": url}, **_cache(block)}
    raise TypeError(f"not a user content block: {type(block).__name__}")  # pragma: no cover


def _tool_message(block: ToolResultBlock) -> dict[str, Any]:
    content: Any = ""
    if isinstance(block.content, str):
        content = block.content
    elif block.content is not None:
        content = [_user_part(b) for b in block.content]
    message: dict[str, Any] = {"role": "tool", "tool_call_id": block.tool_use_id, "content": content}
    if block.is_error:
        message["is_error"] = True  # Converse toolResult.status "error" (claude_proxy.llm)
    return message | _cache(block)


def _assistant_message(blocks: list[Any]) -> dict[str, Any]:
    texts = [{"type": "text", "text": b.text, **_cache(b)} for b in blocks if isinstance(b, TextBlock)]
    message: dict[str, Any] = {"role": "assistant", "content": texts or None}
    calls = [
        {"id": b.id, "type": "function", "function": {"name": b.name, "arguments": json.dumps(b.input)}}
        for b in blocks
        if isinstance(b, ToolUseBlock)
    ]
    if calls:
        message["tool_calls"] = calls
    thinking: list[dict[str, Any]] = []
    for b in blocks:
        if isinstance(b, ThinkingBlock):
            thinking.append({"type": "thinking", "thinking": b.thinking, "signature": b.signature})
        elif isinstance(b, RedactedThinkingBlock):
            thinking.append({"type": "redacted_thinking", "data": b.data})
    if thinking:
        message["thinking_blocks"] = thinking
    return message


def to_litellm_messages(request: ClaudeRequest) -> list[dict[str, Any]]:
    """The request as LiteLLM chat messages, losing nothing Converse can carry.

    Tool results become `tool` messages (LiteLLM merges them with the user turn they came in);
    an assistant turn's thinking blocks keep their signatures so a tool conversation replays as is.
    Request validation puts tool results first in a user turn and thinking first in an assistant
    turn, the order Converse receives; an assistant turn's text blocks reach Converse before its
    tool calls even where the answer interleaved them (LiteLLM's chat format has one content list
    and one tool-call list per turn).
    """
    messages: list[dict[str, Any]] = []
    if isinstance(request.system, str):
        messages.append({"role": "system", "content": request.system})
    elif request.system:
        blocks = [{"type": "text", "text": b.text, **_cache(b)} for b in request.system]
        messages.append({"role": "system", "content": blocks})
    for m in request.messages:
        if isinstance(m.content, str):
            messages.append({"role": m.role, "content": m.content})
            continue
        if m.role == "assistant":
            messages.append(_assistant_message(m.blocks))
            continue
        results = [b for b in m.blocks if isinstance(b, ToolResultBlock)]
        messages.extend(_tool_message(b) for b in results)
        parts = [_user_part(b) for b in m.blocks if not isinstance(b, ToolResultBlock)]
        if parts:
            messages.append({"role": "user", "content": parts})
    return messages


def call_fields(request: ClaudeRequest) -> dict[str, Any]:
    """The LlmCall fields beyond messages: sampling, stops, tools, tool choice, thinking, cache TTL."""
    fields: dict[str, Any] = {
        "top_p": request.top_p,
        "top_k": request.top_k,
        "stop_sequences": list(request.stop_sequences) if request.stop_sequences else None,
        "cache_ttl_1h": any(c.effective_ttl == "1h" for c in request.cache_controls),
    }
    choice = request.tool_choice
    if request.tools and not isinstance(choice, ToolChoiceNone):
        fields["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    **({"description": t.description} if t.description else {}),
                    "parameters": t.input_schema,
                },
                **_cache(t),
            }
            for t in request.tools
        ]
        if isinstance(choice, ToolChoiceAny):
            fields["tool_choice"] = "required"
        elif isinstance(choice, ToolChoiceTool):
            fields["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
        elif choice is not None:
            fields["tool_choice"] = "auto"
    if isinstance(request.thinking, ThinkingEnabled):
        fields["thinking"] = {"type": "enabled", "budget_tokens": request.thinking.budget_tokens}
    elif isinstance(request.thinking, ThinkingAdaptive):
        fields["thinking"] = {"type": "adaptive"}
    return fields
