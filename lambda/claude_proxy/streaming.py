"""Streaming calls through the same core: one reservation, settle from the final usage, never a leaked hold.

`open_stream` resolves the model, refuses what the core refuses, reserves the worst case and opens
Bedrock's ConverseStream with the core's attempt loop (`core._attempt`: retries, backoff, deadline,
the same hold). An attempt counts as opened only once Bedrock's first event has arrived, so a
throttle or error at the very start is retried or answered as a plain HTTP error. After that the
`StreamSession` translates Converse events into Anthropic's SSE events and, whatever happens, ends
with exactly one of:

- the final `metadata` usage arrived: settle the actual cost (before `message_delta` goes out);
- Bedrock ended with an error, the stream broke, the deadline passed, or the consumer stopped
  (client gone): charge the worst case reserved, marked estimated (Bedrock may bill what it made).

Pure of LiteLLM and HTTP: the LLM client (`StreamingLlmClient`) and ledger are passed in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from claude_platform.prices import TokenUsage
from claude_proxy.auth import Caller
from claude_proxy.core import (
    _STOP_REASONS,
    DEFAULT_RETRY_POLICY,
    CallRefused,
    Clock,
    InvokeResult,
    LlmCall,
    LlmError,
    LlmResult,
    NullLedger,
    PreparedCall,
    RandomSource,
    RetryPolicy,
    SpendLedger,
    no_answer,
    prepare_call,
    run_attempts,
    settle_answer,
)
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.guardrail import outcome_from_trace
from claude_proxy.request import ClaudeRequest
from claude_proxy.settings import Settings


@dataclass(frozen=True)
class ConverseEvent:
    """One ConverseStream event: its type (messageStart, contentBlockDelta, ...), body, parsed usage."""

    kind: str
    body: dict[str, Any]
    usage: TokenUsage | None = None  # the `metadata` event's usage


class UpstreamStream(Protocol):
    """An open ConverseStream."""

    upstream_request_id: str | None

    def events(self) -> Iterator[ConverseEvent]:
        """Events in order; raises LlmError when Bedrock sends an exception or the stream breaks."""
        ...

    def close(self) -> None:
        """Stop reading and drop the connection."""
        ...


class StreamingLlmClient(Protocol):
    """Opens one ConverseStream call (no retries)."""

    def open(self, call: LlmCall) -> UpstreamStream:
        """The open stream; raises LlmError when Bedrock refuses before streaming."""
        ...


@dataclass
class _Opened:
    """A stream whose first event has arrived."""

    stream: UpstreamStream
    events: Iterator[ConverseEvent]
    first: ConverseEvent


class _Opener:
    """An LlmClient for core._attempt: 'completing' an attempt means the stream's first event arrived."""

    def __init__(self, llm: StreamingLlmClient) -> None:
        self._llm = llm

    def complete(self, call: LlmCall) -> LlmResult:
        """Open and read the first event; an exception there fails the attempt (and may be retried)."""
        stream = self._llm.open(call)
        events = stream.events()
        try:
            first = next(events)
        except StopIteration:
            stream.close()
            raise LlmError(
                ErrorType.UPSTREAM_ERROR,
                "Bedrock's stream ended before any event",
                retryable=True,
                outcome_unknown=True,
            ) from None
        except BaseException:
            stream.close()
            raise
        return cast(LlmResult, _Opened(stream=stream, events=events, first=first))


_REFUSALS = {"guardrail_intervened": "refusal", "content_filtered": "refusal"}


def anthropic_stop_reason(reason: str) -> str:
    """Bedrock's (or LiteLLM's) stop reason as Anthropic's."""
    reason = _STOP_REASONS.get(reason, reason)
    return _REFUSALS.get(reason, reason)


@dataclass
class _Block:
    """One content block being streamed (what the final log line and trace record)."""

    kind: str
    index: int
    data: dict[str, Any] = field(default_factory=dict)
    parts: list[str] = field(default_factory=list)
    signature: str = ""

    def finished(self) -> dict[str, Any]:
        """The block as a complete Anthropic content block."""
        text = "".join(self.parts)
        if self.kind == "text":
            return {"type": "text", "text": text}
        if self.kind == "thinking":
            return {"type": "thinking", "thinking": text, "signature": self.signature}
        if self.kind == "tool_use":
            try:
                tool_input = json.loads(text) if text.strip() else {}
            except ValueError:
                tool_input = {"_unparsed": text}
            return {**self.data, "input": tool_input}
        return dict(self.data)


class _Translator:
    """Converse stream events -> Anthropic SSE events (dicts with `type`), block by block."""

    def __init__(self) -> None:
        self.blocks: list[_Block] = []
        self._open: dict[int, _Block] = {}  # Bedrock contentBlockIndex -> our open block
        self.stop_reason: str | None = None
        self.bedrock_stop_reason = ""  # Bedrock's own (e.g. guardrail_intervened)
        self.stop_sequence: str | None = None

    def _start(self, bedrock_index: int, kind: str, block: dict[str, Any]) -> tuple[_Block, dict[str, Any]]:
        ours = _Block(kind=kind, index=len(self.blocks), data=block)
        self.blocks.append(ours)
        self._open[bedrock_index] = ours
        return ours, {"type": "content_block_start", "index": ours.index, "content_block": block}

    def translate(self, event: ConverseEvent) -> list[dict[str, Any]]:
        """The Anthropic events for one Converse event (message_start/stop are the session's)."""
        body = event.body
        out: list[dict[str, Any]] = []
        if event.kind == "contentBlockStart":
            start = body.get("start") or {}
            index = int(body.get("contentBlockIndex", len(self.blocks)))
            if "toolUse" in start:
                use = start["toolUse"]
                block = {"type": "tool_use", "id": use.get("toolUseId", ""), "name": use.get("name", "")}
                _, started = self._start(index, "tool_use", block)
                out.append({**started, "content_block": {**block, "input": {}}})
        elif event.kind == "contentBlockDelta":
            out.extend(self._delta(int(body.get("contentBlockIndex", 0)), body.get("delta") or {}))
        elif event.kind == "contentBlockStop":
            block = self._open.pop(int(body.get("contentBlockIndex", 0)), None)
            if block is not None:
                out.append({"type": "content_block_stop", "index": block.index})
        elif event.kind == "messageStop":
            self.bedrock_stop_reason = str(body.get("stopReason") or "end_turn")
            self.stop_reason = anthropic_stop_reason(self.bedrock_stop_reason)
            extra = body.get("additionalModelResponseFields") or {}
            stop = extra.get("stop_sequence") if isinstance(extra, dict) else None
            self.stop_sequence = stop if isinstance(stop, str) else None
        return out

    def _delta(self, index: int, delta: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        block = self._open.get(index)
        if "text" in delta:
            if block is None:
                block, started = self._start(index, "text", {"type": "text", "text": ""})
                out.append(started)
            block.parts.append(delta["text"])
            out.append(_delta(block, {"type": "text_delta", "text": delta["text"]}))
        elif "toolUse" in delta and block is not None:
            partial = str((delta["toolUse"] or {}).get("input") or "")
            block.parts.append(partial)
            out.append(_delta(block, {"type": "input_json_delta", "partial_json": partial}))
        elif "reasoningContent" in delta:
            reasoning = delta["reasoningContent"] or {}
            if "redactedContent" in reasoning:
                data = reasoning["redactedContent"]
                _, started = self._start(
                    index, "redacted_thinking", {"type": "redacted_thinking", "data": data}
                )
                out.append(started)
                return out
            if block is None:
                block, started = self._start(
                    index, "thinking", {"type": "thinking", "thinking": "", "signature": ""}
                )
                out.append(started)
            if "text" in reasoning:
                block.parts.append(reasoning["text"])
                out.append(_delta(block, {"type": "thinking_delta", "thinking": reasoning["text"]}))
            if "signature" in reasoning:
                block.signature += reasoning["signature"]
                out.append(_delta(block, {"type": "signature_delta", "signature": reasoning["signature"]}))
        return out

    def close_open_blocks(self) -> list[dict[str, Any]]:
        """content_block_stop for blocks Bedrock left open (it always closes them; defensive)."""
        out = [{"type": "content_block_stop", "index": b.index} for b in self._open.values()]
        self._open.clear()
        return out


def _delta(block: _Block, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": block.index, "delta": delta}


def usage_fields(usage: TokenUsage) -> dict[str, int]:
    """Anthropic's streamed usage counts (message_delta)."""
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
    }


class StreamSession:
    """An opened stream: `events()` yields Anthropic events; `result` is the outcome once it ends."""

    def __init__(
        self,
        *,
        opened: _Opened,
        prepared: PreparedCall,
        model_name: str,
        message_id: str,
        attempts: int,
        clock: Clock,
        started: float,
        project: str,
        request_id: str,
        remaining_ms: Callable[[], int],
        margin_ms: int,
    ) -> None:
        self._remaining_ms = remaining_ms
        self._margin_ms = margin_ms
        self._opened = opened
        self._prepared = prepared
        self._spend = prepared.spend
        self._ledger = prepared.spend.ledger
        self._model_alias = prepared.model.alias
        self._model_name = model_name
        self._profile_arn = prepared.model.profile_arn
        self._message_id = message_id
        self._attempts = attempts
        self._clock = clock
        self._started = started
        self._project = project
        self._request_id = request_id
        self._translator = _Translator()
        self.result: InvokeResult | None = None

    def _finish(self, **fields: Any) -> None:
        blocks = [b.finished() for b in self._translator.blocks]
        self.result = InvokeResult(
            project=self._project,
            model=self._model_alias,
            attempts=self._attempts,
            latency_ms=round((self._clock.monotonic() - self._started) * 1000, 3),
            request_id=self._request_id,
            profile_arn=self._profile_arn,
            upstream_request_id=self._opened.stream.upstream_request_id,
            content="".join(b["text"] for b in blocks if b["type"] == "text"),
            content_blocks=blocks,
            stop_reason=self._translator.stop_reason or "",
            **fields,
        )

    def _charge_worst_case(self, error: ProxyError) -> None:
        """Bedrock may have billed what it generated: charge the held worst case, marked estimated."""
        before = self._spend.estimated_usd
        self._spend.charge_unknown_outcome()
        charged = self._spend.estimated_usd
        if charged > before:
            error.message += f"; charged an estimated {charged - before:.6f} USD (the worst case)"
        self._finish(
            error=error,
            budget=self._ledger.status(),
            estimated_charge_usd=charged,
            attempt_charges_usd=(*self._spend.attempt_charges, charged - before),
        )

    def message_start(self) -> dict[str, Any]:
        """The first event (input usage is not known until Bedrock's final metadata)."""
        return {
            "type": "message_start",
            "message": {
                "id": self._message_id,
                "type": "message",
                "role": "assistant",
                "model": self._model_name,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            },
        }

    def events(self) -> Iterator[dict[str, Any]]:
        """Anthropic events, ending in message_stop or an `error` event. Closing it early charges the worst case."""
        try:
            yield self.message_start()
            yield {"type": "ping"}
            translator = self._translator
            pending = [self._opened.first]
            events = self._opened.events
            while True:
                for event in pending:
                    if event.kind == "metadata":
                        yield from self._settle(event)
                        return
                    yield from translator.translate(event)
                try:
                    pending = [next(events)]
                except StopIteration:
                    break
                if self._remaining_ms() < self._margin_ms:
                    raise LlmError(
                        ErrorType.TIMEOUT,
                        "Bedrock's stream did not finish in the time this invocation has",
                        retryable=False,
                        outcome_unknown=True,
                    )
            error = ProxyError(
                ErrorType.UPSTREAM_ERROR,
                "Bedrock's stream ended without its final usage",
                retryable=False,
            )
            self._charge_worst_case(error)
            yield error_event(error)
        except LlmError as err:
            error = ProxyError(
                err.error_type, err.message, retryable=err.retryable, upstream_detail=err.upstream_detail
            )
            self._charge_worst_case(error)
            yield error_event(error)
        finally:
            self._opened.stream.close()
            if self.result is None:  # the consumer stopped (client gone) or something unexpected broke
                self._charge_worst_case(
                    ProxyError(
                        ErrorType.UPSTREAM_ERROR,
                        "the stream was abandoned before Bedrock's final usage",
                        retryable=False,
                    )
                )

    def _settle(self, event: ConverseEvent) -> Iterator[dict[str, Any]]:
        usage = event.usage or TokenUsage()
        translator = self._translator
        guardrail = (
            outcome_from_trace(event.body.get("trace"), translator.bedrock_stop_reason)
            if self._prepared.settings.project.guardrail is not None
            else None
        )
        money = settle_answer(self._prepared, usage, guardrail)
        if "error" in money:
            self._finish(**money)
            yield error_event(money["error"])
            return
        self._finish(**money)
        yield from translator.close_open_blocks()
        yield {
            "type": "message_delta",
            "delta": {
                "stop_reason": translator.stop_reason or "end_turn",
                "stop_sequence": translator.stop_sequence,
            },
            "usage": usage_fields(usage),
        }
        yield {"type": "message_stop"}


def error_event(error: ProxyError) -> dict[str, Any]:
    """An Anthropic `error` event (the web layer adds the HTTP-side error type)."""
    return {"type": "error", "error": error}


def open_stream(
    request: ClaudeRequest,
    *,
    settings: Settings,
    llm: StreamingLlmClient,
    clock: Clock,
    remaining_ms: Callable[[], int],
    rng: RandomSource,
    request_id: str,
    message_id: str,
    model_name: str,
    ledger: SpendLedger | None = None,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    caller: Caller | None = None,
) -> StreamSession | InvokeResult:
    """The opened session, or the InvokeResult of a call refused or failed before streaming began."""
    started = clock.monotonic()
    project = settings.project.project
    ledger = ledger or NullLedger()

    def done(model: str | None, attempts: int, **fields: Any) -> InvokeResult:
        latency_ms = round((clock.monotonic() - started) * 1000, 3)
        return InvokeResult(
            project=project,
            model=model,
            attempts=attempts,
            latency_ms=latency_ms,
            request_id=request_id,
            **fields,
        )

    try:
        prepared = prepare_call(
            request,
            settings=settings,
            ledger=ledger,
            remaining_ms=remaining_ms,
            request_id=request_id,
            policy=policy,
            caller=caller,
            streamed=True,
        )
    except CallRefused as refused:
        return done(refused.model, 0, error=refused.error)
    model = prepared.model
    attempts = run_attempts(
        prepared, llm=_Opener(llm), clock=clock, remaining_ms=remaining_ms, rng=rng, policy=policy
    )
    opened, attempts_made = attempts.answer, attempts.count
    if opened is None:
        return done(model.alias, attempts_made, **no_answer(prepared, attempts))
    return StreamSession(
        opened=cast(_Opened, opened),
        prepared=prepared,
        model_name=model_name,
        message_id=message_id,
        attempts=attempts_made,
        clock=clock,
        started=started,
        project=project,
        request_id=request_id,
        remaining_ms=remaining_ms,
        margin_ms=policy.safety_margin_ms,
    )
