"""Settings contract: what synthesis writes (claude_platform.config.runtime_settings) is what the Lambda parses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from claude_proxy.settings import ProjectSettings, SettingsError, load_settings, resolve_bedrock_endpoint
from proxy_testkit import profile_arn

from claude_platform.config import load_config, runtime_settings
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
    parsed = ProjectSettings.model_validate(json.loads(json.dumps(doc)))  # through JSON, as in the env var
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
        assert model.prices.standard == expected.prices.standard
        assert model.prices.long_context == expected.prices.long_context
        assert model.prices.long_context_threshold_tokens == expected.prices.long_context_threshold_tokens
        assert model.profile_arn == arns[model.alias]


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
