"""`stream: true` on POST /v1/messages: the real anthropic SDK's messages.stream through the app under
uvicorn, real LiteLLM streaming ConverseStream from the local Bedrock server, money in the DynamoDB
ledger (moto): settled from the final usage, or the worst case when the stream breaks or is abandoned."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import anthropic
import boto3
import httpx
import pytest
from claude_proxy.web.runtime import gateway_from_environment
from proxy_testkit import REGION, model_entry, project_settings
from web_testkit import KEY, KEY_NAME, MemoryAuthenticator, serve_app

from claude_platform.catalog import Geography
from claude_platform.ledger import LedgerTable, period_of, to_micro
from claude_platform.prices import ModelPrices, TokenUsage, cost_usd, worst_case_cost_usd
from devservers.aws_server import create_ledger_table
from devservers.bedrock_server import (
    Reply,
    Usage,
    redacted_thinking_block,
    text_block,
    thinking_block,
    tool_use_block,
)

MODEL = "claude-haiku-4-5"
PNG = base64.b64encode(bytes.fromhex("89504e470d0a1a0a") + b"\x00" * 64).decode()
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


class Ledger:
    """The project's ledger table, and PROJECT_SETTINGS pointing at it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.table = f"ledger-{uuid.uuid4().hex[:8]}"
        client = boto3.client("dynamodb", region_name=REGION)
        create_ledger_table(client, self.table)
        self.ledger = LedgerTable(client, self.table)
        self.model = model_entry(MODEL, Geography.US)
        self._monkeypatch = monkeypatch

    def configure(self, cap_usd: float = 5.0, enforcement: str = "hard", **overrides: Any) -> None:
        doc = project_settings(
            [self.model],
            spend={"enforcement": enforcement, "cap_usd": cap_usd, "ledger_table": self.table},
            **overrides,
        )
        self._monkeypatch.setenv("PROJECT_SETTINGS", json.dumps(doc))

    def month(self):
        return self.ledger.month("alpha", period_of(datetime.now(UTC)))

    @property
    def prices(self) -> ModelPrices:
        return ModelPrices.from_dict(self.model["prices"])

    def wait_settled(self, requests: int, timeout_s: float = 10.0):
        """The month once `requests` calls are recorded and nothing is held (the worker may lag the client)."""
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.month()
            if (state.requests >= requests and state.reserved_micro == 0) or time.monotonic() > deadline:
                return state
            time.sleep(0.05)


@pytest.fixture
def ledger(local_aws, server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    book = Ledger(monkeypatch)
    book.configure()
    return book


@pytest.fixture
def url(ledger):
    with serve_app(gateway_from_environment(MemoryAuthenticator())) as base:
        yield base


def sdk(url: str, **kwargs: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key=KEY, **({"max_retries": 0} | kwargs))


def hello(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 200, "messages": [{"role": "user", "content": "hello"}]} | fields


def raw_events(url: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The SSE stream as (event, data) pairs, read with plain httpx."""
    out = []
    with httpx.stream(
        "POST", f"{url}/v1/messages", json=body | {"stream": True}, headers={"x-api-key": KEY}, timeout=30
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                out.append((name, json.loads(line[6:])))
    return out


def test_text_stream_follows_anthropic_event_sequence_and_settles_the_actual_cost(url, server, ledger):
    usage = Usage(input_tokens=21, output_tokens=9, cache_write_input_tokens=30, cache_details=(("5m", 30),))
    server.reset(text="Streaming answers arrive in pieces.", usage=usage)
    events = raw_events(url, hello())
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"} and len(names[3:-3]) > 1
    assert all(name == data["type"] for name, data in events)
    start = events[0][1]["message"]
    assert start["role"] == "assistant" and start["model"] == MODEL and start["id"].startswith("msg_")
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert text == "Streaming answers arrive in pieces."
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"] == {
        "input_tokens": 21,
        "output_tokens": 9,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 0,
    }
    assert server.requests[-1].operation == "converse-stream"
    assert server.requests[-1].body["requestMetadata"] == {"api_key": KEY_NAME}
    state = ledger.wait_settled(1)
    expected = cost_usd(ledger.prices, TokenUsage(21, 9, 0, 30))
    assert state.spent_micro == to_micro(expected) and state.estimated_micro == 0
    assert state.reserved_micro == 0 and (state.input_tokens, state.output_tokens) == (21, 9)


def test_sdk_stream_with_a_tool_call_then_the_tool_result_turn(url, server, ledger):
    server.reset(usage=Usage(input_tokens=50, output_tokens=12))
    server.enqueue(
        Reply.blocks(
            text_block("Let me look."),
            tool_use_block("get_weather", {"city": "Paris", "units": ["c"]}, tool_use_id="tooluse_A1"),
            stop_reason="tool_use",
        ),
        Reply.ok("It is sunny in Paris."),
    )
    client = sdk(url)
    question = [{"role": "user", "content": "Weather in Paris?"}]
    with client.messages.stream(model=MODEL, max_tokens=300, tools=[WEATHER], messages=question) as stream:
        kinds = [event.type for event in stream]
        first = stream.get_final_message()
    assert "input_json" in kinds
    assert first.stop_reason == "tool_use"
    assert [b.type for b in first.content] == ["text", "tool_use"]
    call = first.content[1]
    assert (call.id, call.name, call.input) == (
        "tooluse_A1",
        "get_weather",
        {"city": "Paris", "units": ["c"]},
    )
    assert first.usage.input_tokens == 50 and first.usage.output_tokens == 12
    follow_up = [
        *question,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "tooluse_A1", "content": "sunny"}],
        },
    ]
    with client.messages.stream(model=MODEL, max_tokens=300, tools=[WEATHER], messages=follow_up) as stream:
        answer = stream.get_final_message()
    assert answer.content[0].text == "It is sunny in Paris."
    sent = server.requests[-1].body["messages"]
    assert sent[1]["content"][-1]["toolUse"]["toolUseId"] == "tooluse_A1"
    assert sent[2]["content"][0]["toolResult"]["toolUseId"] == "tooluse_A1"
    state = ledger.wait_settled(2)
    assert state.spent_micro == 2 * to_micro(cost_usd(ledger.prices, TokenUsage(50, 12, 0, 0)))
    assert state.reserved_micro == 0 and state.estimated_micro == 0


def test_thinking_stream_keeps_the_signature_and_redacted_blocks(url, server, ledger):
    server.enqueue(
        Reply.blocks(
            thinking_block("First I consider the question carefully.", signature="SIG-xyz=="),
            redacted_thinking_block("ZW5jcnlwdGVk"),
            text_block("42"),
        )
    )
    with sdk(url).messages.stream(
        **hello(max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 2000})
    ) as stream:
        kinds = [event.type for event in stream]
        message = stream.get_final_message()
    assert "thinking" in kinds and "signature" in kinds
    assert [b.type for b in message.content] == ["thinking", "redacted_thinking", "text"]
    assert message.content[0].thinking == "First I consider the question carefully."
    assert message.content[0].signature == "SIG-xyz=="
    assert message.content[1].data == "ZW5jcnlwdGVk"
    sent = server.requests[-1].body
    assert sent["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 2000}


def test_create_with_an_image_and_cache_points_reports_the_5m_1h_split(url, server, ledger):
    usage = Usage(
        input_tokens=40,
        output_tokens=5,
        cache_read_input_tokens=7,
        cache_write_input_tokens=300,
        cache_details=(("1h", 200), ("5m", 100)),
    )
    server.reset(text="A small black image.", usage=usage)
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "text", "text": "Describe it.", "cache_control": {"type": "ephemeral", "ttl": "5m"}},
    ]
    message = sdk(url).messages.create(
        model=MODEL,
        max_tokens=100,
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        messages=[{"role": "user", "content": content}],
    )
    assert message.content[0].text == "A small black image."
    assert message.usage.cache_creation_input_tokens == 300 and message.usage.cache_read_input_tokens == 7
    assert message.usage.cache_creation.ephemeral_1h_input_tokens == 200
    assert message.usage.cache_creation.ephemeral_5m_input_tokens == 100
    sent = server.requests[-1].body
    assert "image" in sent["messages"][0]["content"][0]
    assert any("cachePoint" in block for block in sent["system"])
    state = ledger.wait_settled(1)
    expected = cost_usd(ledger.prices, TokenUsage(40, 5, 7, 300, 200))
    assert state.spent_micro == to_micro(expected)


def worst_case(ledger: Ledger, max_tokens: int = 200) -> float:
    from claude_proxy.request import parse_request

    request = parse_request(
        {
            "messages": [{"role": "user", "content": "hello"}],
            "max_tokens": max_tokens,
            "tags": {"api_key": KEY_NAME},
        }
    )
    return worst_case_cost_usd(
        ledger.prices, input_tokens=request.input_token_bound, max_output_tokens=max_tokens
    )


@pytest.mark.parametrize(
    "reply",
    [Reply.stream_failure("modelStreamErrorException", after_frames=3), Reply.stream_cut(after_frames=3)],
    ids=["bedrock-error-event", "connection-dropped"],
)
def test_bedrock_failing_mid_stream_sends_an_error_event_and_charges_the_worst_case(
    url, server, ledger, reply
):
    server.enqueue(reply)
    events = raw_events(url, hello())
    names = [name for name, _ in events]
    assert names[0] == "message_start" and "content_block_delta" in names
    assert names[-1] == "error" and "message_stop" not in names
    error = events[-1][1]
    assert error["type"] == "error" and error["error"]["type"] in ("overloaded_error", "api_error")
    assert "worst case" in error["error"]["message"]
    state = ledger.wait_settled(1)
    assert state.estimated_micro == to_micro(worst_case(ledger)) == state.spent_micro
    assert state.reserved_micro == 0 and state.estimated_requests == 1


def test_sdk_raises_on_a_mid_stream_error(url, server, ledger):
    server.enqueue(Reply.stream_failure("internalServerException", after_frames=2))
    with pytest.raises(anthropic.APIStatusError), sdk(url).messages.stream(**hello()) as stream:
        for _ in stream:
            pass


def test_client_disconnecting_mid_stream_charges_the_worst_case_and_closes_bedrocks_stream(
    url, server, ledger
):
    slow = Reply(text="x" * 400, frame_delay_s=0.05)  # 25 deltas, about 1.4 s in all
    server.enqueue(slow)
    pooled = {id(s) for s in server.open_connections}  # keep-alive connections of earlier calls
    with httpx.stream(
        "POST", f"{url}/v1/messages", json=hello(stream=True), headers={"x-api-key": KEY}, timeout=30
    ) as response:
        for line in response.iter_lines():
            if line.startswith("event: content_block_delta"):
                break  # the client goes away after the first token
    state = ledger.wait_settled(1)
    assert state.requests == 1 and state.reserved_micro == 0
    assert state.estimated_micro == to_micro(worst_case(ledger)) == state.spent_micro
    deadline = time.monotonic() + 5
    streaming = [s for s in server.open_connections if id(s) not in pooled]
    while streaming and time.monotonic() < deadline:
        time.sleep(0.05)
        streaming = [s for s in server.open_connections if id(s) not in pooled]
    assert streaming == []  # our side dropped Bedrock's stream
    assert len(server.requests[-1].body["messages"]) == 1 and server.pending_replies == 0


def test_throttle_before_the_first_event_is_retried_and_a_refusal_is_a_429_with_retry_after(
    url, server, ledger
):
    server.enqueue(Reply.throttle(), Reply.ok("after a retry"))
    events = raw_events(url, hello())
    assert (
        "".join(d["delta"].get("text", "") for n, d in events if n == "content_block_delta")
        == "after a retry"
    )
    server.enqueue(*[Reply.throttle()] * 4)
    response = httpx.post(
        f"{url}/v1/messages", json=hello(stream=True), headers={"x-api-key": KEY}, timeout=30
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] and response.headers["x-should-retry"] == "true"
    assert response.json()["error"]["type"] == "rate_limit_error"
    state = ledger.wait_settled(1)
    assert state.reserved_micro == 0 and state.estimated_micro == 0


def test_budget_exceeded_is_402_not_retried_by_the_sdk(url, server, ledger):
    ledger.configure(cap_usd=worst_case(ledger) / 2)
    before = len(server.requests)
    client = sdk(url, max_retries=3)
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(**hello())
    assert caught.value.status_code == 402
    assert caught.value.body["error"]["type"] == "billing_error"
    assert caught.value.body["error"]["platform_error_type"] == "budget_exceeded"
    assert len(server.requests) == before
    assert ledger.month().refusals == 1  # one request: the SDK did not retry


def test_concurrent_streams_at_the_edge_of_a_small_cap_never_pass_it(url, server, ledger):
    worst = worst_case(ledger)
    ledger.configure(cap_usd=worst * 3.5)  # room for 3 worst cases at a time
    server.reset(usage=Usage(input_tokens=10, output_tokens=10))
    for _ in range(8):
        server.enqueue(Reply(text="y" * 64, frame_delay_s=0.05))
    outcomes: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        with httpx.stream(
            "POST", f"{url}/v1/messages", json=hello(stream=True), headers={"x-api-key": KEY}, timeout=30
        ) as response:
            response.read()
            with lock:
                outcomes.append(response.status_code)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(set(outcomes)) <= [200, 402] and 200 in outcomes and 402 in outcomes
    state = ledger.wait_settled(outcomes.count(200))
    assert state.reserved_micro == 0
    assert state.spent_micro <= to_micro(worst * 3.5)
    assert state.requests == outcomes.count(200)
    assert state.spent_micro == outcomes.count(200) * to_micro(
        cost_usd(ledger.prices, TokenUsage(10, 10, 0, 0))
    )
