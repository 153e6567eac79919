"""`litellm-config`: a LiteLLM Proxy `model_list` for the deployed profiles.

One entry per project model: `model` = `bedrock/<geo>.<base id>` (LiteLLM's route and price),
`model_id` = the project's application inference profile ARN (what Bedrock bills to the
project's tags), and the project's cost tags in `model_info` and in Bedrock's `requestMetadata`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claude_platform.config import Platform, Project
from claude_platform.naming import cost_tags


def model_name(project: Project, alias: str) -> str:
    """What a LiteLLM user asks for: `<project>/<model alias>`."""
    return f"{project.name}/{alias}"


def model_list(platform: Platform, entries: list[tuple[Project, str, Mapping[str, str]]]) -> dict[str, Any]:
    """`{"model_list": [...]}` for (project, region, alias -> profile ARN) entries."""
    tag_key = platform.config.cost_allocation_tag_key
    items: list[dict[str, Any]] = []
    for project, region, profile_arns in entries:
        tags = cost_tags(tag_key, project)
        for m in project.models:
            items.append(
                {
                    "model_name": model_name(project, m.alias),
                    "litellm_params": {
                        "model": m.model.litellm_model(m.geography),
                        "model_id": profile_arns[m.alias],
                        "aws_region_name": region,
                        "requestMetadata": {tag_key: project.name},
                    },
                    "model_info": {
                        "id": m.profile_name,
                        "base_model": m.model.litellm_model(m.geography),
                        "project": project.name,
                        "cost_allocation_tags": tags,
                    },
                }
            )
    return {"model_list": items}
