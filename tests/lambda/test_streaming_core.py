"""The streaming session's money rules and event mapping, with a scripted stream and a recording ledger:
every way a stream can end leaves exactly one settle (actual or worst case) or one release."""

from __future__ import annotations

import json
from typing import Any

import pytest
from claude_proxy.core import LlmError, RetryPolicy
from claude_proxy.errors import ErrorType
from claude_proxy.request import parse_request
from claude_proxy.settings import Settings
from claude_proxy.streaming import ConverseEvent, StreamSession, open_stream
from proxy_testkit import Deadline, FakeClock, MaxRng, RecordingLedger, project_settings

from claude_platform.function_settings import FunctionSettings
from claude_platform.prices import TokenUsage

USAGE = TokenUsage(input_tokens=10, output_tokens=4)


def ev(kind: str, **body: Any) -> ConverseEvent:
    return ConverseEvent(kind=kind, body=body, usage=USAGE if kind == "metadata" else None)


TEXT_STREAM = [
    ev("messageStart", role="assistant"),
    ev("contentBlockDelta", contentBlockIndex=0, delta={"text": "Hel"}),
    ev("contentBlockDelta", contentBlockIndex=0, delta={"text": "lo"}),
    ev("contentBlockStop", contentBlockIndex=0),
    ev("messageStop", stopReason="end_turn"),
    ev("metadata", usage={}, metrics={"latencyMs": 1}),
]


class ScriptedStream:
    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.closed = False
        self.upstream_request_id = "up-1"

    def events(self):
        for item in self.items:
            if isinstance(item, BaseException):
                raise item
            if callable(item):  # e.g. time passing between events
                item()
                continue
            yield item

    def close(self) -> None:
        self.closed = True


class ScriptedLlm:
    """Each open() pops the next script: a list of events/errors, or an LlmError raised at open."""

    def __init__(self, *scripts: Any) -> None:
        self.scripts = list(scripts)
        self.streams: list[ScriptedStream] = []

    def open(self, call):
        script = self.scripts.pop(0)
        if isinstance(script, BaseException):
            raise script
        stream = ScriptedStream(script)
        self.streams.append(stream)
        return stream


def start(llm: ScriptedLlm, ledger: RecordingLedger, clock: FakeClock | None = None, **fields: Any) -> Any:
    settings = Settings(project=FunctionSettings.model_validate(project_settings()), region="us-east-1")
    clock = clock or FakeClock()
    request = parse_request({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100} | fields)
    return open_stream(
        request,
        settings=settings,
        llm=llm,
        clock=clock,
        remaining_ms=Deadline(clock, 60_000),
        rng=MaxRng(),
        request_id="r1",
        message_id="msg_r1",
        model_name="claude-sonnet-4-5",
        ledger=ledger,
        policy=RetryPolicy(speed=None),
    )


def kinds(ledger: RecordingLedger) -> list[tuple[str, bool | None]]:
    return [(name, data.get("estimated")) for name, data in ledger.events]


def test_a_complete_stream_settles_the_actual_cost_before_message_delta():
    ledger = RecordingLedger()
    session = start(ScriptedLlm(TEXT_STREAM), ledger)
    assert isinstance(session, StreamSession)
    seen = []
    for event in session.events():
        seen.append(event["type"])
        if event["type"] == "message_delta":
            assert kinds(ledger) == [("reserve", None), ("settle", False)]
    assert seen == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert session.result.ok and session.result.content == "Hello" and session.result.usage == USAGE


def test_abandoned_after_the_usage_arrived_is_not_charged_twice():
    ledger = RecordingLedger()
    session = start(ScriptedLlm(TEXT_STREAM), ledger)
    events = session.events()
    for event in events:
        if event["type"] == "message_delta":
            break
    events.close()
    assert kinds(ledger) == [("reserve", None), ("settle", False)]
    assert session.result.ok


def test_abandoned_before_the_usage_charges_the_worst_case_once_and_closes_bedrock():
    ledger = RecordingLedger()
    llm = ScriptedLlm(TEXT_STREAM)
    session = start(llm, ledger)
    events = session.events()
    next(events), next(events), next(events)
    events.close()
    assert kinds(ledger) == [("reserve", None), ("settle", True)]
    reserved = ledger.events[0][1]["amount_usd"]
    assert ledger.events[1][1]["amount_usd"] == reserved
    assert llm.streams[0].closed
    assert session.result.error is not None and session.result.estimated_charge_usd == reserved


@pytest.mark.parametrize(
    "failure",
    [
        LlmError(ErrorType.UPSTREAM_ERROR, "modelStreamErrorException", retryable=True, outcome_unknown=True),
        LlmError(ErrorType.TIMEOUT, "read timed out", retryable=False, outcome_unknown=True),
    ],
)
def test_a_failure_mid_stream_ends_with_an_error_event_and_the_worst_case(failure):
    ledger = RecordingLedger()
    session = start(ScriptedLlm([*TEXT_STREAM[:2], failure]), ledger)
    out = list(session.events())
    assert out[-1]["type"] == "error" and "message_stop" not in [e["type"] for e in out]
    assert kinds(ledger) == [("reserve", None), ("settle", True)]
    assert session.result.error.error_type is failure.error_type


def test_a_stream_ending_without_usage_charges_the_worst_case():
    ledger = RecordingLedger()
    session = start(ScriptedLlm(TEXT_STREAM[:-1]), ledger)
    out = list(session.events())
    assert out[-1]["type"] == "error"
    assert kinds(ledger) == [("reserve", None), ("settle", True)]


def test_throttled_at_open_is_retried_on_the_same_hold_and_refused_work_is_released():
    throttled = LlmError(ErrorType.THROTTLED, "slow down", retryable=True, status_code=429)
    ledger = RecordingLedger()
    session = start(ScriptedLlm(throttled, TEXT_STREAM), ledger)
    list(session.events())
    assert kinds(ledger) == [("reserve", None), ("settle", False)]
    ledger = RecordingLedger()
    result = start(ScriptedLlm(*[throttled] * 4), ledger)
    assert not isinstance(result, StreamSession) and result.error.error_type is ErrorType.THROTTLED
    assert kinds(ledger) == [("reserve", None), ("release", None)]


def test_an_exception_as_the_first_event_fails_the_attempt_before_anything_streams():
    ledger = RecordingLedger()
    first = LlmError(
        ErrorType.UPSTREAM_ERROR, "internalServerException", retryable=True, outcome_unknown=True
    )
    session = start(ScriptedLlm([first], TEXT_STREAM), ledger)
    assert isinstance(session, StreamSession)  # retried: the second attempt streamed
    list(session.events())
    assert kinds(ledger) == [("reserve", None), ("settle", True), ("reserve", None), ("settle", False)]


def test_a_budget_refusal_sends_nothing():
    from claude_proxy.core import BudgetExceededError

    llm = ScriptedLlm(TEXT_STREAM)
    result = start(llm, RecordingLedger(refuse=BudgetExceededError("over the cap")))
    assert not isinstance(result, StreamSession) and result.error.error_type is ErrorType.BUDGET_EXCEEDED
    assert llm.streams == []


def test_tool_use_and_thinking_deltas_map_to_anthropic_blocks():
    script = [
        ev("messageStart", role="assistant"),
        ev("contentBlockDelta", contentBlockIndex=0, delta={"reasoningContent": {"text": "hmm"}}),
        ev("contentBlockDelta", contentBlockIndex=0, delta={"reasoningContent": {"signature": "S1"}}),
        ev("contentBlockStop", contentBlockIndex=0),
        ev("contentBlockStart", contentBlockIndex=1, start={"toolUse": {"toolUseId": "t1", "name": "f"}}),
        ev("contentBlockDelta", contentBlockIndex=1, delta={"toolUse": {"input": '{"a": '}}),
        ev("contentBlockDelta", contentBlockIndex=1, delta={"toolUse": {"input": "1}"}}),
        ev("contentBlockStop", contentBlockIndex=1),
        ev("messageStop", stopReason="tool_use"),
        ev("metadata", usage={}),
    ]
    session = start(ScriptedLlm(script), RecordingLedger())
    out = list(session.events())
    deltas = [e["delta"]["type"] for e in out if e["type"] == "content_block_delta"]
    assert deltas == ["thinking_delta", "signature_delta", "input_json_delta", "input_json_delta"]
    starts = [e["content_block"] for e in out if e["type"] == "content_block_start"]
    assert starts == [
        {"type": "thinking", "thinking": "", "signature": ""},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
    ]
    assert next(e for e in out if e["type"] == "message_delta")["delta"]["stop_reason"] == "tool_use"
    assert session.result.content_blocks == [
        {"type": "thinking", "thinking": "hmm", "signature": "S1"},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
    ]
    assert json.dumps(out[0])  # every event is JSON


def test_a_stream_outliving_the_invocation_is_cut_and_charged_the_worst_case():
    clock = FakeClock()

    def most_of_a_minute_passes() -> None:
        clock.now += 59.5  # of the 60 s the invocation has: less than the 1 s safety margin is left

    llm = ScriptedLlm([*TEXT_STREAM[:2], most_of_a_minute_passes, *TEXT_STREAM[2:]])
    ledger = RecordingLedger()
    session = start(llm, ledger, clock=clock)
    out = list(session.events())
    assert out[-1]["type"] == "error" and "message_delta" not in [e["type"] for e in out]
    assert session.result.error.error_type is ErrorType.TIMEOUT
    assert kinds(ledger) == [("reserve", None), ("settle", True)]
    assert llm.streams[0].closed
