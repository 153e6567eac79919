"""The project's guardrail on a call: the Converse `guardrailConfig`, reading Bedrock's trace, pricing it.

Pure of LiteLLM and AWS: `claude_proxy.llm` passes the config and hands back the raw trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from claude_platform.function_settings import GuardrailSettings
from claude_platform.guardrail_prices import GuardrailCost, cost_from_usage, worst_case_cost_usd

# Assessment keys of a guardrail trace -> the policy type named in logs and metrics.
_ASSESSMENT_POLICIES = {
    "topicPolicy": "topics",
    "contentPolicy": "content",
    "wordPolicy": "words",
    "sensitiveInformationPolicy": "pii",
    "contextualGroundingPolicy": "contextual_grounding",
    "automatedReasoningPolicy": "automated_reasoning",
}
INTERVENED = "guardrail_intervened"


def converse_config(settings: GuardrailSettings) -> dict[str, Any]:
    """`guardrailConfig` for Converse; `streamProcessingMode` is for ConverseStream only (the stream client keeps it).

    The full ARN is sent (the IAM condition names it) and the trace is on: it carries the units Bedrock bills.
    """
    return {
        "guardrailIdentifier": settings.guardrail_arn,
        "guardrailVersion": settings.guardrail_version,
        "trace": "enabled",
        "streamProcessingMode": settings.stream_mode,
    }


@dataclass(frozen=True)
class GuardrailOutcome:
    """What the guardrail did on one call, from Bedrock's trace (no text of the prompt or answer)."""

    intervened: bool
    source: str | None = None  # "input" or "output" when it intervened
    policies: tuple[str, ...] = ()  # policy types that acted (blocked, anonymized, ...)
    usage: Mapping[str, int] | None = None  # trace usage keys summed; None: the trace carried none
    actions: Mapping[str, int] = field(default_factory=dict)  # "<policy>:<action>" -> count


def _assessments(trace: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    guardrail = trace.get("guardrail") if isinstance(trace, Mapping) else None
    if not isinstance(guardrail, Mapping):
        return [], []
    inputs = [a for a in (guardrail.get("inputAssessment") or {}).values() if isinstance(a, Mapping)]
    outputs: list[Mapping[str, Any]] = []
    for items in (guardrail.get("outputAssessments") or {}).values():
        outputs += [a for a in items or [] if isinstance(a, Mapping)]
    return inputs, outputs


def _acting(assessment: Mapping[str, Any]) -> dict[str, int]:
    """`<policy>:<action>` counts of the findings in one assessment that acted (any action but NONE)."""
    found: dict[str, int] = {}

    def note(policy: str, item: Any) -> None:
        if isinstance(item, Mapping):
            action = str(item.get("action") or "")
            if action and action != "NONE" and item.get("detected", True) is not False:
                key = f"{policy}:{action}"
                found[key] = found.get(key, 0) + 1

    for key, policy in _ASSESSMENT_POLICIES.items():
        body = assessment.get(key)
        if not isinstance(body, Mapping):
            continue
        for value in body.values():
            for item in value if isinstance(value, list) else [value]:
                note(policy, item)
    return found


def outcome_from_trace(trace: Any, stop_reason: str) -> GuardrailOutcome:
    """The guardrail's outcome: intervened per Bedrock's stop reason, units summed over every assessment."""
    inputs, outputs = _assessments(trace if isinstance(trace, Mapping) else {})
    usage: dict[str, int] = {}
    seen_usage = False
    actions: dict[str, int] = {}
    for assessment in inputs + outputs:
        metrics = assessment.get("invocationMetrics")
        units = metrics.get("usage") if isinstance(metrics, Mapping) else None
        if isinstance(units, Mapping):
            seen_usage = True
            for key, count in units.items():
                if isinstance(count, int) and not isinstance(count, bool) and count > 0:
                    usage[key] = usage.get(key, 0) + count
        for key, n in _acting(assessment).items():
            actions[key] = actions.get(key, 0) + n
    intervened = stop_reason == INTERVENED
    source = None
    if intervened:
        source = "input" if any(_acting(a) for a in inputs) or not outputs else "output"
    policies = tuple(sorted({k.split(":", 1)[0] for k in actions}))
    return GuardrailOutcome(
        intervened=intervened,
        source=source,
        policies=policies,
        usage=usage if seen_usage else None,
        actions=actions,
    )


def worst_case_usd(
    settings: GuardrailSettings, *, input_chars_bound: int, max_output_tokens: int, streamed: bool
) -> float:
    """The most the guardrail can add to one call (reserved with the model's worst case)."""
    return worst_case_cost_usd(
        settings.rates,
        settings.policies,
        input_chars_bound=input_chars_bound,
        max_output_tokens=max_output_tokens,
        streamed=streamed,
    )


def guardrail_cost(
    settings: GuardrailSettings, outcome: GuardrailOutcome | None, worst_case: float
) -> GuardrailCost:
    """The guardrail's part of the charge: its units at the project's rates, or its worst case (estimated) without a trace."""
    if outcome is None or outcome.usage is None:
        return GuardrailCost(units={}, cost_usd=worst_case, estimated=True)
    return cost_from_usage(settings.rates, outcome.usage)


def summary(outcome: GuardrailOutcome | None, cost: GuardrailCost | None) -> dict[str, Any] | None:
    """The `guardrail` object of responses and logs (policy types and counts, never text)."""
    if outcome is None and cost is None:
        return None
    out: dict[str, Any] = {"intervened": bool(outcome and outcome.intervened)}
    if outcome is not None:
        if outcome.source:
            out["source"] = outcome.source
        out["policies"] = list(outcome.policies)
        out["actions"] = dict(outcome.actions)
    if cost is not None:
        out.update(cost.to_dict())
    return out
