"""Helpers for the infrastructure tests: build and synthesize an app once, read its templates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import yaml
from aws_cdk.assertions import Template

from claude_platform.config import Platform, load_config
from stacks.app_builder import build_app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = ROOT / "projects.yaml"
SKIP_BUNDLING = {"aws:cdk:bundling-stacks": []}


def cdk_json_context() -> dict[str, Any]:
    """The context `cdk synth` would pass from cdk.json (feature flags, defaults)."""
    return json.loads((ROOT / "cdk.json").read_text())["context"]


def load_example() -> Platform:
    """The example projects file, validated."""
    return load_config(yaml.safe_load(EXAMPLE_CONFIG.read_text()), source=str(EXAMPLE_CONFIG))


@dataclass
class Synthesized:
    """One synthesized app: its stacks by name, their templates (dict and assertion form)."""

    platform: Platform
    app: cdk.App
    stacks: dict[str, cdk.Stack]
    outdir: Path

    def template(self, stack_name: str) -> dict[str, Any]:
        """The template as written to the cloud assembly."""
        return json.loads((self.outdir / f"{stack_name}.template.json").read_text())

    def assertions(self, stack_name: str) -> Template:
        """`Template` for assertions (from the written template: the stack is synthesized once)."""
        return Template.from_json(self.template(stack_name))

    def project_stacks(self) -> Iterator[tuple[str, cdk.Stack]]:
        """(project name, stack) for every project stack."""
        for project in self.platform.projects:
            yield project.name, self.stacks[f"{self.platform.config.name_prefix}-project-{project.name}"]


def synthesize(
    platform: Platform, outdir: Path, *, nag: bool = True, default_account: str | None = None
) -> Synthesized:
    """Build the app the way app.py does (bundling skipped) and synthesize it into `outdir`."""
    app = cdk.App(
        outdir=str(outdir),
        context={**cdk_json_context(), **SKIP_BUNDLING},
        builtin_cloud_formation_validation=False,
        stack_traces=False,
    )
    stacks = build_app(platform, app=app, nag=nag, default_account=default_account)
    app.synth()
    return Synthesized(platform, app, {s.stack_name: s for s in stacks}, outdir)


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource for one type."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


PROXY_HANDLER = "claude_proxy.handler.lambda_handler"


def proxy_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Logical id -> the invoke function (not the gateway's, which runs `run.sh`)."""
    return {
        k: v
        for k, v in resources_of_type(template, "AWS::Lambda::Function").items()
        if v["Properties"].get("Handler") == PROXY_HANDLER
    }


def proxy_function(template: dict[str, Any]) -> dict[str, Any]:
    """The project's invoke function (fails unless there is exactly one)."""
    found = list(proxy_functions(template).values())
    assert len(found) == 1, f"expected one invoke function, found {len(found)}"
    return found[0]


def one_resource(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    """The only resource of a type (fails if there are none or several)."""
    found = list(resources_of_type(template, resource_type).values())
    assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
    return found[0]


def join(*parts: Any) -> dict[str, Any]:
    """`Fn::Join` with an empty delimiter, as CDK renders strings with tokens."""
    return {"Fn::Join": ["", list(parts)]}


PARTITION = {"Ref": "AWS::Partition"}
ACCOUNT = {"Ref": "AWS::AccountId"}


def profile_logical_id(template: dict[str, Any], profile_name: str) -> str:
    """Logical id of the application inference profile with this name."""
    matches = [
        k
        for k, v in resources_of_type(template, "AWS::Bedrock::ApplicationInferenceProfile").items()
        if v["Properties"]["InferenceProfileName"] == profile_name
    ]
    assert len(matches) == 1, f"profile {profile_name} not found exactly once"
    return matches[0]


def render(value: Any) -> Any:
    """A CloudFormation value as readable text: `Fn::Join` pieces concatenated, `Ref X` as `${X}`,
    `Fn::GetAtt [X, A]` as `${X.A}`; lists and dicts rendered element-wise."""
    if isinstance(value, list):
        return [render(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Fn::Join"}:
            delimiter, parts = value["Fn::Join"]
            return delimiter.join(str(render(p)) for p in parts)
        if set(value) == {"Ref"}:
            return f"${{{value['Ref']}}}"
        if set(value) == {"Fn::GetAtt"}:
            return "${" + ".".join(value["Fn::GetAtt"]) + "}"
        return {k: render(v) for k, v in value.items()}
    return value
