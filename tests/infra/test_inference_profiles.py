"""Application inference profiles: one per model, named, copying the right source, tagged."""

from __future__ import annotations

import re

from infra_support import render, resources_of_type

PROFILES = "AWS::Bedrock::ApplicationInferenceProfile"
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU_45 = "anthropic.claude-haiku-4-5-20251001-v1:0"
OPUS_45 = "anthropic.claude-opus-4-5-20251101-v1:0"
HAIKU_3 = "anthropic.claude-3-haiku-20240307-v1:0"
SYSTEM = "arn:${AWS::Partition}:bedrock:us-east-1:${AWS::AccountId}:inference-profile/"
EU_SYSTEM = "arn:${AWS::Partition}:bedrock:eu-west-1:${AWS::AccountId}:inference-profile/"

EXPECTED_SOURCES = {
    "claude-project-support-bot": {
        "claude-support-bot-sonnet-4-5-us": f"{SYSTEM}us.{SONNET_45}",
        "claude-support-bot-haiku-4-5-us": f"{SYSTEM}us.{HAIKU_45}",
    },
    "claude-project-data-science": {
        "claude-data-science-opus-4-5-global": f"{SYSTEM}global.{OPUS_45}",
        "claude-data-science-sonnet-4-5-global": f"{SYSTEM}global.{SONNET_45}",
    },
    "claude-project-eu-assistant": {
        "claude-eu-assistant-sonnet-4-5-eu": f"{EU_SYSTEM}eu.{SONNET_45}",
        "claude-eu-assistant-haiku-4-5-eu": f"{EU_SYSTEM}eu.{HAIKU_45}",
    },
    "claude-project-legacy-summarizer": {
        "claude-legacy-summarizer-3-haiku-inregion": f"arn:${{AWS::Partition}}:bedrock:us-east-1::foundation-model/{HAIKU_3}",
    },
}


def _profiles(synth, stack_name):
    return {
        p["Properties"]["InferenceProfileName"]: p["Properties"]
        for p in resources_of_type(synth.template(stack_name), PROFILES).values()
    }


def test_each_project_has_exactly_its_profiles_with_the_right_source(example):
    for stack_name, expected in EXPECTED_SOURCES.items():
        profiles = _profiles(example, stack_name)
        assert {name: render(p["ModelSource"]["CopyFrom"]) for name, p in profiles.items()} == expected


def test_profile_descriptions_name_project_and_model(example):
    profiles = _profiles(example, "claude-project-legacy-summarizer")
    assert profiles["claude-legacy-summarizer-3-haiku-inregion"]["Description"] == (
        "Claude for project legacy-summarizer: claude-3-haiku via in-region foundation model"
    )
    profiles = _profiles(example, "claude-project-data-science")
    assert profiles["claude-data-science-opus-4-5-global"]["Description"] == (
        "Claude for project data-science: claude-opus-4-5 via global cross-region profile"
    )


def test_profile_tags_are_exactly_the_cost_tag_plus_project_tags(example):
    for name, props in _profiles(example, "claude-project-support-bot").items():
        pairs = [(t["Key"], t["Value"]) for t in props["Tags"]]
        assert sorted(pairs) == sorted(
            [
                ("project", "support-bot"),
                ("managed-by", "claude-platform"),
                ("cost-center", "CC-1042"),
                ("owner", "support-platform"),
            ]
        ), name


def test_explicit_account_region_and_tag_key_reach_the_profiles(variant):
    profiles = _profiles(variant, "abcdefghijklmnop-project-" + "a" * 32)
    assert len(profiles) == 8
    for name, props in profiles.items():
        assert name.startswith("abcdefghijklmnop-" + "a" * 32 + "-")
        assert len(name) <= 64, name
        assert render(props["ModelSource"]["CopyFrom"]).startswith(
            "arn:${AWS::Partition}:bedrock:ca-central-1:123456789012:inference-profile/us.anthropic."
        )
        assert props["Tags"] == [{"Key": "billing:project", "Value": "a" * 32}]
    # Names up to 64 characters end in the geography; longer ones are cut and end in a hash of the
    # full name instead (...-3-5-sonnet-v2-us would be 66 characters).
    assert "abcdefghijklmnop-" + "a" * 32 + "-3-7-sonnet-us" in profiles
    (cut,) = (n for n in profiles if not n.endswith("-us"))
    assert len(cut) == 64 and re.fullmatch(r"abcdefghijklmnop-a{32}-3-5-son-[0-9a-f]{6}", cut), cut
