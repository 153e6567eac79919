"""Model names every HTTP API accepts: project names, Anthropic API names, gateway.model_aliases."""

from __future__ import annotations

import json
import re

import pytest
from claude_proxy.errors import ErrorType, ProxyError
from claude_proxy.model_names import ModelNames, anthropic_api_names
from proxy_testkit import model_entry, profile_arn, project_settings

from claude_platform import catalog
from claude_platform.catalog import MODELS, Geography
from claude_platform.function_settings import FunctionSettings


def _settings(*aliases: str, **overrides: object) -> FunctionSettings:
    models = [model_entry(a, arn=profile_arn(f"p{i}")) for i, a in enumerate(aliases)]
    return FunctionSettings.model_validate(project_settings(models, **overrides))


def _undated(name: str) -> str:
    return re.sub(r"-[0-9]{8}$", "", name)


def _anthropic_map_names() -> set[str]:
    entries = json.loads(catalog.litellm_price_map_path().read_text(encoding="utf-8"))
    return {
        n for n, e in entries.items() if e.get("litellm_provider") == "anthropic" and n.startswith("claude-")
    }


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.alias)
def test_every_catalog_model_resolves_by_each_of_its_names(model: catalog.ClaudeModel) -> None:
    geo = Geography.US if Geography.US in model.geographies else next(iter(model.geographies))
    try:
        prices = catalog.model_prices(model, geo)
    except catalog.MissingPriceError:  # claude-3-haiku: any price will do, names are what is tested
        prices = catalog.model_prices(catalog.resolve_model("claude-haiku-4-5"), Geography.US)
    entry = model_entry(model.alias, geo, prices=prices)
    names = ModelNames(FunctionSettings.model_validate(project_settings([entry])))
    dated = model.base_id.removeprefix("anthropic.").rsplit("-v", 1)[0]
    for name in {
        model.alias,
        model.base_id,
        model.inference_id(geo),
        dated,
        *anthropic_api_names(model.base_id),
    }:
        assert names.resolve(name).alias == model.alias, name
    assert anthropic_api_names(model.base_id)[0] == dated


def test_anthropic_names_are_those_anthropic_uses() -> None:
    assert anthropic_api_names("anthropic.claude-sonnet-4-5-20250929-v1:0")[:2] == (
        "claude-sonnet-4-5-20250929",
        "claude-sonnet-4-5",
    )
    # a dated name only LiteLLM's map knows (Bedrock's id has no date)
    assert "claude-opus-4-6-20260205" in anthropic_api_names("anthropic.claude-opus-4-6-v1")
    assert "claude-sonnet-4-0" in anthropic_api_names("anthropic.claude-sonnet-4-20250514-v1:0")
    assert "claude-3-5-sonnet-20241022" in anthropic_api_names("anthropic.claude-3-5-sonnet-20241022-v2:0")


def test_no_name_means_two_catalog_models_and_every_mapped_anthropic_name_is_claimed() -> None:
    owner: dict[str, str] = {}
    for model in MODELS:
        for name in anthropic_api_names(model.base_id):
            assert owner.setdefault(name, model.alias) == model.alias, name
    # every Anthropic name in LiteLLM's map that belongs to a catalog model is accepted for it
    catalog_undated = {_undated(anthropic_api_names(m.base_id)[0]) for m in MODELS}
    claimed = [n for n in _anthropic_map_names() if _undated(n) in catalog_undated]
    assert len(claimed) >= 10  # the map has Anthropic entries for catalog models at the pinned version
    for name in claimed:
        assert name in owner, name


def test_unknown_model_is_refused_with_the_projects_models() -> None:
    names = ModelNames(_settings("claude-sonnet-4-5", "claude-haiku-4-5"))
    with pytest.raises(ProxyError) as info:
        names.resolve("claude-opus-5-5")
    assert info.value.error_type is ErrorType.MODEL_NOT_ALLOWED
    message = info.value.message
    assert "'claude-opus-5-5'" in message and "'alpha'" in message
    assert "claude-sonnet-4-5 (also claude-sonnet-4-5-20250929" in message
    assert "claude-haiku-4-5 (also claude-haiku-4-5-20251001" in message
    # a model of the catalog the project lacks is refused under every name
    with pytest.raises(ProxyError):
        names.resolve("anthropic.claude-opus-5-5")
    with pytest.raises(ProxyError):
        names.resolve("eu.anthropic.claude-sonnet-4-5-20250929-v1:0")  # not the project's geography


def test_model_aliases_point_client_defaults_at_project_models() -> None:
    settings = _settings(
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        gateway={
            "model_aliases": {"claude-opus-5-5": "claude-sonnet-4-5", "gpt-4o": "claude-haiku-4-5-20251001"}
        },
    )
    names = ModelNames(settings)
    assert names.resolve("claude-opus-5-5").alias == "claude-sonnet-4-5"
    assert names.resolve("gpt-4o").alias == "claude-haiku-4-5"  # target given by its Anthropic name
    assert names.resolve(None).alias == "claude-sonnet-4-5"  # the default model
    assert "mapped: claude-opus-5-5 -> claude-sonnet-4-5" in names.describe()
    assert names.accepted()[:2] == ["claude-sonnet-4-5", "anthropic.claude-sonnet-4-5-20250929-v1:0"]


def test_project_names_win_over_model_aliases_and_a_bad_target_is_a_configuration_error() -> None:
    settings = _settings(
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        gateway={"model_aliases": {"claude-haiku-4-5": "claude-sonnet-4-5", "x": "claude-opus-9"}},
    )
    names = ModelNames(settings)
    assert names.resolve("claude-haiku-4-5").alias == "claude-haiku-4-5"
    with pytest.raises(ProxyError) as info:
        names.resolve("x")
    assert info.value.error_type is ErrorType.CONFIGURATION_ERROR
    assert "gateway.model_aliases" in info.value.message
