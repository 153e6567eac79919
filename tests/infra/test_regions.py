"""Projects in several regions: each project's stack, and everything it names, stays in its region."""

from __future__ import annotations

import json
import re

from infra_support import render, resources_of_type

REGION_LITERAL = re.compile(r"\b(?:us|eu|ap|ca|sa|me|af|il|mx)-[a-z]+-\d\b")


def test_eu_project_names_only_its_own_region_and_eu_profiles(example):
    template = example.template("claude-project-eu-assistant")
    assert set(REGION_LITERAL.findall(json.dumps(template))) == {"eu-west-1"}
    for profile in resources_of_type(template, "AWS::Bedrock::ApplicationInferenceProfile").values():
        source = render(profile["Properties"]["ModelSource"]["CopyFrom"])
        assert re.fullmatch(
            r"arn:\$\{AWS::Partition\}:bedrock:eu-west-1:\$\{AWS::AccountId\}:inference-profile/eu\..+",
            source,
        )
    settings = json.loads(
        render(
            next(iter(resources_of_type(template, "AWS::Lambda::Function").values()))["Properties"][
                "Environment"
            ]["Variables"]["PROJECT_SETTINGS"]
        )
    )
    assert {m["geography"] for m in settings["models"]} == {"eu"}


def test_home_region_projects_name_only_the_home_region(example):
    for name in ("support-bot", "data-science", "legacy-summarizer"):
        text = json.dumps(example.template(f"claude-project-{name}"))
        # Besides the home region, only the destination regions a `us` profile may route to, in
        # the foundation-model grants (ca-central-1 is one; us-* is a pattern, not a literal).
        destinations = {"ca-central-1"} if name == "support-bot" else set()
        grants = set(re.findall(r"bedrock:([a-z0-9-]+)::foundation-model", text)) - {"us-east-1", "us-*"}
        assert grants == destinations, name
        assert set(REGION_LITERAL.findall(text)) == {"us-east-1"} | destinations, name


def test_each_platform_stack_holds_its_regions_key_and_ledger(example):
    for stack_name, region in (("claude-platform", "us-east-1"), ("claude-platform-eu-west-1", "eu-west-1")):
        template = example.template(stack_name)
        aliases = sorted(
            a["Properties"]["AliasName"] for a in resources_of_type(template, "AWS::KMS::Alias").values()
        )
        assert aliases == [
            "alias/claude/alerts",
            "alias/claude/operations",
        ]  # same in each: KMS aliases are regional
        (table,) = resources_of_type(template, "AWS::DynamoDB::Table").values()
        assert table["Properties"]["TableName"] == "claude-spend-ledger"
        assert example.stacks[stack_name].region == region
