"""POST /v1/chat/completions, GET /v1/models and POST /v1/messages/count_tokens through the app under
uvicorn: the real openai SDK (stream and not), real LiteLLM, the local Bedrock server, money in the
DynamoDB ledger (moto)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import anthropic
import boto3
import httpx
import openai
import pytest
from claude_proxy.web.runtime import gateway_from_environment
from proxy_testkit import REGION, model_entry, profile_arn, project_settings
from web_testkit import KEY, MemoryAuthenticator, serve_app

from claude_platform.ledger import LedgerTable, period_of, to_micro
from claude_platform.prices import ModelPrices, TokenUsage, cost_usd
from devservers.aws_server import create_ledger_table
from devservers.bedrock_server import Reply, Usage, stand_in_token_count

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


class Book:
    """A ledger table and PROJECT_SETTINGS (sonnet-4-5 default, haiku-4-5) pointing at it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.table = f"ledger-{uuid.uuid4().hex[:8]}"
        client = boto3.client("dynamodb", region_name=REGION)
        create_ledger_table(client, self.table)
        self.ledger = LedgerTable(client, self.table)
        self.models = [
            model_entry("claude-sonnet-4-5", arn=profile_arn("s1")),
            model_entry("claude-haiku-4-5", arn=profile_arn("h1")),
        ]
        self._monkeypatch = monkeypatch

    def configure(self, cap_usd: float = 5.0, **overrides: Any) -> None:
        doc = project_settings(
            self.models,
            spend={"enforcement": "hard", "cap_usd": cap_usd, "ledger_table": self.table},
            gateway={"model_aliases": {"gpt-4o-mini": "claude-haiku-4-5"}},
            **overrides,
        )
        self._monkeypatch.setenv("PROJECT_SETTINGS", json.dumps(doc))

    def prices(self, index: int = 0) -> ModelPrices:
        return ModelPrices.from_dict(self.models[index]["prices"])

    def settled(self, requests: int):
        deadline = time.monotonic() + 10
        while True:
            state = self.ledger.month("alpha", period_of(datetime.now(UTC)))
            if (state.requests >= requests and state.reserved_micro == 0) or time.monotonic() > deadline:
                return state
            time.sleep(0.05)


@pytest.fixture
def book(local_aws, server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    ledger = Book(monkeypatch)
    ledger.configure()
    return ledger


@pytest.fixture
def web(book):
    keys = MemoryAuthenticator()
    with serve_app(gateway_from_environment(keys)) as base:
        yield base, keys


def oai(url: str, key: str = KEY, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, **({"max_retries": 0} | kwargs))


def _cost(prices: ModelPrices, usage: Usage) -> Decimal:
    return Decimal(str(cost_usd(prices, TokenUsage(usage.input_tokens, usage.output_tokens, 0, 0))))


def test_create_answers_in_openai_shape_and_settles_the_cost(web, server, book):
    url, _ = web
    usage = Usage(input_tokens=21, output_tokens=4)
    server.reset(text="Hi from Claude", usage=usage)
    answer = oai(url).chat.completions.create(
        model="claude-sonnet-4-5",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}],
        max_tokens=50,
        temperature=0.5,
        stop=["END"],
    )
    assert answer.object == "chat.completion" and answer.model == "claude-sonnet-4-5"
    assert answer.choices[0].message.content == "Hi from Claude"
    assert answer.choices[0].message.role == "assistant" and answer.choices[0].finish_reason == "stop"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.total_tokens) == (
        21,
        4,
        25,
    )
    sent = server.requests[-1].body
    assert sent["system"][0]["text"] == "Be brief."
    assert sent["inferenceConfig"]["maxTokens"] == 50 and sent["inferenceConfig"]["stopSequences"] == ["END"]
    state = book.settled(1)
    assert state.spent_micro == to_micro(_cost(book.prices(), usage)) and state.estimated_micro == 0


def test_stream_with_include_usage_ends_with_a_usage_chunk(web, server, book):
    url, _ = web
    usage = Usage(input_tokens=30, output_tokens=9)
    server.reset(text="one two three four", usage=usage)
    stream = oai(url).chat.completions.create(
        model="gpt-4o-mini",  # mapped to claude-haiku-4-5 by gateway.model_aliases
        messages=[{"role": "user", "content": "count"}],
        max_tokens=60,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "one two three four"
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finishing] == ["stop"]
    last = chunks[-1]
    assert last.choices == [] and last.usage.prompt_tokens == 30 and last.usage.completion_tokens == 9
    assert all(c.usage is None for c in chunks[:-1])
    assert server.requests[-1].operation == "converse-stream"
    state = book.settled(1)
    assert state.spent_micro == to_micro(_cost(book.prices(1), usage))  # billed as haiku, the mapped model


def test_stream_without_include_usage_has_no_usage_chunk(web, server):
    url, _ = web
    chunks = list(
        oai(url).chat.completions.create(
            model="claude-sonnet-4-5",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=20,
            stream=True,
        )
    )
    assert all(c.usage is None for c in chunks) and all(c.choices for c in chunks)


def test_tool_calls_and_a_tool_result_turn(web, server):
    url, _ = web
    client = oai(url)
    server.enqueue(Reply.tool_use("get_weather", {"city": "Paris"}, tool_use_id="tooluse_w1"))
    first = client.chat.completions.create(
        model="claude-sonnet-4-5",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER],
        tool_choice="auto",
        max_tokens=100,
    )
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.id == "tooluse_w1" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    server.enqueue(Reply.ok("It is sunny in Paris."))
    second = client.chat.completions.create(
        model="claude-sonnet-4-5",
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"},
        ],
        tools=[WEATHER],
        max_tokens=100,
    )
    assert second.choices[0].message.content == "It is sunny in Paris."
    sent = server.requests[-1].body["messages"]
    assert sent[1]["content"][0]["toolUse"]["toolUseId"] == "tooluse_w1"
    assert sent[2]["content"][0]["toolResult"]["toolUseId"] == "tooluse_w1"


def test_streamed_tool_call_arrives_as_tool_call_deltas(web, server):
    url, _ = web
    server.enqueue(Reply.tool_use("get_weather", {"city": "Oslo"}, tool_use_id="tooluse_w2"))
    chunks = list(
        oai(url).chat.completions.create(
            model="claude-sonnet-4-5",
            messages=[{"role": "user", "content": "Weather in Oslo?"}],
            tools=[WEATHER],
            max_tokens=100,
            stream=True,
        )
    )
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id == "tooluse_w2" and deltas[0].function.name == "get_weather"
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"city": "Oslo"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "tool_calls"
    ]


def test_errors_come_back_in_openai_shape(web, server):
    url, keys = web
    with pytest.raises(openai.NotFoundError) as info:
        oai(url).chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "hi"}])
    error = info.value.body
    assert error["code"] == "model_not_found" and "claude-sonnet-4-5" in error["message"]
    assert "gpt-4o-mini -> claude-haiku-4-5" in error["message"]
    before = keys.calls
    with pytest.raises(openai.AuthenticationError) as info:
        oai(url, key="wrong", max_retries=2).chat.completions.create(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.body["code"] == "authentication_failed"
    assert keys.calls - before == 1  # not retried
    with pytest.raises(openai.BadRequestError) as info:
        oai(url).chat.completions.create(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}], logprobs=True
        )
    assert info.value.body["message"] == "logprobs: not supported on this endpoint"
    with pytest.raises(openai.BadRequestError) as info:
        oai(url).chat.completions.create(
            model="claude-sonnet-4-5",
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}
            ],
        )
    assert "only base64 data URLs" in info.value.body["message"]
    assert server.requests == []  # nothing reached Bedrock


def test_budget_refusal_is_not_retried_by_the_openai_sdk(web, server, book):
    url, keys = web
    book.configure(cap_usd=0.0001)
    before = keys.calls
    with pytest.raises(openai.APIStatusError) as info:
        oai(url, max_retries=3).chat.completions.create(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}], max_tokens=4000
        )
    assert info.value.status_code == 402 and info.value.body["code"] == "budget_exceeded"
    assert keys.calls - before == 1  # one attempt: x-should-retry: false
    assert server.requests == []


def test_models_list_in_both_shapes(web):
    url, _ = web
    listed = oai(url).models.list()
    assert [m.id for m in listed.data] == ["claude-sonnet-4-5", "claude-haiku-4-5"]
    assert listed.data[0].created == int(datetime(2025, 9, 29, tzinfo=UTC).timestamp())
    page = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0).models.list()
    assert [m.id for m in page.data] == ["claude-sonnet-4-5", "claude-haiku-4-5"]
    assert page.data[1].created_at == datetime(2025, 10, 1, tzinfo=UTC)
    assert httpx.get(f"{url}/v1/models").status_code == 401
    one = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0).models.retrieve(
        "claude-haiku-4-5-20251001"
    )
    assert one.id == "claude-haiku-4-5"
    assert oai(url).models.retrieve("gpt-4o-mini").id == "claude-haiku-4-5"  # a mapped name
    with pytest.raises(anthropic.NotFoundError):
        anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0).models.retrieve("claude-opus-9")


def test_count_tokens_is_bedrocks_own_count_of_the_same_request_and_charges_nothing(web, server, book):
    url, _ = web
    client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)
    text = "naïve café " * 50
    counted = client.messages.count_tokens(
        model="claude-sonnet-4-5-20250929", system="Be brief.", messages=[{"role": "user", "content": text}]
    )
    [sent] = server.requests
    assert (
        sent.operation == "count-tokens" and sent.model_id == book.models[0]["base_id"]
    )  # the foundation model
    body = json.loads(base64.b64decode(sent.body["input"]["invokeModel"]["body"]))
    assert body["system"] == "Be brief." and body["messages"][0]["content"] == text
    assert body["anthropic_version"] == "bedrock-2023-05-31" and "tags" not in body
    assert counted.input_tokens == stand_in_token_count(sent.body)
    raw = httpx.post(
        f"{url}/v1/messages/count_tokens",
        headers={"x-api-key": KEY},
        json={"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert raw.headers["x-claude-proxy-token-count"] == "exact"
    state = book.ledger.month("alpha", period_of(datetime.now(UTC)))
    assert state.requests == 0 and state.spent_micro == 0 and state.open_reservations == ()
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="claude-opus-9", messages=[{"role": "user", "content": "hi"}])


def _count(url: str, model: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/messages/count_tokens",
        headers={"x-api-key": KEY},
        json={"model": model, "messages": [{"role": "user", "content": "naïve café " * 50}]},
    )


def test_count_tokens_falls_back_to_the_upper_bound_where_bedrock_does_not_count(web, server):
    url, _ = web
    text_bytes = len(("naïve café " * 50).encode())
    # A model Bedrock does not count (e.g. launched only through cross-region inference): the bound,
    # and this container does not ask again for that model.
    server.enqueue(Reply.error(400, error_type="ValidationException", message="model not supported"))
    refused = _count(url, "claude-haiku-4-5")
    assert refused.status_code == 200 and refused.headers["x-claude-proxy-token-count"] == "upper-bound"
    assert refused.json()["input_tokens"] >= text_bytes  # every token is at least one byte
    assert _count(url, "claude-haiku-4-5").headers["x-claude-proxy-token-count"] == "upper-bound"
    assert len(server.requests) == 1
    # A throttled count: the bound this time, Bedrock asked again next time.
    server.enqueue(Reply.throttle(), Reply.throttle(), Reply.throttle())
    assert _count(url, "claude-sonnet-4-5").headers["x-claude-proxy-token-count"] == "upper-bound"
    server.reset()
    assert _count(url, "claude-sonnet-4-5").headers["x-claude-proxy-token-count"] == "exact"


def test_what_normalization_changed_is_named_in_a_header_streaming_or_not(web, server):
    url, _ = web
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    body = {
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 128000,
        "metadata": {"user_id": '{"device_id": "d"}'},
        "messages": [{"role": "user", "content": "hi"}],
    }
    for stream in (False, True):
        with httpx.stream(
            "POST",
            f"{url}/v1/messages?beta=true",
            headers=headers,
            json={**body, "stream": stream},
            timeout=30,
        ) as answer:
            answer.read()
            assert answer.status_code == 200, answer.text
            assert answer.headers["x-claude-proxy-adjusted"] == "metadata; max_tokens=8192"
    assert [r.body["inferenceConfig"]["maxTokens"] for r in server.requests] == [8192, 8192]
    chat = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100000,
        "messages": [{"role": "user", "content": "hi"}],
    }
    for stream in (False, True):
        with httpx.stream(
            "POST", f"{url}/v1/chat/completions", headers=headers, json={**chat, "stream": stream}, timeout=30
        ) as answer:
            answer.read()
            assert answer.headers["x-claude-proxy-adjusted"] == "max_tokens=8192"


def test_a_system_turn_between_user_turns_reaches_bedrock_as_system_and_one_user_turn(web, server):
    url, _ = web
    answer = httpx.post(
        f"{url}/v1/messages",
        headers={"x-api-key": KEY},
        json={
            "model": "claude-sonnet-4-5",
            "max_tokens": 50,
            "system": "first",
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "system", "content": [{"type": "text", "text": "second"}]},
                {"role": "user", "content": "b"},
            ],
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    sent = server.requests[-1].body
    assert [b["text"] for b in sent["system"]] == ["first", "second"]
    assert [m["role"] for m in sent["messages"]] == ["user"]  # Converse alternates roles: merged
    assert [c["text"] for c in sent["messages"][0]["content"]] == ["a", "b"]
