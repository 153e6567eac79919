"""The `gateway` block: opt-in per project, validated aliases, written into PROJECT_SETTINGS."""

from __future__ import annotations

from typing import Any

import pytest

from claude_platform.config import ConfigError, load_config, runtime_settings
from claude_platform.function_settings import FunctionSettings

ARN = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123"


def config(**project: Any) -> dict[str, Any]:
    base = {"name": "alpha", "models": ["claude-sonnet-4-5", "claude-haiku-4-5"], "monthly_budget_usd": 100}
    return {"region": "us-east-1", "projects": [{**base, **project}]}


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    return info.value.problems


def settings(raw: dict[str, Any]) -> dict[str, Any]:
    (project,) = load_config(raw).projects
    return runtime_settings(
        project, {m.alias: ARN for m in project.models}, ledger_table="claude-spend-ledger"
    )


def test_off_by_default_and_absent_from_settings():
    (project,) = load_config(config()).projects
    assert project.config.gateway.enabled is False
    assert "gateway" not in settings(config())


def test_enabled_writes_aliases_the_function_accepts():
    document = settings(
        config(gateway={"enabled": True, "model_aliases": {"claude-opus-5-5": "claude-sonnet-4-5"}})
    )
    assert document["gateway"] == {
        "model_aliases": {"claude-opus-5-5": "claude-sonnet-4-5"},
        "keys_table": "claude-spend-ledger",
    }
    parsed = FunctionSettings.model_validate(document)
    assert parsed.gateway is not None and parsed.gateway.model_aliases == {
        "claude-opus-5-5": "claude-sonnet-4-5"
    }


def test_alias_target_must_be_a_project_model():
    (problem,) = problems(
        config(gateway={"enabled": True, "model_aliases": {"claude-opus-5-5": "claude-opus-4-5"}})
    )
    assert problem.startswith("projects[0] (alpha).gateway.model_aliases.claude-opus-5-5: 'claude-opus-4-5'")
    assert "claude-sonnet-4-5, claude-haiku-4-5" in problem


def test_base_id_is_a_valid_target_and_an_alias_may_not_shadow_a_model():
    base_id = load_config(config()).projects[0].models[1].model.base_id
    assert settings(config(gateway={"enabled": True, "model_aliases": {"x": base_id}}))["gateway"]
    (problem,) = problems(
        config(gateway={"enabled": True, "model_aliases": {"claude-haiku-4-5": "claude-sonnet-4-5"}})
    )
    assert (
        "gateway.model_aliases.claude-haiku-4-5" in problem
        and "already one of the project's models" in problem
    )


@pytest.mark.parametrize(
    ("gateway", "field", "text"),
    [
        (
            {"enabled": True, "model_aliases": {"bad name": "claude-sonnet-4-5"}},
            "gateway.model_aliases",
            "not a model name",
        ),
        (
            {"enabled": True, "auth_failure_alarm_threshold": 0},
            "gateway.auth_failure_alarm_threshold",
            "greater than or equal to 1",
        ),
        ({"enabled": True, "keys": []}, "gateway.keys", "unknown key"),
        (
            {"enabled": True, "model_aliases": {f"m{i}": "claude-sonnet-4-5" for i in range(17)}},
            "gateway.model_aliases",
            "at most 16",
        ),
    ],
)
def test_bad_gateway_fields_name_the_field(gateway: dict[str, Any], field: str, text: str):
    (problem,) = problems(config(gateway=gateway))
    assert problem.startswith(f"projects[0] (alpha).{field}"), problem
    assert text in problem


def test_defaults_merge_key_by_key():
    raw = config(gateway={"model_aliases": {"claude-opus-5-5": "claude-sonnet-4-5"}})
    raw["defaults"] = {"gateway": {"enabled": True, "auth_failure_alarm_threshold": 7}}
    (project,) = load_config(raw).projects
    assert project.config.gateway.enabled and project.config.gateway.auth_failure_alarm_threshold == 7


def test_gateway_function_reserves_concurrency_too():
    raw = config(max_concurrency=500, gateway={"enabled": True})
    raw["lambda_concurrency_quota"] = 1000
    (problem,) = problems(raw)
    assert "adds up to 1000" in problem and "twice for a project with the gateway" in problem
    raw["projects"][0]["gateway"] = {"enabled": False}
    assert load_config(raw).projects


def test_example_enables_the_gateway_for_one_project():
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    platform = load_config(yaml.safe_load((root / "projects.yaml").read_text()))
    assert [p.name for p in platform.projects if p.config.gateway.enabled] == ["data-science"]
