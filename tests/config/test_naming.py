"""Names: stable for the same inputs, different whenever a create-only input or the region changes."""

from __future__ import annotations

import re

from claude_platform.catalog import Geography, resolve_model
from claude_platform.naming import (
    PROFILE_NAME_MAX,
    budget_name,
    inference_profile_name,
    platform_stack_name,
)

PROFILE_NAME_RE = re.compile(r"^([0-9a-zA-Z][ _-]?)+$")  # the CloudFormation schema's pattern


def test_platform_stack_keeps_its_name_in_the_home_region():
    assert platform_stack_name("claude", "us-east-1", "us-east-1") == "claude-platform"
    assert platform_stack_name("claude", "eu-west-1", "us-east-1") == "claude-platform-eu-west-1"


def test_profile_name_carries_the_geography():
    haiku = resolve_model("claude-haiku-4-5")
    names = {
        g: inference_profile_name("claude", "alpha", haiku, g) for g in Geography if g in haiku.geographies
    }
    assert names[Geography.US] == "claude-alpha-haiku-4-5-us"
    assert len(set(names.values())) == len(names)  # every geography its own name
    assert inference_profile_name("claude", "alpha", resolve_model("claude-3-haiku"), Geography.NONE) == (
        "claude-alpha-3-haiku-inregion"
    )


def test_long_profile_names_are_cut_with_a_hash_and_stay_valid_and_distinct():
    model = resolve_model("claude-3-5-sonnet-v2")
    names = {
        inference_profile_name("abcdefghijklmnop", "a" * 32, model, g) for g in (Geography.US, Geography.APAC)
    }
    assert len(names) == 2
    for name in names:
        assert len(name) == PROFILE_NAME_MAX and PROFILE_NAME_RE.match(name), name


def test_budget_name_changes_with_thresholds_and_region_only():
    def name(thresholds, region="us-east-1"):
        return budget_name(
            "claude", "alpha", region=region, home_region="us-east-1", actual_thresholds=thresholds
        )

    assert re.fullmatch(r"claude-alpha-monthly-[0-9a-f]{6}", name([50, 80, 100]))
    assert name([50, 80, 100]) == name([50.0, 80.0, 100.0])
    assert name([50, 80, 100]) != name([50, 80, 90])
    assert re.fullmatch(r"claude-alpha-eu-west-1-monthly-[0-9a-f]{6}", name([50, 80, 100], "eu-west-1"))
