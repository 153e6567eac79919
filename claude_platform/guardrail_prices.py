"""Bedrock Guardrails prices, in one place: USD per 1,000 text units of each policy, and the cost of a call.

A text unit is up to 1,000 characters of text a policy evaluates; Bedrock reports the units each
policy processed in the guardrail trace's `invocationMetrics.usage` (`contentPolicyUnits`, ...).
Standard library only: the Lambda bundle ships this module.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: Where the rates below come from, and when they were read (docs/pricing.md, "Guardrails").
PRICE_SOURCE = "https://aws.amazon.com/bedrock/pricing/ (Guardrails, after the December 2024 reduction)"
PRICE_DATE = "2026-12-04"
CHARS_PER_TEXT_UNIT = 1000

#: Usage key in the trace -> the policy it bills, for every key Bedrock documents.
UNIT_POLICIES: dict[str, str] = {
    "contentPolicyUnits": "content",
    "topicPolicyUnits": "topics",
    "wordPolicyUnits": "words",
    "sensitiveInformationPolicyUnits": "pii",
    "sensitiveInformationPolicyFreeUnits": "regexes",
    "contextualGroundingPolicyUnits": "contextual_grounding",
    "automatedReasoningPolicyUnits": "automated_reasoning",
}

#: USD per 1,000 text units, per policy (word filters and custom regexes are free).
DEFAULT_RATES: dict[str, float] = {
    "content": 0.15,  # content filters, prompt attack included
    "topics": 0.15,
    "words": 0.0,
    "pii": 0.10,
    "regexes": 0.0,
    "contextual_grounding": 0.10,
    "automated_reasoning": 0.17,
}
POLICIES = tuple(DEFAULT_RATES)

#: Output characters per output token assumed for the worst case before the call: no tokenizer
#: bound exists for characters (one token can be a long run of letters or spaces), so this is a
#: generous assumption; the charge is settled from Bedrock's own units afterwards.
OUTPUT_CHARS_PER_TOKEN_BOUND = 10
#: A streamed answer is evaluated in chunks, each rounded up to whole text units: at worst twice
#: the units of the text as a whole (chunks of at least half a unit), an assumption like the above.
STREAM_CHUNK_ROUNDING = 2


def text_units(chars: int) -> int:
    """Text units of `chars` characters (each unit up to 1,000 characters; empty text: none)."""
    return math.ceil(max(chars, 0) / CHARS_PER_TEXT_UNIT)


@dataclass(frozen=True)
class GuardrailCost:
    """The guardrail part of a call's cost: units per policy, USD, and whether it is a worst case."""

    units: Mapping[str, int]
    cost_usd: float
    estimated: bool = False

    def to_dict(self) -> dict[str, object]:
        """For responses and logs."""
        return {"units": dict(self.units), "cost_usd": self.cost_usd, "estimated": self.estimated}


def worst_case_cost_usd(
    rates: Mapping[str, float],
    policies: Iterable[str],
    *,
    input_chars_bound: int,
    max_output_tokens: int,
    streamed: bool,
) -> float:
    """The most the guardrail can bill for one call: every paid policy over the whole input and output."""
    output_units = text_units(max_output_tokens * OUTPUT_CHARS_PER_TOKEN_BOUND)
    if streamed:
        output_units *= STREAM_CHUNK_ROUNDING
    units = text_units(input_chars_bound) + output_units
    return sum(rates[p] for p in set(policies)) * units / 1000


def cost_from_usage(rates: Mapping[str, float], usage_totals: Mapping[str, int]) -> GuardrailCost:
    """The cost of the units Bedrock reported (trace usage keys, summed over input and output assessments).

    A usage key this table does not know is billed at the highest rate, marked estimated: money is
    never under-counted.
    """
    units: dict[str, int] = {}
    total = 0.0
    estimated = False
    top = max(rates.values(), default=0.0)
    for key, count in usage_totals.items():
        if not count:
            continue
        policy = UNIT_POLICIES.get(key)
        if policy is None:
            if key == "automatedReasoningPolicies" or not key.endswith("Units"):
                continue  # a count of policies, not of text units
            policy, rate, estimated = key, top, True
        else:
            rate = rates.get(policy, top)
        units[policy] = units.get(policy, 0) + count
        total += rate * count / 1000
    return GuardrailCost(units=units, cost_usd=total, estimated=estimated)
