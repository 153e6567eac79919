"""Request validation: malformed events are rejected, naming the field, before anything reaches Bedrock."""

from __future__ import annotations

import pytest
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.request import (
    FRAMING_TOKENS_PER_BLOCK,
    FRAMING_TOKENS_PER_MESSAGE,
    MAX_INPUT_CHARS,
    parse_request,
)
from proxy_testkit import FakeContext

USER = {"role": "user", "content": "hi"}


def rejected(event) -> str:
    with pytest.raises(ProxyError) as info:
        parse_request(event)
    assert info.value.error_type is ErrorType.INVALID_REQUEST
    assert info.value.retryable is False
    return info.value.message


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({}, "messages: Field required"),
        ({"messages": []}, "messages:"),
        ({"messages": "hi"}, "messages:"),
        ({"messages": [USER, {"role": "system", "content": "x"}]}, "messages[1].role:"),
        ({"messages": [USER, USER, {"role": "assistant", "content": ""}]}, "messages[2].content:"),
        ({"messages": [{"role": "user", "content": "   \n"}]}, "messages[0].content:"),
        ({"messages": [{"role": "user", "content": []}]}, "messages[0].content:"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content: must be a non-empty string"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "text": "x"}]}]},
            "messages[0].content[0].source: Field required",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
            "messages[0].content[0].text:",
        ),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text:"),
        ({"messages": [{"role": "user"}]}, "messages[0].content: Field required"),
        ({"messages": [{"role": "user", "content": "x", "name": "bob"}]}, "messages[0].name: unknown field"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, "messages[0].role:"),
        ({"messages": [USER], "max_tokens": 0}, "max_tokens:"),
        ({"messages": [USER], "max_tokens": "100"}, "max_tokens:"),
        ({"messages": [USER], "max_tokens": 1.5}, "max_tokens:"),
        ({"messages": [USER], "max_tokens": True}, "max_tokens:"),
        ({"messages": [USER], "temperature": 1.5}, "temperature:"),
        ({"messages": [USER], "temperature": -0.1}, "temperature:"),
        ({"messages": [USER], "temperature": "0.5"}, "temperature:"),
        ({"messages": [USER], "system": ""}, "system:"),
        ({"messages": [USER], "system": ["a"]}, "system[0]:"),
        ({"messages": [USER], "model": 3}, "model:"),
        ({"messages": [USER], "model": ""}, "model:"),
        ({"messages": [USER], "stream": True}, "stream: unknown field"),
        ({"messages": [USER], "tags": ["a"]}, "tags:"),
        ({"messages": [USER], "tags": {"a": 1}}, "tags.a:"),
        ({"messages": [USER], "tags": {f"k{i}": "v" for i in range(17)}}, "tags: Value error, at most 16"),
        ({"messages": [USER], "tags": {"": "v"}}, "tags:"),
        ({"messages": [USER], "tags": {"k" * 257: "v"}}, "tags:"),
        ({"messages": [USER], "tags": {"k": "v" * 257}}, "tags:"),
        ({"messages": [USER], "tags": {"team!": "v"}}, "tags:"),
        ({"messages": [USER], "tags": {"team": "a;b"}}, "tags:"),
        ({"messages": [USER], "tags": {"team": "ü"}}, "tags:"),
    ],
)
def test_malformed_requests_name_the_field(event, field):
    message = rejected(event)
    assert field.replace("Value error, ", "") in message


def test_non_dict_event():
    assert "JSON object" in rejected(["messages"])
    assert "JSON object" in rejected(None)


def test_valid_tags_at_the_limits_are_accepted():
    tags = {f"k{i:02d}": "v" for i in range(15)} | {"k" * 256: "a-Z 0:9_@$#=/+,.-" + "x" * 239}
    req = parse_request({"messages": [USER], "tags": tags})
    assert req.tags == tags
    assert parse_request({"messages": [USER], "tags": {"empty": ""}}).tags == {"empty": ""}


def test_input_size_is_capped_over_messages_and_system():
    half = "x" * (MAX_INPUT_CHARS // 2)
    ok = parse_request({"system": half, "messages": [{"role": "user", "content": half}]})
    assert ok.input_chars == MAX_INPUT_CHARS
    message = rejected(
        {"system": half, "messages": [{"role": "user", "content": [{"type": "text", "text": half + "y"}]}]}
    )
    assert "over the limit" in message and str(MAX_INPUT_CHARS) in message


def test_error_messages_never_echo_the_prompt():
    secret = "SENTINEL-9f1c-prompt"
    message = rejected({"messages": [{"role": "robot", "content": secret}], "system": 5})
    assert secret not in message


def test_a_valid_request():
    req = parse_request(
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "a"}]},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": "c"},
            ],
            "system": "s",
            "model": "claude-sonnet-4-5",
            "max_tokens": 10,
            "temperature": 0,
            "tags": {"team": "x"},
        }
    )
    assert req.max_tokens == 10 and req.temperature == 0.0 and req.input_chars == 4


@pytest.mark.parametrize(
    ("event", "error_type"),
    [
        ({}, "invalid_request"),
        ({"messages": [{"role": "user", "content": ""}]}, "invalid_request"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "invalid_request"),
        ({"messages": [{"role": "user", "content": "x" * (MAX_INPUT_CHARS + 1)}]}, "invalid_request"),
        ({"messages": [USER], "model": "claude-opus-4-5"}, "model_not_allowed"),
        ({"messages": [USER], "max_tokens": 8193}, "invalid_request"),
        ({"messages": [USER], "tags": {"bad key!": "v"}}, "invalid_request"),
        ({"messages": [USER], "extra": 1}, "invalid_request"),
        ("not an object", "invalid_request"),
    ],
)
def test_invalid_events_never_reach_bedrock(lambda_env, server, event, error_type):
    from claude_proxy.handler import lambda_handler

    response = lambda_handler(event, FakeContext())
    assert response == {
        "ok": False,
        "error": {"type": error_type, "message": response["error"]["message"], "retryable": False},
        "request_id": FakeContext().aws_request_id,
    }
    assert server.requests == []


def test_input_token_bound_counts_bytes_not_characters():
    """One CJK character or emoji can be several tokens: the reservation bound uses UTF-8 bytes."""
    ascii_req = parse_request({"messages": [{"role": "user", "content": "abcd"}]})
    wide_req = parse_request(
        {"system": "総括", "messages": [{"role": "user", "content": [{"type": "text", "text": "日本🙂"}]}]}
    )
    framing = ascii_req.input_token_bound - 4
    assert framing == 2 * FRAMING_TOKENS_PER_MESSAGE + FRAMING_TOKENS_PER_BLOCK
    assert wide_req.input_chars == 5
    wide_bytes = len("総括".encode()) + len("日本🙂".encode())
    assert wide_req.input_token_bound == wide_bytes + framing + FRAMING_TOKENS_PER_BLOCK  # + system block
    assert wide_req.input_token_bound > wide_req.input_chars + framing


# --- text that cannot be sent, nesting and size (issue 13 items 3 and 12) ----------------------------

LONE = "\ud800"  # what json.loads makes of "\ud800": valid JSON, not encodable as UTF-8


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"messages": [{"role": "user", "content": f"hi {LONE}"}]}, "messages[0].content:"),
        (
            {"messages": [USER, {"role": "assistant", "content": [{"type": "text", "text": LONE}]}]},
            "messages[1].content[0].text:",
        ),
        ({"messages": [USER], "system": f"be {LONE}"}, "system:"),
        ({"messages": [USER], "stop_sequences": ["ok", LONE]}, "stop_sequences[1]:"),
        (
            {
                "messages": [USER],
                "tools": [{"name": "t", "description": LONE, "input_schema": {"type": "object"}}],
            },
            "tools[0].description:",
        ),
        (
            {
                "messages": [USER],
                "tools": [{"name": "t", "input_schema": {"type": "object", "properties": {LONE: {}}}}],
            },
            "tools[0].input_schema.properties: a key",
        ),
        ({"messages": [USER], "tags": {"team": LONE}}, "tags.team:"),
    ],
)
def test_a_lone_surrogate_anywhere_is_refused_naming_the_field(event, field):
    message = rejected(event)
    assert message.startswith(field) and "not valid Unicode" in message
    message.encode("utf-8")  # the message itself can be sent


@pytest.mark.parametrize("space", ["\u00a0", "\u3000", "\u2028", "\u2009", "\u0085"])
def test_tag_values_with_non_ascii_whitespace_are_refused(space):
    # Bedrock's requestMetadata pattern [a-zA-Z0-9\s:_@$#=/+,.-] is a Java pattern: \s is ASCII only.
    message = rejected({"messages": [USER], "tags": {"team": f"data{space}science"}})
    assert message.startswith("tags: value of 'team' has characters outside")
    assert "tags:" in rejected({"messages": [USER], "tags": {f"te{space}am": "x"}})


def test_tag_values_with_ascii_whitespace_and_every_allowed_character_pass():
    value = "aZ09 \t:_@$#=/+,.-"
    assert parse_request({"messages": [USER], "tags": {"k": value}}).tags == {"k": value}


def nested_schema(levels: int) -> dict:
    """An object schema whose JSON nests 2 * levels + 1 objects."""
    schema: dict = {"type": "object"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def test_json_nested_deeper_than_the_bound_is_refused_naming_the_field():
    from claude_proxy.json_limits import MAX_JSON_DEPTH

    event = {"messages": [USER], "tools": [{"name": "t", "input_schema": nested_schema(250)}]}
    message = rejected(event)
    assert message.startswith("tools[0].input_schema.properties.a.properties")
    assert f"nested deeper than {MAX_JSON_DEPTH} levels" in message
    # event > tools > [0] > input_schema: 3 containers above the schema, which nests 2n+1 deep.
    fits = (MAX_JSON_DEPTH - 3 - 1) // 2
    parse_request({"messages": [USER], "tools": [{"name": "t", "input_schema": nested_schema(fits)}]})
    deep_input = {"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x"}]}]}
    deep: list = []
    for _ in range(MAX_JSON_DEPTH):
        deep = [deep]
    deep_input["messages"][0]["content"][0]["content"] = deep
    assert "nested deeper than" in rejected(deep_input)


def test_free_form_json_is_bounded_in_size_naming_the_field():
    from claude_proxy.json_limits import MAX_FREE_JSON_BYTES

    big = {"type": "object", "description": "x" * MAX_FREE_JSON_BYTES}
    message = rejected({"messages": [USER], "tools": [{"name": "t", "input_schema": big}]})
    assert (
        message.startswith("tools[0].input_schema:") and f"over the limit of {MAX_FREE_JSON_BYTES}" in message
    )
    tool = {"name": "t", "input_schema": {"type": "object"}}
    use = {"type": "tool_use", "id": "u1", "name": "t", "input": {"q": "y" * MAX_FREE_JSON_BYTES}}
    event = {"messages": [USER, {"role": "assistant", "content": [use]}], "tools": [tool]}
    assert rejected(event).startswith("messages[1].content[0].input:")
