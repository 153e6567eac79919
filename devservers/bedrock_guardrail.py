"""The local Bedrock server's stand-in for a guardrail: what a request's `guardrailConfig` does to a Converse answer.

A marker phrase in the prompt blocks the input (the model is not called: no tokens); the same phrase
in the answer blocks the output; a marker e-mail address in the answer is anonymized to `{EMAIL}`.
Every policy of the simulated guardrail processes one text unit per started 1,000 characters of the
prompt and of the answer, reported in Converse's `trace.guardrail` (with `trace: enabled`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

BLOCK_MARKER = "forbidden-zebra"
PII_MARKER = "jane.doe@example.com"
ANONYMIZED = "{EMAIL}"
BLOCKED_INPUT_MESSAGE = "Sorry, the local guardrail blocked this request."
BLOCKED_OUTPUT_MESSAGE = "Sorry, the local guardrail withheld the answer."
# The simulated guardrail's policies: the usage keys it reports (contextual grounding needs a source).
POLICY_UNIT_KEYS = (
    "topicPolicyUnits",
    "contentPolicyUnits",
    "wordPolicyUnits",
    "sensitiveInformationPolicyUnits",
    "sensitiveInformationPolicyFreeUnits",
)
PROCESSING_LATENCY_MS = 5


@dataclass(frozen=True)
class GuardedAnswer:
    """A Converse answer after the guardrail: its content, stop reason, whether the model ran, the trace."""

    content: list[dict[str, Any]]
    stop_reason: str
    model_ran: bool
    trace: dict[str, Any] | None
    input_units: int = 0
    output_units: int = 0
    actions: tuple[str, ...] = field(default_factory=tuple)


def _units(chars: int) -> int:
    return math.ceil(chars / 1000)


def _usage(units: int) -> dict[str, int]:
    return {key: units for key in POLICY_UNIT_KEYS} | {"contextualGroundingPolicyUnits": 0}


def _metrics(units: int) -> dict[str, Any]:
    return {
        "guardrailProcessingLatency": PROCESSING_LATENCY_MS,
        "usage": _usage(units),
        "guardrailCoverage": {"textCharacters": {"guarded": units * 1000, "total": units * 1000}},
    }


def prompt_text(body: Any) -> str:
    """The text the guardrail evaluates: `guardContent` blocks if the request has any, else every message text."""
    messages = body.get("messages") if isinstance(body, dict) else None
    texts, guarded = [], []
    for message in messages or []:
        for block in message.get("content") or []:
            if "text" in block and isinstance(block["text"], str):
                texts.append(block["text"])
            elif "guardContent" in block:
                guarded.append(str((block["guardContent"].get("text") or {}).get("text", "")))
            elif "toolResult" in block:
                for item in block["toolResult"].get("content") or []:
                    if isinstance(item.get("text"), str):
                        texts.append(item["text"])
    return "\n".join(guarded or texts)


def apply(
    config: dict[str, Any], body: Any, content: list[dict[str, Any]], stop_reason: str
) -> GuardedAnswer:
    """The answer `content` as the guardrail named in `config` lets it through."""
    guardrail_id = str(config.get("guardrailIdentifier", "")).rsplit("/", 1)[-1] or "local"
    traced = config.get("trace") in ("enabled", "enabled_full")
    prompt = prompt_text(body)
    input_units = _units(len(prompt))
    if BLOCK_MARKER in prompt:
        assessment = {
            "wordPolicy": {"customWords": [{"match": BLOCK_MARKER, "action": "BLOCKED", "detected": True}]},
            "invocationMetrics": _metrics(input_units),
        }
        trace = {"guardrail": {"inputAssessment": {guardrail_id: assessment}}} if traced else None
        return GuardedAnswer(
            content=[{"text": BLOCKED_INPUT_MESSAGE}],
            stop_reason="guardrail_intervened",
            model_ran=False,
            trace=trace,
            input_units=input_units,
            actions=("words:BLOCKED",),
        )
    answer = "".join(b["text"] for b in content if isinstance(b.get("text"), str))
    output_units = _units(len(answer))
    findings: dict[str, Any] = {}
    actions: tuple[str, ...] = ()
    out_content = content
    if BLOCK_MARKER in answer:
        findings["wordPolicy"] = {
            "customWords": [{"match": BLOCK_MARKER, "action": "BLOCKED", "detected": True}]
        }
        out_content, stop_reason, actions = (
            [{"text": BLOCKED_OUTPUT_MESSAGE}],
            "guardrail_intervened",
            ("words:BLOCKED",),
        )
    elif PII_MARKER in answer:
        findings["sensitiveInformationPolicy"] = {
            "piiEntities": [{"match": PII_MARKER, "type": "EMAIL", "action": "ANONYMIZED", "detected": True}]
        }
        out_content = [
            {"text": b["text"].replace(PII_MARKER, ANONYMIZED)} if isinstance(b.get("text"), str) else b
            for b in content
        ]
        stop_reason, actions = "guardrail_intervened", ("pii:ANONYMIZED",)
    trace = None
    if traced:
        trace = {
            "guardrail": {
                "inputAssessment": {guardrail_id: {"invocationMetrics": _metrics(input_units)}},
                "outputAssessments": {
                    guardrail_id: [{**findings, "invocationMetrics": _metrics(output_units)}]
                },
            }
        }
    return GuardedAnswer(
        content=out_content,
        stop_reason=stop_reason,
        model_ran=True,
        trace=trace,
        input_units=input_units,
        output_units=output_units,
        actions=actions,
    )
