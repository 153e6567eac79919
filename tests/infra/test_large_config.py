"""1,000 projects in two regions: every template within CloudFormation's limits, every dashboard
within CloudWatch's, and platform stacks whose size does not grow with the number of projects.

The app is built and synthesized once for the module (cdk-nag off): about 2 minutes on a busy
2-core machine (116 s measured, `pytest -q tests/infra/test_large_config.py --durations=2`)."""

from __future__ import annotations

import json
import re
import time

import pytest
from cfnlint.api import ManualArgs, lint_file
from infra_support import resources_of_type, synthesize

from claude_platform.config import load_config
from stacks.constructs.spend_dashboard import (
    MAX_INSIGHTS_SERIES,
    MAX_METRICS_PER_WIDGET,
    MAX_WIDGETS_PER_DASHBOARD,
)
from tools.large_config import large_config

PROJECTS = 1000
MAX_RESOURCES_PER_PROJECT_STACK = 100  # far below CloudFormation's 500
# CloudFormation quotas (docs/aws-facts.md): template body from S3, resources, parameters, outputs, mappings.
MAX_TEMPLATE_BYTES = 1_000_000  # "1 MB"; cfn-lint E1002 reads it as 10^6 bytes, the stricter reading
MAX_RESOURCES = 500
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200
MAX_MAPPINGS = 200
MAX_METRICS_PER_DASHBOARD = 2500  # unverified (docs/aws-facts.md); far from what we use
PLATFORM_STACKS = ("claude-platform", "claude-platform-eu-west-1")


def _scale_config(count: int) -> dict:
    raw = large_config(count, eu_region="eu-west-1")
    # Adjustable quotas raised as a 1,000-project account would have them: this test is about templates.
    raw["inference_profile_quota"] = 3000
    raw["lambda_concurrency_quota"] = 1_000_000
    return raw


@pytest.fixture(scope="module")
def scale(tmp_path_factory):
    platform = load_config(_scale_config(PROJECTS), source="large")
    start = time.perf_counter()
    # cdk-nag off: the same constructs are nag-checked on the example and variant configs, and at this
    # size it would double the time (measured: 183 s with it on a loaded 2-core machine).
    synth = synthesize(platform, tmp_path_factory.mktemp("scale"), nag=False)
    return synth, time.perf_counter() - start


def _templates(synth):
    for path in sorted(synth.outdir.glob("*.template.json")):
        yield path, json.loads(path.read_text())


def test_1000_projects_synthesize_into_independent_stacks(scale):
    synth, elapsed = scale
    assert len(synth.stacks) == PROJECTS + 2  # a platform stack in us-east-1 and in eu-west-1
    assert {s.region for s in synth.stacks.values()} == {"us-east-1", "eu-west-1"}
    counts = {}
    for _, stack in synth.project_stacks():
        template = synth.template(stack.stack_name)
        counts[stack.stack_name] = len(template["Resources"])
        assert "Fn::ImportValue" not in json.dumps(template)
    assert max(counts.values()) < MAX_RESOURCES_PER_PROJECT_STACK, max(counts.items(), key=lambda kv: kv[1])
    # Generous bound for a loaded CI machine; bench/bench_synth.py tracks the real number.
    assert elapsed < 600, f"{PROJECTS} projects took {elapsed:.0f} s"


def test_every_template_is_within_cloudformation_limits(scale):
    synth, _ = scale
    checked = 0
    for path, template in _templates(synth):
        size = path.stat().st_size
        assert size <= MAX_TEMPLATE_BYTES, (path.name, size)
        assert len(template["Resources"]) <= MAX_RESOURCES, path.name
        assert len(template.get("Parameters", {})) <= MAX_PARAMETERS, path.name
        assert len(template.get("Outputs", {})) <= MAX_OUTPUTS, path.name
        assert len(template.get("Mappings", {})) <= MAX_MAPPINGS, path.name
        checked += 1
    assert checked == PROJECTS + 2


def _metric_rows(widget: dict) -> list[list]:
    return widget.get("properties", {}).get("metrics", [])


def test_every_dashboard_is_within_cloudwatch_limits(scale):
    synth, _ = scale
    dashboards = 0
    for path, template in _templates(synth):
        for dashboard in resources_of_type(template, "AWS::CloudWatch::Dashboard").values():
            body = json.loads(_plain(dashboard["Properties"]["DashboardBody"]))
            widgets = body["widgets"]
            assert len(widgets) <= MAX_WIDGETS_PER_DASHBOARD, path.name
            assert sum(len(_metric_rows(w)) for w in widgets) <= MAX_METRICS_PER_DASHBOARD
            for widget in widgets:
                rows = _metric_rows(widget)
                assert len(rows) <= MAX_METRICS_PER_WIDGET, widget["properties"].get("title")
                for row in rows:
                    expression = row[0].get("expression", "") if isinstance(row[0], dict) else ""
                    assert not expression.startswith("SEARCH(")  # SEARCH stops at 500 series unsorted
                    if expression.startswith("SELECT "):
                        limit = re.search(r" LIMIT (\d+)$", expression)
                        assert limit is None or int(limit.group(1)) <= MAX_INSIGHTS_SERIES, expression
                        assert "GROUP BY" not in expression or "ORDER BY" in expression, expression
            dashboards += 1
    assert dashboards == len(PLATFORM_STACKS)  # one per region, none per project


def _plain(value) -> str:
    """A dashboard body with its `Fn::Join` tokens (region) flattened."""
    if isinstance(value, str):
        return value
    parts = value["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else "us-east-1" for p in parts)


def test_platform_stacks_do_not_grow_with_the_number_of_projects(scale, tmp_path):
    synth, _ = scale
    small_platform = load_config(_scale_config(3), source="small")
    small = synthesize(small_platform, tmp_path / "small", nag=False)
    for name in PLATFORM_STACKS:
        large_template, small_template = synth.template(name), small.template(name)
        assert sorted(r["Type"] for r in large_template["Resources"].values()) == sorted(
            r["Type"] for r in small_template["Resources"].values()
        )
        # Same bytes apart from the one project named as the dashboard variable's placeholder.
        first_large = next(p.name for p in synth.platform.projects if p.region == synth.stacks[name].region)
        first_small = next(p.name for p in small_platform.projects if p.region == small.stacks[name].region)
        large_text = json.dumps(large_template).replace(first_large, "<first>")
        small_text = json.dumps(small_template).replace(first_small, "<first>")
        assert len(large_text) == len(small_text), name
        assert len(large_text) < 64_000, name


def test_platform_templates_at_1000_projects_pass_cfn_lint(scale):
    synth, _ = scale
    for name in PLATFORM_STACKS:
        region = synth.stacks[name].region
        path = synth.outdir / f"{name}.template.json"
        assert list(lint_file(path, config=ManualArgs(regions=[region], ignore_checks=["W3005"]))) == []
