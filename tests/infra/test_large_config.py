"""Hundreds of projects in two regions: one stack each, every stack far below CloudFormation's 500
resources, a platform stack per region."""

from __future__ import annotations

import json
import time

from infra_support import synthesize

from claude_platform.config import load_config
from tools.large_config import large_config

PROJECTS = 300
MAX_RESOURCES_PER_PROJECT_STACK = 100  # CloudFormation allows 500


def test_300_projects_synthesize_with_nag_into_small_independent_stacks(tmp_path):
    platform = load_config(large_config(PROJECTS, eu_region="eu-west-1"), source="large")
    start = time.perf_counter()
    synth = synthesize(platform, tmp_path / "out", nag=True)
    elapsed = time.perf_counter() - start
    assert len(synth.stacks) == PROJECTS + 2  # a platform stack in us-east-1 and in eu-west-1
    assert {s.region for s in synth.stacks.values()} == {"us-east-1", "eu-west-1"}
    assert len(platform.projects_in("eu-west-1")) == PROJECTS // 3
    counts = {}
    for _, stack in synth.project_stacks():
        template = json.loads((synth.outdir / f"{stack.stack_name}.template.json").read_text())
        counts[stack.stack_name] = len(template["Resources"])
        assert "Fn::ImportValue" not in json.dumps(template)
    assert max(counts.values()) < MAX_RESOURCES_PER_PROJECT_STACK, max(counts.items(), key=lambda kv: kv[1])
    # Generous bound for a loaded CI machine; the benchmark (bench/bench_synth.py) tracks the real number.
    assert elapsed < 120, f"{PROJECTS} projects took {elapsed:.0f} s"
