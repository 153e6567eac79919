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
