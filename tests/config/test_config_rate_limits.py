"""Per-project `requests_per_minute` / `tokens_per_minute`: validated, written into PROJECT_SETTINGS."""

from __future__ import annotations

from typing import Any

import pytest

from claude_platform.config import ConfigError, load_config, runtime_settings
from claude_platform.function_settings import FunctionSettings

ARN = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123"


def config(**project: Any) -> dict[str, Any]:
    base = {"name": "alpha", "models": ["claude-haiku-4-5"], "monthly_budget_usd": 100}
    return {"region": "us-east-1", "projects": [{**base, **project}]}


def settings(raw: dict[str, Any]) -> dict[str, Any]:
    (project,) = load_config(raw).projects
    return runtime_settings(
        project, {m.alias: ARN for m in project.models}, ledger_table="claude-spend-ledger"
    )


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    return info.value.problems


def test_limits_reach_the_function_settings():
    document = settings(config(requests_per_minute=120, tokens_per_minute=400_000))
    assert document["spend"]["requests_per_minute"] == 120
    assert document["spend"]["tokens_per_minute"] == 400_000
    spend = FunctionSettings.model_validate(document).spend
    assert (spend.requests_per_minute, spend.tokens_per_minute) == (120, 400_000)
    assert "requests_per_minute" not in settings(config())["spend"]


def test_limits_need_the_ledger_and_room_for_one_request():
    (problem,) = problems(config(enforcement="off", requests_per_minute=10))
    assert "requests_per_minute" in problem and "enforcement" in problem
    (problem,) = problems(config(tokens_per_minute=1000))
    assert "tokens_per_minute (1000) is below max_tokens_limit (8192)" in problem
    (problem,) = problems(config(requests_per_minute=0))
    assert "requests_per_minute" in problem


def _platform(*projects: dict[str, Any], quotas: dict[str, Any]) -> dict[str, Any]:
    base = {"models": ["claude-haiku-4-5"], "monthly_budget_usd": 100}
    return {
        "region": "us-east-1",
        "bedrock_quotas": quotas,
        "projects": [{**base, **p} for p in projects],
    }


def test_project_limits_are_checked_against_the_bedrock_quotas_the_config_states():
    quotas = {"claude-haiku-4-5": {"requests_per_minute": 100, "tokens_per_minute": 1_000_000}}
    # Within the quota, alone and together: fine; a project without a limit is not counted.
    load_config(
        _platform(
            {"name": "a", "requests_per_minute": 60},
            {"name": "b", "requests_per_minute": 40},
            {"name": "c"},
            quotas=quotas,
        )
    )
    # One project above the quota (by base id too): named with its field.
    (problem,) = problems(
        _platform(
            {"name": "a", "tokens_per_minute": 2_000_000},
            quotas={"anthropic.claude-haiku-4-5-20251001-v1:0": {"tokens_per_minute": 1_000_000}},
        )
    )
    assert problem.startswith("projects[0] (a).tokens_per_minute: 2000000 is above Bedrock's 1000000")
    # Together above it in one region: the quota and the projects are named.
    (problem,) = problems(
        _platform(
            {"name": "a", "requests_per_minute": 60}, {"name": "b", "requests_per_minute": 41}, quotas=quotas
        )
    )
    assert problem.startswith("bedrock_quotas.claude-haiku-4-5.requests_per_minute:")
    assert "(a, b) add up to 101, above Bedrock's 100" in problem
    # Other regions and other models have quotas of their own.
    load_config(
        _platform(
            {"name": "a", "requests_per_minute": 60},
            {"name": "b", "requests_per_minute": 60, "region": "us-west-2"},
            {"name": "c", "requests_per_minute": 60, "models": ["claude-sonnet-4-5"]},
            quotas=quotas,
        )
    )


def test_bedrock_quotas_name_catalog_models():
    (problem,) = problems(_platform({"name": "a"}, quotas={"gpt-4o": {"requests_per_minute": 1}}))
    assert problem.startswith("bedrock_quotas.gpt-4o: 'gpt-4o' is not a Claude model on Bedrock")
