"""The `guardrail` block: a reference or declared policies, validated with the field named."""

from __future__ import annotations

from typing import Any

import pytest

from claude_platform.config import ConfigError, load_config

DECLARED = {
    "content_filters": {"hate": "high", "insults": {"input": "high", "output": "medium"}},
    "prompt_attack": "high",
    "denied_topics": [
        {"name": "Investment advice", "definition": "Recommendations to buy or sell securities."}
    ],
    "words": ["project-zebra"],
    "pii": {"EMAIL": "anonymize", "US_SOCIAL_SECURITY_NUMBER": "block"},
    "regexes": [{"name": "ticket", "pattern": "TCK-[0-9]{6}", "action": "anonymize"}],
    "contextual_grounding": {"grounding": 0.7},
}


def config(defaults: dict[str, Any] | None = None, **project: Any) -> dict[str, Any]:
    base = {"name": "alpha", "models": ["claude-sonnet-4-5"], "monthly_budget_usd": 100}
    raw: dict[str, Any] = {"region": "us-east-1", "projects": [{**base, **project}]}
    if defaults is not None:
        raw["defaults"] = defaults
    return raw


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    return info.value.problems


def guardrail(raw: dict[str, Any]):
    (project,) = load_config(raw).projects
    return project.config.guardrail


def test_off_by_default():
    assert guardrail(config()) is None


def test_declared_guardrail_renders_cloudformation_policies():
    g = guardrail(config(guardrail=DECLARED))
    props = g.cfn_properties()
    assert props["ContentPolicyConfig"]["FiltersConfig"] == [
        {"Type": "HATE", "InputStrength": "HIGH", "OutputStrength": "HIGH"},
        {"Type": "INSULTS", "InputStrength": "HIGH", "OutputStrength": "MEDIUM"},
        {"Type": "PROMPT_ATTACK", "InputStrength": "HIGH", "OutputStrength": "NONE"},
    ]
    assert props["SensitiveInformationPolicyConfig"]["PiiEntitiesConfig"] == [
        {"Type": "EMAIL", "Action": "ANONYMIZE"},
        {"Type": "US_SOCIAL_SECURITY_NUMBER", "Action": "BLOCK"},
    ]
    assert props["TopicPolicyConfig"]["TopicsConfig"][0]["Type"] == "DENY"
    assert props["WordPolicyConfig"] == {"WordsConfig": [{"Text": "project-zebra"}]}
    assert props["ContextualGroundingPolicyConfig"] == {
        "FiltersConfig": [{"Type": "GROUNDING", "Threshold": 0.7}]
    }
    assert g.paid_policies == ("content", "topics", "pii", "contextual_grounding")


def test_reference_bills_every_policy_as_unknown():
    g = guardrail(config(guardrail={"id": "abc123def", "version": "3"}))
    assert g.is_reference and "content" in g.paid_policies and "pii" in g.paid_policies


@pytest.mark.parametrize(
    ("block", "field", "words"),
    [
        ({"id": "abc"}, "guardrail", "both id and version"),
        ({"id": "abc", "version": "DRAFT"}, "guardrail.version", "DRAFT cannot be enforced"),
        ({"id": "ABC!", "version": "1"}, "guardrail.id", "neither a guardrail id"),
        ({"id": "abc", "version": "1", "words": ["x"]}, "guardrail", "words: a referenced guardrail"),
        ({"pii": {"SSN": "block"}}, "guardrail.pii", "SSN: not a PII entity type"),
        ({"pii": {"EMAIL": "mask"}}, "guardrail.pii.EMAIL", "block"),
        ({"content_filters": {"hate": "extreme"}}, "guardrail.content_filters.hate", "none"),
        ({"content_filters": {"gore": "high"}}, "guardrail.content_filters.gore", "hate"),
        (
            {"regexes": [{"name": "r", "pattern": "([", "action": "block"}]},
            "guardrail.regexes[0].pattern",
            "not a regular expression",
        ),
        (
            {"denied_topics": [{"name": "bad/name", "definition": "x"}]},
            "guardrail.denied_topics[0].name",
            "letters",
        ),
        (
            {"denied_topics": [{"name": "t", "definition": "x" * 201}]},
            "guardrail.denied_topics[0].definition",
            "200",
        ),
        ({"contextual_grounding": {"grounding": 1.0}}, "guardrail.contextual_grounding.grounding", "0.99"),
        ({"words": ["x"], "blocked_input_message": ""}, "guardrail.blocked_input_message", "at least 1"),
        ({}, "guardrail", "declare at least one policy"),
        ({"prompt_attack": "high", "colour": "red"}, "guardrail.colour", "unknown key"),
    ],
)
def test_bad_values_name_the_field(block, field, words):
    found = problems(config(guardrail=block))
    assert any(f"(alpha).{field}" in p and words in p for p in found), found


def test_project_guardrail_replaces_the_default_one_without_mixing():
    raw = config(defaults={"guardrail": DECLARED}, guardrail={"id": "abc123", "version": "2"})
    g = guardrail(raw)
    assert g.is_reference and g.version == "2"
    assert guardrail(config(defaults={"guardrail": DECLARED})).pii == DECLARED["pii"]
    assert guardrail(config(defaults={"guardrail": DECLARED}, guardrail=None)) is None


def test_price_overrides_keep_other_rates():
    raw = config()
    raw["guardrail_pricing"] = {"content": 0.2}
    rates = load_config(raw).config.guardrail_pricing.rates()
    assert rates["content"] == 0.2 and rates["pii"] == 0.10
    raw["guardrail_pricing"] = {"content": -1}
    assert any("guardrail_pricing.content" in p for p in problems(raw))


def test_settings_carry_only_overrides_and_the_function_reads_the_merged_table():
    from claude_platform.config import runtime_settings
    from claude_platform.function_settings import FunctionSettings
    from claude_platform.guardrails import guardrail_settings

    raw = config(guardrail={**DECLARED, "stream_processing_mode": "async"})
    raw["guardrail_pricing"] = {"pii": 0.2}
    platform = load_config(raw)
    (project,) = platform.projects
    arn = "arn:aws:bedrock:us-east-1:111122223333:guardrail/abc"
    document = runtime_settings(
        project,
        {
            m.alias: "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/x"
            for m in project.models
        },
        ledger_table="claude-spend-ledger",
        guardrail=guardrail_settings(
            project.config.guardrail, platform.config.guardrail_pricing, arn=arn, version="2"
        ),
    )
    assert document["guardrail"]["rate_overrides"] == {"pii": 0.2}
    parsed = FunctionSettings.model_validate(document).guardrail
    assert parsed.stream_mode == "async" and parsed.rates["pii"] == 0.2 and parsed.rates["content"] == 0.15
    assert parsed.policies == ("content", "topics", "pii", "contextual_grounding")


def test_a_guardrail_that_would_overflow_the_4_kb_environment_is_refused_naming_it():
    import copy
    import importlib.util
    import sys
    from pathlib import Path

    # The infra tests' worst-case project (with a guardrail), read by path as test_gateway_function does.
    infra = Path(__file__).resolve().parents[1] / "infra"
    if str(infra) not in sys.path:
        sys.path.insert(0, str(infra))
    spec = importlib.util.spec_from_file_location("_infra_conftest_guardrail", infra / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    raw = copy.deepcopy(module.VARIANT_CONFIG)
    raw["projects"][0]["gateway"] = {
        "enabled": True,
        "model_aliases": {"claude-opus-5-5": "claude-sonnet-4-5"},
    }
    found = problems(raw)
    assert any("4 KB environment" in p and "the guardrail takes about 150" in p for p in found), found
    raw["projects"][0].pop("guardrail")
    load_config(raw)  # fits without it
