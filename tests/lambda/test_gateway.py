"""The Messages API surface through real LiteLLM to the local Bedrock server: what Converse receives,
what comes back, what it costs, and what is refused before any request is sent."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from claude_proxy.content_blocks import MAX_IMAGE_BYTES
from claude_proxy.core import RetryPolicy, invoke
from claude_proxy.errors import ErrorType
from claude_proxy.llm import LiteLLMClient, content_blocks_from_converse, usage_from_converse
from claude_proxy.request import IMAGE_TOKEN_BOUND, parse_request
from claude_proxy.settings import Settings
from proxy_testkit import (
    Deadline,
    FakeClock,
    MaxRng,
    RecordingLedger,
    model_entry,
    profile_arn,
    project_settings,
)

from claude_platform.function_settings import FunctionSettings
from claude_platform.prices import ModelPrices, RateCard, TokenUsage, cost_usd
from devservers.bedrock_server import (
    Reply,
    Usage,
    redacted_thinking_block,
    text_block,
    thinking_block,
    tool_use_block,
)

POLICY = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.01)
SONNET_ARN = profile_arn("sonnet45")
OPUS47_ARN = profile_arn("opus47")
PRICES = ModelPrices(RateCard(input=3.0, output=15.0, cache_write=3.75, cache_read=0.3, cache_write_1h=6.0))
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(64))).decode()
PDF = base64.b64encode(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF").decode()
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CLOCK_TOOL = {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}


@pytest.fixture(scope="module")
def client() -> LiteLLMClient:
    return LiteLLMClient()


def settings_for(server) -> Settings:
    models = [
        model_entry("claude-sonnet-4-5", arn=SONNET_ARN, prices=PRICES),
        model_entry("claude-opus-4-7", arn=OPUS47_ARN),
        model_entry("claude-sonnet-4", arn=profile_arn("sonnet4")),
        model_entry("claude-3-5-haiku", arn=profile_arn("haiku35")),
    ]
    return Settings(
        project=FunctionSettings.model_validate(project_settings(models)),
        region="us-east-1",
        bedrock_endpoint=server.url,
    )


def run(server, client, event, *, ledger=None):
    clock = FakeClock()
    return invoke(
        parse_request(event),
        settings=settings_for(server),
        llm=client,
        clock=clock,
        remaining_ms=Deadline(clock, 120_000),
        rng=MaxRng(),
        request_id="req-gw",
        ledger=ledger,
        policy=POLICY,
    )


def user(*blocks, text: str | None = None) -> dict:
    return {"role": "user", "content": list(blocks) if blocks else text}


def image(data: str = PNG, media_type: str = "image/png", **extra) -> dict:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}, **extra}


def ephemeral(ttl: str | None = None) -> dict:
    return {"cache_control": {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}}


# --- what Converse receives -------------------------------------------------------------------


def test_tools_and_tool_choice_become_converse_tool_config(server, client):
    event = {
        "messages": [user(text="weather in Paris?")],
        "tools": [WEATHER, CLOCK_TOOL],
        "tool_choice": {"type": "tool", "name": "get_weather"},
    }
    assert run(server, client, event).ok
    config = server.requests[0].body["toolConfig"]
    assert config["tools"][0]["toolSpec"]["name"] == "get_weather"
    assert config["tools"][0]["toolSpec"]["description"] == "Current weather for a city"
    assert config["tools"][0]["toolSpec"]["inputSchema"]["json"]["properties"] == {"city": {"type": "string"}}
    assert config["tools"][1]["toolSpec"]["name"] == "get_time"
    assert config["toolChoice"] == {"tool": {"name": "get_weather"}}


@pytest.mark.parametrize(
    ("choice", "expected"), [({"type": "auto"}, {"auto": {}}), ({"type": "any"}, {"any": {}}), (None, None)]
)
def test_tool_choice_auto_and_any(server, client, choice, expected):
    event = {"messages": [user(text="hi")], "tools": [WEATHER]} | ({"tool_choice": choice} if choice else {})
    assert run(server, client, event).ok
    assert server.requests[0].body["toolConfig"].get("toolChoice") == expected


def test_tool_choice_none_sends_no_tools(server, client):
    event = {"messages": [user(text="hi")], "tools": [WEATHER], "tool_choice": {"type": "none"}}
    assert run(server, client, event).ok
    assert "toolConfig" not in server.requests[0].body


def test_images_and_documents_reach_converse_as_bytes(server, client):
    event = {
        "messages": [
            user(
                {"type": "text", "text": "Compare these."},
                image(),
                image(PNG, "image/webp"),
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
                },
                {
                    "type": "document",
                    "source": {"type": "text", "media_type": "text/plain", "data": "naïve notes"},
                },
            )
        ]
    }
    assert run(server, client, event).ok
    content = server.requests[0].body["messages"][0]["content"]
    assert content[0] == {"text": "Compare these."}
    assert content[1]["image"] == {"source": {"bytes": PNG}, "format": "png"}
    assert content[2]["image"]["format"] == "webp"
    assert content[3]["document"]["format"] == "pdf"
    assert content[3]["document"]["source"] == {"bytes": PDF}
    assert content[4]["document"]["format"] == "txt"
    assert base64.b64decode(content[4]["document"]["source"]["bytes"]).decode() == "naïve notes"
    assert all(c["document"]["name"] for c in content[3:])


def test_cache_points_land_after_their_blocks_with_ttl(server, client):
    event = {
        "system": [{"type": "text", "text": "You are a careful analyst.", **ephemeral("1h")}],
        "tools": [{**WEATHER, **ephemeral("1h")}],
        "messages": [
            user({"type": "text", "text": "long context", **ephemeral()}, {"type": "text", "text": "q"})
        ],
    }
    assert run(server, client, event).ok
    body = server.requests[0].body
    assert body["system"] == [
        {"text": "You are a careful analyst."},
        {"cachePoint": {"type": "default", "ttl": "1h"}},
    ]
    assert body["toolConfig"]["tools"][1] == {"cachePoint": {"type": "default", "ttl": "1h"}}
    assert body["messages"][0]["content"] == [
        {"text": "long context"},
        {"cachePoint": {"type": "default"}},
        {"text": "q"},
    ]


def test_thinking_budget_is_sent_and_max_tokens_is_kept(server, client):
    event = {
        "messages": [user(text="prove it")],
        "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
    }
    assert run(server, client, event).ok
    body = server.requests[0].body
    assert body["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["inferenceConfig"]["maxTokens"] == 4096  # thinking is within max_tokens, as reserved


def test_adaptive_thinking_on_a_newer_model(server, client):
    event = {"messages": [user(text="plan")], "model": "claude-opus-4-7", "thinking": {"type": "adaptive"}}
    assert run(server, client, event).ok
    req = server.requests[0]
    assert req.model_id == OPUS47_ARN
    assert req.body["additionalModelRequestFields"]["thinking"] == {"type": "adaptive"}


def test_sampling_and_stop_sequences_are_sent(server, client):
    event = {
        "messages": [user(text="list")],
        "temperature": 0.4,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["END", "\n\nHuman:"],
    }
    assert run(server, client, event).ok
    body = server.requests[0].body
    assert body["inferenceConfig"]["temperature"] == 0.4
    assert body["inferenceConfig"]["topP"] == 0.9
    assert body["inferenceConfig"]["stopSequences"] == ["END", "\n\nHuman:"]
    assert body["additionalModelRequestFields"]["top_k"] == 40


# --- what comes back --------------------------------------------------------------------------


def test_tool_use_answer_maps_back_with_thinking_and_bedrocks_stop_reason(server, client):
    server.enqueue(
        Reply.tool_use(
            "get_weather",
            {"city": "Paris"},
            tool_use_id="tooluse_abc",
            text="Checking.",
            thinking="Need data.",
        )
    )
    event = {
        "messages": [user(text="weather?")],
        "tools": [WEATHER],
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    result = run(server, client, event)
    assert result.ok, result.error
    response = result.to_response()
    assert response["stop_reason"] == "tool_use"
    assert response["content_blocks"] == [
        {
            "type": "thinking",
            "thinking": "Need data.",
            "signature": thinking_block("Need data.")["reasoningContent"]["reasoningText"]["signature"],
        },
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "tooluse_abc", "name": "get_weather", "input": {"city": "Paris"}},
    ]
    assert response["content"] == "Checking."


@pytest.mark.parametrize("stop_reason", ["end_turn", "stop_sequence", "max_tokens", "guardrail_intervened"])
def test_stop_reason_is_bedrocks_own(server, client, stop_reason):
    server.enqueue(Reply.ok("x", stop_reason=stop_reason))
    assert run(server, client, {"messages": [user(text="hi")]}).to_response()["stop_reason"] == stop_reason


def test_text_blocks_keep_their_order_around_tool_calls(server, client):
    server.enqueue(
        Reply.blocks(
            text_block("First."),
            tool_use_block("get_time", {}, tool_use_id="t1"),
            text_block("Second."),
            tool_use_block("get_weather", {"city": "Oslo"}, tool_use_id="t2"),
            stop_reason="tool_use",
        )
    )
    result = run(server, client, {"messages": [user(text="go")], "tools": [WEATHER, CLOCK_TOOL]})
    blocks = result.to_response()["content_blocks"]
    assert [b["type"] for b in blocks] == ["text", "tool_use", "text", "tool_use"]
    assert [b.get("id") for b in blocks] == [None, "t1", None, "t2"]
    assert result.content == "First.Second."


def test_an_interleaved_answer_can_be_sent_back(server, client):
    answer = [
        {"type": "text", "text": "First."},
        {"type": "tool_use", "id": "t1", "name": "get_time", "input": {}},
        {"type": "text", "text": "Second."},
        {"type": "tool_use", "id": "t2", "name": "get_weather", "input": {"city": "Oslo"}},
    ]
    event = {
        "messages": [
            user(text="go"),
            {"role": "assistant", "content": answer},
            user(
                {"type": "tool_result", "tool_use_id": "t1", "content": "noon"},
                {"type": "tool_result", "tool_use_id": "t2", "content": "rain"},
            ),
        ],
        "tools": [WEATHER, CLOCK_TOOL],
    }
    assert run(server, client, event).ok
    sent = server.requests[0].body["messages"][1]["content"]
    assert sent == [
        {"text": "First."},
        {"text": "Second."},
        tool_use_block("get_time", {}, tool_use_id="t1"),
        tool_use_block("get_weather", {"city": "Oslo"}, tool_use_id="t2"),
    ]


def test_thinking_must_lead_an_assistant_turn():
    from claude_proxy.errors import ProxyError

    with pytest.raises(
        ProxyError, match=r"messages\[1\].content\[1\]: out of order \(thinking blocks come first"
    ):
        parse_request(
            {
                "messages": [
                    user(text="q"),
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "text", "text": "a"},
                            {"type": "thinking", "thinking": "t", "signature": "s"},
                        ],
                    },
                ]
            }
        )


def test_redacted_thinking_maps_back():
    blocks = content_blocks_from_converse(
        {"content": [redacted_thinking_block("ZW5jcnlwdGVk"), text_block("ok")]}
    )
    assert blocks == [{"type": "redacted_thinking", "data": "ZW5jcnlwdGVk"}, {"type": "text", "text": "ok"}]


# --- usage and cost ---------------------------------------------------------------------------


def test_cache_writes_are_priced_by_ttl_from_cache_details(server, client):
    usage = Usage(
        input_tokens=50, output_tokens=10, cache_read_input_tokens=0, cache_write_input_tokens=3000,
        cache_details=(("1h", 2000), ("5m", 1000)),
    )  # fmt: skip
    server.enqueue(Reply.ok("x", usage=usage))
    event = {
        "system": [{"type": "text", "text": "s" * 50, **ephemeral("1h")}],
        "messages": [user({"type": "text", "text": "m", **ephemeral("5m")})],
    }
    result = run(server, client, event)
    assert result.usage == TokenUsage(50, 10, 0, 3000, 2000)
    assert result.to_response()["usage"]["cache_write_1h_input_tokens"] == 2000
    assert result.cost_usd == pytest.approx((50 * 3 + 10 * 15 + 1000 * 3.75 + 2000 * 6.0) / 1e6)


def test_unsplit_cache_writes_count_at_the_1h_price_when_1h_was_asked(server, client):
    server.enqueue(Reply.ok("x", usage=Usage(10, 5, 0, 1000)))  # no cacheDetails
    event = {"system": [{"type": "text", "text": "s", **ephemeral("1h")}], "messages": [user(text="q")]}
    result = run(server, client, event)
    assert result.usage.cache_write_1h_input_tokens == 1000
    assert result.cost_usd == pytest.approx((10 * 3 + 5 * 15 + 1000 * 6.0) / 1e6)


def test_usage_from_converse_rejects_a_split_that_does_not_add_up():
    usage = {"inputTokens": 1, "outputTokens": 1, "cacheWriteInputTokens": 10,
             "cacheDetails": [{"ttl": "1h", "inputTokens": 3}]}  # fmt: skip
    assert usage_from_converse(usage, ttl_1h_requested=True).cache_write_1h_input_tokens == 10
    assert usage_from_converse(usage, ttl_1h_requested=False).cache_write_1h_input_tokens == 0
    with pytest.raises(ValueError, match="inputTokens"):
        usage_from_converse({"inputTokens": -1, "outputTokens": 0}, ttl_1h_requested=False)


def test_thinking_tokens_are_output_tokens_in_cost_and_reservation(server, client):
    server.enqueue(Reply.blocks(thinking_block("t" * 40), text_block("42"), usage=Usage(20, 1500)))
    ledger = RecordingLedger()
    event = {
        "messages": [user(text="q")],
        "max_tokens": 3000,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
    }
    result = run(server, client, event, ledger=ledger)
    assert result.usage.output_tokens == 1500
    assert result.cost_usd == pytest.approx((20 * 3 + 1500 * 15) / 1e6)
    reserved = ledger.events[0][1]["amount_usd"]
    assert reserved >= 3000 * 15 / 1e6  # the whole max_tokens (thinking included) is reserved as output
    assert reserved >= result.cost_usd


def test_reservation_covers_images_tools_and_documents(server, client):
    ledger = RecordingLedger()
    event = {
        "messages": [user(image(), image(), {"type": "text", "text": "?"})],
        "tools": [WEATHER],
        "max_tokens": 100,
    }
    request = parse_request(event)
    assert request.input_token_bound >= 2 * IMAGE_TOKEN_BOUND + len(json.dumps(WEATHER)) // 2
    assert run(server, client, event, ledger=ledger).ok
    assert ledger.events[0][1]["amount_usd"] >= (request.input_token_bound * 3 + 100 * 15) / 1e6


def test_everything_goes_to_the_profile_arn(server, client):
    event = {
        "messages": [user(image(), text=None)],
        "tools": [WEATHER],
        "system": [{"type": "text", "text": "s"}],
    }
    assert run(server, client, event).ok
    [req] = server.requests
    assert req.raw_path == f"/model/{quote(SONNET_ARN, safe='')}/converse"


# --- a tool-use conversation ------------------------------------------------------------------


def test_three_turn_tool_conversation_end_to_end(server, client):
    """The caller sends the answer's content_blocks back unchanged, with its tool results."""
    tools = [WEATHER, CLOCK_TOOL]
    thinking = {"type": "enabled", "budget_tokens": 1024}
    server.enqueue(
        Reply.tool_use("get_weather", {"city": "Paris"}, tool_use_id="tu_1", thinking="Weather first."),
        Reply.tool_use("get_time", {}, tool_use_id="tu_2", text="Now the time."),
        Reply.ok("Sunny, 21°C, and it is noon in Paris."),
    )
    messages = [user(text="Weather and time in Paris?")]
    turns = []
    for tool_result in (
        {"content": "Sunny, 21°C"},
        {"content": [{"type": "text", "text": "clock unavailable"}], "is_error": True},
        None,
    ):
        result = run(
            server, client, {"messages": messages, "tools": tools, "thinking": thinking, "max_tokens": 2048}
        )
        assert result.ok, result.error
        response = result.to_response()
        turns.append(response)
        if tool_result is None:
            break
        assert response["stop_reason"] == "tool_use"
        use = response["content_blocks"][-1]
        messages = [
            *messages,
            {"role": "assistant", "content": response["content_blocks"]},
            user({"type": "tool_result", "tool_use_id": use["id"], **tool_result}),
        ]
    assert turns[-1]["stop_reason"] == "end_turn"
    assert turns[-1]["content"] == "Sunny, 21°C, and it is noon in Paris."
    assert len(server.requests) == 3
    assert {r.model_id for r in server.requests} == {SONNET_ARN}
    second, third = server.requests[1].body["messages"], server.requests[2].body["messages"]
    assert second[1]["role"] == "assistant"
    assert second[1]["content"][0] == thinking_block("Weather first.")  # signature replayed unchanged
    assert second[1]["content"][1] == tool_use_block("get_weather", {"city": "Paris"}, tool_use_id="tu_1")
    assert second[2]["content"] == [
        {"toolResult": {"toolUseId": "tu_1", "content": [{"text": "Sunny, 21°C"}]}}
    ]
    assert third[3]["content"][0] == {"text": "Now the time."}
    result_block = third[4]["content"][0]["toolResult"]
    assert result_block["toolUseId"] == "tu_2" and result_block["status"] == "error"
    assert result_block["content"] == [{"text": "clock unavailable"}]


# --- refused before anything is sent ---------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (
            {"messages": [user(image(data="not base64!"))]},
            "messages[0].content[0].source.data: must be base64",
        ),
        ({"messages": [user(image(media_type="image/tiff"))]}, "messages[0].content[0].source.media_type"),
        (
            {"messages": [user(image(data=base64.b64encode(b"x" * (MAX_IMAGE_BYTES + 1)).decode()))]},
            "over Bedrock's limit",
        ),
        ({"messages": [user(*[image()] * 21)]}, "21 images, over Bedrock's limit of 20"),
        (
            {
                "messages": [
                    user(
                        {
                            "type": "document",
                            "source": {"type": "base64", "media_type": "application/pdf", "data": PNG},
                        }
                    )
                ]
            },
            "is not a PDF",
        ),
        (
            {"messages": [user({"type": "video", "source": {}})]},
            "messages[0].content[0]: type must be one of",
        ),
        (
            {"messages": [user({"type": "tool_result", "tool_use_id": "nope", "content": "x"})]},
            "answers no tool_use",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "a", "name": "f", "input": {}}],
                    }
                ]
            },
            "messages[0].role",
        ),
        (
            {
                "messages": [
                    user(text="q"),
                    {"role": "assistant", "content": [image()]},
                ]
            },
            "messages[1].content[0]: an assistant message may hold only",
        ),
        (
            {
                "messages": [
                    user({"type": "text", "text": "q"}, {"type": "tool_result", "tool_use_id": "x"})
                ],
                "tools": [WEATHER],
            },
            "messages[0].content[1]: out of order",
        ),
        (
            {
                "messages": [
                    user(text="q"),
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "x" * 65, "name": "get_weather", "input": {}}],
                    },
                ],
                "tools": [WEATHER],
            },
            "messages[1].content[0].id",
        ),
        ({"messages": [user(text="q")], "tool_choice": {"type": "auto"}}, "tool_choice: requires tools"),
        (
            {"messages": [user(text="q")], "tools": [WEATHER], "tool_choice": {"type": "tool", "name": "x"}},
            "tool_choice.name",
        ),
        ({"messages": [user(text="q")], "tools": [WEATHER, WEATHER]}, "tool names must be unique"),
        ({"messages": [user(text="q")], "tools": [{**WEATHER, "name": "bad name"}]}, "tools[0].name"),
        (
            {"messages": [user(text="q")], "tools": [{**WEATHER, "input_schema": {"type": "string"}}]},
            "tools[0].input_schema",
        ),
        (
            {"messages": [user(text="q")], "tool_choice": {"type": "sometimes"}, "tools": [WEATHER]},
            "tool_choice: type must be",
        ),
        (
            {"messages": [user(*[{"type": "text", "text": "x", **ephemeral()}] * 5)]},
            "5 cache points, over Bedrock's limit of 4",
        ),
        (
            {
                "messages": [
                    user(
                        {"type": "text", "text": "x", **ephemeral("5m")},
                        {"type": "text", "text": "y", **ephemeral("1h")},
                    )
                ]
            },
            "a 1h cache point must not follow a 5m one",
        ),
        (
            {
                "messages": [
                    user({"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "2h"}})
                ]
            },
            "ttl",
        ),
        (
            {"messages": [user(text="q")], "thinking": {"type": "enabled", "budget_tokens": 512}},
            "budget_tokens",
        ),
        (
            {
                "messages": [user(text="q")],
                "max_tokens": 2000,
                "thinking": {"type": "enabled", "budget_tokens": 2000},
            },
            "less than max_tokens",
        ),
        (
            {
                "messages": [user(text="q")],
                "thinking": {"type": "enabled", "budget_tokens": 1024},
                "temperature": 0.5,
            },
            "temperature",
        ),
        (
            {
                "messages": [user(text="q")],
                "thinking": {"type": "enabled", "budget_tokens": 1024},
                "top_k": 5,
            },
            "top_k",
        ),
        (
            {
                "messages": [user(text="q")],
                "tools": [WEATHER],
                "tool_choice": {"type": "any"},
                "thinking": {"type": "adaptive"},
            },
            "only auto or none",
        ),
        ({"messages": [user(text="q")], "stop_sequences": [" "]}, "stop_sequences"),
        ({"messages": [user(text="q")], "top_p": 1.5}, "top_p"),
        (
            {"messages": [user(text="q")], "model": "claude-opus-4-7", "temperature": 0.5},
            "takes no sampling parameters",
        ),
        ({"messages": [user(text="q")], "model": "claude-opus-4-7", "top_p": 0.5}, "top_p: this model"),
        (
            {
                "messages": [user(text="q")],
                "model": "claude-opus-4-7",
                "max_tokens": 4096,
                "thinking": {"type": "enabled", "budget_tokens": 1024},
            },
            'use thinking {"type": "adaptive"}',
        ),
        (
            {"messages": [user(text="q")], "model": "claude-sonnet-4-5", "thinking": {"type": "adaptive"}},
            "adaptive",
        ),
        (
            {
                "messages": [user({"type": "text", "text": "x", **ephemeral("1h")})],
                "model": "claude-sonnet-4",
            },
            "does not take a 1h cache TTL",
        ),
        ({"messages": [user(image())], "model": "claude-3-5-haiku"}, "does not take images"),
        (
            {
                "messages": [user(text="q")],
                "max_tokens": 1500,
                "model": "claude-opus-4-7",
                "thinking": {"type": "enabled", "budget_tokens": 1500},
            },
            "less than max_tokens",
        ),
        (
            {"messages": [user(text="q")], "thinking": {"type": "enabled", "budget_tokens": 2000}},
            "less than max_tokens (1024)",
        ),
    ],
)
def test_malformed_blocks_and_unsupported_parameters_never_reach_bedrock(server, client, event, field):
    ledger = RecordingLedger()
    try:
        result = run(server, client, event, ledger=ledger)
        message = result.error.message if result.error else ""
        assert result.error is not None and result.error.error_type is ErrorType.INVALID_REQUEST
    except Exception as exc:  # parse_request raises ProxyError for malformed events
        assert getattr(exc, "error_type", None) is ErrorType.INVALID_REQUEST, exc
        message = exc.message
    assert field in message
    assert server.requests == []
    assert ledger.events == []


def test_worked_example_cost_formula():
    usage = TokenUsage(100, 200, 300, 400, 100)
    assert cost_usd(PRICES, usage) == pytest.approx(
        (100 * 3 + 200 * 15 + 300 * 0.3 + 300 * 3.75 + 100 * 6) / 1e6
    )


# --- logs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("log_prompts", [False, True])
def test_logs_keep_media_bytes_out_and_tool_data_only_with_log_prompts(
    monkeypatch, server, capsys, log_prompts
):
    from claude_proxy.handler import lambda_handler
    from proxy_testkit import FakeContext, stdout_json_lines

    monkeypatch.setenv("PROJECT_SETTINGS", json.dumps(project_settings(log_prompts=log_prompts)))
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    server.enqueue(Reply.tool_use("get_weather", {"city": "SECRET-CITY-7"}))
    event = {"messages": [user(image(), {"type": "text", "text": "PROMPT-SENTINEL-3"})], "tools": [WEATHER]}
    assert lambda_handler(event, FakeContext())["ok"] is True
    out = capsys.readouterr().out
    [line] = [x for x in stdout_json_lines(out) if x.get("message") == "claude request served"]
    assert PNG not in out
    assert ("SECRET-CITY-7" in out) is log_prompts and ("PROMPT-SENTINEL-3" in out) is log_prompts
    if log_prompts:
        assert line["messages"][0]["content"][0]["source"]["data"].endswith("bytes>")
        assert line["completion_blocks"][0]["input"] == {"city": "SECRET-CITY-7"}
