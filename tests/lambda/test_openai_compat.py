"""OpenAI Chat Completions <-> Messages translation (web.openai_compat), without a server."""

from __future__ import annotations

import json

import pytest
from claude_proxy.errors import ProxyError
from claude_proxy.request import parse_request
from claude_proxy.web.openai_compat import ChunkTranslator, chat_completion, openai_usage, to_messages_body

from claude_platform.prices import TokenUsage

TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}


def test_a_tool_conversation_becomes_a_valid_messages_request() -> None:
    body, stream, include_usage = to_messages_body(
        {
            "model": "claude-sonnet-4-5",
            "messages": [
                {"role": "developer", "content": "rules"},
                {"role": "system", "content": [{"type": "text", "text": "more rules"}]},
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"a": 1}'},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "one"},
                {"role": "tool", "tool_call_id": "call_2", "content": "two"},
            ],
            "tools": [TOOL],
            "max_completion_tokens": 300,
            "stop": "END",
            "user": "someone",
        }
    )
    assert (stream, include_usage) == (False, False)
    assert [b["text"] for b in body["system"]] == ["rules", "more rules"]
    assert body["max_tokens"] == 300 and body["stop_sequences"] == ["END"] and "user" not in body
    assert body["messages"][1]["content"][1]["input"] == {"a": 1}
    results = body["messages"][2]["content"]  # both tool results in one user turn
    assert [r["tool_use_id"] for r in results] == ["call_1", "call_2"]
    request = parse_request(body)  # the one request model accepts it
    assert request.tools[0].input_schema == {"type": "object", "properties": {}}


def test_tool_choice_none_without_tool_blocks_sends_no_tools() -> None:
    body, _, _ = to_messages_body(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [TOOL],
            "tool_choice": "none",
        }
    )
    assert "tools" not in body and "tool_choice" not in body
    body, _, _ = to_messages_body(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [TOOL],
            "tool_choice": "required",
        }
    )
    assert body["tool_choice"] == {"type": "any"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"n": 2}, "n: only 1 is supported"),
        ({"seed": 1}, "seed: not supported on this endpoint"),
        ({"stream": "yes"}, "stream: must be true or false"),
        ({"max_tokens": 5, "max_completion_tokens": 5}, "max_completion_tokens: give either"),
        ({"messages": []}, "messages: must be a non-empty list"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "messages[0].role: must be"),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{"}}],
                    }
                ]
            },
            "messages[0].tool_calls[0].function.arguments: not valid JSON",
        ),
    ],
)
def test_bad_fields_are_named(fields: dict, message: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    with pytest.raises(ProxyError) as info:
        to_messages_body(body)
    assert info.value.message.startswith(message)


def test_usage_counts_cache_tokens_as_prompt_tokens() -> None:
    usage = openai_usage(TokenUsage(10, 5, cache_read_input_tokens=100, cache_write_input_tokens=20))
    assert usage == {
        "prompt_tokens": 130,
        "completion_tokens": 5,
        "total_tokens": 135,
        "prompt_tokens_details": {"cached_tokens": 100},
    }
    answer = chat_completion(
        [
            {"type": "thinking", "thinking": "hm"},
            {"type": "text", "text": "a"},
            {"type": "text", "text": "b"},
        ],
        "max_tokens",
        TokenUsage(1, 2),
        model="x",
        request_id="1-2",
    )
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "ab"}
    assert answer["choices"][0]["finish_reason"] == "length" and answer["id"] == "chatcmpl-12"


def test_chunks_skip_thinking_and_carry_usage_last_only_when_asked() -> None:
    events = [
        {"type": "message_start", "message": {}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "secret"},
        },
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "t", "name": "f"},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"a"'},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": ": 1}"},
        },
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"input_tokens": 3, "output_tokens": 4},
        },
        {"type": "message_stop"},
    ]
    for include in (True, False):
        translator = ChunkTranslator(model="m", request_id="r", include_usage=include)
        chunks = [c for e in events for c in translator.translate(e)]
        assert "secret" not in json.dumps(chunks)
        calls = [tc for c in chunks if c["choices"] for tc in c["choices"][0]["delta"].get("tool_calls", [])]
        assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"a": 1}
        assert chunks[-1 if not include else -2]["choices"][0]["finish_reason"] == "tool_calls"
        assert (chunks[-1].get("usage") is not None) is include
