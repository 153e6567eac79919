"""Which model a client means: the names every HTTP API accepts for a project's models.

A project model is known by its alias (`claude-sonnet-4-5`), its Bedrock base id
(`anthropic.claude-sonnet-4-5-20250929-v1:0`), its inference id at the project's geography
(`us.anthropic...`), and the names Anthropic's own API gives the same model
(`claude-sonnet-4-5`, `claude-sonnet-4-5-20250929`). The Anthropic names are derived, never listed by
hand: from the base id (drop `anthropic.` and the `-v<N>[:<M>]` suffix; the dated name without its
date; a bare major version also as `<name>-0`, Anthropic's alias for the 4.0 models), plus every
Anthropic-provider name in LiteLLM's bundled model map whose undated form is one of those.
The project's `gateway.model_aliases` map further names (a client's default model) to one of its
models. Precedence: the project's own names, then `model_aliases`, then Anthropic names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from claude_platform.function_settings import FunctionSettings, ModelSettings
from claude_proxy.capabilities import model_map
from claude_proxy.errors import ErrorType, ProxyError

_VERSION_SUFFIX = re.compile(r"-v\d+(:\d+)?$")
_DATE_SUFFIX = re.compile(r"-\d{8}$")
_MAJOR_ONLY = re.compile(r"^claude-[a-z]+-\d+$")


def _undated(name: str) -> str:
    return _DATE_SUFFIX.sub("", name)


@cache
def _map_anthropic_names() -> tuple[str, ...]:
    """Names of Anthropic-provider chat models in LiteLLM's bundled map."""
    entries: Mapping[str, Any] = model_map()
    return tuple(
        sorted(
            name
            for name, entry in entries.items()
            if isinstance(entry, Mapping)
            and entry.get("litellm_provider") == "anthropic"
            and entry.get("mode", "chat") == "chat"
            and name.startswith("claude-")
        )
    )


@cache
def anthropic_api_names(base_id: str) -> tuple[str, ...]:
    """The names Anthropic's API gives the model with this Bedrock base id; the first is the canonical one."""
    stem = _VERSION_SUFFIX.sub("", base_id.removeprefix("anthropic."))
    undated = _undated(stem)
    names = [stem, undated]
    if _MAJOR_ONLY.match(undated):
        names.append(f"{undated}-0")
    names += [n for n in _map_anthropic_names() if _undated(n) == undated]
    return tuple(dict.fromkeys(names))


class ModelNames:
    """A project's model names: resolves a client's model name to the project model, or refuses it."""

    def __init__(self, settings: FunctionSettings) -> None:
        self._settings = settings
        own: dict[str, ModelSettings] = {}
        for model in settings.models:
            for name in (model.alias, model.base_id, model.litellm_model.removeprefix("bedrock/")):
                own.setdefault(name, model)
        anthropic: dict[str, ModelSettings] = {}
        for model in settings.models:
            for name in anthropic_api_names(model.base_id):
                anthropic.setdefault(name, model)
        mapped: dict[str, ModelSettings] = {}
        aliases = settings.gateway.model_aliases if settings.gateway else {}
        for name, target in aliases.items():
            found = own.get(target) or anthropic.get(target)
            if found is not None:
                mapped[name] = found
        self._own, self._mapped, self._anthropic = own, mapped, anthropic
        self._bad_targets = {n: t for n, t in aliases.items() if n not in mapped}

    def resolve(self, name: str | None) -> ModelSettings:
        """The project model a name means (None: the default model); ProxyError listing the models otherwise."""
        if name is None:
            found = self._settings.find_model(self._settings.default_model)
            assert found is not None  # FunctionSettings checks default_model
            return found
        for table in (self._own, self._mapped, self._anthropic):
            if name in table:
                return table[name]
        if name in self._bad_targets:
            raise ProxyError(
                ErrorType.CONFIGURATION_ERROR,
                f"model: gateway.model_aliases maps {name!r} to {self._bad_targets[name]!r}, "
                "which is not one of the project's models",
            )
        raise ProxyError(
            ErrorType.MODEL_NOT_ALLOWED,
            f"model: {name!r} is not enabled for project {self._settings.project!r}; "
            f"its models: {self.describe()}",
        )

    def describe(self) -> str:
        """The project's models with their Anthropic names, and mapped names, for an error message."""
        parts = []
        for model in self._settings.models:
            others = [n for n in anthropic_api_names(model.base_id) if n != model.alias]
            parts.append(f"{model.alias} (also {', '.join(others)})" if others else model.alias)
        if self._mapped:
            parts.append("mapped: " + ", ".join(f"{n} -> {m.alias}" for n, m in self._mapped.items()))
        return "; ".join(parts)

    def accepted(self) -> list[str]:
        """Every name that resolves, in precedence order."""
        return list(dict.fromkeys([*self._own, *self._mapped, *self._anthropic]))

    @property
    def models(self) -> Iterable[ModelSettings]:
        """The project's models, in config order."""
        return self._settings.models
