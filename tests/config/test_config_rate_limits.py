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
