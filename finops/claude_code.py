"""`claude-code-settings`: Claude Code settings that send every call of Claude Code to a project's endpoint.

The settings (Claude Code's `settings.json` shape) carry the endpoint's base URL, every model family
Claude Code uses (main model, opus, sonnet, haiku, small/fast for background work, subagents) pinned
to one of the project's models, so no background call asks for a model the project lacks, and the
key through `apiKeyHelper` (a command that prints it) or, without one, through the environment
(`ANTHROPIC_AUTH_TOKEN`, never written to the file).
"""

from __future__ import annotations

import json
import re
from typing import Any

from claude_platform.config import Project, ProjectModel

# Claude Code's environment variables for each model slot it fills.
MAIN_MODEL_ENV = "ANTHROPIC_MODEL"
FAMILY_ENV = {
    "opus": "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "sonnet": "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "haiku": "ANTHROPIC_DEFAULT_HAIKU_MODEL",
}
SMALL_FAST_ENV = "ANTHROPIC_SMALL_FAST_MODEL"
SUBAGENT_ENV = "CLAUDE_CODE_SUBAGENT_MODEL"
MODEL_ENV_VARS = (MAIN_MODEL_ENV, *FAMILY_ENV.values(), SMALL_FAST_ENV, SUBAGENT_ENV)
KEY_ENV = "ANTHROPIC_AUTH_TOKEN"
_FAMILY = re.compile(r"claude-(?:\d+-(?:\d+-)?)?(opus|sonnet|haiku)")


def family(model: ProjectModel) -> str | None:
    """opus, sonnet or haiku (from the catalog alias), or None."""
    match = _FAMILY.match(model.alias)
    return match.group(1) if match else None


def _cheapest(models: tuple[ProjectModel, ...]) -> ProjectModel:
    return min(models, key=lambda m: (m.prices.standard.output, m.prices.standard.input))


def pinned_models(project: Project) -> dict[str, str]:
    """Each of Claude Code's model variables -> a project model alias.

    The main model and subagents: the project's default (its first model). A family: the project's
    last-listed model of that family, else the default. Haiku and small/fast (background work):
    the project's haiku, else its cheapest model.
    """
    default = project.models[0]
    pins = {MAIN_MODEL_ENV: default.alias, SUBAGENT_ENV: default.alias}
    for name, env in FAMILY_ENV.items():
        members = [m for m in project.models if family(m) == name]
        fallback = _cheapest(project.models) if name == "haiku" else default
        pins[env] = (members[-1] if members else fallback).alias
    pins[SMALL_FAST_ENV] = pins[FAMILY_ENV["haiku"]]
    return {env: pins[env] for env in MODEL_ENV_VARS}


def settings(project: Project, *, base_url: str, api_key_helper: str | None = None) -> dict[str, Any]:
    """Claude Code settings for `project`'s endpoint at `base_url`."""
    env = {"ANTHROPIC_BASE_URL": base_url.rstrip("/"), **pinned_models(project)}
    env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1"
    document: dict[str, Any] = {"model": env[MAIN_MODEL_ENV], "env": env}
    if api_key_helper:
        document["apiKeyHelper"] = api_key_helper
    return document


def render(document: dict[str, Any]) -> str:
    """The settings file's text."""
    return json.dumps(document, indent=2) + "\n"
