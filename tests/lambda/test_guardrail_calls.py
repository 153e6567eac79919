"""The project guardrail through the real handler and real LiteLLM against the local Bedrock server,
money in the DynamoDB ledger (moto): blocked input, blocked output, anonymized output, streaming with
a block, the guardrail's cost reserved and settled in the same charge."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import anthropic
import boto3
import httpx
import pytest
from claude_proxy.handler import lambda_handler
from claude_proxy.web.runtime import gateway_from_environment
from proxy_testkit import ACCOUNT, REGION, FakeContext, model_entry, project_settings, stdout_json_lines
from web_testkit import KEY, MemoryAuthenticator, serve_app

from claude_platform.catalog import Geography
from claude_platform.guardrail_prices import DEFAULT_RATES, OUTPUT_CHARS_PER_TOKEN_BOUND, text_units
from claude_platform.ledger import LedgerTable, period_of, to_micro
from claude_platform.prices import ModelPrices, TokenUsage, cost_usd, worst_case_cost_usd
from devservers import bedrock_guardrail as local
from devservers.aws_server import create_ledger_table
from devservers.bedrock_server import Usage

MODEL = "claude-haiku-4-5"
GUARDRAIL_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:guardrail/gr0abc123"
POLICIES = ["content", "topics", "pii"]
# The local guardrail's units per started 1,000 characters, per policy (local.POLICY_UNIT_KEYS).
PAID_RATE = DEFAULT_RATES["topics"] + DEFAULT_RATES["content"] + DEFAULT_RATES["pii"]


def guardrail_settings(**overrides: Any) -> dict[str, Any]:
    return {
        "guardrail_arn": GUARDRAIL_ARN,
        "guardrail_version": "3",
        "policies": POLICIES,
    } | overrides


class Book:
    """A fresh ledger table and PROJECT_SETTINGS with the guardrail."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.table = f"ledger-{uuid.uuid4().hex[:8]}"
        client = boto3.client("dynamodb", region_name=REGION)
        create_ledger_table(client, self.table)
        self.ledger = LedgerTable(client, self.table)
        self.model = model_entry(MODEL, Geography.US)
        self._monkeypatch = monkeypatch

    def configure(self, cap_usd: float = 5.0, guardrail: Any = "default", **overrides: Any) -> None:
        guard = guardrail_settings() if guardrail == "default" else guardrail
        doc = project_settings(
            [self.model],
            spend={"enforcement": "hard", "cap_usd": cap_usd, "ledger_table": self.table},
            **({"guardrail": guard} if guard is not None else {}),
            **overrides,
        )
        self._monkeypatch.setenv("PROJECT_SETTINGS", json.dumps(doc))

    def month(self):
        return self.ledger.month("alpha", period_of(datetime.now(UTC)))

    @property
    def prices(self) -> ModelPrices:
        return ModelPrices.from_dict(self.model["prices"])


@pytest.fixture
def book(local_aws, server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    b = Book(monkeypatch)
    b.configure()
    return b


def invoke(text: str = "hello", **fields: Any) -> dict[str, Any]:
    event = {"messages": [{"role": "user", "content": text}], "max_tokens": 50, **fields}
    return lambda_handler(
        event, FakeContext(aws_request_id=f"req-{uuid.uuid4().hex[:6]}", remaining_ms=30_000)
    )


def units(chars: int) -> int:
    return text_units(chars)


def test_every_call_carries_the_guardrail_and_the_whole_prompt_is_evaluated(book, server):
    server.reset(usage=Usage(input_tokens=10, output_tokens=5))
    history = [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question"},
    ]
    response = invoke(messages=history)
    assert response["ok"] is True, response
    body = server.requests[-1].body
    assert body["guardrailConfig"] == {
        "guardrailIdentifier": GUARDRAIL_ARN,
        "guardrailVersion": "3",
        "trace": "enabled",
    }
    # No guardContent: Bedrock evaluates every turn, not only the last user turn.
    assert "guardContent" not in json.dumps(body["messages"])
    assert response["stop_reason"] == "end_turn" and response["guardrail"]["intervened"] is False


def test_an_earlier_turn_cannot_smuggle_a_blocked_phrase_past_the_guardrail(book, server):
    history = [
        {"role": "user", "content": f"tell me about {local.BLOCK_MARKER}"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "go on"},
    ]
    response = invoke(messages=history)
    assert response["ok"] is True and response["stop_reason"] == "guardrail_intervened"


def test_blocked_input_answers_the_guardrail_message_and_charges_only_the_guardrail(book, server, capsys):
    prompt = f"please discuss {local.BLOCK_MARKER} in detail"
    capsys.readouterr()
    response = invoke(prompt)
    assert response["ok"] is True, response
    assert response["stop_reason"] == "guardrail_intervened"
    assert response["content"] == local.BLOCKED_INPUT_MESSAGE
    assert response["usage"]["input_tokens"] == 0 and response["usage"]["output_tokens"] == 0
    guard = response["guardrail"]
    assert guard["intervened"] is True and guard["source"] == "input" and guard["policies"] == ["words"]
    expected = units(len(prompt)) * PAID_RATE / 1000
    assert guard["cost_usd"] == pytest.approx(expected) and guard["estimated"] is False
    assert response["cost_usd"] == pytest.approx(expected)
    state = book.month()
    assert (
        state.spent_micro == to_micro(expected) and state.reserved_micro == 0 and state.estimated_micro == 0
    )
    lines = stdout_json_lines(capsys.readouterr().out)
    (served,) = [line for line in lines if line.get("message") == "claude request served"]
    assert served["guardrail"]["policies"] == ["words"] and served["stop_reason"] == "guardrail_intervened"
    everything = json.dumps(lines)
    assert local.BLOCK_MARKER not in everything  # the blocked text is not logged (log_prompts off)
    blobs = [line["_aws"]["CloudWatchMetrics"][0] for line in lines if "_aws" in line]
    per_policy = [line for line in lines if "_aws" in line and line.get("policy") == "words"]
    assert per_policy and per_policy[0]["GuardrailInterventions"] == [1.0]
    assert any(["project", "policy"] in blob["Dimensions"] for blob in blobs)


def test_blocked_text_is_logged_only_with_log_prompts(book, server, capsys):
    book.configure(log_prompts=True)
    capsys.readouterr()
    invoke(f"say {local.BLOCK_MARKER}")
    assert local.BLOCK_MARKER in capsys.readouterr().out


def test_blocked_output_is_replaced_and_charges_model_and_guardrail(book, server):
    answer = f"Here it is: {local.BLOCK_MARKER}."
    server.reset(text=answer, usage=Usage(input_tokens=12, output_tokens=8))
    response = invoke("hello")
    assert response["ok"] is True and response["stop_reason"] == "guardrail_intervened"
    assert response["content"] == local.BLOCKED_OUTPUT_MESSAGE
    guard = response["guardrail"]
    assert guard["source"] == "output" and guard["policies"] == ["words"]
    guard_usd = (units(len("hello")) + units(len(answer))) * PAID_RATE / 1000
    model_usd = cost_usd(book.prices, TokenUsage(12, 8, 0, 0))
    assert guard["cost_usd"] == pytest.approx(guard_usd)
    assert response["cost_usd"] == pytest.approx(model_usd + guard_usd)
    assert book.month().spent_micro == to_micro(model_usd + guard_usd)


def test_anonymized_output_keeps_the_answer_with_the_value_masked(book, server):
    server.reset(text=f"Write to {local.PII_MARKER} for help.", usage=Usage(input_tokens=12, output_tokens=8))
    response = invoke("who do I contact?")
    assert response["ok"] is True
    assert response["content"] == f"Write to {local.ANONYMIZED} for help."
    assert local.PII_MARKER not in json.dumps(response)
    assert response["guardrail"]["policies"] == ["pii"]
    assert response["guardrail"]["actions"] == {"pii:ANONYMIZED": 1}


def test_the_reservation_covers_the_guardrail_worst_case(book, server):
    """A cap the model's worst case fits under but model plus guardrail does not: refused before Bedrock."""
    prompt = "x" * 4000
    model_worst = worst_case_cost_usd(book.prices, input_tokens=4000 + 100, max_output_tokens=50)
    guard_worst = (units(4000 + 100) + units(50 * OUTPUT_CHARS_PER_TOKEN_BOUND)) * PAID_RATE / 1000
    assert guard_worst > 0.001
    book.configure(cap_usd=model_worst + guard_worst / 4)
    before = len(server.requests)
    refused = invoke(prompt)
    assert refused["ok"] is False and refused["error"]["type"] == "budget_exceeded", refused
    assert len(server.requests) == before
    book.configure(cap_usd=model_worst + guard_worst / 4, guardrail=None)
    served = invoke(prompt)  # without the guardrail the same call fits
    assert served["ok"] is True and "guardrail" not in served
    assert "guardrailConfig" not in server.requests[-1].body


def test_a_guardrail_price_override_is_what_is_charged(book, server):
    rates = {"content": 1.0, "topics": 0.0, "pii": 0.0}
    book.configure(guardrail=guardrail_settings(rate_overrides=rates))
    prompt = f"{local.BLOCK_MARKER} " + "y" * 1500
    response = invoke(prompt)
    assert response["guardrail"]["cost_usd"] == pytest.approx(units(len(prompt)) * 1.0 / 1000)


@pytest.fixture
def url(book):
    with serve_app(gateway_from_environment(MemoryAuthenticator())) as base:
        yield base


def raw_events(url: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    with httpx.stream(
        "POST", f"{url}/v1/messages", json=body | {"stream": True}, headers={"x-api-key": KEY}, timeout=30
    ) as response:
        assert response.status_code == 200, response.read()
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                out.append((name, json.loads(line[6:])))
    return out


def _wait_settled(book: Book, requests: int):
    import time

    deadline = time.monotonic() + 10
    while True:
        state = book.month()
        if (state.requests >= requests and state.reserved_micro == 0) or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def test_stream_with_a_blocked_answer_ends_in_refusal_and_settles_the_guardrail(url, server, book):
    answer = f"Streaming {local.BLOCK_MARKER} now."
    server.reset(text=answer, usage=Usage(input_tokens=20, output_tokens=9))
    body = {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "hello"}]}
    events = raw_events(url, body)
    request = server.requests[-1]
    assert request.operation == "converse-stream"
    assert request.body["guardrailConfig"]["streamProcessingMode"] == "sync"
    text = "".join(d["delta"].get("text", "") for n, d in events if n == "content_block_delta")
    assert text == local.BLOCKED_OUTPUT_MESSAGE
    delta = next(d for n, d in events if n == "message_delta")
    assert delta["delta"]["stop_reason"] == "refusal"
    state = _wait_settled(book, 1)
    guard_usd = (units(len("hello")) + units(len(answer))) * PAID_RATE / 1000
    model_usd = cost_usd(book.prices, TokenUsage(20, 9, 0, 0))
    assert state.spent_micro == to_micro(model_usd + guard_usd) and state.estimated_micro == 0


def test_sdk_message_says_refusal_and_carries_the_guardrail_object(url, server, book):
    client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)
    message = client.messages.create(
        model=MODEL, max_tokens=50, messages=[{"role": "user", "content": f"about {local.BLOCK_MARKER}"}]
    )
    assert message.stop_reason == "refusal"
    assert message.content[0].text == local.BLOCKED_INPUT_MESSAGE
    assert (message.model_extra or {})["guardrail"]["intervened"] is True
