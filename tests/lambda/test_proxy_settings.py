"""Settings contract: what synthesis writes (claude_platform.config.runtime_settings) is what the Lambda parses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from claude_proxy.settings import SettingsError, load_settings, resolve_bedrock_endpoint
from proxy_testkit import profile_arn

from claude_platform.config import load_config, runtime_settings
from claude_platform.function_settings import FunctionSettings
from claude_platform.prices import ModelPrices

ROOT = Path(__file__).resolve().parents[2]


def _projects():
    platform = load_config(yaml.safe_load((ROOT / "projects.yaml").read_text()), source="projects.yaml")
    return [pytest.param(p, id=p.name) for p in platform.projects]


@pytest.mark.parametrize("project", _projects())
def test_synthesised_settings_parse_in_the_lambda(project):
    arns = {m.alias: profile_arn(f"p{i:02d}abc") for i, m in enumerate(project.models)}
    topic = f"arn:aws:sns:us-east-1:123456789012:claude-{project.name}-alerts"
    doc = runtime_settings(project, arns, ledger_table="claude-spend-ledger", alert_topic_arn=topic)
    parsed = FunctionSettings.model_validate(json.loads(json.dumps(doc)))  # through JSON, as in the env var
    assert parsed.project == project.name
    config = project.config
    assert (parsed.spend.enforcement, parsed.spend.cap_usd) == (config.enforcement, config.cap_usd)
    assert parsed.spend.alert_thresholds == tuple(config.alert_thresholds)
    assert (parsed.spend.ledger_table, parsed.spend.alert_topic_arn) == ("claude-spend-ledger", topic)
    assert [m.litellm_model for m in parsed.models] == [
        m.model.litellm_model(m.geography) for m in project.models
    ]
    assert [m.alias for m in parsed.models] == [m.alias for m in project.models]
    for model, expected in zip(parsed.models, project.models, strict=True):
        assert isinstance(model.prices, ModelPrices)
        assert model.prices == expected.prices  # standard rates, every tier, source
        assert model.profile_arn == arns[model.alias]


def _with_prices(prices):
    arns = {"claude-haiku-5-5": profile_arn("p00abc")}
    doc = json.loads(
        json.dumps(runtime_settings(_haiku_55_project(), arns, ledger_table="claude-spend-ledger"))
    )
    doc["models"][0]["prices"] = prices
    return doc


def _haiku_55_project():
    raw = {
        "region": "us-east-1",
        "projects": [{"name": "p", "models": ["claude-haiku-5-5"], "monthly_budget_usd": 10}],
    }
    (project,) = load_config(raw).projects
    return project


def test_long_context_tiers_reach_the_lambda():
    project = _haiku_55_project()
    doc = _with_prices(project.models[0].prices.to_dict())
    assert doc["models"][0]["prices"]["tiers"] == [[100000, 0.55, 2.75, 0.6875, 0.055, 1.1]]
    parsed = FunctionSettings.model_validate(doc)
    assert parsed.models[0].prices == project.models[0].prices


@pytest.mark.parametrize(
    ("prices", "needle"),
    [
        (
            {"rates": [1, 5, 1.25, 0.1, 2], "tiers": [[0, 1, 5, 1.25, 0.1, 2]]},
            "tiers[0] threshold 0 must be a positive",
        ),
        ({"rates": [1, 5, 1.25, 0.1, 2], "tiers": [[-5, 1, 5, 1.25, 0.1, 2]]}, "must be a positive integer"),
        (
            {
                "rates": [1, 5, 1.25, 0.1, 2],
                "tiers": [[2000, 1, 5, 1.25, 0.1, 2], [1000, 1, 5, 1.25, 0.1, 2]],
            },
            "ascending",
        ),
        (
            {"rates": [1, 5, 1.25, 0.1, 2], "tiers": [[1000, 1, 5, -1, 0.1, 2]]},
            "tiers[0].cache_write must not be negative",
        ),
        (
            {"rates": [1, 5, 1.25, 0.1, 2], "tiers": [[1000.5, 1, 5, 1, 0.1, 2]]},
            "threshold must be an integer",
        ),
        ({"rates": [1, 5, 1.25, 0.1, float("inf")]}, "rates.cache_write_1h must be a finite number"),
        ({"rates": [1, float("nan"), 1.25, 0.1, 2]}, "rates.output must be a finite number"),
        ({"rates": [1, 5, 1.25, 0.1]}, "expected 5 rates"),
        ({"rates": [0, 0, 0, 0, 0]}, "silent zero"),
    ],
)
def test_malformed_prices_are_a_settings_error_naming_the_problem(prices, needle):
    with pytest.raises(ValueError, match=re.escape(needle)):
        FunctionSettings.model_validate(_with_prices(prices))


def test_endpoint_precedence_resolution():
    env = {"AWS_ENDPOINT_URL": "http://a", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://b"}
    assert resolve_bedrock_endpoint(env) == "http://b"
    assert resolve_bedrock_endpoint(env | {"AWS_BEDROCK_RUNTIME_ENDPOINT": "http://c"}) == "http://c"
    assert resolve_bedrock_endpoint({"AWS_ENDPOINT_URL": "http://a"}) == "http://a"
    assert resolve_bedrock_endpoint({"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": " "}) is None
    assert resolve_bedrock_endpoint({}) is None


def test_missing_region_is_a_settings_error():
    doc = json.dumps({"project": "x"})
    with pytest.raises(SettingsError, match="AWS_REGION"):
        load_settings({"PROJECT_SETTINGS": doc})


def test_the_stack_writes_only_what_the_function_accepts():
    from claude_platform import config as config_module

    project = load_config(yaml.safe_load((ROOT / "projects.yaml").read_text())).projects[0]
    tokens = {m.alias: "${Token[TOKEN.101]}" for m in project.models}  # CDK tokens at synthesis
    doc = runtime_settings(project, tokens, ledger_table="t-ledger", alert_topic_arn="${Token[TOKEN.102]}")
    assert doc["models"][0]["profile_arn"] == "${Token[TOKEN.101]}"  # written as given
    with pytest.raises(ValueError, match="would be refused by the function"):
        config_module._check_function_settings({**doc, "max_tokens_default": 0})
    with pytest.raises(ValueError, match="would be refused by the function"):
        config_module._check_function_settings({**doc, "unknown": 1})


def test_one_settings_model_serves_both_sides():
    import claude_proxy.settings as function_side

    from claude_platform import config as stack_side

    assert function_side.FunctionSettings is stack_side.FunctionSettings
    assert not hasattr(function_side, "ProjectSettings")
