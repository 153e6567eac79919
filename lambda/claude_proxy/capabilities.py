"""What each model accepts (sampling parameters, thinking, cache TTLs, images, PDFs), from LiteLLM's model map.

The map is the JSON file bundled with the pinned LiteLLM (the one the price catalog reads); it is read
without importing LiteLLM, once per process, so a request the model would refuse is refused here,
before any spend is reserved or any request is sent.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

MODEL_MAP_FILE = "model_prices_and_context_window_backup.json"


@dataclass(frozen=True)
class ModelCapabilities:
    """Request features one model accepts on Bedrock."""

    sampling_params: bool = True  # temperature / top_p / top_k
    budget_thinking: bool = False  # thinking: {"type": "enabled", "budget_tokens": N}
    adaptive_thinking: bool = False  # thinking: {"type": "adaptive"}
    prompt_caching: bool = False
    cache_ttl_1h: bool = False
    vision: bool = False
    pdf_input: bool = False
    max_input_tokens: int | None = None


def model_map_path() -> Path:
    """LiteLLM's bundled model map, found without importing LiteLLM."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("litellm is not installed: its bundled model map is the capability source")
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_MAP_FILE


@cache
def _model_map() -> Mapping[str, Any]:
    return json.loads(model_map_path().read_text(encoding="utf-8"))


def model_map() -> Mapping[str, Any]:
    """LiteLLM's bundled model map (read once per process; also the source of model names)."""
    return _model_map()


def from_entry(entry: Mapping[str, Any]) -> ModelCapabilities:
    """Capabilities from one map entry (absent flags: the conservative answer)."""
    reasoning = entry.get("supports_reasoning") is True
    adaptive = entry.get("supports_adaptive_thinking") is True
    legacy = entry.get("supports_legacy_thinking")
    max_input = entry.get("max_input_tokens")
    return ModelCapabilities(
        sampling_params=entry.get("supports_sampling_params") is not False,
        budget_thinking=reasoning and (not adaptive or legacy is True),
        adaptive_thinking=adaptive,
        prompt_caching=entry.get("supports_prompt_caching") is True,
        cache_ttl_1h=entry.get("cache_creation_input_token_cost_above_1hr") is not None,
        vision=entry.get("supports_vision") is True,
        pdf_input=entry.get("supports_pdf_input") is True,
        max_input_tokens=int(max_input) if isinstance(max_input, int) else None,
    )


@lru_cache(maxsize=64)
def capabilities_for(litellm_model: str, base_id: str) -> ModelCapabilities:
    """A model's capabilities: the geography's entry (`us.anthropic...`) if mapped, else the base id's."""
    inference_id = litellm_model.removeprefix("bedrock/")
    models = _model_map()
    for key in (inference_id, base_id):
        entry = models.get(key)
        if isinstance(entry, Mapping):
            return from_entry(entry)
    return ModelCapabilities()


def prime() -> None:
    """Load the map now (init, or before a SnapStart snapshot)."""
    _model_map()
