"""Guardrail pieces on their own: the trace reader, pricing and worst case, settings validation, the core's settle."""

from __future__ import annotations

import pytest
from claude_proxy.core import LlmResult, invoke
from claude_proxy.guardrail import GuardrailOutcome, guardrail_cost, outcome_from_trace
from claude_proxy.request import parse_request
from claude_proxy.settings import Settings
from proxy_testkit import (
    ACCOUNT,
    REGION,
    Deadline,
    FakeClock,
    FakeLlm,
    MaxRng,
    RecordingLedger,
    project_settings,
)
from pydantic import ValidationError

from claude_platform.function_settings import FunctionSettings, GuardrailSettings
from claude_platform.guardrail_prices import DEFAULT_RATES, cost_from_usage, text_units, worst_case_cost_usd
from claude_platform.prices import TokenUsage

ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:guardrail/abc"
TRACE = {
    "guardrail": {
        "inputAssessment": {
            "abc": {
                "topicPolicy": {"topics": [{"name": "Advice", "type": "DENY", "action": "BLOCKED"}]},
                "invocationMetrics": {
                    "usage": {"topicPolicyUnits": 2, "contentPolicyUnits": 2, "wordPolicyUnits": 2}
                },
            }
        },
        "outputAssessments": {
            "abc": [
                {"invocationMetrics": {"usage": {"topicPolicyUnits": 1, "contentPolicyUnits": 1}}},
                {
                    "invocationMetrics": {
                        "usage": {"contentPolicyUnits": 1, "sensitiveInformationPolicyUnits": 3}
                    }
                },
            ]
        },
    }
}


def settings(**overrides):
    return GuardrailSettings(
        guardrail_arn=ARN,
        guardrail_version="1",
        policies=("content", "topics"),
        **overrides,
    )


def test_outcome_sums_units_over_input_and_every_output_assessment():
    outcome = outcome_from_trace(TRACE, "guardrail_intervened")
    assert outcome.intervened and outcome.source == "input" and outcome.policies == ("topics",)
    assert outcome.usage == {
        "topicPolicyUnits": 3,
        "contentPolicyUnits": 4,
        "wordPolicyUnits": 2,
        "sensitiveInformationPolicyUnits": 3,
    }
    cost = cost_from_usage(DEFAULT_RATES, outcome.usage)
    assert cost.cost_usd == pytest.approx((3 * 0.15 + 4 * 0.15 + 3 * 0.10) / 1000) and not cost.estimated


def test_no_trace_usage_charges_the_worst_case_marked_estimated():
    outcome = outcome_from_trace({}, "end_turn")
    assert outcome.usage is None and not outcome.intervened
    cost = guardrail_cost(settings(), outcome, worst_case=0.0123)
    assert cost.cost_usd == 0.0123 and cost.estimated


def test_an_unknown_unit_kind_is_billed_at_the_highest_rate_and_marked_estimated():
    cost = cost_from_usage(DEFAULT_RATES, {"contentPolicyImageUnits": 10, "automatedReasoningPolicies": 4})
    assert cost.estimated and cost.cost_usd == pytest.approx(10 * max(DEFAULT_RATES.values()) / 1000)


def test_worst_case_counts_every_paid_policy_over_input_and_output_and_doubles_stream_output():
    plain = worst_case_cost_usd(
        DEFAULT_RATES, ["content", "pii"], input_chars_bound=2500, max_output_tokens=100, streamed=False
    )
    assert plain == pytest.approx((0.15 + 0.10) * (text_units(2500) + text_units(1000)) / 1000)
    streamed = worst_case_cost_usd(
        DEFAULT_RATES, ["content", "pii"], input_chars_bound=2500, max_output_tokens=100, streamed=True
    )
    assert streamed == pytest.approx((0.15 + 0.10) * (3 + 2) / 1000)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("guardrail_version", "DRAFT", "guardrail_version"),
        ("guardrail_arn", "abc", "guardrail_arn"),
        ("rate_overrides", {"gore": 0.1}, "unknown guardrail policies"),
        ("rate_overrides", {"content": -1}, "finite number"),
        ("policies", ("content", "gore"), "unknown guardrail policies"),
    ],
)
def test_settings_refuse_bad_guardrail_values(field, value, words):
    doc = project_settings(guardrail={"guardrail_arn": ARN, "guardrail_version": "1"} | {field: value})
    with pytest.raises(ValidationError, match=words):
        FunctionSettings.model_validate(doc)


def test_core_settles_model_plus_guardrail_and_marks_a_traceless_answer_estimated():
    doc = project_settings(
        guardrail={
            "guardrail_arn": ARN,
            "guardrail_version": "1",
            "policies": ["content"],
        }
    )
    s = Settings(project=FunctionSettings.model_validate(doc), region=REGION)
    request = parse_request({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10})
    usage = TokenUsage(input_tokens=5, output_tokens=5)
    ledger = RecordingLedger()
    llm = FakeLlm(
        LlmResult(
            text="ok", stop_reason="end_turn", usage=usage, guardrail=GuardrailOutcome(intervened=False)
        )
    )
    clock = FakeClock()
    result = invoke(
        request,
        settings=s,
        llm=llm,
        clock=clock,
        remaining_ms=Deadline(clock, 30_000),
        rng=MaxRng(),
        request_id="r",
        ledger=ledger,
    )
    assert result.ok and result.guardrail["estimated"] is True
    (reserved,) = [e for kind, e in ledger.events if kind == "reserve"]
    (settled,) = [e for kind, e in ledger.events if kind == "settle"]
    # Without usage in the trace, the guardrail part is its whole worst case, marked estimated.
    assert settled["estimated"] is True and settled["amount_usd"] == pytest.approx(result.cost_usd)
    assert result.guardrail["cost_usd"] > 0 and reserved["amount_usd"] >= settled["amount_usd"]
    assert llm.calls[0].guardrail["guardrailIdentifier"] == ARN
