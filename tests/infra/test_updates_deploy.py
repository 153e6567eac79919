"""Config changes deploy as updates: no replaced resource keeps its custom name.

Each case synthesizes a config before and after one change and diffs the templates of every stack
with the create-only properties of the resource provider schemas (tests/infra/replacement.py).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from infra_support import synthesize
from replacement import (
    ACCOUNT_WIDE_NAMES,
    CUSTOM_NAME_PROPERTY,
    account_wide_name_clashes,
    create_only_properties,
    custom_name,
    replaced_resources,
    undeployable_changes,
)

from claude_platform.config import load_config

BASE: dict[str, Any] = {
    "region": "us-east-1",
    "projects": [
        {
            "name": "alpha",
            "geography": "us",
            "models": ["claude-sonnet-4-5", "claude-haiku-4-5"],
            "monthly_budget_usd": 100,
            "alert_emails": ["a@example.com"],
            "invokers": ["arn:aws:iam::111122223333:role/alpha"],
            "tags": {"owner": "team-a"},
            "budget_action": True,  # a custom-named, account-wide IAM policy tied to the budget
        },
        {
            "name": "beta",
            "region": "eu-west-1",
            "geography": "eu",
            "models": ["claude-haiku-4-5"],
            "monthly_budget_usd": 50,
            "budget_action": True,
        },
    ],
}

Change = Callable[[dict[str, Any]], None]


def _set(project: int, **fields: Any) -> Change:
    def change(raw: dict[str, Any]) -> None:
        raw["projects"][project].update(fields)

    return change


CHANGES: dict[str, Change] = {
    "geography us -> global": _set(0, geography="global"),
    "geography eu -> global": _set(1, geography="global"),
    "model added": _set(0, models=["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5"]),
    "model removed": _set(0, models=["claude-haiku-4-5"]),
    "models reordered (new default)": _set(0, models=["claude-haiku-4-5", "claude-sonnet-4-5"]),
    "alert thresholds": _set(0, alert_thresholds=[25, 50, 90, 100]),
    "alert emails": _set(0, alert_emails=["a@example.com", "b@example.com"]),
    "invokers": _set(0, invokers=["arn:aws:iam::111122223333:role/other"]),
    "tags": _set(0, tags={"owner": "team-b", "cost-center": "CC-1"}),
    "budget amount": _set(0, monthly_budget_usd=250),
    "snapstart on": _set(0, snapstart=True),
    "max_concurrency": _set(0, max_concurrency=25),
    "memory and timeout": _set(0, lambda_memory_mb=2048, lambda_timeout_seconds=300),
    "log retention": _set(0, log_retention_days=90),
    "alarm thresholds": _set(0, alarms={"throttles": 1}),
    "log_prompts": _set(0, log_prompts=True),
    "enforcement soft": _set(0, enforcement="soft"),
    "spend cap": _set(0, spend_cap_usd=80),
    "budget action off": _set(0, budget_action=False),
    "cost allocation tag key": lambda raw: raw.update(cost_allocation_tag_key="billing-project"),
    "guardrail declared": _set(0, guardrail={"pii": {"EMAIL": "anonymize"}, "prompt_attack": "high"}),
    "guardrail referenced": _set(1, guardrail={"id": "abc123", "version": "2"}),
    "price override": lambda raw: raw.update(
        pricing={"claude-haiku-4-5": {"input": 1, "output": 5, "cache_write": 1.25, "cache_read": 0.1}}
    ),
}
REGION_MOVES: dict[str, Change] = {
    "home region -> eu-west-1": _set(0, region="eu-west-1", geography="eu"),
    "eu-west-1 -> eu-central-1": _set(1, region="eu-central-1"),
    "eu-west-1 -> home region": _set(1, region="us-east-1", geography="us"),
}


def _templates(raw: dict[str, Any], outdir: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """Stack name -> (region, template)."""
    synth = synthesize(load_config(raw, source="case"), outdir, nag=False)
    return {name: (stack.region, synth.template(name)) for name, stack in synth.stacks.items()}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, dict[str, Any]]]:
    return _templates(BASE, tmp_path_factory.mktemp("base"))


def _changed(change: Change) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    change(raw)
    return raw


@pytest.mark.parametrize("case", list(CHANGES))
def test_change_deploys_without_replacing_a_named_resource_in_place(case, base, tmp_path):
    after = _templates(_changed(CHANGES[case]), tmp_path)
    assert set(after) == set(base)
    problems = []
    for stack, (region, template) in after.items():
        assert region == base[stack][0]
        problems += undeployable_changes(stack, base[stack][1], template)
    assert [str(p) for p in problems] == []
    # Not vacuous: the change reached the templates.
    assert any(
        json.dumps(base[s][1], sort_keys=True) != json.dumps(t, sort_keys=True) for s, (_, t) in after.items()
    )


def test_geography_change_replaces_the_profiles_under_new_names(base, tmp_path):
    """The case the rule is about: a new geography changes the profile's ModelSource (create-only)."""
    after = _templates(_changed(CHANGES["geography us -> global"]), tmp_path)
    before_t, after_t = base["claude-project-alpha"][1], after["claude-project-alpha"][1]
    replaced = replaced_resources(before_t, after_t)
    profiles = {
        lid: r
        for lid, r in after_t["Resources"].items()
        if r["Type"] == "AWS::Bedrock::ApplicationInferenceProfile"
    }
    assert set(profiles) <= set(replaced) and len(profiles) == 2
    assert sorted(p["Properties"]["InferenceProfileName"] for p in profiles.values()) == [
        "claude-alpha-haiku-4-5-global",
        "claude-alpha-sonnet-4-5-global",
    ]


def test_threshold_change_replaces_the_budget_under_a_new_name(base, tmp_path):
    """Budgets' NotificationsWithSubscribers is create-only: new thresholds, new budget name."""
    after = _templates(_changed(CHANGES["alert thresholds"]), tmp_path)
    before_t, after_t = base["claude-project-alpha"][1], after["claude-project-alpha"][1]
    (budget_id,) = (k for k, r in after_t["Resources"].items() if r["Type"] == "AWS::Budgets::Budget")
    assert (
        "create-only /properties/NotificationsWithSubscribers changed"
        in replaced_resources(before_t, after_t)[budget_id]
    )
    names = [t["Resources"][budget_id]["Properties"]["Budget"]["BudgetName"] for t in (before_t, after_t)]
    assert names[0] != names[1] and all(n.startswith("claude-alpha-monthly-") for n in names)


@pytest.mark.parametrize("case", list(REGION_MOVES))
def test_region_move_creates_a_new_stack_whose_account_wide_names_are_new(case, base, tmp_path):
    """A project moving region gets a new stack there while the old one still exists: names that are
    unique per account (budget) must differ; regional names may repeat."""
    after = _templates(_changed(REGION_MOVES[case]), tmp_path)
    moved = [s for s in after if s in base and after[s][0] != base[s][0] and "-project-" in s]
    assert len(moved) == 1
    (stack,) = moved
    problems = account_wide_name_clashes(stack, base[stack][1], stack, after[stack][1])
    assert [str(p) for p in problems] == []
    # Stacks staying in their region still update cleanly.
    for name, (region, template) in after.items():
        if name in base and base[name][0] == region:
            assert [str(p) for p in undeployable_changes(name, base[name][1], template)] == []


# --- the checker itself ----------------------------------------------------------------------


def _profile(name: str, source: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Bedrock::ApplicationInferenceProfile",
        "Properties": {"InferenceProfileName": name, "Description": "d", "ModelSource": {"CopyFrom": source}},
    }


def test_checker_flags_a_new_model_source_under_the_same_name():
    before = {"Resources": {"P": _profile("claude-alpha-haiku-4-5", "us.x")}}
    after = {"Resources": {"P": _profile("claude-alpha-haiku-4-5", "global.x")}}
    (problem,) = undeployable_changes("s", before, after)
    assert problem.logical_id == "P" and "/properties/ModelSource changed" in problem.why
    renamed = {"Resources": {"P": _profile("claude-alpha-haiku-4-5-global", "global.x")}}
    assert undeployable_changes("s", before, renamed) == []


def test_checker_follows_references_to_replaced_resources():
    """A renamed topic is replaced, so a budget notifying it (create-only subscribers) is too."""

    def stack(topic: str) -> dict[str, Any]:
        return {
            "Resources": {
                "T": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": topic}},
                "B": {
                    "Type": "AWS::Budgets::Budget",
                    "Properties": {
                        "Budget": {"BudgetName": "same", "BudgetType": "COST", "TimeUnit": "MONTHLY"},
                        "NotificationsWithSubscribers": [
                            {"Subscribers": [{"SubscriptionType": "SNS", "Address": {"Ref": "T"}}]}
                        ],
                    },
                },
            }
        }

    (problem,) = undeployable_changes("s", stack("old"), stack("new"))
    assert problem.logical_id == "B" and "refers to replaced T" in problem.why


def test_checker_flags_a_name_moving_to_a_new_logical_id():
    before = {"Resources": {"A": _profile("n", "x")}}
    after = {"Resources": {"B": _profile("n", "x")}}
    (problem,) = undeployable_changes("s", before, after)
    assert "moves from removed A" in problem.why


def test_every_type_the_app_creates_is_classified_and_known_to_the_schemas(base):
    types = {r["Type"] for _, t in base.values() for r in t["Resources"].values()}
    assert types <= set(CUSTOM_NAME_PROPERTY), types - set(CUSTOM_NAME_PROPERTY)
    for resource_type in types:
        pointer = CUSTOM_NAME_PROPERTY[resource_type]
        # A custom name is create-only in every schema the app uses: renaming replaces.
        assert pointer is None or pointer in create_only_properties(resource_type), resource_type


def test_no_two_stacks_of_the_app_share_an_account_wide_name(example, variant):
    """Stacks of different regions may repeat regional names (the KMS alias, the ledger table), never
    names that are unique per account (budgets, IAM policies, dashboards)."""
    for synth in (example, variant):
        seen: dict[tuple[str, str], str] = {}
        for stack in synth.stacks:
            for logical_id, resource in synth.template(stack)["Resources"].items():
                name = custom_name(resource)
                if resource["Type"] not in ACCOUNT_WIDE_NAMES or name is None:
                    continue
                key = (resource["Type"], json.dumps(name, sort_keys=True))
                assert key not in seen, f"{stack}/{logical_id} reuses {name!r} of {seen[key]}"
                seen[key] = f"{stack}/{logical_id}"
        budgets = [k for k in seen if k[0] == "AWS::Budgets::Budget"]
        assert len(budgets) == len(synth.platform.projects)  # not vacuous: every budget was compared
